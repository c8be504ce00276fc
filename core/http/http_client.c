/* http_client: outgoing HTTP calls for channel plugins (libcurl). */
#include "http/http_client.h"

#include "util/buf.h"
#include "http/http_result.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t curl_key;
static pthread_once_t curl_key_once = PTHREAD_ONCE_INIT;

static void curl_handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_key_create(void)
{
    pthread_key_create(&curl_key, curl_handle_free);
}

/* Each thread keeps one easy handle, so its connections are reused. */
static CURL *thread_curl(void)
{
    pthread_once(&curl_key_once, curl_key_create);
    CURL *h = pthread_getspecific(curl_key);
    if (!h) {
        h = curl_easy_init();
        if (h)
            pthread_setspecific(curl_key, h);
    } else {
        curl_easy_reset(h);
    }
    return h;
}

int td_http_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void td_http_client_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct td_buf *b = userdata;
    if (td_buf_append(b, data, size * nmemb) < 0)
        return 0;
    return size * nmemb;
}

/* One call in progress: what curl needs to outlive the setup. */
struct call_state {
    struct curl_slist *headers;
    struct td_buf body; /* the answer */
    int sends;          /* times libcurl was about to send the request */
};

/* Called by libcurl just before it sends the request on a connection. When a
 * reused connection dies after the request was sent, libcurl sends it again
 * on a fresh connection by itself ("Connection died, retrying a fresh
 * connect") and says nothing; the provider may then get it twice. The second
 * call here is that re-send: it is refused, the call fails, and the engine
 * learns that the request may have arrived. */
static int on_before_send(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                          int conn_primary_port, int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    struct call_state *st = userdata;
    return st->sends++ == 0 ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

/* Sets h up for call. Returns 0, or -ENOMEM. */
static int call_setup(CURL *h, const struct td_http_call *call, long default_timeout_ms,
                      struct call_state *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < call->header_count; i++) {
        struct td_buf line = {0};
        td_buf_printf(&line, "%s: %s", call->headers[i].name, call->headers[i].value);
        struct curl_slist *n = curl_slist_append(st->headers, td_buf_str(&line));
        td_buf_reset(&line);
        if (n)
            st->headers = n;
    }
    /* no "Expect: 100-continue" round trip */
    struct curl_slist *n = curl_slist_append(st->headers, "Expect:");
    if (n)
        st->headers = n;
    long timeout = call->timeout_ms > 0 ? call->timeout_ms : default_timeout_ms;
    curl_easy_setopt(h, CURLOPT_URL, call->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 5000 ? timeout : 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st->body);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_before_send);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, st);
    if (call->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    } else if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    return 0;
}

/* Fills reply from a finished transfer and frees st. */
static void call_finish(CURL *h, CURLcode rc, struct call_state *st, struct td_http_reply *reply)
{
    if (rc != CURLE_OK) {
        /* no answer: was the request sent (or about to be)? */
        bool resend = st->sends > 1;
        bool left = st->sends > 0;
        if (left)
            td_http_reply_mark_left(reply);
        snprintf(reply->error, sizeof(reply->error), "%s%s",
                 resend ? "the connection died after the request was sent" : curl_easy_strerror(rc),
                 left ? " (the request left: the provider may have acted on it)" : "");
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        reply->status = (int)status;
        curl_off_t retry_after = -1;
        if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
            reply->retry_after_ms = (int64_t)retry_after * 1000;
    }
    curl_slist_free_all(st->headers);
    st->headers = NULL;
    reply->body_len = st->body.len;
    reply->body = td_buf_take(&st->body);
}

int td_http_client_request(const struct td_http_call *call, long default_timeout_ms,
                           struct td_http_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->retry_after_ms = -1;
    CURL *h = thread_curl();
    if (!h) {
        snprintf(reply->error, sizeof(reply->error), "cannot create an HTTP handle");
        return 0;
    }
    struct call_state st;
    call_setup(h, call, default_timeout_ms, &st);
    CURLcode rc = curl_easy_perform(h);
    call_finish(h, rc, &st, reply);
    return 0;
}

/* This thread's multi handle and its easy handles, kept for their connections. */
struct thread_multi {
    CURLM *multi;
    CURL **easy;
    size_t easy_count;
};

static pthread_key_t multi_key;
static pthread_once_t multi_key_once = PTHREAD_ONCE_INIT;

static void thread_multi_free(void *p)
{
    struct thread_multi *tm = p;
    for (size_t i = 0; i < tm->easy_count; i++)
        curl_easy_cleanup(tm->easy[i]);
    free(tm->easy);
    curl_multi_cleanup(tm->multi);
    free(tm);
}

static void multi_key_create(void)
{
    pthread_key_create(&multi_key, thread_multi_free);
}

/* This thread's multi handle with at least n easy handles. */
static struct thread_multi *thread_multi(size_t n)
{
    pthread_once(&multi_key_once, multi_key_create);
    struct thread_multi *tm = pthread_getspecific(multi_key);
    if (!tm) {
        tm = calloc(1, sizeof(*tm));
        if (!tm || !(tm->multi = curl_multi_init())) {
            free(tm);
            return NULL;
        }
        pthread_setspecific(multi_key, tm);
    }
    if (tm->easy_count < n) {
        CURL **easy = realloc(tm->easy, n * sizeof(*easy));
        if (!easy)
            return NULL;
        tm->easy = easy;
        while (tm->easy_count < n) {
            CURL *h = curl_easy_init();
            if (!h)
                return NULL;
            tm->easy[tm->easy_count++] = h;
        }
    }
    return tm;
}

int td_http_client_request_many(const struct td_http_call *calls, struct td_http_reply *replies,
                                size_t n, size_t max_parallel, long default_timeout_ms)
{
    for (size_t i = 0; i < n; i++) {
        memset(&replies[i], 0, sizeof(replies[i]));
        replies[i].retry_after_ms = -1;
    }
    if (n == 0)
        return 0;
    if (max_parallel < 1)
        max_parallel = 1;
    size_t width = n < max_parallel ? n : max_parallel;
    struct thread_multi *tm = thread_multi(width);
    struct call_state *states = calloc(width, sizeof(*states));
    size_t *slot_call = calloc(width, sizeof(*slot_call));
    if (!tm || !states || !slot_call) {
        for (size_t i = 0; i < n; i++)
            snprintf(replies[i].error, sizeof(replies[i].error), "out of memory");
        free(states);
        free(slot_call);
        return 0;
    }
    size_t next = 0, running = 0;
    for (size_t s = 0; s < width; s++) {
        CURL *h = tm->easy[s];
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)(uintptr_t)s);
        call_setup(h, &calls[next], default_timeout_ms, &states[s]);
        slot_call[s] = next++;
        curl_multi_add_handle(tm->multi, h);
        running++;
    }
    while (running > 0) {
        int still = 0;
        curl_multi_perform(tm->multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(tm->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            CURLcode rc = msg->data.result;
            void *priv = NULL;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
            size_t s = (size_t)(uintptr_t)priv;
            curl_multi_remove_handle(tm->multi, h);
            call_finish(h, rc, &states[s], &replies[slot_call[s]]);
            running--;
            if (next < n) {
                curl_easy_reset(h);
                curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)(uintptr_t)s);
                call_setup(h, &calls[next], default_timeout_ms, &states[s]);
                slot_call[s] = next++;
                curl_multi_add_handle(tm->multi, h);
                running++;
            }
        }
        if (running > 0)
            curl_multi_poll(tm->multi, NULL, 0, 1000, NULL);
    }
    free(states);
    free(slot_call);
    return 0;
}

void td_http_reply_release(struct td_http_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}
