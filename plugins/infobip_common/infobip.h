/*
 * infobip: what the Infobip SMS and WhatsApp channel plugins share, linked
 * into both as a static library (hidden symbols, so neither .so exports it).
 *
 * - the request basics: the "App <key>" header, the base URL without a
 *   trailing slash, E.164 "+491701234567" to Infobip's "491701234567";
 * - the verdicts: a send answer's status object, and both error formats
 *   (new {errorCode, violations[]} and legacy {requestError: ...}) as reasons;
 * - the callbacks: delivery reports, seen reports, inbound SMS and WhatsApp
 *   messages and the WhatsApp marketing opt-out, parsed into td_report
 *   structs, and the route handler that applies them through host->report.
 */
#ifndef TIDINGS_INFOBIP_H
#define TIDINGS_INFOBIP_H

#include "tidings/plugin.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IB_USER_AGENT "tidings/0.1 (+infobip plugin)"

/* What an instance needs to answer its callback route. */
struct ib_callback {
    const struct td_host *host;
    bool whatsapp;             /* WhatsApp error ids set take_fallback */
    const char *business_from; /* our sender, digits only (seen reports); may be NULL */
};

/* What both plugins keep per instance: read-only after ib_conn_init(). */
struct ib_conn {
    const struct td_host *host;
    char *authorization; /* "App <key>" */
    char *base_url;      /* without a trailing slash */
    char *notify_url;    /* host->callback_url when reports are wanted, else NULL */
    long timeout_ms;
    struct ib_callback cb;
};

/* One parsed report and the strings it points into. */
struct ib_report_item {
    struct td_report report;
    char address[160];
    char detail[256];
    char event_id[320];
    char *text_owned; /* a composed text (SMS keyword + clean text), or NULL */
};

/* All reports of one callback body. The reports borrow from root. */
struct ib_reports {
    json_t *root;
    struct ib_report_item *items;
    size_t count;
    size_t skipped; /* results that are none of the known kinds */
};

/* Returns "App <key>" (malloc'ed), or NULL when out of memory. */
char *ib_authorization(const char *api_key);

/* Returns a copy of url without trailing slashes (malloc'ed), or NULL. */
char *ib_base_url(const char *url);

/* Returns the endpoint's URL: the connection's base URL followed by path
 * ("/sms/3/messages"), malloc'ed, or NULL when out of memory. */
char *ib_conn_url(const struct ib_conn *c, const char *path);

/* Whether s is an E.164 number: "+" and 8 to 15 digits, the first not 0. */
bool ib_is_e164(const char *s);

/* Writes the digits of an E.164 number ("+491701234567" -> "491701234567")
 * into out. Returns 0, or -1 when s is not E.164 or out is too small. */
int ib_e164_digits(const char *s, char *out, size_t cap);

/* Parses Infobip's "2026-05-12T08:00:00.000+0000" (also "Z", "+01:00", no
 * fraction) into unix milliseconds; 0 when s is NULL or malformed. */
int64_t ib_parse_time(const char *s);

/* The verdict on one message of a 200 answer from its status object:
 * groups ACCEPTED (0), PENDING (1) and DELIVERED (3) are TD_OK with
 * provider_id = message_id; REJECTED_DUPLICATE_MESSAGE_ID (23) is TD_OK too
 * (that messageId was sent before); REJECTED (5), UNDELIVERABLE (2) and
 * EXPIRED (4) are TD_FAIL with "NAME (id): description". A missing status is
 * TD_RETRY (the same messageId is safe to send again). r is overwritten
 * except http_status and retry_after_ms. */
void ib_status_verdict(const json_t *status, const char *message_id, struct td_result *r);

/* Writes why an error answer failed into out, from either error format:
 * "infobip 400 E400: messages[0].destinations[0].to must not be blank",
 * "infobip 400 BAD_REQUEST: content.text size must be between 1 and 4096",
 * "infobip unreachable: <curl error>" or "infobip answered HTTP 502". */
void ib_error_reason(const struct td_http_reply *reply, char *out, size_t cap);

/* The verdict on a whole answer that is not a success: the host's mapping
 * (429/5xx/transport retry with Retry-After, 401/403 suspend, other 4xx fail)
 * with the reason read from the body. */
void ib_http_verdict(const struct td_host *host, const struct td_http_reply *reply,
                     struct td_result *r);

/* Parses a callback body into out. Returns 0 (results of unknown kinds are
 * counted in out->skipped), -EINVAL when body is not a JSON object, or
 * -ENOMEM. Free with ib_reports_clear(), also after a failure. */
int ib_reports_parse(const struct ib_callback *cb, const char *body, size_t len,
                     struct ib_reports *out);

/* Frees what out holds; a cleared or zeroed set is a no-op. */
void ib_reports_clear(struct ib_reports *out);

/* The route handler: ctx is the instance's struct ib_callback. */
void ib_callback_handler(void *ctx, const struct td_http_request *req,
                         struct td_http_response *resp);

/* Serves one callback request: 400 for a body that is not a JSON object,
 * otherwise host->report() for each result and 200 {"accepted":n}, or 503
 * with Retry-After: 30 when any report could not be applied yet. */
void ib_callback_serve(const struct ib_callback *cb, const struct td_http_request *req,
                       struct td_http_response *resp);

/* Fills c from the keys both plugins have (api_key, base_url, timeout,
 * reports); notify_url is dropped (with a warning) when longer than
 * max_notify_url. Returns 0, or a negative errno with err set; clear c with
 * ib_conn_clear() either way. */
int ib_conn_init(struct ib_conn *c, const struct td_host *host, const struct td_config *cfg,
                 bool whatsapp, size_t max_notify_url, struct td_error *err);

/* Frees what c holds (wiping the key); a zeroed c is a no-op. */
void ib_conn_clear(struct ib_conn *c);

/* Registers POST host->callback_path for the callbacks when the host offers
 * a callback path and report(). Returns 0 (also when there is nothing to
 * register), or a negative value with err set when the path is taken. */
int ib_conn_route(struct ib_conn *c, struct td_error *err);

/* The timeout of a call: the configured one, shortened so that the call ends
 * before deadline_ms (unix ms; 0: none), but at least 100 ms. */
long ib_conn_timeout(const struct ib_conn *c, int64_t deadline_ms);

/* Fills the four headers of a JSON request (Authorization, Content-Type,
 * Accept, User-Agent). */
void ib_conn_headers(const struct ib_conn *c, struct td_http_header h[static 4]);

/* Logs (INFO) that Infobip refused message m, with its number masked. */
void ib_log_refusal(const struct td_host *host, const struct td_message *m,
                    const struct td_result *r);

/* Reads GET /account/1/balance into err->message ("balance 47.50 EUR");
 * returns 0, or -EACCES with the reason. */
int ib_check_balance(const struct ib_conn *c, struct td_error *err);

#endif /* TIDINGS_INFOBIP_H */
