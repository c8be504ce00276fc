/* fake_resend: the Resend API as providers.md section 1 describes it —
 * POST /emails, POST /emails/batch (strict or permissive), GET /api-keys; the
 * User-Agent and Bearer checks, field validation, Idempotency-Key replay and
 * conflicts, and the ratelimit-* headers on every answer. Each accepted e-mail
 * is recorded with its own object as "request" and the request's "headers",
 * and counted for GET /_control/accepted under its key (see accepted_key). */
#include "fake_resend.h"

#include "fake_ids.h"
#include "fake_server.h"
#include "fake_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TO     50
#define MAX_BATCH  100
#define MAX_KEY    256
#define MAX_TAG    256
#define RATE_LIMIT 10
#define KEY_TAG    "idempotency_key" /* the tag naming an e-mail's own key in a batch */
#define ADDRESS_FORMAT                                                                             \
    "The email address needs to follow the `email@example.com` or `Name <email@example.com>` "     \
    "format."

/* Sets a Resend error reply {"statusCode","name","message"}. */
void fake_resend_error(struct fake_reply *rep, unsigned status, const char *name,
                       const char *message)
{
    fake_reply_json(rep, status,
                    json_pack("{s:I,s:s,s:s}", "statusCode", (json_int_t)status, "name", name,
                              "message", message));
}

/* Sets the Resend error reply usual for a status (used by "status" faults). */
void fake_resend_status_error(struct fake_reply *rep, unsigned status)
{
    static const struct {
        unsigned status;
        const char *name;
        const char *message;
    } known[] = {
        {400, "validation_error", "We found an error with one or more fields in the request."},
        {401, "missing_api_key", "Missing API key in the authorization header."},
        {403, "invalid_api_key", "API key is invalid."},
        {404, "not_found", "The requested endpoint does not exist."},
        {405, "method_not_allowed", "Method is not allowed for the requested path."},
        {409, "concurrent_idempotent_requests",
         "There is another request in progress with the same idempotency key."},
        {422, "validation_error", "We found an error with one or more fields in the request."},
        {429, "rate_limit_exceeded",
         "Too many requests. Please limit the number of requests per second. Or contact support "
         "to increase rate limit."},
        {500, "application_error", "An unexpected error occurred."},
        {503, "service_unavailable", "We are temporarily unavailable. Please try again later."},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (known[i].status == status) {
            fake_resend_error(rep, status, known[i].name, known[i].message);
            return;
        }
    }
    if (status >= 500)
        fake_resend_error(rep, status, "application_error", "An unexpected error occurred.");
    else
        fake_resend_error(rep, status, "validation_error",
                          "We found an error with one or more fields in the request.");
}

/* Adds the ratelimit-* headers; with retry_after >= 0 the limit is exhausted and Retry-After set.
 */
void fake_resend_ratelimit(struct fake_reply *rep, long retry_after)
{
    fake_reply_header(rep, "ratelimit-limit", "%d", RATE_LIMIT);
    if (retry_after >= 0) {
        fake_reply_header(rep, "ratelimit-remaining", "0");
        fake_reply_header(rep, "ratelimit-reset", "%ld", retry_after);
        fake_reply_header(rep, "retry-after", "%ld", retry_after);
    } else {
        fake_reply_header(rep, "ratelimit-remaining", "%d", RATE_LIMIT - 1);
        fake_reply_header(rep, "ratelimit-reset", "1");
    }
}

/* "a@b.c" or "Name <a@b.c>", roughly. */
static bool valid_address(const char *s)
{
    const char *open = strchr(s, '<');
    const char *start = s, *end = s + strlen(s);
    if (open) {
        if (end == open || end[-1] != '>')
            return false;
        start = open + 1;
        end--;
    }
    const char *at = memchr(start, '@', (size_t)(end - start));
    if (!at || at == start || at + 1 >= end)
        return false;
    for (const char *p = start; p < end; p++) {
        if (*p == ' ' || *p == '<' || *p == '>' || (p != at && *p == '@'))
            return false;
    }
    return true;
}

/* A string or an array of strings, each an address; max 0 means unlimited. */
static bool valid_addresses(const json_t *v, size_t max)
{
    if (json_is_string(v))
        return valid_address(json_string_value(v));
    if (!json_is_array(v) || json_array_size(v) == 0 || (max && json_array_size(v) > max))
        return false;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || !valid_address(json_string_value(item)))
            return false;
    }
    return true;
}

static bool valid_tag_text(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= MAX_TAG;
}

static bool valid_tags(const json_t *tags)
{
    if (!json_is_array(tags))
        return false;
    size_t i;
    const json_t *tag;
    json_array_foreach(tags, i, tag)
    {
        const char *name = json_string_value(json_object_get(tag, "name"));
        const char *value = json_string_value(json_object_get(tag, "value"));
        if (!name || !value || !valid_tag_text(name) || !valid_tag_text(value))
            return false;
    }
    return true;
}

static bool valid_headers(const json_t *headers)
{
    if (!json_is_object(headers))
        return false;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)headers, key, value)
    {
        if (!json_is_string(value))
            return false;
    }
    return true;
}

static bool is_missing(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

static bool optional_string(const json_t *v)
{
    return !v || json_is_null(v) || json_is_string(v);
}

/* Checks one email object; returns the error name (and the message in msg) or NULL. */
static const char *check_email(const json_t *e, bool batch, char *msg, size_t cap)
{
    if (!json_is_object(e)) {
        snprintf(msg, cap, "The email must be a JSON object.");
        return "validation_error";
    }
    const json_t *from = json_object_get(e, "from"), *to = json_object_get(e, "to");
    const json_t *subject = json_object_get(e, "subject");
    if (is_missing(from)) {
        snprintf(msg, cap, "The `from` field is missing.");
        return "validation_error";
    }
    if (!json_is_string(from) || !valid_address(json_string_value(from))) {
        snprintf(msg, cap, "Invalid `from` field. %s", ADDRESS_FORMAT);
        return "validation_error";
    }
    if (is_missing(to) || (json_is_array(to) && json_array_size(to) == 0)) {
        snprintf(msg, cap, "The `to` field is missing.");
        return "validation_error";
    }
    if (json_is_array(to) && json_array_size(to) > MAX_TO) {
        snprintf(msg, cap, "Invalid `to` field. The `to` field can contain at most %d addresses.",
                 MAX_TO);
        return "validation_error";
    }
    if (!valid_addresses(to, MAX_TO)) {
        snprintf(msg, cap, "Invalid `to` field. %s", ADDRESS_FORMAT);
        return "validation_error";
    }
    if (is_missing(subject)) {
        snprintf(msg, cap, "The `subject` field is missing.");
        return "validation_error";
    }
    if (!json_is_string(subject)) {
        snprintf(msg, cap, "Invalid `subject` field. It must be a string.");
        return "validation_error";
    }
    static const char *const lists[] = {"cc", "bcc", "reply_to"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const json_t *v = json_object_get(e, lists[i]);
        if (v && !json_is_null(v) && !valid_addresses(v, MAX_TO)) {
            snprintf(msg, cap, "Invalid `%s` field. %s", lists[i], ADDRESS_FORMAT);
            return "validation_error";
        }
    }
    static const char *const strings[] = {"html", "text", "scheduled_at", "topic_id"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (!optional_string(json_object_get(e, strings[i]))) {
            snprintf(msg, cap, "Invalid `%s` field. It must be a string.", strings[i]);
            return "validation_error";
        }
    }
    const json_t *headers = json_object_get(e, "headers");
    if (headers && !json_is_null(headers) && !valid_headers(headers)) {
        snprintf(msg, cap, "Invalid `headers` field. It must be an object of string values.");
        return "validation_error";
    }
    const json_t *tags = json_object_get(e, "tags");
    if (tags && !json_is_null(tags) && !valid_tags(tags)) {
        snprintf(msg, cap,
                 "Invalid `tags` field. Tag names and values must be 1-256 characters: ASCII "
                 "letters, numbers, underscores, or dashes.");
        return "validation_error";
    }
    const json_t *attachments = json_object_get(e, "attachments");
    if (attachments && !json_is_null(attachments)) {
        if (batch) {
            snprintf(msg, cap, "Attachments are not supported in batch emails.");
            return "validation_error";
        }
        size_t i;
        const json_t *a;
        json_array_foreach(attachments, i, a)
        {
            if (!json_object_get(a, "content") && !json_object_get(a, "path")) {
                snprintf(msg, cap, "Attachment must have either a `content` or `path`.");
                return "invalid_attachment";
            }
        }
    }
    if (json_object_get(e, "template") &&
        (json_object_get(e, "html") || json_object_get(e, "text"))) {
        snprintf(msg, cap, "The `template` field cannot be combined with `html` or `text`.");
        return "validation_error";
    }
    return NULL;
}

/* Records one accepted email: the fields tests look at most, "request" (the email object as
 * sent; "request_batch": true for an item of a batch) and the request's shared members. */
static void record_email(struct fake_ctx *ctx, const struct fake_request *req, json_t *email,
                         const char *id, const char *key, long index, struct fake_shared *shared)
{
    static const char *const copied[] = {"from",        "subject",      "text",     "html",
                                         "tags",        "reply_to",     "cc",       "bcc",
                                         "attachments", "scheduled_at", "topic_id", "template"};
    json_t *rec = json_object();
    if (!rec)
        return;
    json_object_set_new(rec, "endpoint", json_string(req->path));
    json_object_set_new(rec, "id", json_string(id));
    json_object_set_new(rec, "key", key ? json_string(key) : json_null());
    json_t *to = json_object_get(email, "to");
    if (json_is_string(to))
        json_object_set_new(rec, "to", json_pack("[O]", to));
    else
        json_object_set(rec, "to", to);
    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
        json_t *v = json_object_get(email, copied[i]);
        if (v)
            json_object_set(rec, copied[i], v);
    }
    if (index >= 0)
        json_object_set_new(rec, "batch_index", json_integer(index));
    const char *ua = fake_req_header(req, "User-Agent");
    if (ua)
        json_object_set_new(rec, "user_agent", json_string(ua));
    json_object_set_new(rec, "received_at", json_integer(fake_now_ms()));
    json_object_set(rec, "request", email);
    if (index >= 0)
        json_object_set_new(rec, "request_batch", json_true());
    fake_store_add_record_with(ctx->store, rec, shared);
}

/* The key an accepted e-mail counts under: the request's Idempotency-Key on POST /emails
 * (request_key; NULL for a batch item), else the value of the e-mail's tag "idempotency_key",
 * else the e-mail's id. */
static const char *accepted_key(const json_t *email, const char *request_key, const char *id)
{
    if (request_key)
        return request_key;
    size_t i;
    const json_t *tag;
    json_array_foreach(json_object_get(email, "tags"), i, tag)
    {
        const char *name = json_string_value(json_object_get(tag, "name"));
        const char *value = json_string_value(json_object_get(tag, "value"));
        if (name && value && strcmp(name, KEY_TAG) == 0)
            return value;
    }
    return id;
}

static void send_one(struct fake_ctx *ctx, const struct fake_request *req, const char *key,
                     struct fake_reply *rep)
{
    char msg[256];
    const char *name = check_email(req->json, false, msg, sizeof(msg));
    if (name) {
        fake_resend_error(rep, 422, name, msg);
        return;
    }
    char id[FAKE_UUID_SIZE];
    fake_uuid(id);
    struct fake_shared *shared = fake_shared_new(fake_req_record_members(req, false));
    record_email(ctx, req, req->json, id, key, -1, shared);
    fake_shared_release(shared);
    fake_store_count_messages(ctx->store, 1, 0, 0);
    fake_store_accept_key(ctx->store, "email", accepted_key(req->json, key, id), false);
    fake_reply_json(rep, 200, json_pack("{s:s}", "id", id));
    rep->accepted = 1;
}

static void send_batch(struct fake_ctx *ctx, const struct fake_request *req, const char *key,
                       struct fake_reply *rep)
{
    const char *mode = fake_req_header(req, "x-batch-validation");
    bool permissive = mode && strcmp(mode, "permissive") == 0;
    if (mode && !permissive && strcmp(mode, "strict") != 0) {
        fake_resend_error(rep, 422, "validation_error",
                          "Invalid `x-batch-validation` header. Use `strict` or `permissive`.");
        return;
    }
    size_t n = json_array_size(req->json);
    if (!json_is_array(req->json) || n == 0) {
        fake_resend_error(rep, 422, "validation_error",
                          "The request body must be a non-empty array of emails.");
        return;
    }
    if (n > MAX_BATCH) {
        fake_resend_error(rep, 422, "validation_error",
                          "Too many emails in the batch. The maximum is 100 emails per request.");
        return;
    }
    char msg[256], line[300];
    if (!permissive) {
        for (size_t i = 0; i < n; i++) {
            const char *name = check_email(json_array_get(req->json, i), true, msg, sizeof(msg));
            if (name) {
                snprintf(line, sizeof(line), "emails.%zu: %s", i, msg);
                fake_resend_error(rep, 422, name, line);
                return;
            }
        }
    }
    json_t *data = json_array(), *errors = json_array();
    struct fake_shared *shared = fake_shared_new(fake_req_record_members(req, false));
    long accepted = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *email = json_array_get(req->json, i);
        if (check_email(email, true, msg, sizeof(msg))) {
            snprintf(line, sizeof(line), "emails.%zu: %s", i, msg);
            json_array_append_new(errors,
                                  json_pack("{s:I,s:s}", "index", (json_int_t)i, "message", line));
            continue;
        }
        char id[FAKE_UUID_SIZE];
        fake_uuid(id);
        record_email(ctx, req, email, id, key, (long)i, shared);
        fake_store_accept_key(ctx->store, "email", accepted_key(email, NULL, id), false);
        json_array_append_new(data, json_pack("{s:s}", "id", id));
        accepted++;
    }
    fake_shared_release(shared);
    fake_store_count_messages(ctx->store, accepted, 0, 0);
    if (permissive) {
        fake_reply_json(rep, 200, json_pack("{s:o,s:o}", "data", data, "errors", errors));
    } else {
        json_decref(errors);
        fake_reply_json(rep, 200, json_pack("{s:o}", "data", data));
    }
    rep->accepted = accepted;
}

/* Checks the Authorization header; false when an error reply was set. */
static bool check_auth(const struct fake_ctx *ctx, const struct fake_request *req,
                       struct fake_reply *rep)
{
    const char *auth = fake_req_header(req, "Authorization");
    static const char scheme[] = "Bearer ";
    if (!auth || strncmp(auth, scheme, sizeof(scheme) - 1) != 0 ||
        auth[sizeof(scheme) - 1] == '\0') {
        fake_resend_error(rep, 401, "missing_api_key",
                          "Missing API key in the authorization header. Include the following "
                          "header in the request: Authorization: Bearer YOUR_API_KEY");
        return false;
    }
    if (strcmp(auth + sizeof(scheme) - 1, ctx->resend_key) != 0) {
        fake_resend_error(rep, 403, "invalid_api_key", "API key is invalid.");
        return false;
    }
    return true;
}

/* The checks before a request is handled: path, method, User-Agent, key. False when an error
 * reply was set. */
static bool precheck(const struct fake_ctx *ctx, const struct fake_request *req, bool keys,
                     struct fake_reply *rep)
{
    bool emails = strcmp(req->path, "/emails") == 0;
    bool batch = strcmp(req->path, "/emails/batch") == 0;
    if (!emails && !batch && !keys) {
        fake_resend_error(rep, 404, "not_found", "The requested endpoint does not exist.");
        return false;
    }
    if (strcmp(req->method, keys ? "GET" : "POST") != 0) {
        fake_resend_error(rep, 405, "method_not_allowed",
                          "Method is not allowed for the requested path.");
        return false;
    }
    const char *ua = fake_req_header(req, "User-Agent");
    if (!ua || !*ua) {
        static const char edge[] = "error code: 1010";
        fake_reply_text(rep, 403, "text/plain; charset=UTF-8", edge, sizeof(edge) - 1);
        return false;
    }
    return check_auth(ctx, req, rep);
}

/* First half of fake_resend_handle: the checks, and the claim of the Idempotency-Key of a send.
 * True when fake_resend_finish must complete the send; false when rep holds the answer. */
bool fake_resend_begin(struct fake_ctx *ctx, const struct fake_request *req, struct fake_reply *rep)
{
    bool keys = strcmp(req->path, "/api-keys") == 0;
    if (!precheck(ctx, req, keys, rep))
        return false;
    if (keys) {
        fake_reply_json(rep, 200,
                        json_pack("{s:[{s:s,s:s,s:s}]}", "data", "id",
                                  "b6d24b8e-af0b-4c3c-be0c-359bbd97381e", "name", "fake",
                                  "created_at", "2026-01-01T00:00:00.000000+00:00"));
        return false;
    }
    const char *key = fake_req_header(req, "Idempotency-Key");
    if (!key)
        return true;
    if (strlen(key) < 1 || strlen(key) > MAX_KEY) {
        fake_resend_error(rep, 400, "invalid_idempotency_key",
                          "The key must be between 1-256 chars.");
        return false;
    }
    char *cached = NULL;
    size_t cached_len = 0;
    unsigned cached_status = 0;
    switch (fake_store_idem_begin(ctx->store, req->path, key, req->body, req->body_len,
                                  &cached_status, &cached, &cached_len)) {
    case FAKE_IDEM_NEW: return true;
    case FAKE_IDEM_REPLAY:
        free(rep->body);
        rep->body = cached;
        rep->body_len = cached_len;
        rep->status = cached_status;
        rep->content_type = "application/json";
        return false;
    case FAKE_IDEM_MISMATCH:
        fake_resend_error(rep, 409, "invalid_idempotent_request",
                          "This idempotency key has been used with this HTTP method and endpoint "
                          "within the last 24 hours, but the request body was modified and "
                          "doesn't match the original request.");
        return false;
    case FAKE_IDEM_IN_FLIGHT:
        fake_resend_error(rep, 409, "concurrent_idempotent_requests",
                          "There is another request in progress with the same idempotency key.");
        return false;
    case FAKE_IDEM_ERROR: break;
    }
    fake_resend_error(rep, 500, "application_error", "Out of memory.");
    return false;
}

/* Second half: validates and records the e-mails and settles the Idempotency-Key. */
void fake_resend_finish(struct fake_ctx *ctx, const struct fake_request *req,
                        struct fake_reply *rep)
{
    const char *key = fake_req_header(req, "Idempotency-Key");
    if (!req->json)
        fake_resend_error(rep, 400, "validation_error",
                          "The request body is missing or is not valid JSON.");
    else if (req->reject)
        fake_resend_error(rep, 422, "validation_error",
                          "Invalid `to` field. The recipient address was refused.");
    else if (strcmp(req->path, "/emails/batch") == 0)
        send_batch(ctx, req, key, rep);
    else
        send_one(ctx, req, key, rep);
    if (key)
        fake_store_idem_finish(ctx->store, req->path, key, rep->status, rep->body, rep->body_len);
}

/* Handles a request on a Resend path (any path not claimed by Infobip or the control API). */
void fake_resend_handle(struct fake_ctx *ctx, const struct fake_request *req,
                        struct fake_reply *rep)
{
    if (fake_resend_begin(ctx, req, rep))
        fake_resend_finish(ctx, req, rep);
}
