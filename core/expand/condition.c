/* condition: when a step applies, as data. */
#include "expand/condition.h"

#include "util/timefmt.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const char *const compare_ops[] = {"equals", "not_equals", "in",  "not_in", "exists", "gt",
                                          "gte",    "lt",         "lte", "before", "after"};

static bool field_path_ok(const char *path)
{
    static const char *const roots[] = {"booking.", "customer.", "data."};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(roots[i]);
        if (strncmp(path, roots[i], n) == 0 && path[n] && path[strlen(path) - 1] != '.')
            return !strstr(path, "..");
    }
    return false;
}

static bool is_time_string(json_t *v)
{
    int64_t ms;
    return json_is_string(v) && td_time_parse(json_string_value(v), &ms) == 0;
}

/* A condition's path below prefix: "steps[0].when" + ".all[1]". */
#define COND_PATH_MAX 256

static int check_field(json_t *cond, const char *path, struct td_diag *diag)
{
    size_t before = diag->count;
    json_t *field = json_object_get(cond, "field");
    if (!json_is_string(field) || !field_path_ok(json_string_value(field))) {
        char p[COND_PATH_MAX];
        snprintf(p, sizeof(p), "%s.field", path);
        td_diag_add_at(diag, p, "must be a path starting with booking., customer. or data.");
    }
    const char *op = NULL;
    json_t *value = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(cond, key, v)
    {
        if (strcmp(key, "field") == 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof(compare_ops) / sizeof(compare_ops[0]); i++)
            known = known || strcmp(key, compare_ops[i]) == 0;
        if (!known || op) {
            char p[COND_PATH_MAX];
            snprintf(p, sizeof(p), "%s.%s", path, key);
            td_diag_add_at(diag, p, "%s",
                           known ? "only one comparison per clause"
                                 : "unknown comparison (equals, not_equals, in, not_in, exists, "
                                   "gt, gte, lt, lte, before, after)");
            continue;
        }
        op = key;
        value = v;
    }
    if (!op) {
        td_diag_add_at(diag, path, "a comparison is missing (equals, in, exists, gt, ...)");
        return -EINVAL;
    }
    char p[COND_PATH_MAX];
    snprintf(p, sizeof(p), "%s.%s", path, op);
    if ((strcmp(op, "in") == 0 || strcmp(op, "not_in") == 0) && !json_is_array(value))
        td_diag_add_at(diag, p, "must be an array");
    if (strcmp(op, "exists") == 0 && !json_is_boolean(value))
        td_diag_add_at(diag, p, "must be true or false");
    if ((op[0] == 'g' || op[0] == 'l') && !json_is_number(value) && !is_time_string(value))
        td_diag_add_at(diag, p, "must be a number or an RFC 3339 time");
    if ((strcmp(op, "before") == 0 || strcmp(op, "after") == 0) && !is_time_string(value))
        td_diag_add_at(diag, p, "must be an RFC 3339 time like 2026-06-01T00:00:00Z");
    return diag->count > before ? -EINVAL : 0;
}

static int check_other_bookings(json_t *cond, const char *path, struct td_diag *diag)
{
    size_t before = diag->count;
    char p[COND_PATH_MAX];
    json_t *q = json_object_get(cond, "other_bookings");
    if (!json_is_object(q)) {
        snprintf(p, sizeof(p), "%s.other_bookings", path);
        td_diag_add_at(diag, p, "must be an object");
    }
    const char *key;
    json_t *v;
    json_object_foreach(q, key, v)
    {
        snprintf(p, sizeof(p), "%s.other_bookings.%s", path, key);
        if (strcmp(key, "subtypes") == 0) {
            size_t i;
            json_t *s;
            bool ok = json_is_array(v);
            json_array_foreach(v, i, s) ok = ok && json_is_string(s);
            if (!ok)
                td_diag_add_at(diag, p, "must be an array of strings");
        } else if (strcmp(key, "overlapping") == 0) {
            if (!json_is_boolean(v))
                td_diag_add_at(diag, p, "must be true or false");
        } else {
            td_diag_add_at(diag, p, "unknown (subtypes, overlapping)");
        }
    }
    json_t *exists = json_object_get(cond, "exists");
    if (!json_is_boolean(exists) || json_object_size(cond) != 2)
        td_diag_add_at(diag, path,
                       "other_bookings needs \"exists\": true or false, and nothing else");
    return diag->count > before ? -EINVAL : 0;
}

int td_condition_check_all(json_t *cond, const char *prefix, struct td_diag *diag)
{
    if (!json_is_object(cond)) {
        td_diag_add_at(diag, prefix, "must be an object");
        return -EINVAL;
    }
    size_t before = diag->count;
    char path[COND_PATH_MAX];
    json_t *list = NULL;
    const char *group = json_object_get(cond, "all")   ? "all"
                        : json_object_get(cond, "any") ? "any"
                                                       : NULL;
    if (group) {
        list = json_object_get(cond, group);
        snprintf(path, sizeof(path), "%s.%s", prefix, group);
        if (!json_is_array(list) || json_array_size(list) == 0 || json_object_size(cond) != 1)
            td_diag_add_at(diag, path, "must be a non-empty array, alone in its object");
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c)
        {
            snprintf(path, sizeof(path), "%s.%s[%zu]", prefix, group, i);
            td_condition_check_all(c, path, diag);
        }
        return diag->count > before ? -EINVAL : 0;
    }
    if (json_object_get(cond, "not")) {
        snprintf(path, sizeof(path), "%s.not", prefix);
        if (json_object_size(cond) != 1)
            td_diag_add_at(diag, path, "must be alone in its object");
        td_condition_check_all(json_object_get(cond, "not"), path, diag);
        return diag->count > before ? -EINVAL : 0;
    }
    if (json_object_get(cond, "consent")) {
        json_t *c = json_object_get(cond, "consent");
        snprintf(path, sizeof(path), "%s.consent", prefix);
        if (!json_is_string(c) || json_object_size(cond) != 1) {
            td_diag_add_at(diag, path, "must be a channel name, alone in its object");
            return -EINVAL;
        }
        return 0;
    }
    if (json_object_get(cond, "other_bookings"))
        return check_other_bookings(cond, prefix, diag);
    if (json_object_get(cond, "field"))
        return check_field(cond, prefix, diag);
    td_diag_add_at(diag, prefix, "expected all, any, not, field, consent or other_bookings");
    return -EINVAL;
}

int td_condition_check(json_t *cond, const char *prefix, char *err, size_t errcap)
{
    struct td_diag diag = {0};
    int rc = td_condition_check_all(cond, prefix, &diag);
    if (rc < 0 && errcap)
        snprintf(err, errcap, "%s", diag.count && diag.lines[0] ? diag.lines[0] : "out of memory");
    td_diag_clear(&diag);
    return rc;
}

/* Finds booking.x / customer.x / data.x in the booking document. */
static json_t *field_value(json_t *booking, const char *path)
{
    json_t *v = booking;
    const char *p = path;
    if (strncmp(p, "booking.", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "customer.", 9) == 0) {
        v = json_object_get(booking, "customer");
        p += 9;
    } else {
        v = json_object_get(booking, "data");
        p += 5;
    }
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n + (dot ? 1 : 0);
    }
    return json_is_null(v) ? NULL : v;
}

/* -1, 0, 1 like strcmp, or 2 when the two cannot be compared. */
static int compare(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    int64_t x, y;
    if (json_is_string(a) && json_is_string(b) && td_time_parse(json_string_value(a), &x) == 0 &&
        td_time_parse(json_string_value(b), &y) == 0)
        return x < y ? -1 : x > y;
    return 2;
}

static bool in_list(json_t *value, json_t *list)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        if (value && json_equal(value, item))
            return true;
    }
    return false;
}

static bool eval_field(json_t *cond, json_t *booking)
{
    const char *path = json_string_value(json_object_get(cond, "field"));
    json_t *v = field_value(booking, path);
    const char *key;
    json_t *operand;
    json_object_foreach(cond, key, operand)
    {
        if (strcmp(key, "field") == 0)
            continue;
        if (strcmp(key, "exists") == 0)
            return (v != NULL) == json_is_true(operand);
        if (strcmp(key, "equals") == 0)
            return v && json_equal(v, operand);
        if (strcmp(key, "not_equals") == 0)
            return !v || !json_equal(v, operand);
        if (strcmp(key, "in") == 0)
            return in_list(v, operand);
        if (strcmp(key, "not_in") == 0)
            return !in_list(v, operand);
        int c = v ? compare(v, operand) : 2;
        if (c == 2)
            return false;
        if (strcmp(key, "gt") == 0 || strcmp(key, "after") == 0)
            return c > 0;
        if (strcmp(key, "gte") == 0)
            return c >= 0;
        if (strcmp(key, "lt") == 0 || strcmp(key, "before") == 0)
            return c < 0;
        if (strcmp(key, "lte") == 0)
            return c <= 0;
    }
    return false;
}

static void describe(json_t *cond, char *why, size_t cap)
{
    if (!why || !cap)
        return;
    char *text = json_dumps(cond, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(why, cap, "condition not met: %.200s", text ? text : "?");
    free(text);
}

int td_condition_eval(json_t *cond, const struct td_condition_env *env, bool *holds, char *why,
                      size_t whycap)
{
    *holds = true;
    if (!cond)
        return 0;
    json_t *list = json_object_get(cond, "all");
    bool all = list != NULL;
    if (!list)
        list = json_object_get(cond, "any");
    if (list) {
        size_t i;
        json_t *c;
        bool any = false;
        json_array_foreach(list, i, c)
        {
            bool h;
            int rc = td_condition_eval(c, env, &h, all ? why : NULL, whycap);
            if (rc < 0)
                return rc;
            if (all && !h) {
                *holds = false;
                return 0;
            }
            any = any || h;
        }
        *holds = all || any;
        if (!*holds)
            describe(cond, why, whycap);
        return 0;
    }
    json_t *inner = json_object_get(cond, "not");
    if (inner) {
        bool h;
        int rc = td_condition_eval(inner, env, &h, NULL, 0);
        *holds = !h;
        if (!*holds)
            describe(cond, why, whycap);
        return rc;
    }
    json_t *consent = json_object_get(cond, "consent");
    if (consent) {
        json_t *c = json_object_get(json_object_get(env->booking, "customer"), "consent");
        *holds = json_is_true(json_object_get(c, json_string_value(consent)));
        if (!*holds && why)
            snprintf(why, whycap, "no %s consent", json_string_value(consent));
        return 0;
    }
    json_t *q = json_object_get(cond, "other_bookings");
    if (q) {
        struct td_other_bookings_query query = {
            .subtypes = json_object_get(q, "subtypes"),
            .overlapping = json_is_true(json_object_get(q, "overlapping")),
        };
        bool exists = false;
        if (!env->other_bookings || env->other_bookings(env->ctx, &query, &exists) < 0) {
            *holds = false;
            if (why)
                snprintf(why, whycap, "the customer's other bookings could not be looked up");
            return -EIO;
        }
        *holds = exists == json_is_true(json_object_get(cond, "exists"));
        if (!*holds && why)
            snprintf(why, whycap, "the customer %s other bookings like this",
                     exists ? "has" : "has no");
        return 0;
    }
    *holds = eval_field(cond, env->booking);
    if (!*holds)
        describe(cond, why, whycap);
    return 0;
}
