/* admin_params: parameter checks shared by the admin API and the CLI. */
#include "admin/admin_params.h"

#include "util/timefmt.h"

#include <errno.h>
#include <string.h>

#define TIME_PROBLEM "an RFC 3339 time with its offset (2026-12-01T09:00:00Z)"

int td_admin_stats_range(const char *by, const char *from, const char *to, int64_t now_ms,
                         struct td_admin_stats_range *out, struct td_admin_bad *bad)
{
    memset(out, 0, sizeof(*out));
    int64_t from_ms = 0, to_ms = now_ms;
    if (by && strcmp(by, "channel") != 0 && strcmp(by, "sequence") != 0 &&
        strcmp(by, "step") != 0 && strcmp(by, "day") != 0) {
        *bad = (struct td_admin_bad){"by", "one of channel, sequence, step, day"};
        return -EINVAL;
    }
    if (to && td_time_parse(to, &to_ms) < 0) {
        *bad = (struct td_admin_bad){"to", TIME_PROBLEM};
        return -EINVAL;
    }
    from_ms = to_ms - 30LL * 86400 * 1000;
    if (from && td_time_parse(from, &from_ms) < 0) {
        *bad = (struct td_admin_bad){"from", TIME_PROBLEM};
        return -EINVAL;
    }
    if (from_ms >= to_ms) {
        *bad = (struct td_admin_bad){"from", "must come before to"};
        return -EINVAL;
    }
    out->by = by ? by : "channel";
    td_time_format(from_ms, out->from, sizeof(out->from));
    td_time_format(to_ms, out->to, sizeof(out->to));
    return 0;
}
