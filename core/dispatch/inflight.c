/* inflight: claimed messages whose verdicts are not yet written: their
 * leases renewed, their verdicts written as soon as they are in. */
#include "dispatch/inflight.h"
#include "util/clock.h"

#include "store/db.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Verdicts written per statement at most. */
#define INFLIGHT_WRITE_MAX 2000
/* A worker waits before handing over more when this many wait to be written. */
#define INFLIGHT_QUEUE_MAX 20000
/* After a failed write or renewal, wait this long before the next try. */
#define INFLIGHT_RETRY_MS 250

/* One held lease: a claimed row not yet written. */
struct held {
    int64_t token; /* 0: an empty slot; -1: a deleted one */
    int64_t id;
    char *org_id;
    int64_t held_ms; /* wall ms when it was registered */
    bool renewed;    /* found by the renewal in progress */
    bool lost;       /* a renewal did not find it: claimed by someone else */
};

struct td_inflight {
    char *dsn;
    long lease_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;    /* verdicts queued, or stopping */
    pthread_cond_t written; /* the queue got shorter */
    bool stopping;
    int64_t stop_deadline_ms; /* give up writing after this (mono), once stopping */

    /* the held leases: open addressing on the token */
    struct held *slots;
    size_t cap, used, live;

    /* verdicts waiting to be written (deep copies) */
    struct td_outcome *queue;
    size_t queued, queue_cap;
    size_t writing; /* taken by the thread, not yet written */

    /* wall ms at which the last successful renewal started (or the start) */
    _Atomic int64_t renewed_ms;
};

/* ---- the held set ---- */

static size_t slot_of(const struct td_inflight *f, int64_t token)
{
    uint64_t h = (uint64_t)token * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & (f->cap - 1);
}

static struct held *held_find(struct td_inflight *f, int64_t token)
{
    if (!f->cap)
        return NULL;
    for (size_t i = slot_of(f, token), n = 0; n < f->cap; i = (i + 1) & (f->cap - 1), n++) {
        if (f->slots[i].token == 0)
            return NULL;
        if (f->slots[i].token == token)
            return &f->slots[i];
    }
    return NULL;
}

static void held_insert_slot(struct td_inflight *f, struct held h)
{
    size_t i = slot_of(f, h.token);
    while (f->slots[i].token > 0)
        i = (i + 1) & (f->cap - 1);
    if (f->slots[i].token == 0)
        f->used++;
    f->slots[i] = h;
    f->live++;
}

/* Grows (or cleans) the table so that one more fits. Returns 0 or -ENOMEM. */
static int held_reserve(struct td_inflight *f, size_t more)
{
    if (f->cap && (f->used + more) * 4 < f->cap * 3)
        return 0;
    size_t cap = f->cap ? f->cap : 256;
    while ((f->live + more) * 2 >= cap)
        cap *= 2;
    struct held *old = f->slots;
    size_t old_cap = f->cap;
    f->slots = calloc(cap, sizeof(*f->slots));
    if (!f->slots) {
        f->slots = old;
        return -ENOMEM;
    }
    f->cap = cap;
    f->used = f->live = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].token > 0)
            held_insert_slot(f, old[i]);
    }
    free(old);
    return 0;
}

static void held_remove(struct td_inflight *f, int64_t token)
{
    struct held *h = held_find(f, token);
    if (!h)
        return;
    free(h->org_id);
    h->org_id = NULL;
    h->token = -1;
    f->live--;
}

/* ---- copies of verdicts ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void outcome_copy(struct td_outcome *to, const struct td_outcome *from)
{
    *to = *from;
    to->org_id = dup_or_null(from->org_id);
    to->status = dup_or_null(from->status);
    to->reason = dup_or_null(from->reason);
    to->provider_id = dup_or_null(from->provider_id);
    to->recipient = dup_or_null(from->recipient);
    to->rendered = dup_or_null(from->rendered);
    to->fallback = json_incref(from->fallback);
}

static void outcome_free(struct td_outcome *o)
{
    free((char *)o->org_id);
    free((char *)o->status);
    free((char *)o->reason);
    free((char *)o->provider_id);
    free((char *)o->recipient);
    free((char *)o->rendered);
    json_decref(o->fallback);
}

/* ---- the thread ---- */

/* Reconnects *c when it is missing or broken. Returns 0 or -EIO (logged once
 * per outage). */
static int inflight_connect(struct td_inflight *f, PGconn **c, bool *complained)
{
    if (*c && PQstatus(*c) == CONNECTION_OK)
        return 0;
    PQfinish(*c);
    char err[512] = "";
    *c = td_db_connect(f->dsn, err, sizeof(err));
    if (*c) {
        if (*complained)
            td_log(TD_LOG_WARN, NULL, "dispatch", "verdict writer reconnected to the database");
        *complained = false;
        return 0;
    }
    if (!*complained)
        td_log(TD_LOG_ERROR, NULL, "dispatch",
               "verdict writer cannot reach the database (%s); verdicts wait and are written "
               "when it is back",
               err);
    *complained = true;
    return -EIO;
}

/* Writes the verdicts taken from the queue. Returns 0 when they are done
 * with (written, or refused by the database for a reason other than a lost
 * connection: logged), -EIO to try again. */
static int inflight_write(struct td_inflight *f, PGconn **c, bool *complained,
                          struct td_outcome *batch, size_t n)
{
    if (inflight_connect(f, c, complained) < 0)
        return -EIO;
    char err[512] = "";
    int written = 0;
    int rc = td_store_outcomes_write(*c, batch, n, &written, err, sizeof(err));
    if (rc == -EAGAIN) {
        td_log(TD_LOG_DEBUG, NULL, "dispatch", "writing %zu verdicts: %s; again", n, err);
        return -EIO; /* a deadlock PostgreSQL resolved against this statement: again */
    }
    if (rc < 0) {
        if (td_db_connection_lost(*c) || PQstatus(*c) != CONNECTION_OK) {
            if (!*complained)
                td_log(TD_LOG_ERROR, NULL, "dispatch",
                       "writing %zu verdicts failed on a lost connection (%s); trying again", n,
                       err);
            *complained = true;
            PQfinish(*c);
            *c = NULL;
            return -EIO;
        }
        td_log(TD_LOG_ERROR, NULL, "dispatch",
               "the database refused %zu verdicts (%s); their leases run out and the rows are "
               "taken up again",
               n, err);
        return 0;
    }
    if ((size_t)written != n)
        td_log(TD_LOG_WARN, NULL, "dispatch",
               "%zu verdicts were not written: those rows were claimed again after their lease "
               "ran out",
               n - (size_t)written);
    return 0;
}

/* Renews the leases of every held row not yet written. */
static void inflight_renew(struct td_inflight *f, PGconn **c, bool *complained)
{
    int64_t started = td_wall_ms();
    pthread_mutex_lock(&f->lock);
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < f->cap; i++) {
        struct held *h = &f->slots[i];
        if (h->token > 0 && !h->lost)
            json_array_append_new(rows,
                                  json_pack("{s:s, s:I, s:I}", "org_id", h->org_id, "id",
                                            (json_int_t)h->id, "token", (json_int_t)h->token));
    }
    pthread_mutex_unlock(&f->lock);
    if (!rows)
        return;
    if (json_array_size(rows) == 0) {
        atomic_store(&f->renewed_ms, started);
        json_decref(rows);
        return;
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    json_t *kept = NULL;
    char err[512] = "";
    int rc = text && inflight_connect(f, c, complained) == 0
                 ? td_store_leases_renew(*c, text, f->lease_s, &kept, err, sizeof(err))
                 : -EIO;
    free(text);
    if (rc < 0) {
        if (*c && (td_db_connection_lost(*c) || PQstatus(*c) != CONNECTION_OK)) {
            PQfinish(*c);
            *c = NULL;
        }
        return;
    }
    atomic_store(&f->renewed_ms, started);
    /* a held row the renewal did not find was claimed by someone else */
    pthread_mutex_lock(&f->lock);
    size_t k;
    json_t *t;
    json_array_foreach(kept, k, t)
    {
        struct held *h = held_find(f, (int64_t)json_integer_value(t));
        if (h)
            h->renewed = true;
    }
    for (size_t i = 0; i < f->cap; i++) {
        struct held *h = &f->slots[i];
        if (h->token <= 0 || h->lost || h->held_ms >= started)
            continue;
        if (!h->renewed) {
            h->lost = true;
            td_log(TD_LOG_WARN, h->org_id, "dispatch",
                   "message %lld: its lease was taken over; this engine does not send it",
                   (long long)h->id);
        }
        h->renewed = false;
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(kept);
}

static void *inflight_main(void *arg)
{
    struct td_inflight *f = arg;
    PGconn *c = NULL;
    bool complained = false;
    long renew_every_ms = f->lease_s * 1000 / 3;
    if (renew_every_ms < 500)
        renew_every_ms = 500;
    int64_t next_renew = td_mono_ms() + renew_every_ms;
    struct td_outcome *batch = calloc(INFLIGHT_WRITE_MAX, sizeof(*batch));
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (f->queued == 0 && !f->stopping && td_mono_ms() < next_renew) {
            struct timespec until = td_clock_after_ms(CLOCK_REALTIME, next_renew - td_mono_ms());
            pthread_cond_timedwait(&f->work, &f->lock, &until);
        }
        if (f->queued == 0 && f->stopping)
            break;
        if (f->queued > 0 && batch) {
            size_t n = f->queued < INFLIGHT_WRITE_MAX ? f->queued : INFLIGHT_WRITE_MAX;
            memcpy(batch, f->queue, n * sizeof(*batch));
            memmove(f->queue, f->queue + n, (f->queued - n) * sizeof(*f->queue));
            f->queued -= n;
            f->writing = n;
            pthread_mutex_unlock(&f->lock);
            int rc = inflight_write(f, &c, &complained, batch, n);
            pthread_mutex_lock(&f->lock);
            f->writing = 0;
            if (rc == 0) {
                for (size_t i = 0; i < n; i++) {
                    held_remove(f, batch[i].lease_token);
                    outcome_free(&batch[i]);
                }
                pthread_cond_broadcast(&f->written);
            } else if (f->stopping && td_mono_ms() >= f->stop_deadline_ms) {
                td_log(TD_LOG_ERROR, NULL, "dispatch",
                       "stopping with %zu verdicts unwritten: the database is unreachable; "
                       "their rows are taken up again when their leases run out",
                       n + f->queued);
                for (size_t i = 0; i < n; i++)
                    outcome_free(&batch[i]);
                for (size_t i = 0; i < f->queued; i++)
                    outcome_free(&f->queue[i]);
                f->queued = 0;
                pthread_cond_broadcast(&f->written);
                break;
            } else {
                /* put them back in front and try again soon */
                if (f->queued + n > f->queue_cap) {
                    struct td_outcome *q = realloc(f->queue, (f->queued + n) * sizeof(*f->queue));
                    if (q) {
                        f->queue = q;
                        f->queue_cap = f->queued + n;
                    }
                }
                if (f->queued + n <= f->queue_cap) {
                    memmove(f->queue + n, f->queue, f->queued * sizeof(*f->queue));
                    memcpy(f->queue, batch, n * sizeof(*batch));
                    f->queued += n;
                } else {
                    for (size_t i = 0; i < n; i++)
                        outcome_free(&batch[i]);
                }
                pthread_mutex_unlock(&f->lock);
                struct timespec pause = {0, INFLIGHT_RETRY_MS * 1000000L};
                nanosleep(&pause, NULL);
                pthread_mutex_lock(&f->lock);
            }
        }
        if (td_mono_ms() >= next_renew) {
            pthread_mutex_unlock(&f->lock);
            inflight_renew(f, &c, &complained);
            pthread_mutex_lock(&f->lock);
            next_renew = td_mono_ms() + renew_every_ms;
        }
    }
    pthread_mutex_unlock(&f->lock);
    free(batch);
    PQfinish(c);
    return NULL;
}

/* ---- the interface ---- */

int td_inflight_start(const char *dsn, long lease_s, struct td_inflight **out)
{
    *out = NULL;
    struct td_inflight *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->dsn = strdup(dsn);
    f->lease_s = lease_s;
    atomic_store(&f->renewed_ms, td_wall_ms());
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->work, NULL);
    pthread_cond_init(&f->written, NULL);
    if (!f->dsn || pthread_create(&f->thread, NULL, inflight_main, f) != 0) {
        free(f->dsn);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->work);
        pthread_cond_destroy(&f->written);
        free(f);
        return -EAGAIN;
    }
    *out = f;
    return 0;
}

void td_inflight_stop(struct td_inflight *f, long grace_ms)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    f->stop_deadline_ms = td_mono_ms() + grace_ms;
    pthread_cond_broadcast(&f->work);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    for (size_t i = 0; i < f->queued; i++)
        outcome_free(&f->queue[i]);
    free(f->queue);
    for (size_t i = 0; i < f->cap; i++) {
        if (f->slots[i].token > 0)
            free(f->slots[i].org_id);
    }
    free(f->slots);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->work);
    pthread_cond_destroy(&f->written);
    free(f->dsn);
    free(f);
}

void td_inflight_hold(struct td_inflight *f, const struct td_claimed *items, size_t count)
{
    int64_t now = td_wall_ms();
    pthread_mutex_lock(&f->lock);
    if (held_reserve(f, count) == 0) {
        for (size_t i = 0; i < count; i++) {
            struct held h = {.token = items[i].lease_token,
                             .id = items[i].id,
                             .org_id = strdup(items[i].org_id),
                             .held_ms = now};
            if (h.org_id)
                held_insert_slot(f, h);
        }
    }
    pthread_mutex_unlock(&f->lock);
}

void td_inflight_record(struct td_inflight *f, const struct td_outcome *outcomes, size_t count)
{
    if (count == 0)
        return;
    pthread_mutex_lock(&f->lock);
    while (f->queued >= INFLIGHT_QUEUE_MAX && !f->stopping)
        pthread_cond_wait(&f->written, &f->lock);
    if (f->queued + count > f->queue_cap) {
        size_t cap = f->queue_cap ? f->queue_cap : 256;
        while (cap < f->queued + count)
            cap *= 2;
        struct td_outcome *q = realloc(f->queue, cap * sizeof(*q));
        if (!q) {
            pthread_mutex_unlock(&f->lock);
            td_log(TD_LOG_ERROR, NULL, "dispatch",
                   "out of memory: %zu verdicts not written; their rows are taken up again", count);
            return;
        }
        f->queue = q;
        f->queue_cap = cap;
    }
    for (size_t i = 0; i < count; i++)
        outcome_copy(&f->queue[f->queued++], &outcomes[i]);
    pthread_cond_signal(&f->work);
    pthread_mutex_unlock(&f->lock);
}

bool td_inflight_leases_ok(const struct td_inflight *f)
{
    return td_wall_ms() - atomic_load(&f->renewed_ms) < f->lease_s * 500;
}

bool td_inflight_lost(struct td_inflight *f, int64_t token)
{
    pthread_mutex_lock(&f->lock);
    struct held *h = held_find(f, token);
    bool lost = h && h->lost;
    pthread_mutex_unlock(&f->lock);
    return lost;
}

void td_inflight_flush(struct td_inflight *f)
{
    pthread_mutex_lock(&f->lock);
    while ((f->queued > 0 || f->writing > 0) && !f->stopping)
        pthread_cond_wait(&f->written, &f->lock);
    pthread_mutex_unlock(&f->lock);
}
