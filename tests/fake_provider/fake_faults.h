/* fake_faults: the queue of injected faults (POST /_control/faults), the
 * matching of a request against it and the seeded draw behind "probability". */
#ifndef FAKE_FAULTS_H
#define FAKE_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fake_fault_mode {
    FAKE_FAULT_STATUS,      /* answer "status" with a provider-style error body */
    FAKE_FAULT_SLOW,        /* sleep "delay_ms", then handle normally */
    FAKE_FAULT_DROP,        /* close the connection without an answer */
    FAKE_FAULT_REJECT,      /* a permanent refusal (Infobip: 200 + REJECTED; Resend: 422) */
    FAKE_FAULT_ACCEPT_DROP, /* handle normally (accept), then close without the answer */
};

/* What a request got from the fault it consumed. */
struct fake_fault_hit {
    enum fake_fault_mode mode;
    unsigned status;
    long retry_after; /* seconds; -1: no Retry-After */
    long delay_ms;
    bool hold_key; /* slow on Resend: sleep while holding the Idempotency-Key */
    char *body;    /* the body override (JSON text), or NULL */
    char *to;      /* the recipient the fault is limited to, or NULL */
};

struct fake_faults;

/* A new, empty fault queue whose draws start from a random seed; NULL when out of memory. */
struct fake_faults *fake_faults_create(void);
/* Makes the draws reproducible: they start from seed now and again after each reset. */
void fake_faults_seed(struct fake_faults *f, uint64_t seed);
/* Frees the queue. */
void fake_faults_destroy(struct fake_faults *f);
/* Empties the queue (and restarts the draws from the seed, when one was given). */
void fake_faults_reset(struct fake_faults *f);
/* Queues one fault (an object) or several (an array); all or nothing. -1 with a reason in err. */
int fake_faults_add(struct fake_faults *f, const json_t *spec, char *err, size_t errcap);
/* Draws once for the request and consumes one use of the fault that the draw picks among
 * those matching path and body (see fake_faults.c); false when none applies. */
bool fake_faults_take(struct fake_faults *f, const char *path, json_t *body,
                      struct fake_fault_hit *hit);
/* Frees what a hit holds. */
void fake_fault_hit_clear(struct fake_fault_hit *hit);
/* The queued faults as a JSON array. */
json_t *fake_faults_list(struct fake_faults *f);
/* Whether a recipient value ("a@b", "Name <a@b>", "4917...") is the recipient to. */
bool fake_recipient_matches(const char *value, const char *to);

#endif
