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
#include "tidings/json_write.h"
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

/* Appends n bytes of in as base64. */
static void text_base64(struct td_json_out *t, const unsigned char *in, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned a = in[i], b = i + 1 < n ? in[i + 1] : 0, c = i + 2 < n ? in[i + 2] : 0;
        char out[4] = {b64[a >> 2], b64[((a & 3) << 4) | (b >> 4)],
                       i + 1 < n ? b64[((b & 15) << 2) | (c >> 6)] : '=',
                       i + 2 < n ? b64[c & 63] : '='};
        td_json_raw(t, out, 4);
    }
}

/* Header text that is not plain ASCII becomes RFC 2047 encoded-words of at
 * most 75 characters (45 bytes each, cut between UTF-8 characters), folded
 * onto continuation lines. */
static void text_header_value(struct td_json_out *t, const char *v)
{
    int ascii = 1;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p >= 0x80)
            ascii = 0;
    }
    if (ascii) {
        td_json_lit(t, v);
        return;
    }
    const unsigned char *in = (const unsigned char *)v;
    size_t n = strlen(v);
    for (size_t off = 0; off < n;) {
        size_t len = n - off < 45 ? n - off : 45;
        while (len < n - off && len > 1 && (in[off + len] & 0xC0) == 0x80)
            len--; /* do not split a character */
        td_json_lit(t, off ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        text_base64(t, in + off, len);
        td_json_lit(t, "?=");
        off += len;
    }
}

/* A JSON string (NULL as ""); the file's text is the SDK's growable buffer
 * (tidings/json_write.h), which also escapes it. */
static void text_json_string(struct td_json_out *t, const char *v)
{
    td_json_str(t, v ? v : "");
}

static void text_email(struct td_json_out *t, const struct outbox *ob, const struct td_message *m)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    const char *boundary = "tidings-alternative-boundary";
    td_json_lit(t, "From: ");
    td_json_lit(t, ob->from);
    td_json_lit(t, "\r\nTo: ");
    if (m->to_name) {
        text_header_value(t, m->to_name);
        td_json_lit(t, " <");
        td_json_lit(t, m->to);
        td_json_lit(t, ">");
    } else {
        td_json_lit(t, m->to);
    }
    td_json_lit(t, "\r\nSubject: ");
    text_header_value(t, m->subject ? m->subject : "");
    td_json_lit(t, "\r\nDate: ");
    td_json_lit(t, date);
    td_json_lit(t, "\r\nMessage-ID: <");
    td_json_lit(t, m->idempotency_key);
    td_json_lit(t, "@tidings.outbox>\r\nX-Tidings-Message-Id: ");
    td_json_lit(t, m->id);
    td_json_lit(t, "\r\nMIME-Version: 1.0\r\n");
    if (m->unsubscribe_url) {
        td_json_lit(t, "List-Unsubscribe: <");
        td_json_lit(t, m->unsubscribe_url);
        td_json_lit(t, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
    if (!m->html) {
        td_json_lit(t, "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n\r\n");
        td_json_lit(t, m->text ? m->text : "");
        td_json_lit(t, "\r\n");
        return;
    }
    td_json_lit(t, "Content-Type: multipart/alternative; boundary=\"");
    td_json_lit(t, boundary);
    td_json_lit(t, "\"\r\n\r\n--");
    td_json_lit(t, boundary);
    td_json_lit(t, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\n");
    td_json_lit(t, m->text ? m->text : "");
    td_json_lit(t, "\r\n--");
    td_json_lit(t, boundary);
    td_json_lit(t, "\r\nContent-Type: text/html; charset=UTF-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\n");
    td_json_lit(t, m->html);
    td_json_lit(t, "\r\n--");
    td_json_lit(t, boundary);
    td_json_lit(t, "--\r\n");
}

static void text_short_message(struct td_json_out *t, const struct td_message *m)
{
    td_json_lit(t, "{\n  \"id\": ");
    text_json_string(t, m->id);
    td_json_lit(t, ",\n  \"channel\": ");
    text_json_string(t, m->channel);
    td_json_lit(t, ",\n  \"to\": ");
    text_json_string(t, m->to);
    td_json_lit(t, ",\n  \"text\": ");
    text_json_string(t, m->text);
    td_json_lit(t, ",\n  \"idempotency_key\": ");
    text_json_string(t, m->idempotency_key);
    td_json_lit(t, ",\n  \"booking_id\": ");
    text_json_string(t, m->booking_id);
    td_json_lit(t, ",\n  \"sequence\": ");
    text_json_string(t, m->sequence_key);
    td_json_lit(t, ",\n  \"step\": ");
    text_json_string(t, m->step_id);
    td_json_lit(t, "\n}\n");
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
    struct td_json_out t = {0};
    if (email)
        text_email(&t, ob, m);
    else
        text_short_message(&t, m);
    if (t.failed) {
        td_json_out_free(&t);
        r->status = TD_RETRY;
        snprintf(r->reason, sizeof(r->reason), "out of memory");
        return;
    }
    char err[200];
    if (outbox_write_file(ob->dir, name, t.data, t.len, err, sizeof(err)) < 0) {
        r->status = TD_RETRY;
        snprintf(r->reason, sizeof(r->reason), "%s", err);
        ob->host->log(ob->host, TD_LOG_ERROR, "message %s not written: %s", m->id, err);
    } else {
        r->status = TD_OK;
        snprintf(r->provider_id, sizeof(r->provider_id), "outbox:%.100s", name);
    }
    td_json_out_free(&t);
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
