/* fake_http: helpers to read a request and to build and send a reply. */
#include "fake_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_SHOWN 6 /* characters of the Authorization header a record keeps */

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The API family a path belongs to. */
enum fake_family fake_family_of(const char *path)
{
    if (has_prefix(path, "/_control/") || strcmp(path, "/_control") == 0)
        return FAKE_CONTROL;
    if (has_prefix(path, "/sms/3/"))
        return FAKE_INFOBIP_NEW;
    if (has_prefix(path, "/sms/") || has_prefix(path, "/whatsapp/") ||
        has_prefix(path, "/account/"))
        return FAKE_INFOBIP_LEGACY;
    return FAKE_RESEND;
}

/* The channel a sending path serves: "email", "sms", "whatsapp"; NULL for any other path. */
const char *fake_channel_of(const char *path)
{
    if (strcmp(path, "/emails") == 0 || strcmp(path, "/emails/batch") == 0)
        return "email";
    if (strcmp(path, "/sms/3/messages") == 0 || strcmp(path, "/sms/2/text/advanced") == 0)
        return "sms";
    if (strcmp(path, "/whatsapp/1/message/template") == 0 ||
        strcmp(path, "/whatsapp/1/message/text") == 0)
        return "whatsapp";
    return NULL;
}

/* A request header's value (case-insensitive name), or NULL. */
const char *fake_req_header(const struct fake_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Adds a header's value under its name when the request has it (and it is valid UTF-8). */
static void add_header(json_t *out, const struct fake_request *req, const char *name)
{
    const char *value = fake_req_header(req, name);
    if (value)
        json_object_set_new(out, name, json_string(value));
}

/* The request's members every record made from it gets: {"headers":{...}} (Authorization
 * masked to its first 6 characters + "...", Content-Type, User-Agent, Idempotency-Key,
 * x-batch-validation, each when present) and, with whole_body, "request": the parsed body.
 * NULL when out of memory. */
json_t *fake_req_record_members(const struct fake_request *req, bool whole_body)
{
    json_t *headers = json_object();
    json_t *members = json_object();
    if (!headers || !members) {
        json_decref(headers);
        json_decref(members);
        return NULL;
    }
    const char *auth = fake_req_header(req, "Authorization");
    if (auth) {
        /* Six bytes, or fewer so as not to cut a UTF-8 sequence. */
        size_t n = strlen(auth) < AUTH_SHOWN ? strlen(auth) : AUTH_SHOWN;
        while (n > 0 && ((unsigned char)auth[n] & 0xC0) == 0x80)
            n--;
        char masked[AUTH_SHOWN + 4];
        snprintf(masked, sizeof(masked), "%.*s...", (int)n, auth);
        json_object_set_new(headers, "Authorization", json_string(masked));
    }
    static const char *const names[] = {"Content-Type", "User-Agent", "Idempotency-Key",
                                        "x-batch-validation"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        add_header(headers, req, names[i]);
    json_object_set_new(members, "headers", headers);
    if (whole_body && req->json)
        json_object_set(members, "request", req->json);
    return members;
}

/* A query parameter's value, or NULL. */
const char *fake_req_query(const struct fake_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct list_walk {
    const char *name;
    struct fake_query_list *list;
    size_t cap;
    bool failed;
};

/* Adds one piece of a list value; false when out of memory. */
static bool add_piece(struct list_walk *w, const char *p, size_t n)
{
    if (w->list->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        char **grown = realloc(w->list->items, cap * sizeof(*grown));
        if (!grown)
            return false;
        w->list->items = grown;
        w->cap = cap;
    }
    char *item = strndup(p, n);
    if (!item)
        return false;
    w->list->items[w->list->count++] = item;
    return true;
}

static enum MHD_Result split_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct list_walk *w = cls;
    if (strcmp(key, w->name) != 0 || !value)
        return MHD_YES;
    while (*value) {
        size_t n = strcspn(value, ",");
        if (n && !add_piece(w, value, n)) {
            w->failed = true;
            return MHD_NO;
        }
        value += n;
        if (*value == ',')
            value++;
    }
    return MHD_YES;
}

/* Every value of query parameter name (each occurrence, split at commas, empty pieces left
 * out) into list, which the caller clears; -1 when out of memory. */
int fake_req_query_list(const struct fake_request *req, const char *name,
                        struct fake_query_list *list)
{
    struct list_walk w = {.name = name, .list = list};
    list->items = NULL;
    list->count = 0;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, split_value, &w);
    return w.failed ? -1 : 0;
}

/* Frees what a list holds. */
void fake_query_list_clear(struct fake_query_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* Sets a JSON reply; takes over body (which may be NULL after a failed json_pack: 500). */
void fake_reply_json(struct fake_reply *rep, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    free(rep->body);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        rep->body = strdup(oom);
        rep->body_len = rep->body ? sizeof(oom) - 1 : 0;
        rep->status = 500;
    } else {
        rep->body = text;
        rep->body_len = strlen(text);
        rep->status = status;
    }
    rep->content_type = "application/json";
}

/* Sets a reply with a copy of text. */
void fake_reply_text(struct fake_reply *rep, unsigned status, const char *content_type,
                     const char *text, size_t len)
{
    free(rep->body);
    rep->body = malloc(len + 1);
    rep->body_len = 0;
    if (rep->body) {
        memcpy(rep->body, text, len);
        rep->body[len] = '\0';
        rep->body_len = len;
    }
    rep->status = status;
    rep->content_type = content_type;
}

/* Adds a header; name must be a string literal. */
void fake_reply_header(struct fake_reply *rep, const char *name, const char *fmt, ...)
{
    if (rep->header_count >= FAKE_MAX_HEADERS)
        return;
    struct fake_header *h = &rep->headers[rep->header_count++];
    h->name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof(h->value), fmt, ap);
    va_end(ap);
}

/* Whether the reply already has a header of this name. */
bool fake_reply_has_header(const struct fake_reply *rep, const char *name)
{
    for (int i = 0; i < rep->header_count; i++) {
        if (strcasecmp(rep->headers[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Queues the reply on the connection (the body is handed to libmicrohttpd). */
enum MHD_Result fake_reply_send(struct MHD_Connection *conn, struct fake_reply *rep)
{
    struct MHD_Response *r;
    if (rep->body) {
        r = MHD_create_response_from_buffer(rep->body_len, rep->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            rep->body = NULL;
    } else {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rep->content_type ? rep->content_type : "text/plain");
    for (int i = 0; i < rep->header_count; i++)
        MHD_add_response_header(r, rep->headers[i].name, rep->headers[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, rep->status ? rep->status : 500, r);
    MHD_destroy_response(r);
    return rc;
}

/* Frees what the reply holds. */
void fake_reply_clear(struct fake_reply *rep)
{
    free(rep->body);
    memset(rep, 0, sizeof(*rep));
}
