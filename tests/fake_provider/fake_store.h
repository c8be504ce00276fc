/* fake_store: what the fake received (records), the idempotency memory, the
 * Infobip messageId memory (per channel), the counters behind GET /_control/stats and the
 * accepted messages per channel and key behind GET /_control/accepted. Members
 * that all records of one request have in common ("headers", and for Infobip
 * the whole "request" body) are kept once per request (struct fake_shared). */
#ifndef FAKE_STORE_H
#define FAKE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_store;
/* Members of a JSON object kept once and written into every record that refers to it. */
struct fake_shared;

/* The outcome of looking up an Idempotency-Key. */
enum fake_idem {
    FAKE_IDEM_NEW,       /* first use: handle it, then call fake_store_idem_finish */
    FAKE_IDEM_REPLAY,    /* same body as before: answer the remembered response */
    FAKE_IDEM_MISMATCH,  /* same key, different body: 409 invalid_idempotent_request */
    FAKE_IDEM_IN_FLIGHT, /* the first request is still running: 409 concurrent_... */
    FAKE_IDEM_ERROR,     /* out of memory */
};

/* A new, empty store; NULL when out of memory. */
struct fake_store *fake_store_create(void);
/* Frees the store and everything in it. */
void fake_store_destroy(struct fake_store *s);
/* Forgets records, counters and both memories (POST /_control/reset). */
void fake_store_reset(struct fake_store *s);
/* Marks a provider request as started (for in_flight_max). */
void fake_store_enter(struct fake_store *s);
/* Marks a provider request as finished. */
void fake_store_leave(struct fake_store *s);
/* Counts a provider request for its path. */
void fake_store_count_request(struct fake_store *s, const char *path);
/* Counts the status a provider request was answered with; 0 counts a dropped connection. */
void fake_store_count_status(struct fake_store *s, unsigned status);
/* Adds to the accepted, unique_keys and rejected counters. */
void fake_store_count_messages(struct fake_store *s, long accepted, long unique, long rejected);
/* Counts one message accepted under key in channel ("email", "sms", "whatsapp"). With
 * only_first a key accepted before in that channel is refused instead: false then (and
 * counted as a duplicate). */
bool fake_store_accept_key(struct fake_store *s, const char *channel, const char *key,
                           bool only_first);
/* Adds n messages of channel whose answer was lost after they were accepted (accept_drop). */
void fake_store_count_accept_drops(struct fake_store *s, const char *channel, long n);
/* {"email":{key:n},"sms":{...},"whatsapp":{...},"accept_drops":{"email":n,...}}: how often
 * each key was accepted, keys in the order of their first acceptance. */
json_t *fake_store_accepted(struct fake_store *s);
/* Remembers an accepted Infobip messageId of channel ("sms", "whatsapp"); true when it was seen
 * before on that channel (a duplicate). */
bool fake_store_note_message_id(struct fake_store *s, const char *channel, const char *id);
/* Looks up an Idempotency-Key in scope (the path); on REPLAY fills the remembered
 * status and a malloc'ed copy of the response body. */
enum fake_idem fake_store_idem_begin(struct fake_store *s, const char *scope, const char *key,
                                     const char *body, size_t body_len, unsigned *status,
                                     char **response, size_t *response_len);
/* Completes a FAKE_IDEM_NEW key: a 200 is remembered, anything else forgotten. */
void fake_store_idem_finish(struct fake_store *s, const char *scope, const char *key,
                            unsigned status, const char *response, size_t response_len);
/* Shared members from a JSON object (taken over); NULL when it is NULL, empty or out of memory.
 * The caller holds one reference. */
struct fake_shared *fake_shared_new(json_t *members);
/* Drops one reference (NULL is ignored). */
void fake_shared_release(struct fake_shared *sh);
/* Appends a record (takes over the JSON object). */
void fake_store_add_record(struct fake_store *s, json_t *record);
/* Appends a record (takes over the JSON object) that also has the members of shared (may be
 * NULL; the store takes its own reference). The record must not have those members itself. */
void fake_store_add_record_with(struct fake_store *s, json_t *record, struct fake_shared *shared);
/* The counters as the JSON object GET /_control/stats answers. */
json_t *fake_store_stats(struct fake_store *s);
/* {"messages":[records since..since+limit],"next":K,"total":N} as malloc'ed JSON text. */
char *fake_store_messages(struct fake_store *s, size_t since, size_t limit, size_t *len);

#endif
