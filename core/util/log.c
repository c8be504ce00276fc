/* log: one line per event on stderr, as logfmt, JSON lines or text. */
#include "util/log.h"

#include "util/buf.h"

#include "tidings/json_write.h"

#include <errno.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int log_level = TD_LOG_INFO;
static _Atomic int log_format = TD_LOG_FORMAT_LOGFMT;

static const char *const format_names[] = {"logfmt", "json", "text"};

void td_log_set_format(enum td_log_format format)
{
    atomic_store(&log_format, (int)format);
}

int td_log_format_parse(const char *s, enum td_log_format *out)
{
    for (int i = 0; i <= TD_LOG_FORMAT_TEXT; i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum td_log_format)i;
            return 0;
        }
    }
    return -EINVAL;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void td_log_set_level(enum td_log_level level)
{
    atomic_store(&log_level, (int)level);
}

int td_log_level_parse(const char *s, enum td_log_level *out)
{
    for (int i = 0; i <= TD_LOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum td_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

#define CALLBACK_PREFIX "/v1/callbacks/"

/* What ends a path (and its token) in a log line: a token is base64url, so
 * none of these is part of it ("rejected POST /v1/callbacks/a/sms/<token>: 404"). */
#define PATH_END    " \t\r\n\"'<>?#:;,()[]"
#define SEGMENT_END "/" PATH_END

/* Appends s to b with the token of every callback path in it masked: after
 * "/v1/callbacks/<org>/<channel>/", whatever follows up to a space, quote,
 * '?', '#' or punctuation (the path's last segment) becomes "***". */
static void mask_callbacks(struct td_buf *b, const char *s)
{
    const char *p;
    while ((p = strstr(s, CALLBACK_PREFIX)) != NULL) {
        const char *q = p + strlen(CALLBACK_PREFIX);
        for (int segment = 0; segment < 2 && q; segment++) {
            q += strcspn(q, SEGMENT_END);
            q = *q == '/' ? q + 1 : NULL;
        }
        if (!q) {
            /* no token after org and channel: nothing to mask */
            size_t n = (size_t)(p - s) + strlen(CALLBACK_PREFIX);
            td_buf_append(b, s, n);
            s += n;
            continue;
        }
        td_buf_append(b, s, (size_t)(q - s));
        size_t token = strcspn(q, PATH_END); /* with any segments after it */
        if (token)
            td_buf_puts(b, "***");
        s = q + token;
    }
    td_buf_puts(b, s);
}

void td_log_path(const char *path, char *out, size_t cap)
{
    if (cap == 0)
        return;
    struct td_buf b = {0};
    mask_callbacks(&b, path ? path : "-");
    snprintf(out, cap, "%s", td_buf_str(&b));
    td_buf_reset(&b);
}

/* Appends s as a logfmt value: bare when it has no space, quote, '=' or
 * control character, else quoted with \" \\ \n \t escaped. */
static void logfmt_value(struct td_buf *b, const char *s)
{
    bool bare = *s != '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && bare; p++)
        bare = *p > ' ' && *p != '"' && *p != '=' && *p != '\\' && *p != 0x7f;
    if (bare) {
        td_buf_puts(b, s);
        return;
    }
    td_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            td_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            td_buf_puts(b, "\\n");
        else if (*p == '\t')
            td_buf_puts(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            td_buf_printf(b, "\\x%02x", *p);
        else
            td_buf_append(b, (const char *)p, 1);
    }
    td_buf_puts(b, "\"");
}

/* Appends s as a JSON string. */
static void json_value(struct td_buf *b, const char *s)
{
    struct td_json_out o = {0};
    td_json_str(&o, s);
    td_buf_append(b, o.data ? o.data : "\"\"", o.data ? o.len : 2);
    td_json_out_free(&o);
}

void td_vlog(enum td_log_level level, const char *org, const char *component, const char *fmt,
             va_list ap)
{
    if ((int)level > atomic_load(&log_level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    struct td_buf text = {0}, msg = {0};
    td_buf_vprintf(&text, fmt, ap);
    /* a callback token is a credential: never in a log line, whoever wrote it */
    mask_callbacks(&msg, td_buf_str(&text));
    td_buf_reset(&text);

    struct td_buf line = {0};
    switch ((enum td_log_format)atomic_load(&log_format)) {
    case TD_LOG_FORMAT_JSON:
        td_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\"", when, level_names[level]);
        if (org) {
            td_buf_puts(&line, ",\"org\":");
            json_value(&line, org);
        }
        if (component) {
            td_buf_puts(&line, ",\"component\":");
            json_value(&line, component);
        }
        td_buf_puts(&line, ",\"msg\":");
        json_value(&line, td_buf_str(&msg));
        td_buf_puts(&line, "}\n");
        break;
    case TD_LOG_FORMAT_TEXT:
        td_buf_printf(&line, "%s %-5s ", when, level_names[level]);
        if (org || component)
            td_buf_printf(&line, "[%s%s%s] ", org ? org : "", org && component ? "/" : "",
                          component ? component : "");
        td_buf_printf(&line, "%s\n", td_buf_str(&msg));
        break;
    default:
        td_buf_printf(&line, "ts=%s level=%s", when, level_names[level]);
        if (org) {
            td_buf_puts(&line, " org=");
            logfmt_value(&line, org);
        }
        if (component) {
            td_buf_puts(&line, " component=");
            logfmt_value(&line, component);
        }
        td_buf_puts(&line, " msg=");
        logfmt_value(&line, td_buf_str(&msg));
        td_buf_puts(&line, "\n");
    }
    td_buf_reset(&msg);
    /* One write per line keeps lines whole when threads log at once. */
    fputs(td_buf_str(&line), stderr);
    td_buf_reset(&line);
}

void td_log(enum td_log_level level, const char *org, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_vlog(level, org, component, fmt, ap);
    va_end(ap);
}

/* Keeps keep_head characters, stars the rest up to len - keep_tail. */
static void mask_span(struct td_buf *b, const char *s, size_t len, size_t keep_head,
                      size_t keep_tail)
{
    if (keep_head + keep_tail >= len) {
        keep_head = len > 1 ? 1 : 0;
        keep_tail = 0;
    }
    td_buf_append(b, s, keep_head);
    for (size_t i = keep_head; i < len - keep_tail; i++)
        td_buf_puts(b, "*");
    td_buf_append(b, s + len - keep_tail, keep_tail);
}

void td_log_mask(const char *address, char *out, size_t cap)
{
    if (cap == 0)
        return;
    struct td_buf b = {0};
    if (!address || !*address) {
        td_buf_puts(&b, "-");
    } else {
        const char *at = strchr(address, '@');
        if (at) {
            /* local part: first character; domain: first character and the TLD */
            mask_span(&b, address, (size_t)(at - address), 1, 0);
            td_buf_puts(&b, "@");
            const char *domain = at + 1;
            const char *dot = strrchr(domain, '.');
            size_t dlen = dot ? (size_t)(dot - domain) : strlen(domain);
            mask_span(&b, domain, dlen, 1, 0);
            if (dot)
                td_buf_puts(&b, dot);
        } else {
            /* phone: country code and operator prefix, last two digits */
            size_t len = strlen(address);
            mask_span(&b, address, len, len > 8 ? 6 : 2, 2);
        }
    }
    snprintf(out, cap, "%s", td_buf_str(&b));
    td_buf_reset(&b);
}
