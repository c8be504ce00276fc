/* fake_http: the request and reply types every handler shares, and small
 * helpers to read a request and build a reply. */
#ifndef FAKE_HTTP_H
#define FAKE_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* Which API a path belongs to; it decides the error format. */
enum fake_family {
    FAKE_RESEND,         /* /emails, /api-keys and any unknown path */
    FAKE_INFOBIP_LEGACY, /* /sms/2, /whatsapp/1, /account/1: {"requestError":...} */
    FAKE_INFOBIP_NEW,    /* /sms/3: {"errorCode":"E400",...} */
    FAKE_CONTROL,        /* /_control/... */
};

struct fake_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    enum fake_family family;
    const char *body; /* NUL-terminated */
    size_t body_len;
    json_t *json;          /* the parsed body; NULL when empty or not JSON */
    bool reject;           /* a "reject" fault applies to this request */
    const char *reject_to; /* ... only to this recipient; NULL: to all */
};

#define FAKE_MAX_HEADERS 8

struct fake_header {
    const char *name; /* a string literal */
    char value[64];
};

struct fake_reply {
    unsigned status;
    const char *content_type; /* a string literal */
    char *body;               /* malloc'ed */
    size_t body_len;
    struct fake_header headers[FAKE_MAX_HEADERS];
    int header_count;
    long accepted; /* messages the handler accepted in giving this answer */
};

/* The API family a path belongs to. */
enum fake_family fake_family_of(const char *path);
/* The channel a sending path serves: "email", "sms", "whatsapp"; NULL for any other path. */
const char *fake_channel_of(const char *path);
/* A request header's value (case-insensitive name), or NULL. */
const char *fake_req_header(const struct fake_request *req, const char *name);
/* The request's members every record made from it gets: {"headers":{...}} (Authorization
 * masked to its first 6 characters + "...", Content-Type, User-Agent, Idempotency-Key,
 * x-batch-validation, each when present) and, with whole_body, "request": the parsed body.
 * NULL when out of memory. */
json_t *fake_req_record_members(const struct fake_request *req, bool whole_body);
/* A query parameter's value, or NULL. */
const char *fake_req_query(const struct fake_request *req, const char *name);

/* The values of a list-valued query parameter. */
struct fake_query_list {
    char **items; /* malloc'ed strings */
    size_t count;
};

/* Every value of query parameter name (each occurrence, split at commas, empty pieces left
 * out) into list, which the caller clears; -1 when out of memory. */
int fake_req_query_list(const struct fake_request *req, const char *name,
                        struct fake_query_list *list);
/* Frees what a list holds. */
void fake_query_list_clear(struct fake_query_list *list);
/* Sets a JSON reply; takes over body (which may be NULL after a failed json_pack: 500). */
void fake_reply_json(struct fake_reply *rep, unsigned status, json_t *body);
/* Sets a reply with a copy of text. */
void fake_reply_text(struct fake_reply *rep, unsigned status, const char *content_type,
                     const char *text, size_t len);
/* Adds a header; name must be a string literal. */
void fake_reply_header(struct fake_reply *rep, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether the reply already has a header of this name. */
bool fake_reply_has_header(const struct fake_reply *rep, const char *name);
/* Queues the reply on the connection (the body is handed to libmicrohttpd). */
enum MHD_Result fake_reply_send(struct MHD_Connection *conn, struct fake_reply *rep);
/* Frees what the reply holds. */
void fake_reply_clear(struct fake_reply *rep);

#endif
