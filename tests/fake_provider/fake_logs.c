/* fake_logs: the SMS message logs, one entry per accepted SMS in order of
 * acceptance, each kept as compact JSON text with the fields queries filter
 * on beside it. An open-addressing index maps each messageId to its newest
 * entry; entries sharing a messageId (one accepted twice) are chained from
 * the newest to the oldest. One mutex guards it all. */
#include "fake_logs.h"

#include "fake_buf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE          SIZE_MAX
#define FIRST_ENTRIES 1024
#define FIRST_SLOTS   2048 /* a power of two */
#define FNV_OFFSET    1469598103934665603ULL
#define FNV_PRIME     1099511628211ULL

struct entry {
    char *text;
    size_t len;
    char *message_id;
    char *bulk_id; /* NULL: none (and so for the two below) */
    char *destination;
    char *sender;
    size_t older; /* the previous entry with this messageId, or NONE */
};

struct fake_logs {
    pthread_mutex_t lock;
    struct entry *entries;
    size_t count;
    size_t cap;
    size_t *slots; /* per messageId: index + 1 of its newest entry; 0: an empty slot */
    size_t slot_count;
    size_t ids; /* distinct messageIds */
};

static uint64_t hash_of(const char *s)
{
    uint64_t h = FNV_OFFSET;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= FNV_PRIME;
    }
    return h;
}

static void free_entry(struct entry *e)
{
    free(e->text);
    free(e->message_id);
    free(e->bulk_id);
    free(e->destination);
    free(e->sender);
}

/* Frees the entries and empties the index. Lock held. */
static void clear_locked(struct fake_logs *l)
{
    for (size_t i = 0; i < l->count; i++)
        free_entry(&l->entries[i]);
    l->count = 0;
    l->ids = 0;
    memset(l->slots, 0, l->slot_count * sizeof(*l->slots));
}

/* A new, empty log; NULL when out of memory. */
struct fake_logs *fake_logs_create(void)
{
    struct fake_logs *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->slots = calloc(FIRST_SLOTS, sizeof(*l->slots));
    if (!l->slots) {
        free(l);
        return NULL;
    }
    l->slot_count = FIRST_SLOTS;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

/* Frees the log and its entries (NULL is ignored). */
void fake_logs_destroy(struct fake_logs *l)
{
    if (!l)
        return;
    clear_locked(l);
    free(l->entries);
    free(l->slots);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Forgets every entry (POST /_control/reset). */
void fake_logs_reset(struct fake_logs *l)
{
    pthread_mutex_lock(&l->lock);
    clear_locked(l);
    pthread_mutex_unlock(&l->lock);
}

/* The slot of id: the one naming its newest entry, or the empty one where it goes. Lock
 * held; the index is never full (it grows at half). */
static size_t *find_slot(struct fake_logs *l, const char *id)
{
    size_t mask = l->slot_count - 1;
    for (size_t i = hash_of(id) & mask;; i = (i + 1) & mask) {
        size_t *slot = &l->slots[i];
        if (*slot == 0 || strcmp(l->entries[*slot - 1].message_id, id) == 0)
            return slot;
    }
}

/* Room for one more messageId in the index (doubling it at half full); false when out of
 * memory. Lock held. */
static bool reserve_slot(struct fake_logs *l)
{
    if ((l->ids + 1) * 2 <= l->slot_count)
        return true;
    size_t *old = l->slots, old_count = l->slot_count;
    size_t *slots = calloc(old_count * 2, sizeof(*slots));
    if (!slots)
        return false;
    l->slots = slots;
    l->slot_count = old_count * 2;
    for (size_t i = 0; i < old_count; i++) {
        if (old[i])
            *find_slot(l, l->entries[old[i] - 1].message_id) = old[i];
    }
    free(old);
    return true;
}

/* Room for one more entry; false when out of memory. Lock held. */
static bool reserve_entry(struct fake_logs *l)
{
    if (l->count < l->cap)
        return true;
    size_t cap = l->cap ? l->cap * 2 : FIRST_ENTRIES;
    struct entry *grown = realloc(l->entries, cap * sizeof(*grown));
    if (!grown)
        return false;
    l->entries = grown;
    l->cap = cap;
    return true;
}

static char *copy_member(const json_t *entry, const char *name)
{
    const char *v = json_string_value(json_object_get(entry, name));
    return v ? strdup(v) : NULL;
}

/* Adds one accepted SMS: entry (taken over) is its LogResponse item; queries filter on its
 * "messageId", "bulkId", "destination" and "sender". */
void fake_logs_add(struct fake_logs *l, json_t *entry)
{
    struct entry e = {
        .text = json_is_object(entry) ? json_dumps(entry, JSON_COMPACT) : NULL,
        .message_id = copy_member(entry, "messageId"),
        .bulk_id = copy_member(entry, "bulkId"),
        .destination = copy_member(entry, "destination"),
        .sender = copy_member(entry, "sender"),
    };
    json_decref(entry);
    if (!e.text || !e.message_id)
        goto out_entry;
    e.len = strlen(e.text);
    pthread_mutex_lock(&l->lock);
    if (!reserve_entry(l) || !reserve_slot(l)) {
        pthread_mutex_unlock(&l->lock);
        goto out_entry;
    }
    size_t *slot = find_slot(l, e.message_id);
    e.older = *slot ? *slot - 1 : NONE;
    if (!*slot)
        l->ids++;
    l->entries[l->count++] = e;
    *slot = l->count;
    pthread_mutex_unlock(&l->lock);
    return;
out_entry:
    free_entry(&e);
}

static bool equal(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool matches(const struct entry *e, const struct fake_log_query *q)
{
    if (q->bulk_id_count) {
        size_t i = 0;
        while (i < q->bulk_id_count && !equal(e->bulk_id, q->bulk_ids[i]))
            i++;
        if (i == q->bulk_id_count)
            return false;
    }
    return (!q->destination || equal(e->destination, q->destination)) &&
           (!q->sender || equal(e->sender, q->sender));
}

static int newest_first(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

/* The entries of the listed messageIds (each id once), newest first, into *picked
 * (malloc'ed); -1 when out of memory. Lock held. */
static int pick_by_id(struct fake_logs *l, const struct fake_log_query *q, size_t **picked,
                      size_t *n)
{
    size_t cap = 0;
    *picked = NULL;
    *n = 0;
    for (size_t k = 0; k < q->message_id_count; k++) {
        size_t j = 0;
        while (j < k && strcmp(q->message_ids[j], q->message_ids[k]) != 0)
            j++;
        if (j < k)
            continue; /* listed twice */
        size_t slot = *find_slot(l, q->message_ids[k]);
        for (size_t i = slot ? slot - 1 : NONE; i != NONE; i = l->entries[i].older) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                size_t *grown = realloc(*picked, cap * sizeof(*grown));
                if (!grown)
                    return -1;
                *picked = grown;
            }
            (*picked)[(*n)++] = i;
        }
    }
    if (*n > 1)
        qsort(*picked, *n, sizeof(**picked), newest_first);
    return 0;
}

static void append(struct fake_buf *b, const struct entry *e, size_t *shown)
{
    if (*shown)
        fake_buf_add(b, ",", 1);
    fake_buf_add(b, e->text, e->len);
    (*shown)++;
}

/* {"results":[entries matching q, newest first, at most q->limit]} as malloc'ed JSON text;
 * NULL when out of memory. */
char *fake_logs_query(struct fake_logs *l, const struct fake_log_query *q, size_t *len)
{
    struct fake_buf b = {0};
    size_t shown = 0, *picked = NULL, n = 0;
    fake_buf_str(&b, "{\"results\":[");
    pthread_mutex_lock(&l->lock);
    if (q->message_id_count == 0) {
        for (size_t i = l->count; i > 0 && shown < q->limit; i--) {
            if (matches(&l->entries[i - 1], q))
                append(&b, &l->entries[i - 1], &shown);
        }
    } else if (pick_by_id(l, q, &picked, &n) < 0) {
        b.failed = true;
    } else {
        for (size_t k = 0; k < n && shown < q->limit; k++) {
            if (matches(&l->entries[picked[k]], q))
                append(&b, &l->entries[picked[k]], &shown);
        }
    }
    pthread_mutex_unlock(&l->lock);
    free(picked);
    fake_buf_str(&b, "]}");
    return fake_buf_take(&b, len);
}
