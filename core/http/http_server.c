/* http_server: the engine's one HTTP server (libmicrohttpd). */
#include "http/http_server.h"

#include "util/buf.h"
#include "http/http_guard.h"
#include "config/config_value.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

struct route {
    char *method;
    char *path;
    td_http_handler handler;
    void *ctx;
    const void *owner;
    const void *tag; /* the configuration it belongs to; NULL: the engine's own */
    int inflight;
    bool removed; /* not served: removed, or replaced by another configuration's */
    bool pending; /* not served yet: its configuration is not live */
};

struct td_http_server {
    char *host;
    int port;
    struct td_http_limits limits;
    td_http_org_disabled_fn org_disabled;
    void *org_ctx;
    struct td_http_guard *guard;
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct route **routes;
    size_t route_count;
    /* libmicrohttpd's own log lines, rate-limited */
    pthread_mutex_t log_lock;
    time_t log_second;
    int log_count;
    unsigned long log_dropped;
};

/* Per-request state, kept across libmicrohttpd's calls for one request:
 * made when the request line is in (from the raw path), freed when the
 * request completes. */
struct request_state {
    struct route *route;
    struct td_buf body;
    bool begun; /* the headers are in and were looked at */
    bool too_large;
    bool bad_path; /* %2F (an encoded slash) or %00 in the raw path or query */
    struct MHD_Connection *conn;
};

/* A request's headers may add up to this many bytes (431 past it; the
 * connection's memory holds up to HTTP_CONNECTION_MEMORY). */
#define HTTP_MAX_HEADER_BYTES  (32 * 1024)
#define HTTP_CONNECTION_MEMORY (256 * 1024)
/* libmicrohttpd's own connection limit is this far above [http]
 * max_connections (split over its threads, so each has room while the guard
 * evicts). */
#define HTTP_CONNECTION_HEADROOM 256
/* libmicrohttpd's own log lines per second at most (debug). */
#define HTTP_LIBRARY_LOG_PER_S 10

struct td_http_server *td_http_server_create(const char *listen,
                                             const struct td_http_limits *limits,
                                             td_http_org_disabled_fn org_disabled, void *org_ctx)
{
    struct td_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    const char *colon = strrchr(listen, ':');
    long port = 0;
    if (!colon || td_parse_long(colon + 1, 0, 65535, &port) < 0) {
        free(s);
        return NULL;
    }
    s->host = strndup(listen, (size_t)(colon - listen));
    if (!s->host) {
        free(s);
        return NULL;
    }
    s->port = (int)port;
    s->limits = *limits;
    s->org_disabled = org_disabled;
    s->org_ctx = org_ctx;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->log_lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    return s;
}

void td_http_respond(struct td_http_response *resp, int status, const char *content_type,
                     const char *body, size_t body_len)
{
    free(resp->content_type);
    free(resp->body);
    resp->status = status;
    resp->content_type = strdup(content_type ? content_type : "text/plain; charset=utf-8");
    resp->body = malloc(body_len + 1);
    if (resp->body) {
        if (body_len)
            memcpy(resp->body, body, body_len);
        resp->body[body_len] = '\0';
        resp->body_len = body_len;
    } else {
        resp->body_len = 0;
    }
}

void td_http_respond_header(struct td_http_response *resp, const char *name, const char *value)
{
    char **h = realloc(resp->headers, (resp->header_count + 2) * sizeof(*h));
    if (!h)
        return;
    resp->headers = h;
    h[resp->header_count] = strdup(name);
    h[resp->header_count + 1] = strdup(value);
    resp->header_count += 2;
}

void td_http_respond_error(struct td_http_response *resp, int status, const char *message)
{
    json_t *j = json_pack("{s:s}", "error", message);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    td_http_respond(resp, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
    json_decref(j);
}

static void response_clear(struct td_http_response *resp)
{
    free(resp->content_type);
    free(resp->body);
    for (size_t i = 0; i < resp->header_count; i++)
        free(resp->headers[i]);
    free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct td_http_response *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body_len, resp->body ? resp->body : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "text/plain");
    for (size_t i = 0; i + 1 < resp->header_count; i += 2) {
        if (resp->headers[i] && resp->headers[i + 1])
            MHD_add_response_header(r, resp->headers[i], resp->headers[i + 1]);
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)(resp->status ? resp->status : 500), r);
    MHD_destroy_response(r);
    return rc;
}

static const char *request_header(const struct td_http_request *req, const char *name)
{
    struct request_state *st = req->engine_private;
    return MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, name);
}

static const char *request_query(const struct td_http_request *req, const char *name)
{
    struct request_state *st = req->engine_private;
    return MHD_lookup_connection_value(st->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Finds the route for method + path and marks it in use. *path_known tells a
 * 405 from a 404. Called with the lock held. */
static struct route *route_acquire(struct td_http_server *s, const char *method, const char *path,
                                   bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < s->route_count; i++) {
        struct route *r = s->routes[i];
        size_t len = strlen(r->path);
        bool prefix = len && r->path[len - 1] == '*';
        if (r->removed || r->pending ||
            (prefix ? strncmp(r->path, path, len - 1) != 0 || !path[len - 1]
                    : strcmp(r->path, path) != 0))
            continue;

        *path_known = true;
        if (strcmp(r->method, method) == 0) {
            r->inflight++;
            return r;
        }
    }
    return NULL;
}

static void route_release(struct td_http_server *s, struct route *r)
{
    pthread_mutex_lock(&s->lock);
    if (--r->inflight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

/* The organization a path names, "/v1/orgs/<org>/..." or
 * "/v1/callbacks/<org>/...", into out (empty when it names none). */
static void path_org(const char *path, char *out, size_t cap)
{
    static const char *const prefixes[] = {"/v1/orgs/", "/v1/callbacks/"};
    out[0] = '\0';
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) != 0)
            continue;
        const char *org = path + n;
        const char *slash = strchr(org, '/');
        size_t len = slash ? (size_t)(slash - org) : strlen(org);
        if (len && len < cap && len <= 64) {
            memcpy(out, org, len);
            out[len] = '\0';
        }
        return;
    }
}

/* Answers an error the server makes itself (JSON, like every answer), and
 * logs it as a rejected request. */
static enum MHD_Result send_rejection(struct td_http_server *s, struct MHD_Connection *conn,
                                      const char *method, const char *url, int status,
                                      const char *message, const char *retry_after)
{
    struct td_http_response resp = {0};
    td_http_respond_error(&resp, status, message);
    if (retry_after)
        td_http_respond_header(&resp, "Retry-After", retry_after);
    char org[80], route[240];
    path_org(url, org, sizeof(org));
    td_log_path(url, route, sizeof(route));
    td_http_guard_log_rejected(s->guard, org[0] ? org : NULL, method, route, status, message);
    enum MHD_Result rc = send_response(conn, &resp);
    response_clear(&resp);
    return rc;
}

/* Counts one header's bytes (and Content-Length headers that disagree). */
struct header_tally {
    size_t bytes;
    const char *content_length;
    bool conflict;
    bool chunked;
};

static enum MHD_Result tally_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct header_tally *t = cls;
    t->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
    if (strcasecmp(key, "Content-Length") == 0) {
        if (t->content_length && (!value || strcmp(t->content_length, value) != 0))
            t->conflict = true;
        t->content_length = value;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        t->chunked = true;
    }
    return MHD_YES;
}

/* MHD_OPTION_URI_LOG_CALLBACK: sees the raw request target before it is
 * decoded; the request's state starts here. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    struct request_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->conn = conn;
    /* an encoded slash or NUL would be decoded onto another route */
    for (const char *p = uri; p && *p; p++) {
        if (p[0] == '%' && p[1] && p[2] &&
            ((p[1] == '2' && (p[2] == 'f' || p[2] == 'F')) || (p[1] == '0' && p[2] == '0')))
            st->bad_path = true;
    }
    return st;
}

/* MHD_OPTION_NOTIFY_CONNECTION: every connection is watched from its
 * accept to its close. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct td_http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? td_http_guard_open(s->guard, info->connect_fd) : NULL;
    } else {
        td_http_guard_close(s->guard, *socket_context);
        *socket_context = NULL;
    }
}

static struct td_http_guarded *connection_guarded(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* The "error" of a JSON error answer, or "". */
static void response_reason(const struct td_http_response *resp, char *out, size_t cap)
{
    out[0] = '\0';
    json_error_t jerr;
    json_t *j = resp->body ? json_loadb(resp->body, resp->body_len, 0, &jerr) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    snprintf(out, cap, "%.200s", e ? e : "");
    json_decref(j);
}

/* The first look at a request whose headers are in: path, header size and
 * Content-Length checks, the route. Returns MHD_YES to go on reading the
 * body, or the result of an answer already queued. */
static enum MHD_Result request_begin(struct td_http_server *s, struct MHD_Connection *conn,
                                     struct request_state *st, const char *url, const char *method,
                                     bool *answered)
{
    *answered = true;
    st->begun = true;
    td_http_guard_headers_in(s->guard, connection_guarded(conn));
    if (st->bad_path)
        return send_rejection(s, conn, method, url, 400,
                              "the path has an encoded slash (%2F) or NUL (%00)", NULL);
    struct header_tally t = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, tally_header, &t);
    if (t.bytes > HTTP_MAX_HEADER_BYTES)
        return send_rejection(s, conn, method, url, 431, "request headers too large", NULL);
    if (t.conflict || (t.chunked && t.content_length))
        return send_rejection(s, conn, method, url, 400,
                              "conflicting Content-Length (or Content-Length with "
                              "Transfer-Encoding)",
                              NULL);
    bool path_known;
    pthread_mutex_lock(&s->lock);
    struct route *r = route_acquire(s, method, url, &path_known);
    pthread_mutex_unlock(&s->lock);
    if (!r) {
        char org[80];
        path_org(url, org, sizeof(org));
        const char *why = org[0] && s->org_disabled ? s->org_disabled(s->org_ctx, org) : NULL;
        if (why)
            return send_rejection(s, conn, method, url, 503, why, "30");
        /* a 405 on an organization's path would tell which organizations
         * exist: those get the 404 every unknown path gets */
        if (path_known && !org[0])
            return send_rejection(s, conn, method, url, 405, "method not allowed", NULL);
        return send_rejection(s, conn, method, url, 404, "no such endpoint", NULL);
    }
    long n;
    if (t.content_length && td_parse_long(t.content_length, 0, (long)s->limits.max_body, &n) < 0) {
        route_release(s, r);
        return send_rejection(s, conn, method, url, 413, "request body too large", NULL);
    }
    st->route = r;
    *answered = false;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct td_http_server *s = cls;
    struct request_state *st = *con_cls;
    if (!st)
        return MHD_NO; /* no memory for its state */
    if (!st->begun) {
        bool answered;
        enum MHD_Result rc = request_begin(s, conn, st, url, method, &answered);
        return rc;
    }
    if (!st->route)
        return MHD_NO; /* answered already; nothing more to read */
    if (*upload_data_size) {
        if (!st->too_large && st->body.len + *upload_data_size <= s->limits.max_body)
            td_buf_append(&st->body, upload_data, *upload_data_size);
        else
            st->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    td_http_guard_request_in(s->guard, connection_guarded(conn));
    if (st->too_large)
        return send_rejection(s, conn, method, url, 413, "request body too large", NULL);
    struct td_http_request req = {
        .method = method,
        .path = url,
        .body = td_buf_str(&st->body),
        .body_len = st->body.len,
        .header = request_header,
        .query = request_query,
        .engine_private = st,
    };
    struct td_http_response resp = {0};
    st->route->handler(st->route->ctx, &req, &resp);
    if (resp.status >= 400) {
        char org[80], route[240], reason[220];
        path_org(url, org, sizeof(org));
        td_log_path(st->route->path, route, sizeof(route));
        response_reason(&resp, reason, sizeof(reason));
        td_http_guard_log_rejected(s->guard, org[0] ? org : NULL, method, route, resp.status,
                                   reason);
    }
    enum MHD_Result rc = send_response(conn, &resp);
    response_clear(&resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct td_http_server *s = cls;
    struct request_state *st = *con_cls;
    td_http_guard_answered(s->guard, connection_guarded(conn));
    if (!st)
        return;
    if (st->route)
        route_release(s, st->route);
    td_buf_reset(&st->body);
    free(st);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct td_http_server *s = cls;
    struct td_buf b = {0};
    td_buf_vprintf(&b, fmt, ap);
    while (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    /* a flood makes libmicrohttpd say the same thing thousands of times a
     * second: a few lines, then a count */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned long dropped = 0;
    bool out;
    pthread_mutex_lock(&s->log_lock);
    if (now.tv_sec != s->log_second) {
        s->log_second = now.tv_sec;
        s->log_count = 0;
    }
    out = s->log_count++ < HTTP_LIBRARY_LOG_PER_S;
    if (out) {
        dropped = s->log_dropped;
        s->log_dropped = 0;
    } else {
        s->log_dropped++;
    }
    pthread_mutex_unlock(&s->log_lock);
    if (out && dropped)
        td_log(TD_LOG_DEBUG, NULL, "http", "%s (and %lu more such lines not logged)",
               td_buf_str(&b), dropped);
    else if (out)
        td_log(TD_LOG_DEBUG, NULL, "http", "%s", td_buf_str(&b));
    td_buf_reset(&b);
}

/* Lets the process keep as many files open as the hard limit allows, so that
 * max_connections, not the default of 1024 descriptors, bounds the server. */
static void raise_file_limit(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want)
        td_log(TD_LOG_WARN, NULL, "http",
               "only %ld files may be open (RLIMIT_NOFILE): fewer than the %ld "
               "connections [http] max_connections allows plus the engine's own; raise the "
               "limit (LimitNOFILE= in a systemd unit) or lower max_connections",
               (long)rl.rlim_cur, want);
}

int td_http_server_start(struct td_http_server *s, char *err, size_t errcap)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    if (inet_pton(AF_INET, s->host, &addr.sin_addr) != 1) {
        snprintf(err, errcap, "listen address %s is not an IPv4 address", s->host);
        return -EINVAL;
    }
    raise_file_limit(s->limits.max_connections + HTTP_CONNECTION_HEADROOM + 256);
    s->guard = td_http_guard_create(s->limits.header_timeout_s * 1000L, s->limits.timeout_s * 1000L,
                                    s->limits.max_connections);
    if (!s->guard) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    /* No SO_REUSEPORT: a second engine on the same port must fail to start
     * rather than silently take half the callbacks (libmicrohttpd's default
     * SO_REUSEADDR only lets a restart bind past TIME_WAIT). Past the cap
     * per address a connection is closed at once; the cap in total is the
     * guard's (it makes room), so libmicrohttpd's own limit sits above it:
     * at its limit libmicrohttpd stops accepting, and everyone waits. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)s->limits.threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->limits.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(s->limits.max_connections + HTTP_CONNECTION_HEADROOM),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->limits.max_per_client,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_URI_LOG_CALLBACK,
        on_request_line, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        td_http_guard_destroy(s->guard);
        s->guard = NULL;
        snprintf(err, errcap,
                 "cannot listen on %s:%d: the address is in use (another engine?) or not allowed",
                 s->host, s->port);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        s->port = info->port;
    return 0;
}

int td_http_server_port(const struct td_http_server *srv)
{
    return srv->port;
}

void td_http_server_stop(struct td_http_server *srv)
{
    if (srv && srv->daemon) {
        MHD_stop_daemon(srv->daemon);
        srv->daemon = NULL;
    }
    if (srv) {
        td_http_guard_destroy(srv->guard);
        srv->guard = NULL;
    }
}

uint64_t td_http_server_cut(const struct td_http_server *srv)
{
    return srv && srv->guard ? td_http_guard_cut(srv->guard) : 0;
}

void td_http_server_destroy(struct td_http_server *srv)
{
    if (!srv)
        return;
    td_http_server_stop(srv);
    for (size_t i = 0; i < srv->route_count; i++) {
        free(srv->routes[i]->method);
        free(srv->routes[i]->path);
        free(srv->routes[i]);
    }
    free(srv->routes);
    pthread_mutex_destroy(&srv->lock);
    pthread_mutex_destroy(&srv->log_lock);
    pthread_cond_destroy(&srv->idle);
    free(srv->host);
    free(srv);
}

int td_http_route_add_tagged(struct td_http_server *s, const char *method, const char *path,
                             td_http_handler handler, void *ctx, const void *owner, const void *tag,
                             bool pending)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->route_count; i++) {
        struct route *r = s->routes[i];
        if (r->removed || strcmp(r->method, method) != 0 || strcmp(r->path, path) != 0)
            continue;
        /* the same configuration twice, or the engine's own path: taken */
        if (r->tag == tag || !r->tag || (r->pending && !pending)) {
            pthread_mutex_unlock(&s->lock);
            return -EEXIST;
        }
        if (!pending && !r->pending)
            r->removed = true; /* replaced now: its owner frees it */
    }
    int rc = -ENOMEM;
    struct route *r = calloc(1, sizeof(*r));
    struct route **routes = realloc(s->routes, (s->route_count + 1) * sizeof(*routes));
    if (routes)
        s->routes = routes;
    if (r && routes && (r->method = strdup(method)) && (r->path = strdup(path))) {
        r->handler = handler;
        r->ctx = ctx;
        r->owner = owner;
        r->tag = tag;
        r->pending = pending;
        s->routes[s->route_count++] = r;
        r = NULL;
        rc = 0;
    }
    if (r) {
        free(r->method);
        free(r);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int td_http_route_add(struct td_http_server *s, const char *method, const char *path,
                      td_http_handler handler, void *ctx, const void *owner)
{
    return td_http_route_add_tagged(s, method, path, handler, ctx, owner, NULL, false);
}

void td_http_routes_go_live(struct td_http_server *s, const void *tag)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->route_count; i++) {
        struct route *r = s->routes[i];
        if (!r->pending || r->tag != tag)
            continue;
        for (size_t k = 0; k < s->route_count; k++) {
            struct route *old = s->routes[k];
            if (old != r && !old->pending && !old->removed && old->tag != tag &&
                strcmp(old->method, r->method) == 0 && strcmp(old->path, r->path) == 0)
                old->removed = true;
        }
        r->pending = false;
    }
    pthread_mutex_unlock(&s->lock);
}

void td_http_routes_remove(struct td_http_server *s, const void *owner)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->route_count; i++) {
        if (s->routes[i]->owner == owner)
            s->routes[i]->removed = true;
    }
    /* wait for running handlers of these routes, then drop them */
    for (;;) {
        bool busy = false;
        for (size_t i = 0; i < s->route_count; i++) {
            if (s->routes[i]->owner == owner && s->routes[i]->inflight > 0)
                busy = true;
        }
        if (!busy)
            break;
        pthread_cond_wait(&s->idle, &s->lock);
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->route_count; i++) {
        struct route *r = s->routes[i];
        if (r->owner == owner) {
            free(r->method);
            free(r->path);
            free(r);
        } else {
            s->routes[kept++] = r;
        }
    }
    s->route_count = kept;
    pthread_mutex_unlock(&s->lock);
}
