/* fake_sleeper: the timer behind "slow" faults. A slow request's connection is
 * suspended (no worker thread sleeps) and resumed here once its delay is over. */
#ifndef FAKE_SLEEPER_H
#define FAKE_SLEEPER_H

#include <microhttpd.h>

struct fake_sleeper;

/* Starts the timer thread; NULL on failure. */
struct fake_sleeper *fake_sleeper_start(void);
/* Resumes conn (already suspended by the caller) after delay_ms; at once after
 * fake_sleeper_stop. */
void fake_sleeper_add(struct fake_sleeper *s, struct MHD_Connection *conn, long delay_ms);
/* Resumes every waiting connection and ends the thread; call before MHD_stop_daemon. */
void fake_sleeper_stop(struct fake_sleeper *s);
/* Frees the sleeper (after MHD_stop_daemon). */
void fake_sleeper_destroy(struct fake_sleeper *s);

#endif
