/*
 * outbox: a channel plugin that writes each message to a file instead of
 * sending it: <dir>/<message id>.eml for email (a complete RFC 5322 message),
 * <dir>/<message id>.json for SMS, WhatsApp and any other channel. It is the
 * embedded default, so the engine runs end to end without a provider account,
 * and the worked example in docs/plugins.md.
 *
 * Files are written to a temporary name and renamed, so a reader never sees
 * half a message, and a retried message overwrites its own file instead of
 * adding a second one (the message id is the file name).
 */
#include "tidings/plugin.h"
#include "tidings/plugin_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct outbox {
    const struct td_host *host;
    char *dir;
    char *from;
};

static const struct td_config_key outbox_keys[] = {
    {.name = "dir",
     .type = TD_KEY_PATH,
     .required = true,
     .help = "folder the message files are written to (created when missing)"},
    {.name = "from",
     .type = TD_KEY_STRING,
     .default_value = "Tidings <tidings@localhost>",
     .help = "the From: of e-mail messages"},
};

/* A growable string: the plugin sees only plugin.h, so it keeps its own. */
struct outbox_text {
    char *s;
    size_t len, cap;
    int failed;
};

static void text_add(struct outbox_text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_puts(struct outbox_text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* Appends n bytes of in as base64. */
static void text_base64(struct outbox_text *t, const unsigned char *in, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned a = in[i], b = i + 1 < n ? in[i + 1] : 0, c = i + 2 < n ? in[i + 2] : 0;
        char out[4] = {b64[a >> 2], b64[((a & 3) << 4) | (b >> 4)],
                       i + 1 < n ? b64[((b & 15) << 2) | (c >> 6)] : '=',
                       i + 2 < n ? b64[c & 63] : '='};
        text_add(t, out, 4);
    }
}

/* Header text that is not plain ASCII becomes RFC 2047 encoded-words of at
 * most 75 characters (45 bytes each, cut between UTF-8 characters), folded
 * onto continuation lines. */
static void text_header_value(struct outbox_text *t, const char *v)
{
    int ascii = 1;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p >= 0x80)
            ascii = 0;
    }
    if (ascii) {
        text_puts(t, v);
        return;
    }
    const unsigned char *in = (const unsigned char *)v;
    size_t n = strlen(v);
    for (size_t off = 0; off < n;) {
        size_t len = n - off < 45 ? n - off : 45;
        while (len < n - off && len > 1 && (in[off + len] & 0xC0) == 0x80)
            len--; /* do not split a character */
        text_puts(t, off ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        text_base64(t, in + off, len);
        text_puts(t, "?=");
        off += len;
    }
}

/* JSON string with escapes. */
static void text_json_string(struct outbox_text *t, const char *v)
{
    text_puts(t, "\"");
    for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': text_puts(t, "\\\""); break;
        case '\\': text_puts(t, "\\\\"); break;
        case '\n': text_puts(t, "\\n"); break;
        case '\r': text_puts(t, "\\r"); break;
        case '\t': text_puts(t, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *p);
                text_puts(t, esc);
            } else {
                text_add(t, (const char *)p, 1);
            }
        }
    }
    text_puts(t, "\"");
}

static void text_email(struct outbox_text *t, const struct outbox *ob, const struct td_message *m)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    const char *boundary = "tidings-alternative-boundary";
    text_puts(t, "From: ");
    text_puts(t, ob->from);
    text_puts(t, "\r\nTo: ");
    if (m->to_name) {
        text_header_value(t, m->to_name);
        text_puts(t, " <");
        text_puts(t, m->to);
        text_puts(t, ">");
    } else {
        text_puts(t, m->to);
    }
    text_puts(t, "\r\nSubject: ");
    text_header_value(t, m->subject ? m->subject : "");
    text_puts(t, "\r\nDate: ");
    text_puts(t, date);
    text_puts(t, "\r\nMessage-ID: <");
    text_puts(t, m->idempotency_key);
    text_puts(t, "@tidings.outbox>\r\nX-Tidings-Message-Id: ");
    text_puts(t, m->id);
    text_puts(t, "\r\nMIME-Version: 1.0\r\n");
    if (m->unsubscribe_url) {
        text_puts(t, "List-Unsubscribe: <");
        text_puts(t, m->unsubscribe_url);
        text_puts(t, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
    if (!m->html) {
        text_puts(t, "Content-Type: text/plain; charset=UTF-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n");
        text_puts(t, m->text ? m->text : "");
        text_puts(t, "\r\n");
        return;
    }
    text_puts(t, "Content-Type: multipart/alternative; boundary=\"");
    text_puts(t, boundary);
    text_puts(t, "\"\r\n\r\n--");
    text_puts(t, boundary);
    text_puts(t, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n");
    text_puts(t, m->text ? m->text : "");
    text_puts(t, "\r\n--");
    text_puts(t, boundary);
    text_puts(t, "\r\nContent-Type: text/html; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n");
    text_puts(t, m->html);
    text_puts(t, "\r\n--");
    text_puts(t, boundary);
    text_puts(t, "--\r\n");
}

static void text_short_message(struct outbox_text *t, const struct td_message *m)
{
    text_puts(t, "{\n  \"id\": ");
    text_json_string(t, m->id);
    text_puts(t, ",\n  \"channel\": ");
    text_json_string(t, m->channel);
    text_puts(t, ",\n  \"to\": ");
    text_json_string(t, m->to);
    text_puts(t, ",\n  \"text\": ");
    text_json_string(t, m->text);
    text_puts(t, ",\n  \"idempotency_key\": ");
    text_json_string(t, m->idempotency_key);
    text_puts(t, ",\n  \"booking_id\": ");
    text_json_string(t, m->booking_id);
    text_puts(t, ",\n  \"sequence\": ");
    text_json_string(t, m->sequence_key);
    text_puts(t, ",\n  \"step\": ");
    text_json_string(t, m->step_id);
    text_puts(t, "\n}\n");
}

/* Writes data to dir/name through a temporary file and rename. */
static int outbox_write_file(const char *dir, const char *name, const char *data, size_t len,
                             char *err, size_t errcap)
{
    char path[4096], tmp[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp)) {
        snprintf(err, errcap, "path too long");
        return -ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errcap, "cannot create .%.100s.tmp: %s", name, strerror(errno));
        return -errno;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            int e = errno;
            snprintf(err, errcap, "cannot write .%.100s.tmp: %s", name, strerror(e));
            close(fd);
            unlink(tmp);
            return -e;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        snprintf(err, errcap, "cannot finish %.100s: %s", name, strerror(e));
        unlink(tmp);
        return -e;
    }
    return 0;
}

static void outbox_deliver_one(struct outbox *ob, const struct td_message *m, struct td_result *r)
{
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    int email = strcmp(m->channel, "email") == 0;
    if (!td_header_value_ok(m->to) || !td_header_value_ok(m->to_name) ||
        !td_header_value_ok(m->subject)) {
        r->status = TD_FAIL;
        snprintf(r->reason, sizeof(r->reason), "line break in a header value (to or subject)");
        return;
    }
    char name[160];
    snprintf(name, sizeof(name), "%s.%s", m->id, email ? "eml" : "json");
    struct outbox_text t = {0};
    if (email)
        text_email(&t, ob, m);
    else
        text_short_message(&t, m);
    if (t.failed) {
        free(t.s);
        r->status = TD_RETRY;
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        return;
    }
    char err[200];
    if (outbox_write_file(ob->dir, name, t.s, t.len, err, sizeof(err)) < 0) {
        r->status = TD_RETRY;
        snprintf(r->reason, sizeof(r->reason), "%s", err);
        ob->host->log(ob->host, TD_LOG_ERROR, "message %s not written: %s", m->id, err);
    } else {
        r->status = TD_OK;
        snprintf(r->provider_id, sizeof(r->provider_id), "outbox:%.100s", name);
    }
    free(t.s);
}

static void outbox_deliver(void *instance, const struct td_message *messages, size_t count,
                           struct td_result *results)
{
    for (size_t i = 0; i < count; i++)
        outbox_deliver_one(instance, &messages[i], &results[i]);
}

static void outbox_destroy(void *instance)
{
    struct outbox *ob = instance;
    if (!ob)
        return;
    free(ob->dir);
    free(ob->from);
    free(ob);
}

/* Creates the folder and its parents. */
static int outbox_mkdirs(const char *dir)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0750) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int outbox_create(const struct td_host *host, const struct td_config *cfg, void **instance,
                         struct td_error *err)
{
    *instance = NULL;
    const char *dir = td_config_get(cfg, "dir");
    const char *from = td_config_get(cfg, "from");
    if (!td_header_value_ok(from)) {
        snprintf(err->message, sizeof(err->message), "from: contains a line break");
        return -EINVAL;
    }
    int rc = outbox_mkdirs(dir);
    if (rc < 0 || access(dir, W_OK) < 0) {
        snprintf(err->message, sizeof(err->message), "dir %s: %s", dir,
                 strerror(rc < 0 ? -rc : errno));
        return -EINVAL;
    }
    struct outbox *ob = calloc(1, sizeof(*ob));
    if (!ob || !(ob->dir = strdup(dir)) || !(ob->from = strdup(from))) {
        outbox_destroy(ob);
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    ob->host = host;
    *instance = ob;
    host->log(host, TD_LOG_INFO, "writing messages to %s", dir);
    return 0;
}

static const struct td_channel_ops outbox_ops = {
    .create = outbox_create,
    .destroy = outbox_destroy,
    .deliver = outbox_deliver,
};

static const char *const outbox_serves[] = {"*", NULL};

static const struct td_plugin outbox_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "outbox", "1.0.0",
                     "writes each message to a file (.eml for email, .json otherwise)"),
    .config_keys = outbox_keys,
    .config_key_count = sizeof(outbox_keys) / sizeof(outbox_keys[0]),
    .serves = outbox_serves,
    .max_batch = 100,
    .channel = &outbox_ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &outbox_plugin;
}
