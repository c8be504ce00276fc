/* tidings/fake_host.h: a td_host for testing a plugin without the engine,
 * part of the plugin SDK (header-only; needs nothing but tidings/plugin.h,
 * tidings/plugin_util.h and -ldl). Include it in one test file.
 *
 *   void *handle;
 *   const struct td_plugin *p = fake_host_load("./myplugin.so", &handle);
 *   struct td_host host = fake_host_make("acme", "email");
 *   fake_host_script(200, "{\"id\":\"x1\"}");     // the next call's answer
 *   ... p->channel->create(&host, &cfg, &inst, &err); deliver(...) ...
 *   fake_host_calls[0].url, fake_host_call_header(&fake_host_calls[0], "Authorization")
 *
 * It logs to stderr and keeps the last line (fake_host_last_log); keeps the
 * one route a plugin registers (fake_host_call_route() calls it); records the
 * reports it is handed (answering fake_host_report_verdict); captures every
 * HTTP call (fake_host_calls) and answers it from the script
 * (fake_host_script, fake_host_script_answer: a status and body, a
 * Retry-After, or no answer with or without the request having left), or,
 * with FAKE_HOST_CURL defined before including it and libcurl linked, for
 * calls beyond the script, for real over the network. Answers map to
 * verdicts exactly as in the engine (td_http_verdict). submit and
 * process_pending stay NULL: test triggers through the engine. */
#ifndef TIDINGS_FAKE_HOST_H
#define TIDINGS_FAKE_HOST_H

#include "tidings/plugin.h"
#include "tidings/plugin_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char fake_host_last_log[512];

static void fake_host_log(const struct td_host *host, enum td_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fake_host_log(const struct td_host *host, enum td_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_host_last_log, sizeof(fake_host_last_log), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%s/%s] level %d: %s\n", host->org_id, host->instance_name, (int)level,
            fake_host_last_log);
}

static int64_t fake_host_now_ms(const struct td_host *host)
{
    (void)host;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fake_host_mask(const char *address, char *out, size_t cap)
{
    snprintf(out, cap, "%.2s***", address ? address : "");
}

/* ---- the one route a plugin registers, and its responses ---- */

#define FAKE_HOST_MAX_HEADERS 8

/* What a handler answered (the engine's type is opaque to plugins). */
struct td_http_response {
    int status;
    char content_type[64];
    char *body; /* malloc'ed, NUL-terminated */
    size_t body_len;
    char header_names[FAKE_HOST_MAX_HEADERS][64];
    char header_values[FAKE_HOST_MAX_HEADERS][256];
    int header_count;
};

static struct {
    char method[16];
    char path[512];
    td_http_handler handler;
    void *ctx;
    int registered; /* how many http_route() calls there were */
} fake_host_route;

static int fake_host_http_route(const struct td_host *host, const char *method, const char *path,
                                td_http_handler handler, void *ctx)
{
    (void)host;
    snprintf(fake_host_route.method, sizeof(fake_host_route.method), "%s", method);
    snprintf(fake_host_route.path, sizeof(fake_host_route.path), "%s", path);
    fake_host_route.handler = handler;
    fake_host_route.ctx = ctx;
    fake_host_route.registered++;
    return 0;
}

static void fake_host_respond(struct td_http_response *resp, int status, const char *content_type,
                              const char *body, size_t body_len)
{
    free(resp->body);
    resp->status = status;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s",
             content_type ? content_type : "");
    resp->body = malloc(body_len + 1);
    if (resp->body) {
        if (body_len)
            memcpy(resp->body, body, body_len);
        resp->body[body_len] = '\0';
    }
    resp->body_len = resp->body ? body_len : 0;
}

static void fake_host_respond_header(struct td_http_response *resp, const char *name,
                                     const char *value)
{
    if (resp->header_count == FAKE_HOST_MAX_HEADERS)
        return;
    snprintf(resp->header_names[resp->header_count], sizeof(resp->header_names[0]), "%s", name);
    snprintf(resp->header_values[resp->header_count], sizeof(resp->header_values[0]), "%s", value);
    resp->header_count++;
}

/* A response header's value (case-insensitive name), or NULL. */
static inline const char *fake_host_response_header(const struct td_http_response *resp,
                                                    const char *name)
{
    for (int i = 0; i < resp->header_count; i++) {
        if (strcasecmp(resp->header_names[i], name) == 0)
            return resp->header_values[i];
    }
    return NULL;
}

/* Frees what a response holds and zeroes it. */
static inline void fake_host_response_clear(struct td_http_response *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static const char *fake_host_no_header(const struct td_http_request *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

/* Calls the registered handler with a POST of body to its path; resp is
 * cleared first. Returns resp->status, or -1 when no route is registered. */
static inline int fake_host_call_route(const char *body, struct td_http_response *resp)
{
    fake_host_response_clear(resp);
    if (!fake_host_route.handler)
        return -1;
    struct td_http_request req = {.method = "POST",
                                  .path = fake_host_route.path,
                                  .body = body,
                                  .body_len = body ? strlen(body) : 0,
                                  .header = fake_host_no_header,
                                  .query = fake_host_no_header};
    fake_host_route.handler(fake_host_route.ctx, &req, resp);
    return resp->status;
}

/* ---- reports ---- */

#define FAKE_HOST_MAX_REPORTS 64

/* A copy of one report the plugin handed to host->report. */
struct fake_host_report {
    enum td_report_kind kind;
    char *message_ref;
    char *provider_id;
    char *address;
    char *text;
    char *status;
    char *detail;
    char *event_id;
    bool permanent;
    bool take_fallback;
    int64_t at_ms;
};

static struct fake_host_report fake_host_reports[FAKE_HOST_MAX_REPORTS];
static size_t fake_host_report_count;
/* What report() answers: TD_REPORT_APPLIED, TD_REPORT_LATER or a negative value. */
static int fake_host_report_verdict = TD_REPORT_APPLIED;

static char *fake_host_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int fake_host_report(const struct td_host *host, const struct td_report *r)
{
    (void)host;
    if (fake_host_report_count == FAKE_HOST_MAX_REPORTS)
        return -ENOSPC;
    struct fake_host_report *c = &fake_host_reports[fake_host_report_count++];
    c->kind = r->kind;
    c->message_ref = fake_host_dup(r->message_ref);
    c->provider_id = fake_host_dup(r->provider_id);
    c->address = fake_host_dup(r->address);
    c->text = fake_host_dup(r->text);
    c->status = fake_host_dup(r->status);
    c->detail = fake_host_dup(r->detail);
    c->event_id = fake_host_dup(r->event_id);
    c->permanent = r->permanent;
    c->take_fallback = r->take_fallback;
    c->at_ms = r->at_ms;
    return fake_host_report_verdict;
}

/* Forgets the recorded reports and answers TD_REPORT_APPLIED again. */
static inline void fake_host_reports_clear(void)
{
    for (size_t i = 0; i < fake_host_report_count; i++) {
        struct fake_host_report *c = &fake_host_reports[i];
        free(c->message_ref);
        free(c->provider_id);
        free(c->address);
        free(c->text);
        free(c->status);
        free(c->detail);
        free(c->event_id);
        memset(c, 0, sizeof(*c));
    }
    fake_host_report_count = 0;
    fake_host_report_verdict = TD_REPORT_APPLIED;
}

/* ---- HTTP calls: captured, and answered from a script or (FAKE_HOST_CURL)
 * performed with libcurl ---- */

#define FAKE_HOST_MAX_CALLS  64
#define FAKE_HOST_MAX_SCRIPT 64

/* A copy of one call the plugin made. */
struct fake_host_call {
    char method[16];
    char url[1024];
    char *body; /* NUL-terminated copy, or NULL */
    size_t header_count;
    char header_names[16][64];
    char header_values[16][512];
};

/* One scripted answer: an HTTP status and body, or (status 0) no answer,
 * with left saying whether the request had left (TD_UNKNOWN) or not. */
struct fake_host_answer {
    int status;
    const char *body;       /* copied when the call is answered */
    int64_t retry_after_ms; /* -1: no Retry-After */
    bool left;
    const char *error;
};

static struct fake_host_call fake_host_calls[FAKE_HOST_MAX_CALLS];
static size_t fake_host_call_count;
static struct fake_host_answer fake_host_script_queue[FAKE_HOST_MAX_SCRIPT];
static size_t fake_host_script_head, fake_host_script_tail;
static const char fake_host_left_marker = 1;

/* Queues the answer to the next call (without FAKE_HOST_CURL: calls with no
 * scripted answer get "no answer: nothing scripted"). */
static inline void fake_host_script(int status, const char *body)
{
    if (fake_host_script_tail < FAKE_HOST_MAX_SCRIPT)
        fake_host_script_queue[fake_host_script_tail++] =
            (struct fake_host_answer){status, body, -1, false, NULL};
}

/* Queues a full answer (Retry-After, or no answer at all). */
static inline void fake_host_script_answer(struct fake_host_answer a)
{
    if (fake_host_script_tail < FAKE_HOST_MAX_SCRIPT)
        fake_host_script_queue[fake_host_script_tail++] = a;
}

/* A request header of a captured call (case-insensitive name), or NULL. */
static inline const char *fake_host_call_header(const struct fake_host_call *c, const char *name)
{
    for (size_t i = 0; i < c->header_count; i++) {
        if (strcasecmp(c->header_names[i], name) == 0)
            return c->header_values[i];
    }
    return NULL;
}

/* Forgets the captured calls and the unused script. */
static inline void fake_host_calls_clear(void)
{
    for (size_t i = 0; i < fake_host_call_count; i++)
        free(fake_host_calls[i].body);
    memset(fake_host_calls, 0, sizeof(fake_host_calls));
    fake_host_call_count = 0;
    fake_host_script_head = fake_host_script_tail = 0;
}

static void fake_host_capture(const struct td_http_call *call)
{
    if (fake_host_call_count == FAKE_HOST_MAX_CALLS)
        return;
    struct fake_host_call *c = &fake_host_calls[fake_host_call_count++];
    snprintf(c->method, sizeof(c->method), "%s", call->method);
    snprintf(c->url, sizeof(c->url), "%s", call->url);
    if (call->body) {
        c->body = (char *)malloc(call->body_len + 1);
        if (c->body) {
            memcpy(c->body, call->body, call->body_len);
            c->body[call->body_len] = '\0';
        }
    }
    for (size_t i = 0; i < call->header_count && c->header_count < 16; i++, c->header_count++) {
        snprintf(c->header_names[i], sizeof(c->header_names[0]), "%s", call->headers[i].name);
        snprintf(c->header_values[i], sizeof(c->header_values[0]), "%s", call->headers[i].value);
    }
}

static bool fake_host_http_reply_left(const struct td_http_reply *reply)
{
    return reply->engine_private == &fake_host_left_marker;
}

/* The engine's own mapping (td_http_verdict), with this host's "left" mark. */
static void fake_host_result_from_http(const struct td_http_reply *reply, struct td_result *result)
{
    td_http_verdict(reply, fake_host_http_reply_left(reply), result);
}

static void fake_host_http_reply_release(struct td_http_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}

#ifdef FAKE_HOST_CURL
#include <curl/curl.h>

/* Real libcurl mode: blocking calls, one at a time; the test calls
 * curl_global_init and links libcurl. */
struct fake_host_body {
    char *s;
    size_t len;
};

static size_t fake_host_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct fake_host_body *b = (struct fake_host_body *)userdata;
    size_t n = size * nmemb;
    char *p = (char *)realloc(b->s, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->s = p;
    b->len += n;
    b->s[b->len] = '\0';
    return n;
}

static void fake_host_perform(const struct td_http_call *call, struct td_http_reply *reply)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(reply->error, sizeof(reply->error), "cannot create an HTTP handle");
        return;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; i < call->header_count; i++) {
        char line[2048];
        snprintf(line, sizeof(line), "%s: %s", call->headers[i].name, call->headers[i].value);
        headers = curl_slist_append(headers, line);
    }
    struct fake_host_body body = {0};
    curl_easy_setopt(h, CURLOPT_URL, call->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, call->timeout_ms > 0 ? call->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fake_host_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    if (call->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    } else if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(reply->error, sizeof(reply->error), "%s", curl_easy_strerror(rc));
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        reply->status = (int)status;
        curl_off_t retry_after = -1;
        if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
            reply->retry_after_ms = (int64_t)retry_after * 1000;
    }
    reply->body = body.s;
    reply->body_len = body.len;
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
}
#endif /* FAKE_HOST_CURL */

static int fake_host_http_request(const struct td_host *host, const struct td_http_call *call,
                                  struct td_http_reply *reply)
{
    (void)host;
    memset(reply, 0, sizeof(*reply));
    reply->retry_after_ms = -1;
    fake_host_capture(call);
    if (fake_host_script_head < fake_host_script_tail) {
        const struct fake_host_answer *a = &fake_host_script_queue[fake_host_script_head++];
        reply->status = a->status;
        reply->retry_after_ms = a->retry_after_ms;
        if (a->status == 0) {
            snprintf(reply->error, sizeof(reply->error), "%s",
                     a->error ? a->error : "scripted: no answer");
            if (a->left)
                reply->engine_private = (void *)&fake_host_left_marker;
        }
        if (a->body) {
            reply->body = strdup(a->body);
            reply->body_len = reply->body ? strlen(reply->body) : 0;
        }
        return 0;
    }
#ifdef FAKE_HOST_CURL
    fake_host_perform(call, reply);
#else
    snprintf(reply->error, sizeof(reply->error), "no answer: nothing scripted");
#endif
    return 0;
}

static int fake_host_http_request_many(const struct td_host *host, const struct td_http_call *calls,
                                       struct td_http_reply *replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fake_host_http_request(host, &calls[i], &replies[i]);
    return 0;
}

/* A host for a plugin instance of org, named instance (its section name).
 * Everything a 1.2 engine offers except submit, process_pending and the
 * database: those need the engine (test them through it). */
static struct td_host fake_host_make(const char *org, const char *instance)
{
    struct td_host h = {
        .abi_major = TD_ABI_MAJOR,
        .abi_minor = TD_ABI_MINOR,
        .struct_size = sizeof(struct td_host),
        .org_id = org,
        .instance_name = instance,
        .log = fake_host_log,
        .now_ms = fake_host_now_ms,
        .mask = fake_host_mask,
        .http_route = fake_host_http_route,
        .respond = fake_host_respond,
        .respond_header = fake_host_respond_header,
        .http_request = fake_host_http_request,
        .http_reply_release = fake_host_http_reply_release,
        .result_from_http = fake_host_result_from_http,
        .http_request_many = fake_host_http_request_many,
        .report = fake_host_report,
        .http_reply_left = fake_host_http_reply_left,
    };
    return h;
}

/* Loads path and returns its descriptor, or NULL (the reason on stderr). */
static const struct td_plugin *fake_host_load(const char *path, void **handle)
{
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) {
        fprintf(stderr, "%s\n", dlerror());
        return NULL;
    }
    void *sym = dlsym(*handle, TD_PLUGIN_ENTRY_SYMBOL);
    td_plugin_entry_fn entry = NULL;
    memcpy(&entry, &sym, sizeof(entry));
    return entry ? entry() : NULL;
}

#endif
