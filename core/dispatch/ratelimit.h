/* ratelimit: token buckets for per-connection and per-account rates. A
 * bucket holds at most one second's worth of tokens (at least one). */
#ifndef TD_RATELIMIT_H
#define TD_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

struct td_bucket {
    pthread_mutex_t lock;
    double rate;  /* tokens per second; 0: unlimited */
    double burst; /* the most it holds */
    double tokens;
    int64_t last_ms;
};

/* Prepares a bucket for rate tokens per second (0: unlimited), full. */
void td_bucket_init(struct td_bucket *b, double rate, int64_t now_ms);
void td_bucket_destroy(struct td_bucket *b);

/* Whole tokens available now (a large number when unlimited; 0 when in debt). */
long td_bucket_available(struct td_bucket *b, int64_t now_ms);

/* Spends n tokens (the balance may go below zero: later takes wait longer). */
void td_bucket_take(struct td_bucket *b, long n, int64_t now_ms);

/* Milliseconds until at least one whole token is there (0: now). */
int64_t td_bucket_wait_ms(struct td_bucket *b, int64_t now_ms);

#endif
