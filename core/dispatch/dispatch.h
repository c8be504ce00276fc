/* dispatch: the dispatcher: [dispatch] workers threads. Each sleeps until
 * the next message is due (or a NOTIFY says sooner work arrived, or a
 * periodic re-check fires), claims due rows in batches under a lease, and
 * sees them through deliver.c, whose verdicts the engine's verdict writer
 * (inflight.c) writes back, fenced by the lease token. */
#ifndef TD_DISPATCH_H
#define TD_DISPATCH_H

struct td_engine;
struct td_dispatcher;

/* Starts the dispatcher's workers for engine. Returns 0 and *out, or a negative
 * errno. */
int td_dispatcher_start(struct td_engine *engine, struct td_dispatcher **out);

/* Tells the workers that the engine runs another configuration now: its
 * suspended channels are read again and every worker looks at once. */
void td_dispatcher_world_changed(struct td_dispatcher *d);

/* Asks the dispatcher to stop: the batch in hand is finished (messages not
 * yet handed to a plugin are released back to 'scheduled'), then the thread
 * ends. Waits for it and frees it. NULL is a no-op. */
void td_dispatcher_stop(struct td_dispatcher *d);

#endif
