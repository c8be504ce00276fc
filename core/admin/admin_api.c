/* admin_api: routes /v1/admin/orgs/<org>/... to their reads. */
#include "admin/admin_api.h"

#include "admin/admin_auth.h"
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
    static const char *const states[] = {"scheduled", "sending",    "sent",   "delivered",
                                         "bounced",   "complained", "failed", "cancelled",
                                         "skipped",   "expired",    "held",   NULL};
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
                    "cancelled, skipped, expired, held");
    else if (f->from && td_time_parse(f->from, &ms) < 0)
        respond_bad(resp, "from", "an RFC 3339 time with its offset (2026-12-01T09:00:00Z)");
    else if (f->to && td_time_parse(f->to, &ms) < 0)
        respond_bad(resp, "to", "an RFC 3339 time with its offset (2026-12-01T09:00:00Z)");
    else if (query_limit(req, resp, &f->limit) == 0)
        answer_read(e, resp, read_messages, &q);
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
    if (strcmp(req->method, "GET") != 0) {
        td_world_release(w);
        td_http_respond_header(resp, "Allow", "GET");
        td_http_respond_error(resp, 405, "method not allowed");
        return;
    }
    if (*sub == '\0') {
        answer_org(resp, org, &caller);
    } else if (strcmp(sub, "sequences") == 0) {
        answer_read(e, resp, read_sequences, org_id);
    } else if (strcmp(sub, "messages") == 0) {
        answer_messages(e, req, resp, org_id);
    } else if (strncmp(sub, "bookings/", 9) == 0 && strchr(sub + 9, '/') &&
               strcmp(strchr(sub + 9, '/'), "/timeline") == 0) {
        char booking[201];
        size_t n = (size_t)(strchr(sub + 9, '/') - (sub + 9));
        if (n == 0 || n >= sizeof(booking)) {
            respond_bad(resp, "id", "a booking id of 1 to 200 characters");
        } else {
            memcpy(booking, sub + 9, n);
            booking[n] = '\0';
            struct timeline_read q = {org_id, booking};
            answer_read(e, resp, read_timeline, &q);
        }
    } else if (strncmp(sub, "customers/", 10) == 0 && strchr(sub + 10, '/') &&
               strcmp(strchr(sub + 10, '/'), "/messages") == 0) {
        char address[320];
        size_t n = (size_t)(strchr(sub + 10, '/') - (sub + 10));
        int limit = 0;
        if (n == 0 || n >= sizeof(address)) {
            respond_bad(resp, "address", "an e-mail address or an E.164 phone number");
        } else if (query_limit(req, resp, &limit) == 0) {
            memcpy(address, sub + 10, n);
            address[n] = '\0';
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
