/* prepared: one claimed row on its way to a channel plugin, and the
 * helpers the three parts of delivery share: prepared.c makes it ready
 * (deadline, organization, conditions, consent, address, suppression,
 * rendering, the unsubscribe link) or decides it without the provider,
 * verdict.c maps the plugin's verdict to the row's next state, and deliver.c
 * runs the batch through the channels. Internal to core/dispatch/. */
#ifndef TD_PREPARED_H
#define TD_PREPARED_H

#include "dispatch/deliver.h"
#include "store/store.h"
#include "tidings/plugin.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct td_engine;
struct td_world;
struct td_instance;

/* When a condition's lookup fails (the database), try the message again soon. */
#define DELIVER_LOOKUP_RETRY_MS 5000

struct prepared {
    struct td_claimed *row;
    struct td_instance *channel;
    char id[24];
    char idempotency_key[160];
    char *recipient;
    char *to_name;
    char *subject;
    char *text;
    char *html;
    char *rendered; /* what was sent, as JSON text */
    char *reason;
    char *provider_id;
    char *unsubscribe_url; /* e-mail: the signed one-click link, or NULL */
    bool window_open;      /* whatsapp: inside the customer's 24-hour window */
    char **wa_params;      /* rendered WhatsApp placeholders */
    size_t wa_count;
    bool ready; /* to be handed to the channel plugin */
    bool done;  /* outcome decided */
};

/* Decides p: o gets status and (printf-style, owned by p) the reason; p is
 * done. fmt NULL keeps no reason. */
void td_prepared_outcome(struct td_outcome *o, struct prepared *p, const char *status,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Decides p with status and why, taking the step's fallback when it has one. */
void td_prepared_give_up(struct td_outcome *o, struct prepared *p, const char *status,
                         const char *why);

/* Makes p (its row already set) ready for its channel, or decides it: o is
 * set then. now is the wall clock in ms. (prepared.c) */
void td_prepared_make(struct td_engine *engine, struct td_world *world, PGconn *conn,
                      struct prepared *p, struct td_outcome *o, int64_t now);

/* Frees what p holds and empties it (its row is the caller's). */
void td_prepared_clear(struct prepared *p);

/* The message handed to the plugin for p (pointers into p). (prepared.c) */
void td_prepared_message(struct td_message *msg, const struct prepared *p);

/* Maps the plugin's verdict r on p to the row's next state in o, by the
 * channel's policy; counts it in stats. (verdict.c) */
void td_verdict_apply(PGconn *conn, struct prepared *p, struct td_outcome *o,
                      const struct td_result *r, int64_t now, struct td_deliver_stats *stats);

#endif
