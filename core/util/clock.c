/* clock: wall and monotonic milliseconds, and wait deadlines. */
#include "util/clock.h"

static int64_t clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t td_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t td_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

struct timespec td_clock_after_ms(clockid_t clock, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
