/* timefmt: RFC 3339 timestamps to and from unix milliseconds. */
#ifndef TD_TIMEFMT_H
#define TD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parses "2026-12-05T10:00:00+01:00" (seconds and fraction optional, 'Z' or
 * an offset required). Returns 0 and unix ms in *out, or -EINVAL. */
int td_time_parse(const char *s, int64_t *out);

/* Writes ms as "2026-12-05T09:00:00.000Z" into buf (at least 25 bytes). */
void td_time_format(int64_t ms, char *buf, size_t cap);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t td_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
