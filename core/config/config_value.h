/* config_value: checks one configuration value against its type and
 * normalizes it (absolute paths, "true"/"false"). */
#ifndef TD_CONFIG_VALUE_H
#define TD_CONFIG_VALUE_H

#include "tidings/plugin.h"

#include <stddef.h>

/* Plugin key types (enum td_key_type) plus types only the core's own keys use. */
enum td_value_type {
    TD_VALUE_STRING = TD_KEY_STRING,
    TD_VALUE_INT = TD_KEY_INT,
    TD_VALUE_BOOL = TD_KEY_BOOL,
    TD_VALUE_PATH = TD_KEY_PATH,
    TD_VALUE_URL = TD_KEY_URL,
    TD_VALUE_TIMEZONE = 100, /* an IANA zone known to the system: "Europe/Berlin" */
    TD_VALUE_LOCALE,         /* "de" or "en" */
    TD_VALUE_LISTEN,         /* "host:port", port 0 picks a free one */
    TD_VALUE_LOGLEVEL,       /* error, warn, info, debug */
    TD_VALUE_ID,             /* [a-z0-9][a-z0-9_-]*, at most 63 characters */
    TD_VALUE_COUNTRY,        /* a country calling code: "49" */
    TD_VALUE_LOGFORMAT,      /* logfmt, json, text */
};

/* Checks raw against type. INT values must lie in [min, max]. On success
 * returns 0 and a new normalized string in *out (caller frees). On failure
 * returns -EINVAL and writes what is wrong into err, never echoing the value of
 * a secret (the caller does not pass secrets here). */
int td_value_normalize(enum td_value_type type, const char *raw, const char *base_dir, long min,
                       long max, char **out, char *err, size_t errcap);

/* Parses a whole decimal integer in [min, max]. Returns 0 or -EINVAL. */
int td_parse_long(const char *s, long min, long max, long *out);

/* Parses a duration "500ms", "30s", "5m", "1h" (a bare number is seconds)
 * into milliseconds. Returns 0 or -EINVAL. */
int td_parse_duration_ms(const char *s, long *out_ms);

/* Parses a size "512", "64k", "10M", "1G" (k = 1024) into bytes. Returns 0
 * or -EINVAL. */
int td_parse_size(const char *s, long *out_bytes);

/* Parses a rate "10/s", "600/m", "3600/h" into events per second. Returns 0
 * or -EINVAL. */
int td_parse_rate(const char *s, double *per_second);

#endif
