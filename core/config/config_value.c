/* config_value: checks one configuration value against its type and
 * normalizes it (absolute paths, "true"/"false"). */
#include "config/config_value.h"

#include "util/log.h"
#include "util/path.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int td_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int value_bool(const char *raw, char **out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(raw, yes[i]) == 0) {
            *out = strdup("true");
            return *out ? 0 : -ENOMEM;
        }
        if (strcasecmp(raw, no[i]) == 0) {
            *out = strdup("false");
            return *out ? 0 : -ENOMEM;
        }
    }
    return -EINVAL;
}

static int value_timezone(const char *raw)
{
    /* Zone names are letters, digits, '/', '_', '-', '+'; never "..". */
    if (!*raw || raw[0] == '/' || strstr(raw, ".."))
        return -EINVAL;
    for (const char *p = raw; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
            return -EINVAL;
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", raw) >= sizeof(path))
        return -EINVAL;
    return access(path, R_OK) == 0 ? 0 : -EINVAL;
}

static int value_listen(const char *raw)
{
    const char *colon = strrchr(raw, ':');
    long port;
    if (!colon || colon == raw || td_parse_long(colon + 1, 0, 65535, &port) < 0)
        return -EINVAL;
    return 0;
}

static int value_id(const char *raw)
{
    size_t len = strlen(raw);
    if (len == 0 || len > 63 || !(islower((unsigned char)raw[0]) || isdigit((unsigned char)raw[0])))
        return -EINVAL;
    for (const char *p = raw; *p; p++) {
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '_')
            return -EINVAL;
    }
    return 0;
}

int td_value_normalize(enum td_value_type type, const char *raw, const char *base_dir, long min,
                       long max, char **out, char *err, size_t errcap)
{
    *out = NULL;
    long n;
    switch (type) {
    case TD_VALUE_STRING: break;
    case TD_VALUE_INT:
        if (td_parse_long(raw, min, max, &n) < 0) {
            if (min == LONG_MIN && max == LONG_MAX)
                snprintf(err, errcap, "'%s' is not a whole number", raw);
            else
                snprintf(err, errcap, "'%s' is not a whole number from %ld to %ld", raw, min, max);
            return -EINVAL;
        }
        break;
    case TD_VALUE_BOOL:
        if (value_bool(raw, out) < 0) {
            snprintf(err, errcap, "'%s' is not true or false", raw);
            return -EINVAL;
        }
        return 0;
    case TD_VALUE_PATH:
        if (!*raw) {
            snprintf(err, errcap, "the path is empty");
            return -EINVAL;
        }
        *out = td_path_join(base_dir, raw);
        return *out ? 0 : -ENOMEM;
    case TD_VALUE_URL:
        if (strncmp(raw, "http://", 7) != 0 && strncmp(raw, "https://", 8) != 0) {
            snprintf(err, errcap, "'%s' is not an http:// or https:// URL", raw);
            return -EINVAL;
        }
        break;
    case TD_VALUE_TIMEZONE:
        if (value_timezone(raw) < 0) {
            snprintf(err, errcap, "'%s' is not a known time zone (like Europe/Berlin)", raw);
            return -EINVAL;
        }
        break;
    case TD_VALUE_LOCALE:
        if (strcmp(raw, "de") != 0 && strcmp(raw, "en") != 0) {
            snprintf(err, errcap, "'%s' is not a supported locale (de, en)", raw);
            return -EINVAL;
        }
        break;
    case TD_VALUE_LISTEN:
        if (value_listen(raw) < 0) {
            snprintf(err, errcap, "'%s' is not host:port (like 127.0.0.1:8080)", raw);
            return -EINVAL;
        }
        break;
    case TD_VALUE_LOGFORMAT: {
        enum td_log_format format;
        if (td_log_format_parse(raw, &format) < 0) {
            snprintf(err, errcap, "'%s' is not a log format (logfmt, json, text)", raw);
            return -EINVAL;
        }
        break;
    }
    case TD_VALUE_LOGLEVEL: {
        enum td_log_level level;
        if (td_log_level_parse(raw, &level) < 0) {
            snprintf(err, errcap, "'%s' is not a log level (error, warn, info, debug)", raw);
            return -EINVAL;
        }
        break;
    }
    case TD_VALUE_ID:
        if (value_id(raw) < 0) {
            snprintf(err, errcap,
                     "'%s' is not an id (lower-case letters, digits, '-' and '_', at most 63)",
                     raw);
            return -EINVAL;
        }
        break;
    case TD_VALUE_COUNTRY:
        if (td_parse_long(raw, 1, 999, &n) < 0) {
            snprintf(err, errcap, "'%s' is not a country calling code (like 49)", raw);
            return -EINVAL;
        }
        break;
    }
    *out = strdup(raw);
    return *out ? 0 : -ENOMEM;
}

int td_parse_duration_ms(const char *s, long *out_ms)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || v < 0 || v > 100000000)
        return -EINVAL;
    long scale;
    if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        scale = 1000;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (strcmp(end, "h") == 0)
        scale = 3600000;
    else
        return -EINVAL;
    if (v > LONG_MAX / scale)
        return -EINVAL;
    *out_ms = v * scale;
    return 0;
}

int td_parse_size(const char *s, long *out_bytes)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || v < 0)
        return -EINVAL;
    long scale;
    if (*end == '\0')
        scale = 1;
    else if (strcasecmp(end, "k") == 0)
        scale = 1024L;
    else if (strcasecmp(end, "m") == 0)
        scale = 1024L * 1024;
    else if (strcasecmp(end, "g") == 0)
        scale = 1024L * 1024 * 1024;
    else
        return -EINVAL;
    if (v > LONG_MAX / scale)
        return -EINVAL;
    *out_bytes = v * scale;
    return 0;
}

int td_parse_rate(const char *s, double *per_second)
{
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || n <= 0 || n > 10000000 || *end != '/')
        return -EINVAL;
    const char *unit = end + 1;
    double seconds = strcmp(unit, "s") == 0   ? 1
                     : strcmp(unit, "m") == 0 ? 60
                     : strcmp(unit, "h") == 0 ? 3600
                                              : 0;
    if (seconds == 0)
        return -EINVAL;
    *per_second = (double)n / seconds;
    return 0;
}
