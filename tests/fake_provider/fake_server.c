/* fake_server: the libmicrohttpd daemon (internal epoll threads, a thread pool,
 * keep-alive, suspend/resume) and the per-request pipeline: read the whole
 * body, parse it as JSON, count the request, apply the fault the draw picks,
 * route it to the Resend, Infobip or control handler and send the reply. A
 * "slow" fault suspends the connection (fake_sleeper resumes it), so no worker
 * thread sleeps; what the request sends is accepted only once it runs after
 * the delay, whether or not the client still waits. An "accept_drop" fault
 * lets the request run as usual and then closes the connection instead of
 * answering. Nothing is logged per request. */
#include "fake_server.h"

#include "fake_control.h"
#include "fake_faults.h"
#include "fake_http.h"
#include "fake_infobip.h"
#include "fake_resend.h"
#include "fake_sleeper.h"
#include "fake_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY             (16u * 1024 * 1024)
#define CONNECTION_TIMEOUT_S 120u

enum phase {
    PHASE_READING, /* headers and body arriving */
    PHASE_WAITING, /* suspended by a "slow" fault */
    PHASE_RUNNING, /* resumed, or never suspended: handle it */
};

/* Per-request state, kept across libmicrohttpd's calls for one request. */
struct request_state {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
    bool tracked; /* a provider request: counted in in_flight */
    enum phase phase;
    json_t *json;
    bool has_fault;
    struct fake_fault_hit fault;
    bool key_held;          /* fake_resend_begin claimed the key; finish after the delay */
    struct fake_reply held; /* or the answer it gave, sent after the delay */
};

static void append_body(struct request_state *st, const char *data, size_t n)
{
    if (st->too_large)
        return;
    if (st->len + n > MAX_BODY) {
        st->too_large = true;
        return;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *p = realloc(st->body, cap);
        if (!p) {
            st->too_large = true;
            return;
        }
        st->body = p;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
}

/* The reply of a "status" fault: the provider's error body (or the override). */
static void fault_reply(const struct fake_request *req, const struct fake_fault_hit *hit,
                        struct fake_reply *rep)
{
    if (hit->body)
        fake_reply_text(rep, hit->status, "application/json", hit->body, strlen(hit->body));
    else if (req->family == FAKE_RESEND)
        fake_resend_status_error(rep, hit->status);
    else
        fake_infobip_error(rep, req->family == FAKE_INFOBIP_NEW, hit->status, NULL);
    if (hit->retry_after < 0)
        return;
    if (req->family == FAKE_RESEND)
        fake_resend_ratelimit(rep, hit->retry_after);
    else
        fake_reply_header(rep, "Retry-After", "%ld", hit->retry_after);
}

/* Suspends the connection for a "slow" fault; with hold_key on a Resend send, the key is
 * claimed (or the answer decided) first. */
static enum MHD_Result suspend(struct fake_ctx *ctx, struct MHD_Connection *conn,
                               const struct fake_request *req, struct request_state *st)
{
    if (st->fault.hold_key && req->family == FAKE_RESEND)
        st->key_held = fake_resend_begin(ctx, req, &st->held);
    st->phase = PHASE_WAITING;
    MHD_suspend_connection(conn);
    fake_sleeper_add(ctx->sleeper, conn, st->fault.delay_ms);
    return MHD_YES;
}

/* Handles a request whose body is complete (again after a resume). */
static enum MHD_Result handle(struct fake_ctx *ctx, struct MHD_Connection *conn, const char *url,
                              const char *method, struct request_state *st)
{
    bool first = st->phase == PHASE_READING;
    bool provider = fake_family_of(url) != FAKE_CONTROL;
    st->phase = PHASE_RUNNING;
    if (first && st->len && !st->too_large)
        st->json = json_loadb(st->body, st->len, 0, NULL);
    if (first && provider) {
        fake_store_count_request(ctx->store, url);
        st->has_fault = fake_faults_take(ctx->faults, url, st->json, &st->fault);
    }
    struct fake_request req = {
        .conn = conn,
        .method = method,
        .path = url,
        .family = fake_family_of(url),
        .body = st->body ? st->body : "",
        .body_len = st->len,
        .json = st->json,
        .reject = st->has_fault && st->fault.mode == FAKE_FAULT_REJECT,
        .reject_to = st->fault.to,
    };
    struct fake_reply *rep = &st->held;
    if (first && st->has_fault) {
        switch (st->fault.mode) {
        case FAKE_FAULT_DROP: fake_store_count_status(ctx->store, 0); return MHD_NO;
        case FAKE_FAULT_SLOW: return suspend(ctx, conn, &req, st);
        case FAKE_FAULT_STATUS: fault_reply(&req, &st->fault, rep); goto send;
        case FAKE_FAULT_REJECT:
        case FAKE_FAULT_ACCEPT_DROP: break;
        }
    }
    if (rep->status)
        goto send;
    if (st->key_held) {
        fake_resend_finish(ctx, &req, rep);
        goto send;
    }
    if (st->too_large) {
        if (req.family == FAKE_RESEND)
            fake_resend_error(rep, 413, "validation_error", "The request body is too large.");
        else
            fake_infobip_error(rep, req.family == FAKE_INFOBIP_NEW, 413, NULL);
        goto send;
    }
    switch (req.family) {
    case FAKE_RESEND: fake_resend_handle(ctx, &req, rep); break;
    case FAKE_INFOBIP_LEGACY:
    case FAKE_INFOBIP_NEW: fake_infobip_handle(ctx, &req, rep); break;
    case FAKE_CONTROL: fake_control_handle(ctx, &req, rep); break;
    }
send:
    if (st->has_fault && st->fault.mode == FAKE_FAULT_ACCEPT_DROP) {
        /* handled (and what it sent accepted); only the answer is lost */
        fake_store_count_status(ctx->store, 0);
        fake_store_count_accept_drops(ctx->store, fake_channel_of(url), rep->accepted);
        return MHD_NO;
    }
    if (req.family == FAKE_RESEND && !fake_reply_has_header(rep, "ratelimit-limit"))
        fake_resend_ratelimit(rep, -1);
    enum MHD_Result rc = fake_reply_send(conn, rep);
    if (provider)
        fake_store_count_status(ctx->store, rep->status ? rep->status : 500);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct fake_ctx *ctx = cls;
    struct request_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->tracked = fake_family_of(url) != FAKE_CONTROL;
        if (st->tracked)
            fake_store_enter(ctx->store);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        append_body(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return handle(ctx, conn, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct fake_ctx *ctx = cls;
    struct request_state *st = *con_cls;
    if (!st)
        return;
    if (st->tracked)
        fake_store_leave(ctx->store);
    fake_fault_hit_clear(&st->fault);
    fake_reply_clear(&st->held);
    json_decref(st->json);
    free(st->body);
    free(st);
    *con_cls = NULL;
}

/* Starts the daemon on 127.0.0.1:port (0: any free port) and stores the bound port; NULL on
 * failure. Before MHD_stop_daemon, stop ctx->sleeper (no connection may stay suspended). */
struct MHD_Daemon *fake_server_start(struct fake_ctx *ctx, unsigned port, unsigned threads,
                                     unsigned *bound_port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, ctx, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, ctx, MHD_OPTION_END);
    if (!d)
        return NULL;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : port;
    return d;
}
