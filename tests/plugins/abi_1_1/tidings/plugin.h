/*
 * FROZEN: tidings/plugin.h exactly as it was at ABI 1.1, kept so the tests
 * build a plugin the way an integrator did then and prove the engine still
 * loads and drives it (tests/plugins/abi_1_1/legacy_outbox.c). Never edit.
 *
 * tidings/plugin.h: the plugin ABI. This is the only header a plugin includes.
 *
 * A plugin is a shared object (`<name>.so`) that exports exactly one function,
 * td_plugin_entry(), returning a pointer to a static, constant descriptor
 * (struct td_plugin). The engine loads it with dlopen(RTLD_NOW | RTLD_LOCAL)
 * and refuses it when the ABI major differs, the entry symbol is missing, the
 * descriptor's name differs from the file stem, a plugin of that name is
 * already loaded, or a required operation is missing.
 *
 * Compatibility: fields are only ever appended. A plugin built against an older
 * minor keeps working; the engine reads fields past the plugin's struct_size
 * as absent.
 *
 * Ownership, for every call in this file:
 *  1. What the engine passes (config, messages, requests, the host table) is
 *     borrowed. Messages, requests and config are valid only during the call;
 *     the host table stays valid until destroy() returns. Copy what you keep.
 *  2. The descriptor returned by td_plugin_entry() is static and lives until
 *     the engine unloads the plugin.
 *  3. A plugin frees only what it allocated. Results and errors are
 *     caller-allocated, fixed-size buffers; nothing crosses the boundary to be
 *     freed by the other side, except td_http_reply bodies, which the plugin
 *     hands back through host->http_reply_release().
 *  4. Strings are UTF-8 and NUL-terminated; bodies are pointer + length.
 *
 * Threads: create, destroy, start, stop and check run on the engine's main
 * thread, never overlapping for one instance. deliver() may run concurrently
 * on one instance from several dispatcher threads, so instance state must be
 * read-only after create(). Plugins never read the environment, never sleep
 * to retry, never write to stdout or stderr (log through host->log), never
 * install signal handlers and never call curl_global_init().
 */
#ifndef TIDINGS_PLUGIN_H
#define TIDINGS_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TD_ABI_MAJOR 1
#define TD_ABI_MINOR 1

/* The one symbol a plugin exports. */
#define TD_PLUGIN_ENTRY_SYMBOL "td_plugin_entry"
#define TD_PLUGIN_EXPORT       __attribute__((visibility("default")))

enum td_plugin_kind {
    TD_PLUGIN_CHANNEL = 1, /* delivers rendered messages to a provider */
    TD_PLUGIN_TRIGGER = 2, /* hands booking events to the engine */
};

/* A channel's verdict on one message. */
enum td_status {
    TD_OK = 0,      /* accepted by the provider; provider_id set when known */
    TD_RETRY = 1,   /* transient: try again later (retry_after_ms when known) */
    TD_FAIL = 2,    /* permanent for this message: reason says why */
    TD_SUSPEND = 3, /* the connection itself is refused (credentials): pause it */
};

enum td_log_level {
    TD_LOG_ERROR = 0,
    TD_LOG_WARN = 1,
    TD_LOG_INFO = 2,
    TD_LOG_DEBUG = 3,
};

/* How the engine checks and prepares a configuration value. */
enum td_key_type {
    TD_KEY_STRING = 0, /* any text */
    TD_KEY_INT = 1,    /* a decimal integer */
    TD_KEY_BOOL = 2,   /* true/false, yes/no, on/off, 1/0; passed as "true"/"false" */
    TD_KEY_PATH = 3,   /* a file system path; relative ones are made absolute
                          against the folder of the INI file that sets them */
    TD_KEY_URL = 4,    /* an http:// or https:// URL */
};

/* One configuration key a plugin understands. The engine checks an
 * instance's section against this list: unknown keys, missing required keys,
 * values of the wrong type and literal values for secret keys are refused,
 * naming file, section and line, before create() runs. */
struct td_config_key {
    const char *name;
    enum td_key_type type;
    bool required;
    bool secret;               /* must be given as env:NAME or file:PATH */
    const char *default_value; /* NULL: no default */
    const char *help;          /* one line for `tidings check` and docs */
};

/* One resolved setting: secrets are already read, defaults applied. */
struct td_setting {
    const char *key;
    const char *value; /* NULL when neither given nor defaulted */
};

/* An instance's configuration, in the order of the plugin's config_keys. */
struct td_config {
    const char *org_id;        /* the organization this instance serves */
    const char *instance_name; /* "email" for [channel.email] */
    const struct td_setting *settings;
    size_t setting_count;
};

/* Returns the value of key in cfg, or NULL. Borrowed from cfg. */
static inline const char *td_config_get(const struct td_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->setting_count; i++) {
        const char *a = cfg->settings[i].key;
        const char *b = key;
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (*a == *b)
            return cfg->settings[i].value;
    }
    return NULL;
}

/* Caller-allocated error text for create() and check(). */
struct td_error {
    char message[256];
};

/* ---- HTTP, served by the engine (routes) ---- */

struct td_http_request {
    const char *method; /* "POST" */
    const char *path;   /* "/v1/orgs/demo/bookings", without the query */
    const char *body;   /* the raw bytes, not NUL-terminated */
    size_t body_len;
    /* Returns the value of a request header (case-insensitive name), or NULL. */
    const char *(*header)(const struct td_http_request *req, const char *name);
    /* Returns the value of a query-string argument, or NULL. */
    const char *(*query)(const struct td_http_request *req, const char *name);
    void *engine_private;
};

/* Opaque: filled through host->respond() and host->respond_header(). */
struct td_http_response;

/* Handles one request on a route the plugin registered. Runs on an HTTP
 * server thread, concurrently with other requests. */
typedef void (*td_http_handler)(void *ctx, const struct td_http_request *req,
                                struct td_http_response *resp);

/* ---- HTTP, as a client (provider calls) ---- */

struct td_http_header {
    const char *name;
    const char *value;
};

struct td_http_call {
    const char *method; /* "GET", "POST" */
    const char *url;
    const struct td_http_header *headers;
    size_t header_count;
    const char *body; /* may be NULL */
    size_t body_len;
    long timeout_ms; /* whole call; 0: the engine's default */
};

struct td_http_reply {
    int status; /* 0 when no HTTP answer arrived */
    char *body; /* engine-owned; release with host->http_reply_release */
    size_t body_len;
    int64_t retry_after_ms; /* from Retry-After, or -1 */
    char error[256];        /* transport error when status == 0 */
    void *engine_private;
};

/* ---- Events, from triggers ---- */

struct td_event {
    const char *kind;            /* "booking" */
    const char *idempotency_key; /* the sender's event id (webhook-id); NULL if none */
    const char *payload;         /* JSON, UTF-8 */
    size_t payload_len;
};

enum td_submit_status {
    TD_SUBMIT_ACCEPTED = 0,    /* committed; expanded into messages */
    TD_SUBMIT_DUPLICATE = 1,   /* the same idempotency key was accepted before */
    TD_SUBMIT_INVALID = 2,     /* refused, nothing stored; error says what is wrong */
    TD_SUBMIT_UNAVAILABLE = 3, /* the database cannot take it now; retry later */
};

struct td_submit_result {
    enum td_submit_status status;
    int64_t event_id;       /* set for ACCEPTED and DUPLICATE */
    int messages_scheduled; /* messages the event scheduled (the first time) */
    char error[256];
};

/* ---- Messages, to channels ---- */

struct td_message {
    const char *id;               /* the engine's message id */
    const char *idempotency_key;  /* stable across retries and restarts */
    const char *channel;          /* "email", "sms", "whatsapp", ... */
    const char *to;               /* e-mail address or E.164 number */
    const char *to_name;          /* may be NULL */
    const char *subject;          /* email; may be NULL */
    const char *text;             /* plain text body (email, sms, whatsapp free text) */
    const char *html;             /* email; may be NULL */
    const char *wa_template;      /* whatsapp: approved template name, or NULL */
    const char *wa_language;      /* whatsapp: template language */
    const char *const *wa_params; /* whatsapp: positional placeholders */
    size_t wa_param_count;
    const char *unsubscribe_url; /* one-click unsubscribe, or NULL */
    const char *booking_id;
    const char *sequence_key;
    const char *step_id;
    int64_t scheduled_for_ms; /* unix ms */
    int64_t deadline_ms;      /* unix ms; deliver() must have returned by then */
    /* ABI 1.1 */
    bool wa_window_open; /* whatsapp: the customer wrote within the last 24 hours, so free
                            text may be sent; otherwise only an approved template */
};

/* ---- Reports, from provider callbacks (ABI 1.1) ---- */

enum td_report_kind {
    TD_REPORT_DELIVERED = 1,  /* reached the recipient */
    TD_REPORT_DELAYED = 2,    /* not yet; the provider keeps trying */
    TD_REPORT_BOUNCED = 3,    /* e-mail refused by the recipient's server */
    TD_REPORT_COMPLAINED = 4, /* marked as spam */
    TD_REPORT_FAILED = 5,     /* undeliverable, expired or rejected after acceptance */
    TD_REPORT_SEEN = 6,       /* read by the recipient (WhatsApp) */
    TD_REPORT_INBOUND = 7,    /* a message from the customer (STOP, the 24-hour window) */
};

/* One thing a provider told us, parsed by the channel plugin and applied by
 * the engine (message state, suppressions, the WhatsApp window). Strings are
 * borrowed for the call; any may be NULL. */
struct td_report {
    enum td_report_kind kind;
    const char *message_ref; /* what we gave the provider: the idempotency key or message id */
    const char *provider_id; /* the provider's own message id */
    const char *address;     /* the customer's address (inbound: the sender) */
    const char *text;        /* inbound: what the customer wrote */
    const char *status;      /* the provider's status name ("DELIVERED_TO_HANDSET") */
    const char *detail;      /* why, for failures ("EC_NO_SESSION (7010)") */
    bool permanent;          /* a failure that will not change (a hard bounce, 7010, ...) */
    bool take_fallback;      /* FAILED: the step's fallback chain should take over */
    const char *event_id;    /* the provider's id of this report, to ignore replays */
    int64_t at_ms;           /* when it happened, 0: now */
};

enum td_report_verdict {
    TD_REPORT_APPLIED = 0, /* done (or a replay, or an unknown message: logged) */
    TD_REPORT_LATER = 1,   /* cannot be applied yet: answer 503 so the provider retries */
};

struct td_result {
    enum td_status status;
    int64_t retry_after_ms; /* -1: let the engine's backoff decide */
    int http_status;        /* 0 when there was no HTTP answer */
    char provider_id[128];
    char reason[256]; /* short, no secrets, no whole addresses */
};

/* ---- The host: what the engine offers a plugin instance ---- */

struct td_host {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;
    const char *org_id;        /* the instance's organization */
    const char *instance_name; /* the instance's section name */

    /* Logs one line prefixed with [org/instance]. Never pass secrets or whole
     * addresses; use mask() for those. */
    void (*log)(const struct td_host *host, enum td_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* Wall clock, unix milliseconds. */
    int64_t (*now_ms)(const struct td_host *host);
    /* Writes a log-safe form of an e-mail address or phone number into out
     * ("j***@example.org", "+49171*****67"). */
    void (*mask)(const char *address, char *out, size_t cap);

    /* Registers handler for method + exact path on the engine's HTTP server.
     * The route belongs to this instance and is removed when it stops or is
     * destroyed. Returns 0, or a negative value when the path is taken. */
    int (*http_route)(const struct td_host *host, const char *method, const char *path,
                      td_http_handler handler, void *ctx);
    /* Sets the response status and body (copied). */
    void (*respond)(struct td_http_response *resp, int status, const char *content_type,
                    const char *body, size_t body_len);
    /* Adds a response header (copied). */
    void (*respond_header)(struct td_http_response *resp, const char *name, const char *value);

    /* Triggers: commits ev durably for this instance's organization before
     * returning. Returns 0 and fills out (including INVALID / UNAVAILABLE
     * verdicts), or a negative value on misuse. Thread-safe. */
    int (*submit)(const struct td_host *host, const struct td_event *ev,
                  struct td_submit_result *out);

    /* Channels: performs one HTTP call with the engine's pooled connections,
     * timeouts and TLS settings. Returns 0 when an answer (any status) arrived
     * or a transport error was recorded in reply->error; the body must be
     * released with http_reply_release(). Thread-safe. */
    int (*http_request)(const struct td_host *host, const struct td_http_call *call,
                        struct td_http_reply *reply);
    void (*http_reply_release)(struct td_http_reply *reply);
    /* The engine's default mapping of an HTTP answer to a verdict: transport
     * error, 408, 429 and 5xx retry (with Retry-After), 401/403 suspend, other
     * 4xx fail, 2xx ok. Plugins refine it from the provider's body. */
    void (*result_from_http)(const struct td_http_reply *reply, struct td_result *result);

    void *engine_private;

    /* ABI 1.1 (present when struct_size covers it). Performs n calls at once,
     * as many in parallel as the connection's concurrency allows, over reused
     * connections; replies[i] is filled as http_request fills it, and each must
     * be released. Returns 0. Thread-safe. */
    int (*http_request_many)(const struct td_host *host, const struct td_http_call *calls,
                             struct td_http_reply *replies, size_t n);

    /* ABI 1.1. Channels: the path of this instance's callback route (the
     * plugin registers it with http_route), "/v1/callbacks/<org>/<name>/<token>"
     * with an unguessable token, or NULL when [http] callback_secret is not
     * configured; and the full URL providers reach it at, or NULL without
     * [http] public_url. */
    const char *callback_path;
    const char *callback_url;
    /* Applies one report (thread-safe). Returns TD_REPORT_APPLIED or
     * TD_REPORT_LATER; a negative value when the database cannot take it now
     * (answer 5xx so the provider retries). */
    int (*report)(const struct td_host *host, const struct td_report *report);

    /* ABI 1.1. Triggers whose events are already in the database (written by
     * an app's SQL call): expands every waiting event of this organization,
     * oldest first; *processed counts them. Returns 0, or -EIO when the
     * database cannot be reached (call again later). Thread-safe. */
    int (*process_pending)(const struct td_host *host, size_t *processed);
    /* The engine's database connection string, for a trigger that LISTENs. */
    const char *database_dsn;
};

/* True when the host offers the field (a newer engine may offer more). */
#define TD_HOST_HAS(host, field)                                                                   \
    ((host)->struct_size >= offsetof(struct td_host, field) + sizeof((host)->field) &&             \
     (host)->field != NULL)

/* ---- Operations ---- */

struct td_channel_ops {
    /* Builds an instance from validated config; all-or-nothing. On failure
     * *instance stays NULL, everything is freed and err says why. host is
     * valid until destroy(). Required. */
    int (*create)(const struct td_host *host, const struct td_config *cfg, void **instance,
                  struct td_error *err);
    /* Frees an instance; destroy(NULL) is a no-op. Required. */
    void (*destroy)(void *instance);
    /* Delivers count messages (count <= the descriptor's max_batch), writing
     * one verdict per message into results[i]. Must return before the
     * earliest deadline. Required. */
    void (*deliver)(void *instance, const struct td_message *messages, size_t count,
                    struct td_result *results);
    /* Asks the provider whether the connection works. Optional (NULL). */
    int (*check)(void *instance, struct td_error *err);
};

struct td_trigger_ops {
    /* As for channels. Required. */
    int (*create)(const struct td_host *host, const struct td_config *cfg, void **instance,
                  struct td_error *err);
    void (*destroy)(void *instance);
    /* Starts taking events (register routes, open connections). Required. */
    int (*start)(void *instance, struct td_error *err);
    /* After it returns the instance submits nothing more. Required. */
    void (*stop)(void *instance);
};

struct td_plugin {
    /* Fixed prefix: never changes. */
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size; /* sizeof(struct td_plugin) as the plugin was built */
    enum td_plugin_kind kind;
    const char *name; /* must equal the file stem: "outbox" for outbox.so */
    const char *version;
    const char *description;

    const struct td_config_key *config_keys;
    size_t config_key_count;

    /* Channel plugins: the channel names it can serve, NULL-terminated
     * ("email", "sms", "whatsapp"; "*" for any), and its batch limit. */
    const char *const *serves;
    uint32_t max_batch;
    const struct td_channel_ops *channel;

    /* Trigger plugins. */
    const struct td_trigger_ops *trigger;
};

typedef const struct td_plugin *(*td_plugin_entry_fn)(void);

/* Declares the entry function; define it in exactly one file of the plugin:
 *   TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void) { return &my_plugin; } */
TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void);

/* Initializer for the fixed prefix of a descriptor. */
#define TD_PLUGIN_HEADER(kind_, name_, version_, description_)                                     \
    .abi_major = TD_ABI_MAJOR, .abi_minor = TD_ABI_MINOR,                                          \
    .struct_size = (uint32_t)sizeof(struct td_plugin), .kind = (kind_), .name = (name_),           \
    .version = (version_), .description = (description_)

#ifdef __cplusplus
}
#endif

#endif /* TIDINGS_PLUGIN_H */
