/* fake_sleeper: the timer behind "slow" faults: a thread that resumes suspended
 * connections when their delay is over (a list sorted by deadline, a condition
 * variable on the monotonic clock). Nothing sleeps in libmicrohttpd's workers,
 * so a slow request never holds up other connections. */
#include "fake_sleeper.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct waiter {
    struct waiter *next;
    int64_t deadline_ns;
    struct MHD_Connection *conn;
};

struct fake_sleeper {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    struct waiter *head; /* sorted by deadline */
    bool stopping;
    bool joined;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *run(void *arg)
{
    struct fake_sleeper *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        if (!s->head) {
            pthread_cond_wait(&s->wake, &s->lock);
            continue;
        }
        int64_t now = now_ns();
        if (s->head->deadline_ns > now) {
            int64_t d = s->head->deadline_ns;
            struct timespec until = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
            pthread_cond_timedwait(&s->wake, &s->lock, &until);
            continue;
        }
        struct waiter *w = s->head;
        s->head = w->next;
        pthread_mutex_unlock(&s->lock);
        MHD_resume_connection(w->conn); /* outside our lock: it takes libmicrohttpd's */
        free(w);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Starts the timer thread; NULL on failure. */
struct fake_sleeper *fake_sleeper_start(void)
{
    struct fake_sleeper *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

/* Resumes conn (already suspended by the caller) after delay_ms; at once after
 * fake_sleeper_stop. */
void fake_sleeper_add(struct fake_sleeper *s, struct MHD_Connection *conn, long delay_ms)
{
    struct waiter *w = calloc(1, sizeof(*w));
    pthread_mutex_lock(&s->lock);
    if (!w || s->stopping) {
        pthread_mutex_unlock(&s->lock);
        MHD_resume_connection(conn);
        free(w);
        return;
    }
    w->conn = conn;
    w->deadline_ns = now_ns() + (int64_t)delay_ms * 1000000;
    struct waiter **link = &s->head;
    while (*link && (*link)->deadline_ns <= w->deadline_ns)
        link = &(*link)->next;
    w->next = *link;
    *link = w;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* Resumes every waiting connection and ends the thread; call before MHD_stop_daemon. */
void fake_sleeper_stop(struct fake_sleeper *s)
{
    if (!s || s->joined)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    struct waiter *w = s->head;
    s->head = NULL;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    while (w) {
        struct waiter *next = w->next;
        MHD_resume_connection(w->conn);
        free(w);
        w = next;
    }
    s->joined = true;
}

/* Frees the sleeper (after MHD_stop_daemon). */
void fake_sleeper_destroy(struct fake_sleeper *s)
{
    if (!s)
        return;
    fake_sleeper_stop(s);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
