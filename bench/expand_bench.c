/* expand_bench: the engine's own time to expand one booking, without HTTP or
 * the database: parse the booking, work out its transitions and plan its rows
 * for 10 active sequences (4 steps each, with conditions and a send window).
 * Prints the mean and percentiles over many bookings.
 *
 * usage: build/bench/expand_bench [bookings] */
#include "intake/booking.h"
#include "expand/expand.h"
#include "expand/sequence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEQUENCES 10

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct td_sequence *make_sequence(int i)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"key\":\"seq-%d\",\"name\":\"Sequence %d\",\"status\":\"active\","
             "\"trigger\":{\"on\":\"booking.confirmed\",\"subtypes\":[\"class_enrollment\"]},"
             "\"exit\":{\"on\":[\"booking.cancelled\"]},"
             "\"window\":{\"from\":\"08:00\",\"to\":\"20:00\"},"
             "\"when\":{\"all\":[{\"field\":\"data.level\",\"in\":[\"beginner\",\"advanced\"]},"
             "{\"field\":\"customer.email\",\"exists\":true}]},"
             "\"steps\":["
             "{\"id\":\"7d\",\"at\":{\"from\":\"start\",\"offset\":\"-7d\",\"time\":\"09:00\"},"
             "\"min_lead\":\"7d\",\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]},"
             "{\"id\":\"3d\",\"at\":{\"from\":\"start\",\"offset\":\"-3d\",\"time\":\"09:00\"},"
             "\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]},"
             "{\"id\":\"1d\",\"at\":{\"from\":\"start\",\"offset\":\"-1d\",\"time\":\"18:00\"},"
             "\"send\":[{\"channel\":\"email\",\"template\":\"t\"},{\"channel\":\"sms\","
             "\"template\":\"s\",\"fallback\":[{\"channel\":\"email\",\"template\":\"t\"}]}]},"
             "{\"id\":\"after\",\"at\":{\"from\":\"end\",\"offset\":\"1d\",\"time\":\"10:00\"},"
             "\"when\":{\"field\":\"data.paid\",\"equals\":true},"
             "\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]}]}",
             i, i);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    struct td_sequence *s = NULL;
    char err[256];
    if (td_sequence_parse(doc, &s, err, sizeof(err)) < 0)
        fprintf(stderr, "expand_bench: %s\n", err);
    json_decref(doc);
    return s;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (n < 100)
        n = 100;
    struct td_sequence *seqs[SEQUENCES];
    for (int i = 0; i < SEQUENCES; i++) {
        seqs[i] = make_sequence(i);
        if (!seqs[i])
            return 1;
    }
    double *samples = calloc((size_t)n, sizeof(*samples));
    size_t rows = 0;
    for (long i = 0; i < n; i++) {
        char body[1024];
        int len = snprintf(body, sizeof(body),
                           "{\"id\":\"B-%ld\",\"status\":\"confirmed\",\"subtype\":"
                           "\"class_enrollment\",\"start\":\"2027-01-%02ldT10:00:00+01:00\","
                           "\"end\":\"2027-01-%02ldT17:00:00+01:00\",\"timezone\":"
                           "\"Europe/Berlin\",\"updated_at\":\"2026-11-25T08:00:00Z\","
                           "\"name\":\"SKS Praxis\",\"customer\":{\"first_name\":\"Anna\","
                           "\"email\":\"anna%ld@example.org\",\"phone\":\"+491711234567\"},"
                           "\"data\":{\"level\":\"beginner\",\"paid\":true}}",
                           i, 10 + i % 18, 11 + i % 18, i);
        double t0 = now_us();
        struct td_booking b;
        char err[256];
        if (td_booking_parse(body, (size_t)len, &b, err, sizeof(err)) < 0) {
            fprintf(stderr, "expand_bench: %s\n", err);
            return 1;
        }
        struct td_transitions t;
        td_expand_transitions(NULL, &b, &t);
        struct td_condition_env env = {b.doc, NULL, NULL};
        struct td_plan plan = {0};
        td_expand_plan(&b, 1795000000000LL, &t, seqs, SEQUENCES, &env, &plan);
        rows += plan.count;
        td_plan_clear(&plan);
        td_booking_clear(&b);
        samples[i] = now_us() - t0;
    }
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += samples[i];
    qsort(samples, (size_t)n, sizeof(*samples), cmp_double);
    printf("expand_bench: %ld bookings x %d active sequences (4 steps, conditions, window), "
           "%.1f rows per booking\n",
           n, SEQUENCES, (double)rows / (double)n);
    printf("  engine time per booking (parse + transitions + plan): mean %.1f us, p50 %.1f us, "
           "p99 %.1f us, max %.1f us\n",
           sum / (double)n, samples[n / 2], samples[n * 99 / 100], samples[n - 1]);
    free(samples);
    for (int i = 0; i < SEQUENCES; i++)
        td_sequence_destroy(seqs[i]);
    return 0;
}
