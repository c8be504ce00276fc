/* http_client: outgoing HTTP calls for channel plugins (libcurl). */
#include "http_client.h"

#include "buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
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
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < call->header_count; i++) {
        struct td_buf line = {0};
        td_buf_printf(&line, "%s: %s", call->headers[i].name, call->headers[i].value);
        struct curl_slist *n = curl_slist_append(headers, td_buf_str(&line));
        td_buf_reset(&line);
        if (n)
            headers = n;
    }
    /* no "Expect: 100-continue" round trip */
    struct curl_slist *n = curl_slist_append(headers, "Expect:");
    if (n)
        headers = n;
    struct td_buf body = {0};
    long timeout = call->timeout_ms > 0 ? call->timeout_ms : default_timeout_ms;
    curl_easy_setopt(h, CURLOPT_URL, call->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 5000 ? timeout : 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
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
    curl_slist_free_all(headers);
    reply->body_len = body.len;
    reply->body = td_buf_take(&body);
    return 0;
}

void td_http_reply_release(struct td_http_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}

void td_result_from_http(const struct td_http_reply *reply, struct td_result *result)
{
    memset(result, 0, sizeof(*result));
    result->retry_after_ms = reply->retry_after_ms;
    result->http_status = reply->status;
    int s = reply->status;
    if (s == 0) {
        result->status = TD_RETRY;
        snprintf(result->reason, sizeof(result->reason), "no answer: %.200s", reply->error);
    } else if (s >= 200 && s < 300) {
        result->status = TD_OK;
    } else if (s == 408 || s == 429 || s >= 500) {
        result->status = TD_RETRY;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d", s);
    } else if (s == 401 || s == 403) {
        result->status = TD_SUSPEND;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d: credentials refused", s);
    } else {
        result->status = TD_FAIL;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d", s);
    }
}
