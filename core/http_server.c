/* http_server: the engine's one HTTP server (libmicrohttpd). */
#include "http_server.h"

#include "buf.h"
#include "config_value.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    size_t max_body;
    int timeout_s;
    int threads;
    td_http_org_known_fn org_known;
    void *org_ctx;
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct route **routes;
    size_t route_count;
};

/* Per-request state, kept across libmicrohttpd's calls for one request. */
struct request_state {
    struct route *route;
    struct td_buf body;
    bool too_large;
    struct MHD_Connection *conn;
};

struct td_http_server *td_http_server_create(const char *listen, size_t max_body, int timeout_s,
                                             int threads, td_http_org_known_fn org_known,
                                             void *org_ctx)
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
    s->max_body = max_body;
    s->timeout_s = timeout_s;
    s->threads = threads;
    s->org_known = org_known;
    s->org_ctx = org_ctx;
    pthread_mutex_init(&s->lock, NULL);
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

static enum MHD_Result send_error(struct MHD_Connection *conn, int status, const char *message)
{
    struct td_http_response resp = {0};
    td_http_respond_error(&resp, status, message);
    enum MHD_Result rc = send_response(conn, &resp);
    response_clear(&resp);
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

/* The 404 for a path no route has: names an unknown organization precisely. */
static enum MHD_Result send_not_found(struct td_http_server *s, struct MHD_Connection *conn,
                                      const char *url)
{
    static const char prefix[] = "/v1/orgs/";
    if (strncmp(url, prefix, sizeof(prefix) - 1) == 0 && s->org_known) {
        const char *org = url + sizeof(prefix) - 1;
        const char *slash = strchr(org, '/');
        char id[80];
        snprintf(id, sizeof(id), "%.*s", (int)(slash ? slash - org : (long)strlen(org)), org);
        if (!s->org_known(s->org_ctx, id))
            return send_error(conn, 404, "unknown organization");
    }
    return send_error(conn, 404, "no such endpoint");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct td_http_server *s = cls;
    struct request_state *st = *con_cls;
    if (!st) {
        bool path_known;
        pthread_mutex_lock(&s->lock);
        struct route *r = route_acquire(s, method, url, &path_known);
        pthread_mutex_unlock(&s->lock);
        if (!r) {
            if (path_known)
                return send_error(conn, 405, "method not allowed");
            return send_not_found(s, conn, url);
        }
        const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        long n;
        if (len && (td_parse_long(len, 0, (long)s->max_body, &n) < 0)) {
            route_release(s, r);
            return send_error(conn, 413, "request body too large");
        }
        st = calloc(1, sizeof(*st));
        if (!st) {
            route_release(s, r);
            return MHD_NO;
        }
        st->route = r;
        st->conn = conn;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!st->too_large && st->body.len + *upload_data_size <= s->max_body)
            td_buf_append(&st->body, upload_data, *upload_data_size);
        else
            st->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->too_large)
        return send_error(conn, 413, "request body too large");
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
    enum MHD_Result rc = send_response(conn, &resp);
    response_clear(&resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct td_http_server *s = cls;
    struct request_state *st = *con_cls;
    if (!st)
        return;
    route_release(s, st->route);
    td_buf_reset(&st->body);
    free(st);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{

    (void)cls;
    struct td_buf b = {0};
    td_buf_vprintf(&b, fmt, ap);
    while (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    td_log(TD_LOG_DEBUG, NULL, "http", "%s", td_buf_str(&b));
    td_buf_reset(&b);
}

int td_http_server_start(struct td_http_server *s, char *err, size_t errcap)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    if (inet_pton(AF_INET, s->host, &addr.sin_addr) != 1) {
        snprintf(err, errcap, "listen address %s is not an IPv4 address", s->host);
        return -EINVAL;
    }
    /* No SO_REUSEPORT: a second engine on the same port must fail to start
     * rather than silently take half the callbacks (libmicrohttpd's default
     * SO_REUSEADDR only lets a restart bind past TIME_WAIT). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)s->threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
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
