/* log: one line per event on stderr: time, level, organization, component
 * and message, as logfmt (the default), JSON lines or plain text. */
#ifndef TD_LOG_H
#define TD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "tidings/plugin.h"

/* How a line is written ([log] format). */
enum td_log_format {
    /* ts=2026-12-01T09:00:00.123Z level=info org=acme component=email msg="..." */
    TD_LOG_FORMAT_LOGFMT = 0,
    /* {"ts":"2026-12-01T09:00:00.123Z","level":"info","org":"acme",...,"msg":"..."} */
    TD_LOG_FORMAT_JSON = 1,
    /* 2026-12-01T09:00:00.123Z info  [acme/email] ... (for a terminal) */
    TD_LOG_FORMAT_TEXT = 2,
};

/* Sets the line format (default: logfmt). */
void td_log_set_format(enum td_log_format format);
/* Parses "logfmt", "json", "text". Returns 0 or -EINVAL. */
int td_log_format_parse(const char *s, enum td_log_format *out);

/* Sets the most verbose level that is written (default: TD_LOG_INFO). */
void td_log_set_level(enum td_log_level level);
/* Parses "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int td_log_level_parse(const char *s, enum td_log_level *out);

/* Writes one line: time, level, [org/component] (either may be NULL) and the
 * message. Never pass secrets or whole addresses (see td_log_mask). */
void td_log(enum td_log_level level, const char *org, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void td_vlog(enum td_log_level level, const char *org, const char *component, const char *fmt,
             va_list ap) __attribute__((format(printf, 4, 0)));

/* Writes a log-safe form of an e-mail address or phone number into out:
 * "j***@e***.org" or "+49171*****67". NULL or "" gives "-". */
void td_log_mask(const char *address, char *out, size_t cap);

/* Writes a log-safe form of a request path, route or URL into out: the last
 * segment of a callback path, its token, becomes three stars
 * ("/v1/callbacks/acme/sms/3f2a..." gives "/v1/callbacks/acme/sms/" and the
 * stars), wherever in path one is; the rest stays as it is. NULL gives "-".
 * Every line td_log writes is masked so too. */
void td_log_path(const char *path, char *out, size_t cap);

#endif
