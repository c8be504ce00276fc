/* deliver: runs a claimed batch through the channel plugins: prepares each
 * row (prepared.c), hands the ready ones to their plugin in rounds, and
 * records each verdict (verdict.c) as soon as it is in. */
#include "dispatch/deliver.h"
#include "util/clock.h"

#include "util/buf.h"
#include "dispatch/inflight.h"
#include "plugin_host/world.h"
#include "engine_state.h"
#include "util/log.h"
#include "intake/address.h"
#include "util/metrics.h"
#include "render/unsubscribe.h"

#include "store/store.h"
#include "render/render.h"
#include "render/render_context.h"
#include "render/sms.h"

#include "tidings/json_write.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch/prepared.h"
/* The size of struct td_message as a plugin built against ABI 1.minor lays
 * out its array: fields are only appended, so an older plugin reads the
 * same prefix with a shorter stride. */
static size_t message_stride(unsigned minor)
{
    size_t end = sizeof(struct td_message);
    if (minor < 1)
        end = offsetof(struct td_message, wa_window_open);
    else if (minor < 2)
        end = offsetof(struct td_message, wa_window_open) + sizeof(bool);
    size_t align = _Alignof(struct td_message);
    return (end + align - 1) / align * align;
}

/* Counts recorded verdicts in the metrics and logs one line per message
 * (addresses and texts stay out of the log). */
static void deliver_count(struct td_engine *engine, const struct td_claimed *m,
                          const struct td_outcome *o)
{
    const char *outcome = o->status ? o->status : "unknown";
    bool retry = strcmp(outcome, "scheduled") == 0;
    char labels[256];
    snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\",outcome=\"%s\"", m->org_id,
             m->channel,
             o->unknown ? "unknown"
             : retry    ? "retry"
                        : outcome);
    td_metrics_add(engine->metrics, "tidings_deliveries_total", labels, 1);
    if (retry && o->attempt_delta == 0 && !o->unknown) {
        snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\"", m->org_id, m->channel);
        td_metrics_add(engine->metrics, "tidings_retries_total", labels, 1);
    }
    td_log(strcmp(outcome, "sent") == 0 ? TD_LOG_DEBUG : TD_LOG_INFO, m->org_id, m->channel,
           "message %lld (booking %s, %s/%s): %s%s%s", (long long)m->id, m->booking_id,
           m->sequence_key, m->step_id, retry ? "retry" : outcome, o->reason ? ": " : "",
           o->reason ? o->reason : "");
}

/* Hands the verdicts of items[index[0..n)] to the engine's verdict writer at
 * once, and counts them. */
static void deliver_record(struct td_engine *engine, struct prepared *items,
                           struct td_outcome *outcomes, const size_t *index, size_t n)
{
    struct td_outcome *batch = calloc(n ? n : 1, sizeof(*batch));
    for (size_t k = 0; k < n; k++) {
        if (batch)
            batch[k] = outcomes[index[k]];
        deliver_count(engine, items[index[k]].row, &outcomes[index[k]]);
    }
    if (batch)
        td_inflight_record(engine->inflight, batch, n);
    else
        td_log(TD_LOG_ERROR, NULL, "dispatch", "out of memory: %zu verdicts not written", n);
    free(batch);
}

/* Hands every ready row of channel to its plugin, one round of its
 * concurrency at a time, recording each round's verdicts as soon as the
 * plugin returns: an engine killed mid-round leaves at most one round's
 * messages with an unknown outcome. */
static void deliver_channel(struct td_engine *engine, PGconn *conn, struct prepared *items,
                            struct td_outcome *outcomes, size_t count, struct td_instance *channel,
                            const atomic_bool *stopping, struct td_deliver_stats *stats)
{
    const struct td_plugin *d = channel->plugin->desc;
    size_t limit = d->max_batch;
    size_t round = (size_t)channel->cfg->policy.concurrency;
    if (round < limit)
        limit = round;
    if (limit < 1)
        limit = 1;
    size_t stride = message_stride(d->abi_minor);
    struct td_message *msgs = calloc(limit, sizeof(*msgs));
    unsigned char *packed = stride == sizeof(*msgs) ? NULL : calloc(limit, stride);
    struct td_result *results = calloc(limit, sizeof(*results));
    size_t *index = calloc(limit, sizeof(*index));
    size_t i = 0;
    while (msgs && results && index && (stride == sizeof(*msgs) || packed)) {
        size_t n = 0;
        for (; i < count && n < limit; i++) {
            if (items[i].ready && !items[i].done && items[i].channel == channel) {
                index[n] = i;
                td_prepared_message(&msgs[n++], &items[i]);
            }
        }
        if (n == 0)
            break;
        /* nothing leaves for the provider unless its lease is sure to outlast the call */
        bool leases_ok = td_inflight_leases_ok(engine->inflight);
        if (atomic_load(stopping) || !leases_ok) {
            for (size_t k = 0; k < n; k++) {
                td_prepared_outcome(&outcomes[index[k]], &items[index[k]], "scheduled",
                                    leases_ok
                                        ? "released at shutdown"
                                        : "released: its lease could not be renewed (the database "
                                          "is unreachable)");
                outcomes[index[k]].attempt_delta = -1;
                stats->released++;
            }
            deliver_record(engine, items, outcomes, index, n);
            continue;
        }
        memset(results, 0, limit * sizeof(*results));
        for (size_t k = 0; k < n; k++) {
            results[k].status = TD_RETRY;
            results[k].retry_after_ms = -1;
            snprintf(results[k].reason, sizeof(results[k].reason), "plugin gave no verdict");
        }
        int64_t started = td_wall_ms();
        char labels[160];
        snprintf(labels, sizeof(labels), "channel=\"%s\"", channel->cfg->name);
        for (size_t k = 0; k < n; k++)
            td_metrics_observe(engine->metrics, "tidings_lateness_seconds", labels,
                               (double)(started - msgs[k].scheduled_for_ms) / 1000.0);
        const struct td_message *handed = msgs;
        if (packed) {
            for (size_t k = 0; k < n; k++)
                memcpy(packed + k * stride, &msgs[k], stride);
            handed = (const struct td_message *)(void *)packed;
        }
        d->channel->deliver(channel->state, handed, n, results);
        int64_t now = td_wall_ms();
        td_metrics_observe(engine->metrics, "tidings_provider_latency_seconds", labels,
                           (double)(now - started) / 1000.0);
        for (size_t k = 0; k < n; k++)
            td_verdict_apply(conn, &items[index[k]], &outcomes[index[k]], &results[k], now, stats);
        deliver_record(engine, items, outcomes, index, n);
    }
    free(msgs);
    free(packed);
    free(results);
    free(index);
}

/* One query for the whole batch: which recipients are suppressed on their
 * channel (skipped, the fallback takes over) and which WhatsApp numbers are
 * inside their 24-hour window. */
static void deliver_address_facts(PGconn *conn, struct prepared *prep, struct td_outcome *outcomes,
                                  size_t count, struct td_deliver_stats *stats)
{
    json_t *triples = json_array();
    size_t *index = calloc(count ? count : 1, sizeof(*index));
    size_t n = 0;
    for (size_t i = 0; triples && index && i < count; i++) {
        if (!prep[i].ready || prep[i].done)
            continue;
        json_array_append_new(triples, json_pack("[s, s, s]", prep[i].row->org_id,
                                                 prep[i].row->channel, prep[i].recipient));
        index[n++] = i;
    }
    char *text = n ? json_dumps(triples, JSON_COMPACT) : NULL;
    json_t *facts = NULL;
    char err[512];
    if (text && td_store_address_facts(conn, text, &facts, err, sizeof(err)) < 0) {
        /* never send without knowing the address is not suppressed: try again soon */
        td_log(TD_LOG_ERROR, NULL, "dispatch", "suppressions not checked: %s", err);
        for (size_t j = 0; j < n; j++) {
            struct prepared *p = &prep[index[j]];
            p->ready = false;
            td_prepared_outcome(&outcomes[index[j]], p, "scheduled",
                                "suppressions could not be checked");
            outcomes[index[j]].retry_at_ms = td_wall_ms() + DELIVER_LOOKUP_RETRY_MS;
            outcomes[index[j]].attempt_delta = -1;
            stats->released++;
        }
    }

    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(facts, "window"), k, v)
    {
        size_t i = (size_t)json_integer_value(v);
        if (i < n)
            prep[index[i]].window_open = true;
    }
    json_array_foreach(json_object_get(facts, "suppressed"), k, v)
    {
        size_t i = (size_t)json_integer_value(v);
        if (i >= n)
            continue;
        struct prepared *p = &prep[index[i]];
        char why[160];
        snprintf(why, sizeof(why), "the customer's address is suppressed for %s", p->row->channel);
        p->ready = false;
        td_prepared_give_up(&outcomes[index[i]], p, "skipped", why);
        stats->skipped++;
    }
    json_decref(facts);
    free(text);
    free(index);
    json_decref(triples);
}

int td_deliver_batch(struct td_engine *engine, struct td_world *world, PGconn *conn,
                     struct td_claimed *items, size_t count, struct td_outcome *outcomes,
                     void **owned, const atomic_bool *stopping, struct td_deliver_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    struct prepared *prep = calloc(count, sizeof(*prep));
    size_t *decided = calloc(count ? count : 1, sizeof(*decided));
    *owned = prep;
    if (!prep || !decided) {
        free(decided);
        return -ENOMEM;
    }
    int64_t now = td_wall_ms();
    for (size_t i = 0; i < count; i++) {
        struct td_outcome *o = &outcomes[i];
        memset(o, 0, sizeof(*o));
        o->org_id = items[i].org_id;
        o->id = items[i].id;
        o->lease_token = items[i].lease_token;
        prep[i].row = &items[i];
        td_prepared_make(engine, world, conn, &prep[i], o, now);
        if (prep[i].done) {
            if (strcmp(o->status, "expired") == 0)
                stats->expired++;
            else if (strcmp(o->status, "skipped") == 0)
                stats->skipped++;
            else if (strcmp(o->status, "held") == 0)
                stats->held++;
            else if (strcmp(o->status, "scheduled") == 0)
                stats->released++;
            else
                stats->failed++;
        }
    }
    deliver_address_facts(conn, prep, outcomes, count, stats);
    /* what was decided without the provider is recorded at once */
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (prep[i].done)
            decided[n++] = i;
    }
    deliver_record(engine, prep, outcomes, decided, n);
    free(decided);
    for (size_t i = 0; i < count; i++) {
        if (prep[i].ready && !prep[i].done)
            deliver_channel(engine, conn, prep, outcomes, count, prep[i].channel, stopping, stats);
    }
    return 0;
}

void td_deliver_free(void *owned, size_t count)
{
    struct prepared *prep = owned;
    if (!prep)
        return;
    for (size_t i = 0; i < count; i++)
        td_prepared_clear(&prep[i]);
    free(prep);
}
