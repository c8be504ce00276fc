/* dispatch: the dispatcher thread. It sleeps until the next message is due
 * (or a NOTIFY says sooner work arrived, or a periodic re-check fires),
 * claims due rows in batches under a lease, renders them, hands them to the
 * organization's channel plugin and writes the verdicts back, fenced by the
 * lease token. */
#ifndef TD_DISPATCH_H
#define TD_DISPATCH_H

struct td_engine;
struct td_dispatcher;

/* Starts the dispatcher thread for engine. Returns 0 and *out, or a negative
 * errno. */
int td_dispatcher_start(struct td_engine *engine, struct td_dispatcher **out);

/* Asks the dispatcher to stop: the batch in hand is finished (messages not
 * yet handed to a plugin are released back to 'scheduled'), then the thread
 * ends. Waits for it and frees it. NULL is a no-op. */
void td_dispatcher_stop(struct td_dispatcher *d);

#endif
