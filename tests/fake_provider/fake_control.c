/* fake_control: the control API the tests drive the fake with —
 *   POST /_control/faults    queue fault(s): an object or an array of objects, each
 *                            {"path","mode","count"?,"to"?,"probability"?,...}; mode status,
 *                            slow, drop, reject or accept_drop (handled and accepted, then the
 *                            connection closed without an answer); probability 0..1 (default
 *                            1): the share of matching requests it takes; how several combine
 *                            is described in fake_faults.c; the draws are reproducible with
 *                            the command line's --seed
 *   GET  /_control/faults    the queued faults
 *   POST /_control/reset     forget records, counters, logs, faults, idempotency keys; the
 *                            settings go back to their defaults, the draws back to the seed
 *   GET  /_control/stats     counters
 *   GET  /_control/accepted  {"email":{key:n},"sms":{key:n},"whatsapp":{key:n},
 *                            "accept_drops":{"email":n,"sms":n,"whatsapp":n}}: how many times
 *                            a message with each key was accepted (e-mail: the request's
 *                            Idempotency-Key, else the e-mail's tag "idempotency_key", else
 *                            its id; Infobip: the messageId), and how many accepted messages
 *                            lost their answer to an accept_drop fault
 *   GET  /_control/settings  {"infobip_dedup":false}
 *   POST /_control/settings  change some: {"infobip_dedup":true} makes a messageId accepted
 *                            before on the same channel REJECTED_DUPLICATE_MESSAGE_ID (by
 *                            default, like a real account, it is accepted again)
 *   GET  /_control/messages  records, ?since=K&limit=N; each has "endpoint", "key", the
 *                            fields tests use most, "request" (the parsed body it came from:
 *                            a Resend e-mail object, with "request_batch": true for a batch
 *                            item; Infobip: the whole body) and "headers" (Authorization
 *                            masked, Content-Type, User-Agent, Idempotency-Key,
 *                            x-batch-validation, when sent)
 *   POST /_control/send      make the fake POST something (a webhook) to a URL
 * Errors are {"error":"..."} with 400, 404 or 405. */
#include "fake_control.h"

#include "fake_client.h"
#include "fake_faults.h"
#include "fake_logs.h"
#include "fake_server.h"
#include "fake_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT      1000
#define DEFAULT_TIMEOUT_MS 10000L
#define MAX_TIMEOUT_MS     120000L

static void control_error(struct fake_reply *rep, unsigned status, const char *message)
{
    fake_reply_json(rep, status, json_pack("{s:s}", "error", message));
}

/* A non-negative integer query parameter, or fallback when absent; -1 when malformed. */
static long query_count(const struct fake_request *req, const char *name, long fallback)
{
    const char *s = fake_req_query(req, name);
    if (!s)
        return fallback;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0)
        return -1;
    return v;
}

static void add_faults(struct fake_ctx *ctx, const struct fake_request *req, struct fake_reply *rep)
{
    char err[160];
    if (!req->json) {
        control_error(rep, 400, "the body must be a fault object or an array of them");
        return;
    }
    if (fake_faults_add(ctx->faults, req->json, err, sizeof(err)) < 0) {
        control_error(rep, 400, err);
        return;
    }
    json_t *list = fake_faults_list(ctx->faults);
    fake_reply_json(
        rep, 200,
        json_pack("{s:I,s:o}", "queued", (json_int_t)json_array_size(list), "faults", list));
}

static json_t *settings_of(struct fake_ctx *ctx)
{
    return json_pack("{s:b}", "infobip_dedup", atomic_load(&ctx->infobip_dedup));
}

/* POST /_control/settings: all or nothing; answers the settings now in force. */
static void change_settings(struct fake_ctx *ctx, const struct fake_request *req,
                            struct fake_reply *rep)
{
    if (!json_is_object(req->json)) {
        control_error(rep, 400, "the body must be a JSON object of settings");
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach(req->json, key, value)
    {
        char err[128];
        if (strcmp(key, "infobip_dedup") != 0) {
            snprintf(err, sizeof(err), "unknown setting \"%.64s\" (there is: infobip_dedup)", key);
            control_error(rep, 400, err);
            return;
        }
        if (!json_is_boolean(value)) {
            control_error(rep, 400, "\"infobip_dedup\" must be true or false");
            return;
        }
    }
    json_t *dedup = json_object_get(req->json, "infobip_dedup");
    if (dedup)
        atomic_store(&ctx->infobip_dedup, json_is_true(dedup));
    fake_reply_json(rep, 200, settings_of(ctx));
}

static void messages(struct fake_ctx *ctx, const struct fake_request *req, struct fake_reply *rep)
{
    long since = query_count(req, "since", 0);
    long limit = query_count(req, "limit", DEFAULT_LIMIT);
    if (since < 0 || limit < 0) {
        control_error(rep, 400, "since and limit must be non-negative integers");
        return;
    }
    size_t len = 0;
    char *text = fake_store_messages(ctx->store, (size_t)since, (size_t)limit, &len);
    if (!text) {
        control_error(rep, 500, "out of memory");
        return;
    }
    free(rep->body);
    rep->body = text;
    rep->body_len = len;
    rep->status = 200;
    rep->content_type = "application/json";
}

/* POST /_control/send {"url","method"?,"headers"?,"body"?,"timeout_ms"?}: a string body is sent
 * as is, anything else as compact JSON. Answers {"status":N,"body":"..."}; status 0 with
 * "error" when nothing came back. */
static void send_to(const struct fake_request *req, struct fake_reply *rep)
{
    const char *url = json_string_value(json_object_get(req->json, "url"));
    const json_t *method = json_object_get(req->json, "method");
    const json_t *headers = json_object_get(req->json, "headers");
    const json_t *body = json_object_get(req->json, "body");
    const json_t *timeout = json_object_get(req->json, "timeout_ms");
    if (!url) {
        control_error(rep, 400, "\"url\" (a string) is required");
        return;
    }
    if ((method && !json_is_string(method)) || (headers && !json_is_object(headers)) ||
        (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 1 ||
                     json_integer_value(timeout) > MAX_TIMEOUT_MS))) {
        control_error(
            rep, 400,
            "\"method\" must be a string, \"headers\" an object, \"timeout_ms\" 1..120000");
        return;
    }
    char *dumped = NULL;
    const char *text = "";
    size_t len = 0;
    if (json_is_string(body)) {
        text = json_string_value(body);
        len = json_string_length(body);
    } else if (body) {
        dumped = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dumped) {
            control_error(rep, 500, "out of memory");
            return;
        }
        text = dumped;
        len = strlen(dumped);
    }
    char err[256] = "";
    struct fake_client_answer answer;
    long timeout_ms = timeout ? (long)json_integer_value(timeout) : DEFAULT_TIMEOUT_MS;
    int rc = fake_client_request(method ? json_string_value(method) : "POST", url, headers, text,
                                 len, timeout_ms, &answer, err, sizeof(err));
    if (rc < 0) {
        fake_reply_json(rep, 200, json_pack("{s:i,s:s}", "status", 0, "error", err));
    } else {
        json_t *answer_body = json_stringn(answer.body, answer.body_len);
        fake_reply_json(rep, 200,
                        json_pack("{s:i,s:o}", "status", answer.status, "body",
                                  answer_body ? answer_body : json_null()));
    }
    fake_client_answer_clear(&answer);
    free(dumped);
}

/* Handles a request under /_control. */
void fake_control_handle(struct fake_ctx *ctx, const struct fake_request *req,
                         struct fake_reply *rep)
{
    const char *name = req->path + strlen("/_control");
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(name, "/faults") == 0) {
        if (post)
            add_faults(ctx, req, rep);
        else if (get)
            fake_reply_json(rep, 200, json_pack("{s:o}", "faults", fake_faults_list(ctx->faults)));
        else
            control_error(rep, 405, "use GET or POST");
    } else if (strcmp(name, "/reset") == 0) {
        if (!post) {
            control_error(rep, 405, "use POST");
            return;
        }
        fake_faults_reset(ctx->faults);
        fake_store_reset(ctx->store);
        fake_logs_reset(ctx->logs);
        atomic_store(&ctx->infobip_dedup, false);
        fake_reply_json(rep, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(name, "/stats") == 0) {
        if (get)
            fake_reply_json(rep, 200, fake_store_stats(ctx->store));
        else
            control_error(rep, 405, "use GET");
    } else if (strcmp(name, "/accepted") == 0) {
        if (get)
            fake_reply_json(rep, 200, fake_store_accepted(ctx->store));
        else
            control_error(rep, 405, "use GET");
    } else if (strcmp(name, "/settings") == 0) {
        if (post)
            change_settings(ctx, req, rep);
        else if (get)
            fake_reply_json(rep, 200, settings_of(ctx));
        else
            control_error(rep, 405, "use GET or POST");
    } else if (strcmp(name, "/messages") == 0) {
        if (get)
            messages(ctx, req, rep);
        else
            control_error(rep, 405, "use GET");
    } else if (strcmp(name, "/send") == 0) {
        if (!post)
            control_error(rep, 405, "use POST");
        else if (!json_is_object(req->json))
            control_error(rep, 400, "the body must be a JSON object");
        else
            send_to(req, rep);
    } else {
        control_error(rep, 404, "no such control endpoint");
    }
}
