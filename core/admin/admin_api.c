/* admin_api: routes /v1/admin/orgs/<org>/... to their reads. */
#include "admin/admin_api.h"

#include "admin/admin_auth.h"
#include "admin/admin_params.h"
#include "dispatch/prepared.h"
#include "intake/booking.h"
#include "intake/booking_check.h"
#include "intake/intake.h"
#include "render/sms.h"
#include "render/template_cache.h"
#include "util/clock.h"
#include "util/problems.h"
#include "engine_state.h"
#include "http/http_server.h"
#include "plugin_host/world.h"
#include "store/db.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timefmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_PREFIX        "/v1/admin/orgs/"
#define ADMIN_DB_WAIT_MS    5000
#define ADMIN_LIMIT_DEFAULT 100
#define ADMIN_LIMIT_MAX     1000

static void respond_json(struct td_http_response *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text)
        td_http_respond(resp, status, "application/json", text, strlen(text));
    else
        td_http_respond_error(resp, 500, "out of memory");
    free(text);
    json_decref(body);
}

/* 400 naming the field that is wrong. */
static void respond_bad(struct td_http_response *resp, const char *field, const char *problem)
{
    respond_json(resp, 400,
                 json_pack("{s:s, s:[{s:s, s:s}]}", "error", "invalid request", "problems", "field",
                           field, "problem", problem));
}

/* A read through fn on a pooled connection, answered as JSON. */
static void answer_read(struct td_engine *e, struct td_http_response *resp,
                        int (*fn)(PGconn *, void *, json_t **, char *, size_t), void *arg)
{
    char err[512] = "";
    PGconn *c = td_db_acquire(e->pool, ADMIN_DB_WAIT_MS, err, sizeof(err));
    json_t *out = NULL;
    int rc = c ? fn(c, arg, &out, err, sizeof(err)) : -EIO;
    td_db_release(e->pool, c, c && td_db_connection_lost(c));
    if (rc < 0) {
        td_log(TD_LOG_ERROR, NULL, "admin", "read failed: %s", err);
        td_http_respond_error(resp, 503, "the database cannot answer now");
        return;
    }
    if (json_is_null(out)) {
        json_decref(out);
        td_http_respond_error(resp, 404, "no such booking");
        return;
    }
    respond_json(resp, 200, out);
}

struct customer_read {
    const char *org;
    const char *address;
    int limit;
};

struct timeline_read {
    const char *org;
    const char *booking;
};

static int read_timeline(PGconn *c, void *arg, json_t **out, char *err, size_t errcap)
{
    const struct timeline_read *q = arg;
    return td_store_admin_timeline(c, q->org, q->booking, out, err, errcap);
}

struct messages_read {
    const char *org;
    struct td_admin_message_filter filter;
};

static int read_messages(PGconn *c, void *arg, json_t **out, char *err, size_t errcap)
{
    const struct messages_read *q = arg;
    json_t *messages = NULL;
    int rc = td_store_admin_messages(c, q->org, &q->filter, &messages, err, errcap);
    if (rc == 0)
        *out = json_pack("{s:o}", "messages", messages);
    return rc;
}

/* The message states a filter may name. */
static bool known_state(const char *s)
{
    static const char *const states[] = {
        "scheduled", "sending", "sent",    "delivered", "bounced", "complained", "failed",
        "cancelled", "skipped", "expired", "held",      "paused",  NULL};
    for (size_t i = 0; states[i]; i++) {
        if (strcmp(s, states[i]) == 0)
            return true;
    }
    return false;
}

/* Parses ?limit= (default when absent). Returns 0, or -EINVAL (answered). */
static int query_limit(const struct td_http_request *req, struct td_http_response *resp, int *limit)
{
    const char *text = req->query(req, "limit");
    char *end = NULL;
    long v = text ? strtol(text, &end, 10) : ADMIN_LIMIT_DEFAULT;
    if (text && (!*text || *end || v < 1 || v > ADMIN_LIMIT_MAX)) {
        respond_bad(resp, "limit", "a whole number from 1 to 1000");
        return -EINVAL;
    }
    *limit = (int)v;
    return 0;
}

struct stats_read {
    const char *org, *tz;
    struct td_admin_stats_range range;
};

static int read_stats(PGconn *c, void *arg, json_t **out, char *err, size_t errcap)
{
    const struct stats_read *q = arg;
    return td_store_admin_stats(c, q->org, q->range.by, q->tz, q->range.from, q->range.to, out, err,
                                errcap);
}

/* GET .../stats?from=&to=&by=channel|sequence|step|day (default: the last 30
 * days, by channel) */
static void answer_stats(struct td_engine *e, const struct td_http_request *req,
                         struct td_http_response *resp, const struct td_org_config *org)
{
    struct stats_read q = {.org = org->id, .tz = org->timezone ? org->timezone : "UTC"};
    struct td_admin_bad bad;
    if (td_admin_stats_range(req->query(req, "by"), req->query(req, "from"), req->query(req, "to"),
                             td_wall_ms(), &q.range, &bad) < 0)
        respond_bad(resp, bad.field, bad.problem);
    else
        answer_read(e, resp, read_stats, &q);
}

/* GET .../messages?state=&channel=&sequence=&step=&from=&to=&limit= */
static void answer_messages(struct td_engine *e, const struct td_http_request *req,
                            struct td_http_response *resp, const char *org)
{
    struct messages_read q = {.org = org};
    struct td_admin_message_filter *f = &q.filter;
    f->state = req->query(req, "state");
    f->channel = req->query(req, "channel");
    f->sequence = req->query(req, "sequence");
    f->step = req->query(req, "step");
    f->from = req->query(req, "from");
    f->to = req->query(req, "to");
    int64_t ms;
    if (f->state && !known_state(f->state))
        respond_bad(resp, "state",
                    "one of scheduled, sending, sent, delivered, bounced, complained, failed, "
                    "cancelled, skipped, expired, held, paused");
    else if (f->from && td_time_parse(f->from, &ms) < 0)
        respond_bad(resp, "from", "an RFC 3339 time with its offset (2026-12-01T09:00:00Z)");
    else if (f->to && td_time_parse(f->to, &ms) < 0)
        respond_bad(resp, "to", "an RFC 3339 time with its offset (2026-12-01T09:00:00Z)");
    else if (query_limit(req, resp, &f->limit) == 0)
        answer_read(e, resp, read_messages, &q);
}

/* One previewed row as the answer lists it. */
static json_t *preview_entry(const struct td_claimed *m, const struct prepared *p,
                             const struct td_outcome *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "sequence", m->sequence_key, "step", m->step_id,
                          "channel", m->channel, "scheduled_ms", (json_int_t)m->scheduled_ms);
    if (p->done) {
        /* decided as the real send would decide it: skipped, failed, expired, ... */
        json_object_set_new(j, "outcome", json_string(o->status));
        json_object_set_new(j, "reason", o->reason ? json_string(o->reason) : json_null());
        return j;
    }
    json_object_set_new(j, "outcome", json_string("send"));
    json_object_set_new(j, "to", json_string(p->recipient ? p->recipient : ""));
    if (p->subject)
        json_object_set_new(j, "subject", json_string(p->subject));
    if (p->text)
        json_object_set_new(j, "text", json_string(p->text));
    if (p->html)
        json_object_set_new(j, "html", json_string(p->html));
    if (p->text && strcmp(m->channel, "email") != 0) {
        struct td_sms_size size = td_sms_measure(p->text);
        json_object_set_new(j, "sms",
                            json_pack("{s:s, s:I, s:I}", "encoding", size.gsm7 ? "GSM-7" : "UCS-2",
                                      "units", (json_int_t)size.units, "segments",
                                      (json_int_t)size.segments));
    }
    if (p->wa_count) {
        json_t *params = json_array();
        for (size_t k = 0; k < p->wa_count; k++)
            json_array_append_new(params, json_string(p->wa_params[k]));
        json_object_set_new(j, "whatsapp_parameters", params);
    }
    return j;
}

/* Expands and prepares booking b as if it arrived at now_ms, in a
 * transaction that is rolled back: the real path, nothing kept. */
static int preview_run(struct td_engine *e, struct td_world *w, PGconn *c,
                       const struct td_org_config *org, const struct td_booking *b,
                       const char *payload, int64_t now_ms, json_t *steps, char *err, size_t errcap)
{
    int64_t event_id = 0;
    int rc = td_intake_expand_uncommitted(e, c, org, b, payload, now_ms, &event_id, err, errcap);
    json_t *decided = NULL;
    /* what expansion decided by itself (a step whose time had passed, ...) */
    if (rc == 0)
        rc = td_store_preview_decided(c, org->id, event_id, &decided, err, errcap);
    size_t i;
    json_t *row;
    json_array_foreach(decided, i, row) json_array_append(steps, row);
    json_decref(decided);
    struct td_claimed *items = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = td_store_preview_rows(c, org->id, event_id, &items, &n, err, errcap);
    if (rc == 0)
        rc = td_template_cache_fill(e->templates, c, items, n, err, errcap);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        struct prepared p = {.row = &items[k]};
        struct td_outcome o = {0};
        /* judged at the row's own time, as the send will be */
        td_prepared_make(e, w, c, &p, &o, items[k].scheduled_ms);
        json_array_append_new(steps, preview_entry(&items[k], &p, &o));
        td_prepared_clear(&p);
    }
    td_store_claimed_free(items, n);
    return rc;
}

/* POST .../preview {"booking": {...}, "now": "..."}: what the booking would
 * get and when, computed by the real expansion and preparation. */
static void answer_preview(struct td_engine *e, struct td_world *w, const struct td_org_config *org,
                           const struct td_http_request *req, struct td_http_response *resp)
{
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *doc = json_object_get(body, "booking");
    const char *now_text = json_string_value(json_object_get(body, "now"));
    int64_t now_ms = td_wall_ms();
    const char *key;
    json_t *value;
    const char *unknown = NULL;
    json_object_foreach(body, key, value)
    {
        if (strcmp(key, "booking") != 0 && strcmp(key, "now") != 0)
            unknown = key;
    }
    if (!json_is_object(body)) {
        respond_bad(resp, "body", "a JSON object {\"booking\": {...}, \"now\": \"...\"}");
    } else if (unknown) {
        respond_bad(resp, unknown, "unknown field (known: booking, now)");
    } else if (!json_is_object(doc)) {
        respond_bad(resp, "booking", "required: the booking document, as the webhook takes it");
    } else if (json_object_get(body, "now") &&
               (!now_text || td_time_parse(now_text, &now_ms) < 0)) {
        respond_bad(resp, "now", "an RFC 3339 time with its offset (2026-12-01T09:00:00Z)");
    } else {
        struct td_booking b;
        struct td_problems problems = {0};
        int parsed = td_booking_read(doc, &b, &problems);
        td_booking_check(doc, org->country, &problems);
        if (problems.count) {
            respond_json(resp, 400,
                         json_pack("{s:s, s:o}", "error", "invalid booking", "problems",
                                   td_problems_json(&problems)));
        } else {
            char err[512] = "";
            char *payload = json_dumps(doc, JSON_COMPACT);
            PGconn *c = td_db_acquire(e->pool, ADMIN_DB_WAIT_MS, err, sizeof(err));
            json_t *steps = json_array();
            int rc = c && payload ? td_store_begin(c, err, sizeof(err)) : -EIO;
            if (rc == 0)
                rc = preview_run(e, w, c, org, &b, payload, now_ms, steps, err, sizeof(err));
            if (c)
                td_store_rollback(c); /* whatever happened, nothing stays */
            td_db_release(e->pool, c, c && td_db_connection_lost(c));
            free(payload);
            if (rc < 0) {
                json_decref(steps);
                td_log(TD_LOG_ERROR, org->id, "admin", "preview failed: %s", err);
                td_http_respond_error(resp, 503, "the database cannot answer now");
            } else {
                respond_json(resp, 200,
                             json_pack("{s:s, s:s, s:o}", "booking", b.id, "timezone",
                                       b.timezone ? b.timezone : org->timezone, "steps", steps));
            }
        }
        if (parsed == 0)
            td_booking_clear(&b);
    }
    json_decref(body);
}

static int read_sequences(PGconn *c, void *arg, json_t **out, char *err, size_t errcap)
{
    return td_store_admin_sequences(c, arg, out, err, errcap);
}

static int read_customer(PGconn *c, void *arg, json_t **out, char *err, size_t errcap)
{
    const struct customer_read *q = arg;
    json_t *messages = NULL;
    int rc =
        td_store_admin_customer_messages(c, q->org, q->address, q->limit, &messages, err, errcap);
    if (rc == 0)
        *out = json_pack("{s:s, s:o}", "address", q->address, "messages", messages);
    return rc;
}

/* GET /v1/admin/orgs/<org>: who the caller is, for which organization. */
static void answer_org(struct td_http_response *resp, const struct td_org_config *org,
                       const struct td_admin_caller *caller)
{
    respond_json(resp, 200,
                 json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:b}}", "org", org->id, "name",
                           org->name ? org->name : org->id, "timezone",
                           org->timezone ? org->timezone : "UTC", "locale",
                           org->locale ? org->locale : "en", "caller", "name", caller->name, "role",
                           td_admin_role_name(caller->role), "can_change",
                           caller->role != TD_ADMIN_VIEWER));
}

/* Whether sub is prefix + one segment + suffix ("bookings/B-1/timeline"):
 * 1 with the segment copied into out, -1 when it is empty or does not fit
 * cap, 0 when sub is another path. */
static int path_segment(const char *sub, const char *prefix, const char *suffix, char *out,
                        size_t cap)
{
    size_t plen = strlen(prefix);
    const char *slash = strncmp(sub, prefix, plen) == 0 ? strchr(sub + plen, '/') : NULL;
    if (!slash || strcmp(slash, suffix) != 0)
        return 0;
    size_t n = (size_t)(slash - (sub + plen));
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, sub + plen, n);
    out[n] = '\0';
    return 1;
}

static void admin_handle(void *ctx, const struct td_http_request *req,
                         struct td_http_response *resp)
{
    struct td_engine *e = ctx;
    const char *rest = req->path + strlen(ADMIN_PREFIX);
    const char *slash = strchr(rest, '/');
    size_t org_len = slash ? (size_t)(slash - rest) : strlen(rest);
    char org_id[64];
    if (org_len == 0 || org_len >= sizeof(org_id)) {
        td_http_respond_error(resp, 404, "no such endpoint");
        return;
    }
    memcpy(org_id, rest, org_len);
    org_id[org_len] = '\0';
    const char *sub = slash ? slash + 1 : "";

    struct td_world *w = td_engine_world(e);
    struct td_org_state *st = w ? td_world_org(w, org_id) : NULL;
    struct td_admin_caller caller;
    int auth = st ? td_admin_authorize(w->conf, org_id, req->header(req, "Authorization"), &caller)
                  : -ENOENT;
    if (auth == -ENOENT) {
        td_world_release(w);
        td_http_respond_error(resp, 404, "no such endpoint");
        return;
    }
    if (auth < 0) {
        td_world_release(w);
        td_http_respond_header(resp, "WWW-Authenticate", "Bearer realm=\"tidings\"");
        td_http_respond_error(resp, 401, "a valid admin token is needed (Authorization: Bearer)");
        return;
    }
    const struct td_org_config *org = st->org;
    if (strcmp(sub, "preview") == 0) {
        if (strcmp(req->method, "POST") == 0) {
            answer_preview(e, w, org, req, resp);
        } else {
            td_http_respond_header(resp, "Allow", "POST");
            td_http_respond_error(resp, 405, "method not allowed");
        }
        td_world_release(w);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        td_world_release(w);
        td_http_respond_header(resp, "Allow", "GET");
        td_http_respond_error(resp, 405, "method not allowed");
        return;
    }
    char booking[201], address[320];
    int seg;
    if (*sub == '\0') {
        answer_org(resp, org, &caller);
    } else if (strcmp(sub, "sequences") == 0) {
        answer_read(e, resp, read_sequences, org_id);
    } else if (strcmp(sub, "stats") == 0) {
        answer_stats(e, req, resp, org);
    } else if (strcmp(sub, "messages") == 0) {
        answer_messages(e, req, resp, org_id);
    } else if ((seg = path_segment(sub, "bookings/", "/timeline", booking, sizeof(booking)))) {
        if (seg < 0) {
            respond_bad(resp, "id", "a booking id of 1 to 200 characters");
        } else {
            struct timeline_read q = {org_id, booking};
            answer_read(e, resp, read_timeline, &q);
        }
    } else if ((seg = path_segment(sub, "customers/", "/messages", address, sizeof(address)))) {
        int limit = 0;
        if (seg < 0) {
            respond_bad(resp, "address", "an e-mail address or an E.164 phone number");
        } else if (query_limit(req, resp, &limit) == 0) {
            struct customer_read q = {org_id, address, limit};
            answer_read(e, resp, read_customer, &q);
        }
    } else {
        td_http_respond_error(resp, 404, "no such endpoint");
    }
    td_world_release(w);
}

int td_admin_routes(struct td_engine *engine)
{
    /* one route for every method, so a wrong method of a real endpoint is a
     * 405 (and of an unknown one the same 404 as any unknown path) */
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        int rc = td_http_route_add(engine->http, methods[i], ADMIN_PREFIX "*", admin_handle, engine,
                                   engine);
        if (rc < 0)
            return rc;
    }
    return 0;
}
