/* fake_faults: the queue of injected faults. A fault names a path ("*" any
 * provider path, "/sms/..*" a prefix), a mode, how many requests it applies to,
 * optionally the recipient it is limited to, and the share of the matching
 * requests it takes ("probability", default 1).
 *
 * How faults combine: each request that meets a matching fault draws one
 * number u in [0, 1), then walks the matching faults in the order they were
 * queued, adding up their probabilities; the first fault whose running sum
 * exceeds u applies and loses one use. Faults on one path whose probabilities
 * add up to at most 1 thus take exactly those shares of its requests (0.2 +
 * 0.1 + 0.2: 20 %, 10 %, 20 %, and 50 % pass untouched); past a sum of 1 a
 * fault is reached by no request until earlier ones are spent. With
 * probability 1 everywhere the first matching fault applies. The draws come
 * from a splitmix64 generator kept under the queue's lock: with a seed, the
 * n-th request that meets a matching fault gets the same draw in every run. */
#include "fake_faults.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAX_DELAY_MS 600000L /* ten minutes: well past the engine's lease (60 s by default) */
#define MAX_DEPTH    8

struct fault {
    struct fault *next;
    char *path;
    enum fake_fault_mode mode;
    long count; /* uses left; -1: until reset */
    char *to;
    unsigned status;
    long retry_after;
    long delay_ms;
    bool hold_key;
    char *body;
    double probability; /* the share of matching requests it takes, 0..1 */
};

struct fake_faults {
    pthread_mutex_t lock;
    struct fault *head;
    atomic_long queued; /* lets requests skip the lock when nothing is queued */
    uint64_t rng;       /* splitmix64 state; under lock */
    uint64_t seed;
    bool seeded; /* a reset restarts the draws from seed */
};

static const char *const mode_names[] = {
    [FAKE_FAULT_STATUS] = "status",
    [FAKE_FAULT_SLOW] = "slow",
    [FAKE_FAULT_DROP] = "drop",
    [FAKE_FAULT_REJECT] = "reject",
    [FAKE_FAULT_ACCEPT_DROP] = "accept_drop",
};

static void free_fault(struct fault *x)
{
    free(x->path);
    free(x->to);
    free(x->body);
    free(x);
}

static void free_list(struct fault *x)
{
    while (x) {
        struct fault *next = x->next;
        free_fault(x);
        x = next;
    }
}

/* The next draw in [0, 1) (splitmix64, 53 bits). Lock held. */
static double draw(struct fake_faults *f)
{
    uint64_t z = (f->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* A new, empty fault queue whose draws start from a random seed; NULL when out of memory. */
struct fake_faults *fake_faults_create(void)
{
    struct fake_faults *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    if (getrandom(&f->rng, sizeof(f->rng), GRND_NONBLOCK) != (ssize_t)sizeof(f->rng)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        f->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
    }
    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->queued, 0);
    return f;
}

/* Makes the draws reproducible: they start from seed now and again after each reset. */
void fake_faults_seed(struct fake_faults *f, uint64_t seed)
{
    pthread_mutex_lock(&f->lock);
    f->seed = seed;
    f->seeded = true;
    f->rng = seed;
    pthread_mutex_unlock(&f->lock);
}

/* Frees the queue. */
void fake_faults_destroy(struct fake_faults *f)
{
    if (!f)
        return;
    free_list(f->head);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* Empties the queue (and restarts the draws from the seed, when one was given). */
void fake_faults_reset(struct fake_faults *f)
{
    pthread_mutex_lock(&f->lock);
    struct fault *old = f->head;
    f->head = NULL;
    atomic_store(&f->queued, 0);
    if (f->seeded)
        f->rng = f->seed;
    pthread_mutex_unlock(&f->lock);
    free_list(old);
}

static bool get_long(const json_t *spec, const char *name, long min, long max, long *out, char *err,
                     size_t errcap)
{
    const json_t *v = json_object_get(spec, name);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errcap, "\"%s\" must be an integer from %ld to %ld", name, min, max);
        return false;
    }
    *out = (long)json_integer_value(v);
    return true;
}

/* Parses one fault object; NULL with a reason in err. */
static struct fault *parse_fault(const json_t *spec, char *err, size_t errcap)
{
    static const char *const known[] = {"path",     "mode",        "count",    "to",
                                        "status",   "retry_after", "delay_ms", "body",
                                        "hold_key", "probability", NULL};
    if (!json_is_object(spec)) {
        snprintf(err, errcap, "a fault must be a JSON object");
        return NULL;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)spec, key, value)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i]) {
            snprintf(err, errcap, "unknown fault field \"%.64s\"", key);
            return NULL;
        }
    }
    const char *path = json_string_value(json_object_get(spec, "path"));
    if (!path || (path[0] != '/' && strcmp(path, "*") != 0)) {
        snprintf(err, errcap, "\"path\" must be a path starting with / (or \"*\")");
        return NULL;
    }
    const char *mode = json_string_value(json_object_get(spec, "mode"));
    int m = -1;
    for (int i = 0; mode && i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); i++) {
        if (strcmp(mode, mode_names[i]) == 0)
            m = i;
    }
    if (m < 0) {
        snprintf(err, errcap, "\"mode\" must be one of status, slow, drop, reject, accept_drop");
        return NULL;
    }
    const json_t *to = json_object_get(spec, "to");
    if (to && !json_is_string(to)) {
        snprintf(err, errcap, "\"to\" must be a string");
        return NULL;
    }
    const json_t *hold_key = json_object_get(spec, "hold_key");
    if (hold_key && !json_is_boolean(hold_key)) {
        snprintf(err, errcap, "\"hold_key\" must be true or false");
        return NULL;
    }
    const json_t *probability = json_object_get(spec, "probability");
    if (probability && (!json_is_number(probability) || json_number_value(probability) < 0 ||
                        json_number_value(probability) > 1)) {
        snprintf(err, errcap, "\"probability\" must be a number from 0 to 1");
        return NULL;
    }
    struct fault *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    x->mode = (enum fake_fault_mode)m;
    x->count = 1;
    x->status = 500;
    x->retry_after = -1;
    x->delay_ms = 1000;
    x->probability = probability ? json_number_value(probability) : 1.0;
    long status = 500;
    if (!get_long(spec, "count", -1, 1000000000L, &x->count, err, errcap) ||
        !get_long(spec, "status", 100, 599, &status, err, errcap) ||
        !get_long(spec, "retry_after", 0, 86400L * 365, &x->retry_after, err, errcap) ||
        !get_long(spec, "delay_ms", 0, MAX_DELAY_MS, &x->delay_ms, err, errcap))
        goto out_fault;
    if (x->count == 0) {
        snprintf(err, errcap, "\"count\" must be -1 (until reset) or at least 1");
        goto out_fault;
    }
    x->status = (unsigned)status;
    x->hold_key = json_is_true(hold_key);
    x->path = strdup(path);
    x->to = to ? strdup(json_string_value(to)) : NULL;
    const json_t *body = json_object_get(spec, "body");
    x->body = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!x->path || (to && !x->to) || (body && !x->body)) {
        snprintf(err, errcap, "out of memory");
        goto out_fault;
    }
    return x;
out_fault:
    free_fault(x);
    return NULL;
}

/* Queues one fault (an object) or several (an array); all or nothing. -1 with a reason in err. */
int fake_faults_add(struct fake_faults *f, const json_t *spec, char *err, size_t errcap)
{
    struct fault *first = NULL, **tail = &first;
    long n = 0;
    if (json_is_array(spec)) {
        size_t i;
        const json_t *item;
        json_array_foreach(spec, i, item)
        {
            struct fault *x = parse_fault(item, err, errcap);
            if (!x)
                goto out_list;
            *tail = x;
            tail = &x->next;
            n++;
        }
    } else {
        struct fault *x = parse_fault(spec, err, errcap);
        if (!x)
            goto out_list;
        *tail = x;
        n++;
    }
    pthread_mutex_lock(&f->lock);
    struct fault **end = &f->head;
    while (*end)
        end = &(*end)->next;
    *end = first;
    atomic_fetch_add(&f->queued, n);
    pthread_mutex_unlock(&f->lock);
    return 0;
out_list:
    free_list(first);
    return -1;
}

/* Whether a recipient value ("a@b", "Name <a@b>", "4917...") is the recipient to. */
bool fake_recipient_matches(const char *value, const char *to)
{
    if (strcmp(value, to) == 0)
        return true;
    const char *open = strrchr(value, '<');
    const char *close = open ? strchr(open, '>') : NULL;
    if (!close)
        return false;
    size_t n = (size_t)(close - open - 1);
    return strlen(to) == n && strncmp(open + 1, to, n) == 0;
}

static bool value_matches(json_t *v, const char *to)
{
    if (json_is_string(v))
        return fake_recipient_matches(json_string_value(v), to);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (json_is_string(item) && fake_recipient_matches(json_string_value(item), to))
            return true;
    }
    return false;
}

/* Whether any "to" field anywhere in the body names the recipient. */
static bool body_mentions(json_t *j, const char *to, int depth)
{
    if (!j || depth > MAX_DEPTH)
        return false;
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            if (strcmp(key, "to") == 0 && value_matches(v, to))
                return true;
            if ((json_is_object(v) || json_is_array(v)) && body_mentions(v, to, depth + 1))
                return true;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (body_mentions(v, to, depth + 1))
                return true;
        }
    }
    return false;
}

static bool path_matches(const char *pattern, const char *path)
{
    if (strcmp(pattern, "*") == 0)
        return true;
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, path, n - 1) == 0;
    return strcmp(pattern, path) == 0;
}

/* Draws once for the request and consumes one use of the fault that the draw picks among
 * those matching path and body (see fake_faults.c); false when none applies. */
bool fake_faults_take(struct fake_faults *f, const char *path, json_t *body,
                      struct fake_fault_hit *hit)
{
    memset(hit, 0, sizeof(*hit));
    if (atomic_load(&f->queued) == 0)
        return false;
    bool found = false, drawn = false;
    double u = 0, sum = 0;
    struct fault *spent = NULL;
    pthread_mutex_lock(&f->lock);
    for (struct fault **link = &f->head; *link; link = &(*link)->next) {
        struct fault *x = *link;
        if (!path_matches(x->path, path) || (x->to && !body_mentions(body, x->to, 0)))
            continue;
        if (!drawn) {
            u = draw(f);
            drawn = true;
        }
        sum += x->probability;
        if (u >= sum)
            continue;
        found = true;
        hit->mode = x->mode;
        hit->status = x->status;
        hit->retry_after = x->retry_after;
        hit->delay_ms = x->delay_ms;
        hit->hold_key = x->hold_key;
        hit->body = x->body ? strdup(x->body) : NULL;
        hit->to = x->to ? strdup(x->to) : NULL;
        if (x->count > 0 && --x->count == 0) {
            *link = x->next;
            spent = x;
            atomic_fetch_sub(&f->queued, 1);
        }
        break;
    }
    pthread_mutex_unlock(&f->lock);
    if (spent)
        free_fault(spent);
    return found;
}

/* Frees what a hit holds. */
void fake_fault_hit_clear(struct fake_fault_hit *hit)
{
    free(hit->body);
    free(hit->to);
    memset(hit, 0, sizeof(*hit));
}

/* The queued faults as a JSON array. */
json_t *fake_faults_list(struct fake_faults *f)
{
    json_t *out = json_array();
    pthread_mutex_lock(&f->lock);
    for (struct fault *x = f->head; x && out; x = x->next) {
        json_t *item = json_pack("{s:s,s:s,s:I}", "path", x->path, "mode", mode_names[x->mode],
                                 "count", (json_int_t)x->count);
        if (!item)
            continue;
        if (x->mode == FAKE_FAULT_STATUS)
            json_object_set_new(item, "status", json_integer(x->status));
        if (x->retry_after >= 0)
            json_object_set_new(item, "retry_after", json_integer(x->retry_after));
        if (x->mode == FAKE_FAULT_SLOW)
            json_object_set_new(item, "delay_ms", json_integer(x->delay_ms));
        if (x->hold_key)
            json_object_set_new(item, "hold_key", json_true());
        if (x->to)
            json_object_set_new(item, "to", json_string(x->to));
        if (x->probability < 1)
            json_object_set_new(item, "probability", json_real(x->probability));
        if (x->body)
            json_object_set_new(item, "body", json_loads(x->body, JSON_DECODE_ANY, NULL));
        json_array_append_new(out, item);
    }
    pthread_mutex_unlock(&f->lock);
    return out;
}
