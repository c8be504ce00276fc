/* http_guard: whole-request deadlines for every connection, and rejected
 * requests logged once each, rate-limited. */
#include "http/http_guard.h"
#include "util/clock.h"

#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* The watch looks this often. */
#define GUARD_TICK_MS 100
/* Rejected requests logged per second at most (more are counted). */
#define GUARD_LOG_PER_S 20

struct td_http_guarded {
    struct td_http_guarded *prev, *next;
    int fd;
    int64_t since_ms; /* the request's clock: accepted, or the last answer sent */
    bool headers_in;
    bool request_in; /* whole: being handled, not watched */
    bool cut;        /* shut down by the watch */
};

struct td_http_guard {
    long header_timeout_ms;
    long request_timeout_ms;
    long max_open; /* past it, a new connection evicts the oldest idle one */
    long open;     /* connections in the ring */
    unsigned long evicted_unlogged;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t stop_cond;
    bool stopping;
    struct td_http_guarded head; /* a ring of open connections */
    atomic_uint_fast64_t cut;

    pthread_mutex_t log_lock;
    int64_t log_second;
    int log_count;
    unsigned long log_dropped;
};

static void *guard_main(void *arg)
{
    struct td_http_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        int64_t now = td_mono_ms();
        unsigned long cut = 0;
        for (struct td_http_guarded *t = g->head.next; t != &g->head; t = t->next) {
            long limit = t->headers_in ? g->request_timeout_ms : g->header_timeout_ms;
            if (t->cut || t->request_in || now - t->since_ms <= limit)
                continue;
            /* the socket is still open: it is closed only after close()
             * took it out of this ring, under the same lock */
            shutdown(t->fd, SHUT_RDWR);
            t->cut = true;
            cut++;
        }
        if (cut) {
            atomic_fetch_add(&g->cut, cut);
            td_log(TD_LOG_INFO, NULL, "http",
                   "cut off %lu connection%s that did not send %s in time", cut,
                   cut == 1 ? "" : "s", "a whole request");
        }
        if (g->evicted_unlogged) {
            td_log(TD_LOG_WARN, NULL, "http",
                   "%lu connection%s closed to make room: %ld open at once is the limit "
                   "([http] max_connections)",
                   g->evicted_unlogged, g->evicted_unlogged == 1 ? "" : "s", g->max_open);
            g->evicted_unlogged = 0;
        }
        struct timespec until = td_clock_after_ms(CLOCK_MONOTONIC, GUARD_TICK_MS);
        pthread_cond_timedwait(&g->stop_cond, &g->lock, &until);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct td_http_guard *td_http_guard_create(long header_timeout_ms, long request_timeout_ms,
                                           long max_open)
{
    struct td_http_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->header_timeout_ms = header_timeout_ms;
    g->request_timeout_ms = request_timeout_ms;
    g->max_open = max_open;
    g->head.next = g->head.prev = &g->head;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->stop_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&g->log_lock, NULL);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->stop_cond);
        pthread_mutex_destroy(&g->log_lock);
        free(g);
        return NULL;
    }
    return g;
}

void td_http_guard_destroy(struct td_http_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_broadcast(&g->stop_cond);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    while (g->head.next != &g->head) {
        struct td_http_guarded *t = g->head.next;
        t->next->prev = t->prev;
        t->prev->next = t->next;
        free(t);
    }
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->stop_cond);
    pthread_mutex_destroy(&g->log_lock);
    free(g);
}

struct td_http_guarded *td_http_guard_open(struct td_http_guard *g, int fd)
{
    struct td_http_guarded *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->fd = fd;
    t->since_ms = td_mono_ms();
    pthread_mutex_lock(&g->lock);
    t->next = &g->head;
    t->prev = g->head.prev;
    g->head.prev->next = t;
    g->head.prev = t;
    g->open++;
    if (g->max_open > 0 && g->open > g->max_open) {
        /* full: the connection that has waited longest without sending its
         * headers goes (the oldest is the likeliest to be a slow client),
         * else this new one */
        struct td_http_guarded *victim = t;
        for (struct td_http_guarded *o = g->head.next; o != t; o = o->next) {
            if (!o->cut && !o->headers_in) {
                victim = o;
                break;
            }
        }
        shutdown(victim->fd, SHUT_RDWR);
        victim->cut = true;
        g->evicted_unlogged++;
        atomic_fetch_add(&g->cut, 1);
    }
    pthread_mutex_unlock(&g->lock);
    return t;
}

void td_http_guard_close(struct td_http_guard *g, struct td_http_guarded *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&g->lock);
    t->next->prev = t->prev;
    t->prev->next = t->next;
    g->open--;
    pthread_mutex_unlock(&g->lock);
    free(t);
}

/* Where a connection's request stands. */
enum guard_phase { PHASE_WAITING, PHASE_HEADERS_IN, PHASE_REQUEST_IN };

static void guard_phase(struct td_http_guard *g, struct td_http_guarded *t, enum guard_phase phase)
{
    if (!t)
        return;
    pthread_mutex_lock(&g->lock);
    t->headers_in = phase != PHASE_WAITING;
    t->request_in = phase == PHASE_REQUEST_IN;
    if (phase == PHASE_WAITING) /* answered: the next request's clock starts */
        t->since_ms = td_mono_ms();
    pthread_mutex_unlock(&g->lock);
}

void td_http_guard_headers_in(struct td_http_guard *g, struct td_http_guarded *t)
{
    guard_phase(g, t, PHASE_HEADERS_IN);
}

void td_http_guard_request_in(struct td_http_guard *g, struct td_http_guarded *t)
{
    guard_phase(g, t, PHASE_REQUEST_IN);
}

void td_http_guard_answered(struct td_http_guard *g, struct td_http_guarded *t)
{
    guard_phase(g, t, PHASE_WAITING);
}

uint64_t td_http_guard_cut(const struct td_http_guard *g)
{
    return atomic_load(&((struct td_http_guard *)g)->cut);
}

void td_http_guard_log_rejected(struct td_http_guard *g, const char *org, const char *method,
                                const char *route, int status, const char *reason)
{
    int64_t second = td_mono_ms() / 1000;
    unsigned long dropped = 0;
    pthread_mutex_lock(&g->log_lock);
    if (second != g->log_second) {
        g->log_second = second;
        g->log_count = 0;
    }
    bool out = g->log_count < GUARD_LOG_PER_S;
    if (out) {
        g->log_count++;
        dropped = g->log_dropped;
        g->log_dropped = 0;
    } else {
        g->log_dropped++;
    }
    pthread_mutex_unlock(&g->log_lock);
    if (!out)
        return;
    char more[80] = "";
    if (dropped)
        snprintf(more, sizeof(more), " (and %lu more rejected requests not logged)", dropped);
    td_log(TD_LOG_INFO, org, "http", "rejected %s %s: %d %s%s", method, route, status,
           reason && *reason ? reason : "", more);
}
