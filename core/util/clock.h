/* clock: the engine's two clocks in milliseconds, and absolute deadlines for
 * timed waits. The wall clock is what messages are scheduled by (tests move
 * it with libfaketime); the monotonic clock measures durations and paces
 * loops, untouched by any change of the wall clock. */
#ifndef TD_CLOCK_H
#define TD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Unix time now, in milliseconds. */
int64_t td_wall_ms(void);

/* Milliseconds on the monotonic clock (an arbitrary origin). */
int64_t td_mono_ms(void);

/* The instant ms milliseconds from now on clock (CLOCK_REALTIME or
 * CLOCK_MONOTONIC), as pthread_cond_timedwait takes it. */
struct timespec td_clock_after_ms(clockid_t clock, int64_t ms);

#endif
