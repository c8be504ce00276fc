/* fake_ids: random identifiers (xorshift per thread, seeded by getrandom),
 * the wall clock stamped on records and Infobip's way of writing a time. */
#include "fake_ids.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (rng_state == 0) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&seed;
        }
        rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
    }
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Writes a random version-4 UUID into out. */
void fake_uuid(char out[static FAKE_UUID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t halves[2] = {rng_next(), rng_next()};
    unsigned char bytes[16];
    memcpy(bytes, halves, sizeof(bytes));
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[bytes[i] >> 4];
        out[o++] = hex[bytes[i] & 0x0f];
    }
    out[o] = '\0';
}

/* Writes a random 19-digit decimal id (an Infobip bulkId look-alike) into out. */
void fake_numeric_id(char out[static FAKE_NUMERIC_SIZE])
{
    unsigned long long v = 1000000000000000000ULL + rng_next() % 9000000000000000000ULL;
    snprintf(out, FAKE_NUMERIC_SIZE, "%llu", v);
}

/* Milliseconds since the Unix epoch. */
int64_t fake_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes ms (since the Unix epoch) in UTC as Infobip writes times: 2026-05-12T08:00:00.000+0000.
 */
void fake_infobip_time(int64_t ms, char out[static FAKE_TIME_SIZE])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || strftime(out, FAKE_TIME_SIZE, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, FAKE_TIME_SIZE, "1970-01-01T00:00:00.000+0000");
        return;
    }
    size_t n = strlen(out);
    snprintf(out + n, FAKE_TIME_SIZE - n, ".%03d+0000", (int)(ms % 1000));
}
