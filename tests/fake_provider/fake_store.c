/* fake_store: what the fake received (records, kept as compact JSON text), the
 * idempotency memory, the Infobip messageId memory, the counters and the
 * accepted messages per channel and key (entries of the same key table, scope
 * "accepted:<channel>", chained per channel in order of first acceptance). One mutex
 * guards it all and is held only for short, allocation-light steps; the
 * in-flight gauge is atomic. A record may also point at members shared with the
 * other records of its request (reference-counted compact JSON text, spliced in
 * when the records are listed), so a bulk request's body is kept once, not once
 * per recipient. */
#include "fake_store.h"

#include "fake_buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATHS     64
#define MAX_STATUS    599
#define FIRST_BUCKETS 1024
#define FNV_OFFSET    1469598103934665603ULL
#define FNV_PRIME     1099511628211ULL
#define CHANNELS      3

enum key_state { KEY_SEEN, KEY_PENDING, KEY_DONE, KEY_COUNTED };

static const char *const channel_names[CHANNELS] = {"email", "sms", "whatsapp"};
static const char *const channel_scopes[CHANNELS] = {"accepted:email", "accepted:sms",
                                                     "accepted:whatsapp"};

/* One remembered key: an idempotency key (scope = path), an Infobip messageId, or an
 * accepted message's key (KEY_COUNTED: count, in its channel's order). */
struct key_entry {
    struct key_entry *next;
    struct key_entry *next_counted; /* KEY_COUNTED: the next key of its channel */
    long count;
    uint64_t hash;
    char *key; /* scope '\n' key */
    size_t key_len;
    enum key_state state;
    uint64_t body_hash;
    size_t body_len;
    unsigned status;
    char *response;
    size_t response_len;
};

/* Members without the braces of their object: "a":1,"b":{...}. */
struct fake_shared {
    atomic_long refs;
    size_t len;
    char text[];
};

struct record {
    char *text;
    size_t len;
    struct fake_shared *shared; /* NULL: none */
};

struct path_count {
    char path[96];
    long n;
};

struct fake_store {
    pthread_mutex_t lock;
    struct record *records;
    size_t record_count;
    size_t record_cap;
    struct key_entry **buckets;
    size_t bucket_count;
    size_t key_count;
    struct path_count paths[MAX_PATHS];
    size_t path_count;
    long other_paths;
    long by_status[MAX_STATUS + 1];
    long accepted;
    long unique_keys;
    long duplicates;
    long rejected;
    long dropped;
    struct key_entry *counted_head[CHANNELS];
    struct key_entry **counted_tail[CHANNELS];
    long accept_drops[CHANNELS];
    atomic_long in_flight;
    atomic_long in_flight_max;
};

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Builds "scope\nkey" (malloc'ed). */
static char *make_key(const char *scope, const char *key, size_t *len)
{
    size_t a = strlen(scope), b = strlen(key);
    char *k = malloc(a + b + 2);
    if (!k)
        return NULL;
    memcpy(k, scope, a);
    k[a] = '\n';
    memcpy(k + a + 1, key, b + 1);
    *len = a + b + 1;
    return k;
}

static void free_entry(struct key_entry *e)
{
    free(e->key);
    free(e->response);
    free(e);
}

/* The link pointing at the entry for k, or at the NULL ending its chain. Lock held. */
static struct key_entry **find_link(struct fake_store *s, const char *k, size_t len, uint64_t h)
{
    struct key_entry **link = &s->buckets[h & (s->bucket_count - 1)];
    while (*link) {
        struct key_entry *e = *link;
        if (e->hash == h && e->key_len == len && memcmp(e->key, k, len) == 0)
            break;
        link = &e->next;
    }
    return link;
}

/* Doubles the bucket array when the table gets full; keeps it as is on failure. Lock held. */
static void maybe_grow(struct fake_store *s)
{
    if (s->key_count < s->bucket_count)
        return;
    size_t n = s->bucket_count * 2;
    struct key_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < s->bucket_count; i++) {
        struct key_entry *e = s->buckets[i];
        while (e) {
            struct key_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->bucket_count = n;
}

/* Adds a new entry for k (taking over k). NULL when out of memory (k is freed). Lock held. */
static struct key_entry *insert_key(struct fake_store *s, char *k, size_t len, uint64_t h)
{
    struct key_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        free(k);
        return NULL;
    }
    maybe_grow(s);
    e->key = k;
    e->key_len = len;
    e->hash = h;
    struct key_entry **head = &s->buckets[h & (s->bucket_count - 1)];
    e->next = *head;
    *head = e;
    s->key_count++;
    return e;
}

/* Frees all records and keys and zeroes the counters. Lock held. */
static void clear_locked(struct fake_store *s)
{
    for (size_t i = 0; i < s->record_count; i++) {
        free(s->records[i].text);
        fake_shared_release(s->records[i].shared);
    }
    s->record_count = 0;
    for (size_t i = 0; i < s->bucket_count; i++) {
        struct key_entry *e = s->buckets[i];
        while (e) {
            struct key_entry *next = e->next;
            free_entry(e);
            e = next;
        }
        s->buckets[i] = NULL;
    }
    s->key_count = 0;
    s->path_count = 0;
    s->other_paths = 0;
    memset(s->by_status, 0, sizeof(s->by_status));
    s->accepted = s->unique_keys = s->duplicates = s->rejected = s->dropped = 0;
    for (int c = 0; c < CHANNELS; c++) {
        s->counted_head[c] = NULL;
        s->counted_tail[c] = &s->counted_head[c];
        s->accept_drops[c] = 0;
    }
}

/* A new, empty store; NULL when out of memory. */
struct fake_store *fake_store_create(void)
{
    struct fake_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->buckets = calloc(FIRST_BUCKETS, sizeof(*s->buckets));
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->bucket_count = FIRST_BUCKETS;
    for (int c = 0; c < CHANNELS; c++)
        s->counted_tail[c] = &s->counted_head[c];
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->in_flight_max, 0);
    return s;
}

/* Frees the store and everything in it. */
void fake_store_destroy(struct fake_store *s)
{
    if (!s)
        return;
    clear_locked(s);
    free(s->records);
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Forgets records, counters and both memories (POST /_control/reset). */
void fake_store_reset(struct fake_store *s)
{
    pthread_mutex_lock(&s->lock);
    clear_locked(s);
    atomic_store(&s->in_flight_max, atomic_load(&s->in_flight));
    pthread_mutex_unlock(&s->lock);
}

/* Marks a provider request as started (for in_flight_max). */
void fake_store_enter(struct fake_store *s)
{
    long now = atomic_fetch_add(&s->in_flight, 1) + 1;
    long max = atomic_load(&s->in_flight_max);
    while (now > max && !atomic_compare_exchange_weak(&s->in_flight_max, &max, now))
        ;
}

/* Marks a provider request as finished. */
void fake_store_leave(struct fake_store *s)
{
    atomic_fetch_sub(&s->in_flight, 1);
}

/* Counts a provider request for its path. */
void fake_store_count_request(struct fake_store *s, const char *path)
{
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->path_count && strcmp(s->paths[i].path, path) != 0)
        i++;
    if (i < s->path_count) {
        s->paths[i].n++;
    } else if (i < MAX_PATHS && strlen(path) < sizeof(s->paths[i].path)) {
        snprintf(s->paths[i].path, sizeof(s->paths[i].path), "%s", path);
        s->paths[i].n = 1;
        s->path_count++;
    } else {
        s->other_paths++;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Counts the status a provider request was answered with; 0 counts a dropped connection. */
void fake_store_count_status(struct fake_store *s, unsigned status)
{
    pthread_mutex_lock(&s->lock);
    if (status == 0)
        s->dropped++;
    else if (status <= MAX_STATUS)
        s->by_status[status]++;
    pthread_mutex_unlock(&s->lock);
}

/* Adds to the accepted, unique_keys and rejected counters. */
void fake_store_count_messages(struct fake_store *s, long accepted, long unique, long rejected)
{
    pthread_mutex_lock(&s->lock);
    s->accepted += accepted;
    s->unique_keys += unique;
    s->rejected += rejected;
    pthread_mutex_unlock(&s->lock);
}

static int channel_index(const char *channel)
{
    for (int c = 0; channel && c < CHANNELS; c++) {
        if (strcmp(channel_names[c], channel) == 0)
            return c;
    }
    return -1;
}

/* Counts one message accepted under key in channel ("email", "sms", "whatsapp"). With
 * only_first a key accepted before in that channel is refused instead: false then (and
 * counted as a duplicate). */
bool fake_store_accept_key(struct fake_store *s, const char *channel, const char *key,
                           bool only_first)
{
    int c = channel_index(channel);
    size_t len;
    char *k = c >= 0 ? make_key(channel_scopes[c], key, &len) : NULL;
    if (!k)
        return true;
    uint64_t h = fnv1a(k, len, FNV_OFFSET);
    bool accepted = true;
    pthread_mutex_lock(&s->lock);
    struct key_entry *e = *find_link(s, k, len, h);
    if (e && only_first) {
        accepted = false;
        s->duplicates++;
    } else if (e) {
        e->count++;
    } else if ((e = insert_key(s, k, len, h)) != NULL) {
        k = NULL;
        e->state = KEY_COUNTED;
        e->count = 1;
        *s->counted_tail[c] = e;
        s->counted_tail[c] = &e->next_counted;
    } else {
        k = NULL; /* insert_key freed it */
    }
    pthread_mutex_unlock(&s->lock);
    free(k);
    return accepted;
}

/* Adds n messages of channel whose answer was lost after they were accepted (accept_drop). */
void fake_store_count_accept_drops(struct fake_store *s, const char *channel, long n)
{
    int c = channel_index(channel);
    if (c < 0)
        return;
    pthread_mutex_lock(&s->lock);
    s->accept_drops[c] += n;
    pthread_mutex_unlock(&s->lock);
}

/* {"email":{key:n},"sms":{...},"whatsapp":{...},"accept_drops":{"email":n,...}}: how often
 * each key was accepted, keys in the order of their first acceptance. */
json_t *fake_store_accepted(struct fake_store *s)
{
    json_t *out = json_object(), *drops = json_object();
    if (!out || !drops) {
        json_decref(out);
        json_decref(drops);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    for (int c = 0; c < CHANNELS; c++) {
        json_t *keys = json_object();
        size_t skip = strlen(channel_scopes[c]) + 1;
        for (struct key_entry *e = s->counted_head[c]; e && keys; e = e->next_counted)
            json_object_set_new(keys, e->key + skip, json_integer(e->count));
        json_object_set_new(out, channel_names[c], keys);
        json_object_set_new(drops, channel_names[c], json_integer(s->accept_drops[c]));
    }
    pthread_mutex_unlock(&s->lock);
    json_object_set_new(out, "accept_drops", drops);
    return out;
}

/* Remembers an accepted Infobip messageId of channel ("sms", "whatsapp"); true when it was seen
 * before on that channel (a duplicate). */
bool fake_store_note_message_id(struct fake_store *s, const char *channel, const char *id)
{
    char scope[32];
    snprintf(scope, sizeof(scope), "messageId:%s", channel ? channel : "");
    size_t len;
    char *k = make_key(scope, id, &len);
    if (!k)
        return false;
    uint64_t h = fnv1a(k, len, FNV_OFFSET);
    bool duplicate = false;
    pthread_mutex_lock(&s->lock);
    if (*find_link(s, k, len, h)) {
        duplicate = true;
        s->duplicates++;
        free(k);
    } else {
        struct key_entry *e = insert_key(s, k, len, h);
        if (e)
            e->state = KEY_SEEN;
        s->unique_keys++;
    }
    pthread_mutex_unlock(&s->lock);
    return duplicate;
}

/* Looks up an Idempotency-Key in scope (the path); on REPLAY fills the remembered
 * status and a malloc'ed copy of the response body. */
enum fake_idem fake_store_idem_begin(struct fake_store *s, const char *scope, const char *key,
                                     const char *body, size_t body_len, unsigned *status,
                                     char **response, size_t *response_len)
{
    size_t len;
    char *k = make_key(scope, key, &len);
    if (!k)
        return FAKE_IDEM_ERROR;
    uint64_t h = fnv1a(k, len, FNV_OFFSET);
    uint64_t bh = fnv1a(body, body_len, FNV_OFFSET);
    enum fake_idem result = FAKE_IDEM_NEW;
    pthread_mutex_lock(&s->lock);
    struct key_entry *e = *find_link(s, k, len, h);
    if (!e) {
        e = insert_key(s, k, len, h);
        k = NULL;
        if (!e) {
            result = FAKE_IDEM_ERROR;
        } else {
            e->state = KEY_PENDING;
            e->body_hash = bh;
            e->body_len = body_len;
        }
    } else if (e->body_hash != bh || e->body_len != body_len) {
        result = FAKE_IDEM_MISMATCH;
    } else if (e->state != KEY_DONE) {
        result = FAKE_IDEM_IN_FLIGHT;
    } else {
        *response = malloc(e->response_len + 1);
        if (*response) {
            memcpy(*response, e->response, e->response_len + 1);
            *response_len = e->response_len;
            *status = e->status;
            s->duplicates++;
            result = FAKE_IDEM_REPLAY;
        } else {
            result = FAKE_IDEM_ERROR;
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(k);
    return result;
}

/* Completes a FAKE_IDEM_NEW key: a 200 is remembered, anything else forgotten. */
void fake_store_idem_finish(struct fake_store *s, const char *scope, const char *key,
                            unsigned status, const char *response, size_t response_len)
{
    size_t len;
    char *k = make_key(scope, key, &len);
    if (!k)
        return;
    uint64_t h = fnv1a(k, len, FNV_OFFSET);
    char *copy = NULL;
    if (status == 200 && response) {
        copy = malloc(response_len + 1);
        if (copy) {
            memcpy(copy, response, response_len);
            copy[response_len] = '\0';
        }
    }
    pthread_mutex_lock(&s->lock);
    struct key_entry **link = find_link(s, k, len, h);
    struct key_entry *e = *link;
    if (e && e->state == KEY_PENDING) {
        if (copy) {
            e->state = KEY_DONE;
            e->status = status;
            e->response = copy;
            e->response_len = response_len;
            copy = NULL;
            s->unique_keys++;
        } else {
            *link = e->next;
            s->key_count--;
            free_entry(e);
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(copy);
    free(k);
}

/* Shared members from a JSON object (taken over); NULL when it is NULL, empty or out of memory.
 * The caller holds one reference. */
struct fake_shared *fake_shared_new(json_t *members)
{
    char *text = json_is_object(members) && json_object_size(members) > 0
                     ? json_dumps(members, JSON_COMPACT)
                     : NULL;
    json_decref(members);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    struct fake_shared *sh = len > 2 ? malloc(sizeof(*sh) + len - 1) : NULL;
    if (sh) {
        atomic_init(&sh->refs, 1);
        sh->len = len - 2;
        memcpy(sh->text, text + 1, len - 2);
        sh->text[len - 2] = '\0';
    }
    free(text);
    return sh;
}

/* Drops one reference (NULL is ignored). */
void fake_shared_release(struct fake_shared *sh)
{
    if (sh && atomic_fetch_sub(&sh->refs, 1) == 1)
        free(sh);
}

/* Appends a record (takes over the JSON object). */
void fake_store_add_record(struct fake_store *s, json_t *record)
{
    fake_store_add_record_with(s, record, NULL);
}

/* Appends a record (takes over the JSON object) that also has the members of shared (may be
 * NULL; the store takes its own reference). The record must not have those members itself. */
void fake_store_add_record_with(struct fake_store *s, json_t *record, struct fake_shared *shared)
{
    char *text = json_is_object(record) ? json_dumps(record, JSON_COMPACT) : NULL;
    json_decref(record);
    if (!text)
        return;
    if (shared)
        atomic_fetch_add(&shared->refs, 1);
    struct record r = {.text = text, .len = strlen(text), .shared = shared};
    pthread_mutex_lock(&s->lock);
    if (s->record_count == s->record_cap) {
        size_t cap = s->record_cap ? s->record_cap * 2 : 1024;
        struct record *grown = realloc(s->records, cap * sizeof(*grown));
        if (grown) {
            s->records = grown;
            s->record_cap = cap;
        }
    }
    if (s->record_count < s->record_cap) {
        s->records[s->record_count++] = r;
        r.text = NULL;
        r.shared = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(r.text);
    fake_shared_release(r.shared);
}

/* The counters as the JSON object GET /_control/stats answers. */
json_t *fake_store_stats(struct fake_store *s)
{
    json_t *requests = json_object(), *by_status = json_object();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->path_count; i++)
        json_object_set_new(requests, s->paths[i].path, json_integer(s->paths[i].n));
    if (s->other_paths)
        json_object_set_new(requests, "(other)", json_integer(s->other_paths));
    for (unsigned st = 0; st <= MAX_STATUS; st++) {
        if (s->by_status[st]) {
            char code[8];
            snprintf(code, sizeof(code), "%u", st);
            json_object_set_new(by_status, code, json_integer(s->by_status[st]));
        }
    }
    json_t *out = json_pack(
        "{s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "requests", requests, "by_status", by_status,
        "accepted", (json_int_t)s->accepted, "unique_keys", (json_int_t)s->unique_keys,
        "duplicates", (json_int_t)s->duplicates, "rejected", (json_int_t)s->rejected, "dropped",
        (json_int_t)s->dropped, "in_flight", (json_int_t)atomic_load(&s->in_flight),
        "in_flight_max", (json_int_t)atomic_load(&s->in_flight_max), "records",
        (json_int_t)s->record_count);
    pthread_mutex_unlock(&s->lock);
    return out;
}

/* {"messages":[records since..since+limit],"next":K,"total":N} as malloc'ed JSON text. */
char *fake_store_messages(struct fake_store *s, size_t since, size_t limit, size_t *len)
{
    struct fake_buf b = {0};
    fake_buf_str(&b, "{\"messages\":[");
    pthread_mutex_lock(&s->lock);
    size_t total = s->record_count;
    size_t from = since < total ? since : total;
    size_t to = total - from > limit ? from + limit : total;
    for (size_t i = from; i < to; i++) {
        const struct record *r = &s->records[i];
        if (i > from)
            fake_buf_add(&b, ",", 1);
        if (!r->shared) {
            fake_buf_add(&b, r->text, r->len);
            continue;
        }
        /* "{...}" without its closing brace, then the shared members. */
        fake_buf_add(&b, r->text, r->len - 1);
        if (r->len > 2)
            fake_buf_add(&b, ",", 1);
        fake_buf_add(&b, r->shared->text, r->shared->len);
        fake_buf_add(&b, "}", 1);
    }
    pthread_mutex_unlock(&s->lock);
    fake_buf_printf(&b, "],\"next\":%zu,\"total\":%zu}", to, total);
    return fake_buf_take(&b, len);
}
