/* ratelimit: token buckets for per-connection and per-account rates. */
#include "dispatch/ratelimit.h"

#define BUCKET_UNLIMITED 1000000L

static void bucket_refill(struct td_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += b->rate * (double)(now_ms - b->last_ms) / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
}

void td_bucket_init(struct td_bucket *b, double rate, int64_t now_ms)
{
    pthread_mutex_init(&b->lock, NULL);
    b->rate = rate;
    b->burst = rate > 1 ? rate : 1;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

void td_bucket_destroy(struct td_bucket *b)
{
    pthread_mutex_destroy(&b->lock);
}

long td_bucket_available(struct td_bucket *b, int64_t now_ms)
{
    if (b->rate <= 0)
        return BUCKET_UNLIMITED;
    pthread_mutex_lock(&b->lock);
    bucket_refill(b, now_ms);
    long n = b->tokens >= 1 ? (long)b->tokens : 0;
    pthread_mutex_unlock(&b->lock);
    return n;
}

void td_bucket_take(struct td_bucket *b, long n, int64_t now_ms)
{
    if (b->rate <= 0 || n <= 0)
        return;
    pthread_mutex_lock(&b->lock);
    bucket_refill(b, now_ms);
    b->tokens -= (double)n;
    pthread_mutex_unlock(&b->lock);
}

int64_t td_bucket_wait_ms(struct td_bucket *b, int64_t now_ms)
{
    if (b->rate <= 0)
        return 0;
    pthread_mutex_lock(&b->lock);
    bucket_refill(b, now_ms);
    double missing = 1.0 - b->tokens;
    pthread_mutex_unlock(&b->lock);
    if (missing <= 0)
        return 0;
    return (int64_t)(missing * 1000.0 / b->rate) + 1;
}
