/* tidings/plugin_util.h: small checks every channel plugin needs, header-
 * only, the same code the engine itself runs (it includes this header too),
 * so a plugin refuses exactly what the engine would:
 *
 *   td_header_value_ok(s)   may s go into an HTTP or e-mail header as it is?
 *   td_email_plausible(s)   is s an address the engine sends e-mail to?
 *   td_fnv1a64(data, n)     a stable 64-bit hash (keys derived from keys)
 *   td_http_verdict(...)    the engine's mapping of an HTTP answer to a verdict
 *                           (host->result_from_http runs exactly this)
 *
 * JSON text for request bodies: tidings/json_write.h. Nothing here crosses
 * the plugin ABI: a plugin compiles these into itself. */
#ifndef TIDINGS_PLUGIN_UTIL_H
#define TIDINGS_PLUGIN_UTIL_H

#include "tidings/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Whether s (NULL counts as empty) may go into a header as it is: no CR, LF,
 * NUL-less control character or DEL, which could end the header and start
 * another (header injection). Tabs are allowed. */
static inline bool td_header_value_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    }
    return true;
}

/* Whether s looks like an e-mail address: one '@' with something before it,
 * a dotted domain after it, no spaces, control characters or the characters
 * that would make it a list or a display name (<>,;"()[]\), at most 254
 * characters. The engine holds bookings to the same check. */
static inline bool td_email_plausible(const char *s)
{
    const char *at = s ? strchr(s, '@') : NULL;
    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.')
        return false;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("<>,;\"()[]\\", *p))
            return false;
    }
    return s[strlen(s) - 1] != '.' && strlen(s) <= 254;
}

#define TD_FNV1A64_INIT 1469598103934665603ULL

/* Folds n bytes of data into the FNV-1a hash h (start with TD_FNV1A64_INIT).
 * Stable across runs and machines; not for keys an attacker picks. */
static inline uint64_t td_fnv1a64_add(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* The FNV-1a hash of n bytes of data. */
static inline uint64_t td_fnv1a64(const void *data, size_t n)
{
    return td_fnv1a64_add(TD_FNV1A64_INIT, data, n);
}

/* The engine's mapping of an HTTP answer to a verdict (result is
 * overwritten): no answer -> TD_UNKNOWN when the request left (left: some of
 * it was sent), else TD_RETRY; 2xx -> TD_OK; 408, 429, 5xx -> TD_RETRY with
 * Retry-After; 401, 403 -> TD_SUSPEND; other 3xx and 4xx -> TD_FAIL. */
static inline void td_http_verdict(const struct td_http_reply *reply, bool left,
                                   struct td_result *result)
{
    memset(result, 0, sizeof(*result));
    result->retry_after_ms = reply->retry_after_ms;
    result->http_status = reply->status;
    int s = reply->status;
    if (s == 0) {
        result->status = left ? TD_UNKNOWN : TD_RETRY;
        snprintf(result->reason, sizeof(result->reason), "no answer: %.200s", reply->error);
    } else if (s >= 200 && s < 300) {
        result->status = TD_OK;
    } else if (s == 408 || s == 429 || s >= 500) {
        result->status = TD_RETRY;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d", s);
    } else if (s == 401 || s == 403) {
        result->status = TD_SUSPEND;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d: credentials refused", s);
    } else {
        result->status = TD_FAIL;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d", s);
    }
}

#endif
