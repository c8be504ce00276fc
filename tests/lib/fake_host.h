/* fake_host: a td_host for testing a plugin without the engine. It logs to
 * stderr and keeps the last log line; it keeps the one route a plugin
 * registers (fake_host_call_route() calls it with a synthetic request),
 * captures responses, records the reports it is handed (answering
 * fake_host_report_verdict) and maps HTTP answers as the engine does. With
 * FAKE_HOST_CURL defined (and libcurl linked) it also performs HTTP calls,
 * blocking, one at a time, and can start and drive the fake provider
 * (tests/fake_provider); without it http_request stays NULL. submit is
 * always NULL. Include it in one test file. */
#ifndef TD_FAKE_HOST_H
#define TD_FAKE_HOST_H

#include "http/http_result.h"
#include "tidings/plugin.h"

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

#ifdef FAKE_HOST_CURL
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- HTTP calls (libcurl, blocking; the test calls curl_global_init) ---- */

struct fake_host_body {
    char *s;
    size_t len;
};

static size_t fake_host_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct fake_host_body *b = userdata;
    size_t n = size * nmemb;
    char *p = realloc(b->s, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->s = p;
    b->len += n;
    b->s[b->len] = '\0';
    return n;
}

static int fake_host_http_request(const struct td_host *host, const struct td_http_call *call,
                                  struct td_http_reply *reply)
{
    (void)host;
    memset(reply, 0, sizeof(*reply));
    reply->retry_after_ms = -1;
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(reply->error, sizeof(reply->error), "cannot create an HTTP handle");
        return 0;
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
    return 0;
}

static int fake_host_http_request_many(const struct td_host *host, const struct td_http_call *calls,
                                       struct td_http_reply *replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fake_host_http_request(host, &calls[i], &replies[i]);
    return 0;
}

static void fake_host_http_reply_release(struct td_http_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}

/* ---- the fake provider (tests/fake_provider), started by the test ---- */

struct fake_provider {
    FILE *out; /* its stdout, through popen */
    pid_t pid;
    int port;
    char url[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts bin on a free port and waits for its "listening" line. Returns 0,
 * or -1 (the reason on stderr). */
static inline int fake_provider_start(const char *bin, struct fake_provider *fp)
{
    char cmd[4200];
    memset(fp, 0, sizeof(*fp));
    /* the shell prints its pid, then becomes the fake: that pid is the fake's */
    snprintf(cmd, sizeof(cmd), "echo $$; exec '%s' --port 0 </dev/null", bin);
    fp->out = popen(cmd, "r");
    if (!fp->out) {
        perror("popen");
        return -1;
    }
    char line[256];
    long pid = 0;
    if (fgets(line, sizeof(line), fp->out))
        pid = strtol(line, NULL, 10);
    const char *prefix = "fake_provider listening on 127.0.0.1:";
    if (pid <= 0 || !fgets(line, sizeof(line), fp->out) ||
        strncmp(line, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "fake_provider did not start (%s)\n", bin);
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
        pclose(fp->out);
        fp->out = NULL;
        return -1;
    }
    fp->pid = (pid_t)pid;
    fp->port = (int)strtol(line + strlen(prefix), NULL, 10);
    snprintf(fp->url, sizeof(fp->url), "http://127.0.0.1:%d", fp->port);
    return 0;
}

/* Stops the fake (SIGTERM) and waits for it. Returns its exit status. */
static inline int fake_provider_stop(struct fake_provider *fp)
{
    if (!fp->out)
        return -1;
    kill(fp->pid, SIGTERM);
    int status = pclose(fp->out);
    fp->out = NULL;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Calls the fake's control API (method, "/_control/...", a JSON body or
 * NULL); returns the answer's body (malloc'ed) or NULL, the status in
 * *status when status is not NULL. */
static inline char *fake_provider_call(const struct fake_provider *fp, const char *method,
                                       const char *path, const char *body, int *status)
{
    char url[600];
    snprintf(url, sizeof(url), "%s%s", fp->url, path);
    struct td_http_header h[1] = {{"Content-Type", "application/json"}};
    struct td_http_call call = {.method = method,
                                .url = url,
                                .headers = h,
                                .header_count = 1,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = 10000};
    struct td_http_reply reply;
    fake_host_http_request(NULL, &call, &reply);
    if (status)
        *status = reply.status;
    return reply.body;
}

/* Clears what the fake recorded and its faults. Returns 0 when it answered 200. */
static inline int fake_provider_reset(const struct fake_provider *fp)
{
    int status = 0;
    free(fake_provider_call(fp, "POST", "/_control/reset", NULL, &status));
    return status == 200 ? 0 : -1;
}

/* Sets the fake's faults (a JSON document, see tests/fake_provider). Returns
 * 0 when it answered 200. */
static inline int fake_provider_fault(const struct fake_provider *fp, const char *json)
{
    int status = 0;
    free(fake_provider_call(fp, "POST", "/_control/faults", json, &status));
    return status == 200 ? 0 : -1;
}

/* GET path of the control API, parsed (the caller decrefs), or NULL. */
static inline json_t *fake_provider_json(const struct fake_provider *fp, const char *path)
{
    char *text = fake_provider_call(fp, "GET", path, NULL, NULL);
    json_error_t jerr;
    json_t *j = text ? json_loads(text, 0, &jerr) : NULL;
    free(text);
    return j;
}
#endif /* FAKE_HOST_CURL */

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
        .result_from_http = td_result_from_http, /* the engine's own (core/http_result.c) */
        .report = fake_host_report,
#ifdef FAKE_HOST_CURL
        .http_request = fake_host_http_request,
        .http_reply_release = fake_host_http_reply_release,
        .http_request_many = fake_host_http_request_many,
#endif
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
