/* deliver: turns claimed rows into verdicts. */
#include "dispatch/deliver.h"
#include "util/clock.h"

#include "util/buf.h"
#include "dispatch/inflight.h"
#include "plugin_host/world.h"
#include "engine_state.h"
#include "util/log.h"
#include "intake/address.h"
#include "util/metrics.h"
#include "render/unsubscribe.h"

#include "store/store.h"
#include "render/render.h"
#include "render/render_context.h"
#include "render/sms.h"

#include "tidings/json_write.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* When a condition's lookup fails (the database), try the message again soon. */
#define DELIVER_LOOKUP_RETRY_MS 5000

struct prepared {
    struct td_claimed *row;
    struct td_instance *channel;
    char id[24];
    char idempotency_key[160];
    char *recipient;
    char *to_name;
    char *subject;
    char *text;
    char *html;
    char *rendered; /* what was sent, as JSON text */
    char *reason;
    char *provider_id;
    char *unsubscribe_url; /* e-mail: the signed one-click link, or NULL */
    bool window_open;      /* whatsapp: inside the customer's 24-hour window */
    char **wa_params;      /* rendered WhatsApp placeholders */
    size_t wa_count;
    bool ready; /* to be handed to the channel plugin */
    bool done;  /* outcome decided */
};

static void set_outcome(struct td_outcome *o, struct prepared *p, const char *status,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_outcome(struct td_outcome *o, struct prepared *p, const char *status,
                        const char *fmt, ...)
{
    o->status = status;
    if (fmt) {
        struct td_buf b = {0};
        va_list ap;
        va_start(ap, fmt);
        td_buf_vprintf(&b, fmt, ap);
        va_end(ap);
        free(p->reason);
        p->reason = td_buf_take(&b);
        o->reason = p->reason;
    }
    p->done = true;
}

/* The address for a channel: e-mail for email, the phone number otherwise. */
static const char *recipient_field(const char *channel)
{
    return strcmp(channel, "email") == 0 ? "email" : "phone";
}

static int render_field(json_t *tmpl, const char *field, json_t *ctx, bool html, char **out,
                        char *err, size_t errcap)
{
    *out = NULL;
    json_t *v = json_object_get(tmpl, field);
    if (!json_is_string(v))
        return 0;
    return td_render(json_string_value(v), ctx, html, out, err, errcap);
}

/* Ends the row as status with a reason and, when the row has a fallback
 * chain, hands over to its next channel. */
static void give_up(struct td_outcome *o, struct prepared *p, const char *status, const char *why)
{
    set_outcome(o, p, status, "%s", why);
    o->fallback = p->row->fallback;
}

/* Renders the template's texts and WhatsApp parameters into p. */
static int render_all(struct prepared *p, json_t *ctx, char *err, size_t errcap)
{
    json_t *t = p->row->template_body;
    int rc = render_field(t, "subject", ctx, false, &p->subject, err, errcap);
    if (rc == 0)
        rc = render_field(t, "text", ctx, false, &p->text, err, errcap);
    if (rc == 0)
        rc = render_field(t, "html", ctx, true, &p->html, err, errcap);
    json_t *wa = json_object_get(t, "whatsapp");
    json_t *params = json_object_get(wa, "params");
    p->wa_count = json_array_size(params);
    if (rc == 0 && p->wa_count) {
        p->wa_params = calloc(p->wa_count, sizeof(*p->wa_params));
        rc = p->wa_params ? 0 : -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < p->wa_count; i++) {
        const char *tmpl = json_string_value(json_array_get(params, i));
        rc = td_render(tmpl ? tmpl : "", ctx, false, &p->wa_params[i], err, errcap);
    }
    return rc;
}

/* Takes the texts and WhatsApp parameters an earlier attempt sent (its
 * `rendered` record) into p. Returns 0 or -ENOMEM. */
static int render_again(struct prepared *p, json_t *sent)
{
    static const char *const fields[] = {"subject", "text", "html"};
    char **into[] = {&p->subject, &p->text, &p->html};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(sent, fields[i]));
        if (v && !(*into[i] = strdup(v)))
            return -ENOMEM;
    }
    json_t *params = json_object_get(json_object_get(sent, "whatsapp"), "params");
    p->wa_count = json_array_size(params);
    if (p->wa_count && !(p->wa_params = calloc(p->wa_count, sizeof(*p->wa_params))))
        return -ENOMEM;
    for (size_t i = 0; i < p->wa_count; i++) {
        const char *v = json_string_value(json_array_get(params, i));
        if (!(p->wa_params[i] = strdup(v ? v : "")))
            return -ENOMEM;
    }
    return 0;
}

/* What was sent, kept with the message: texts, WhatsApp parameters, SMS
 * size, as JSON text (written directly: it is built for every message). */
static char *rendered_record(const struct prepared *p)
{
    struct td_json_out o = {0};
    td_json_lit(&o, "{\"subject\":");
    td_json_str(&o, p->subject);
    td_json_lit(&o, ",\"text\":");
    td_json_str(&o, p->text);
    td_json_lit(&o, ",\"html\":");
    td_json_str(&o, p->html);
    json_t *wa = json_object_get(p->row->template_body, "whatsapp");
    if (wa) {
        td_json_lit(&o, ",\"whatsapp\":{\"name\":");
        td_json_str(&o, json_string_value(json_object_get(wa, "name")));
        td_json_lit(&o, ",\"language\":");
        td_json_str(&o, json_string_value(json_object_get(wa, "language")));
        td_json_lit(&o, ",\"params\":[");
        for (size_t i = 0; i < p->wa_count; i++) {
            if (i)
                td_json_lit(&o, ",");
            td_json_str(&o, p->wa_params[i]);
        }
        td_json_lit(&o, "]}");
    }
    if (strcmp(p->row->channel, "sms") == 0) {
        struct td_sms_size size = td_sms_measure(p->text);
        td_json_lit(&o, ",\"sms\":{\"encoding\":");
        td_json_str(&o, size.gsm7 ? "GSM-7" : "UCS-2");
        td_json_lit(&o, ",\"characters\":");
        td_json_int(&o, (int64_t)size.units);
        td_json_lit(&o, ",\"segments\":");
        td_json_int(&o, (int64_t)size.segments);
        td_json_lit(&o, "}");
        if (size.segments > 1)
            td_log(TD_LOG_WARN, p->row->org_id, "sms",
                   "message %s takes %zu SMS segments (%zu %s characters)", p->id, size.segments,
                   size.units, size.gsm7 ? "GSM-7" : "UCS-2");
    }
    td_json_lit(&o, "}");
    return td_json_out_take(&o);
}

/* The one-click unsubscribe link for message id of org (it names the
 * message, not the address), or NULL when the engine has no public URL or
 * callback secret. Caller frees. */
static char *unsubscribe_url(struct td_engine *engine, const char *org, int64_t id)
{
    const struct td_engine_config *cfg = &engine->conf->engine;
    if (!cfg->public_url || !cfg->callback_secret)
        return NULL;
    char token[600];
    if (td_unsubscribe_token(cfg->callback_secret, org, id, token, sizeof(token)) < 0)
        return NULL;
    struct td_buf b = {0};
    size_t n = strlen(cfg->public_url);
    td_buf_printf(&b, "%.*s/v1/unsubscribe/%s",
                  (int)(n && cfg->public_url[n - 1] == '/' ? n - 1 : n), cfg->public_url, token);
    return td_buf_take(&b);
}

/* Decides what can be decided before the plugin is called, and renders. */
static void prepare(struct td_engine *engine, struct td_world *world, PGconn *conn,
                    struct prepared *p, struct td_outcome *o, int64_t now)
{
    struct td_claimed *m = p->row;
    snprintf(p->id, sizeof(p->id), "%" PRId64, m->id);
    /* unique across databases: a rebuilt one never repeats another's key */
    snprintf(p->idempotency_key, sizeof(p->idempotency_key), "td-%s-%s-%" PRId64,
             engine->installation_id, m->org_id, m->id);
    if (m->deadline_ms >= 0 && now > m->deadline_ms) {
        set_outcome(o, p, "expired", "its deadline (%s) passed before it could be sent%s",
                    m->deadline_local ? m->deadline_local : "(unknown)",
                    m->outcome_unknown ? " again (an earlier attempt's outcome is unknown: it "
                                         "may have reached the customer)"
                                       : "");
        return;
    }
    const struct td_org_config *org = td_conf_org(world->conf, m->org_id);
    if (!org) {
        set_outcome(o, p, "failed", "organization %s is not configured", m->org_id);
        return;
    }
    if (!m->booking) {
        set_outcome(o, p, "failed", "booking %s is not stored", m->booking_id);
        return;
    }
    /* the step's conditions, against the booking as it is now */
    /* at send time, on the dispatcher's own connection */
    struct td_store_booking_ref lookup = {conn,          m->org_id,   m->customer_key,
                                          m->booking_id, m->start_ms, m->end_ms};
    struct td_condition_env env = {m->booking, td_store_other_bookings_lookup, &lookup};
    bool holds = true;
    char why[256] = "";
    if (td_condition_eval(m->conditions, &env, &holds, why, sizeof(why)) < 0) {
        set_outcome(o, p, "scheduled", "conditions could not be checked: %s", why);
        o->retry_at_ms = now + DELIVER_LOOKUP_RETRY_MS;
        o->attempt_delta = -1;
        return;
    }
    if (!holds) {
        set_outcome(o, p, "skipped", "at send time: %s", why);
        return;
    }
    json_t *customer = json_object_get(m->booking, "customer");
    const char *field = recipient_field(m->channel);
    json_t *addr = json_object_get(customer, field);
    json_t *consent = json_object_get(json_object_get(customer, "consent"), m->channel);
    p->channel = td_world_channel(world, m->org_id, m->channel);
    if (!p->channel) {
        snprintf(why, sizeof(why), "no [channel.%s] is configured for this organization",
                 m->channel);
        give_up(o, p, "skipped", why);
        return;
    }
    if (atomic_load(&p->channel->suspended)) {
        /* claimed for a channel out of quota because it has a fallback */
        if (m->fallback) {
            snprintf(why, sizeof(why), "the %s channel is suspended (its quota is used up)",
                     m->channel);
            give_up(o, p, "skipped", why);
        } else {
            set_outcome(o, p, "scheduled", "the channel is suspended");
            o->retry_at_ms = now + DELIVER_LOOKUP_RETRY_MS;
            o->attempt_delta = -1;
        }
        return;
    }
    if (m->outcome_unknown && p->channel->cfg->policy.unknown_hold && !m->resend_approved) {
        set_outcome(o, p, "held",
                    "attempt %d's outcome is unknown (the provider may have accepted it): held for "
                    "an operator (unknown_outcome = hold); tidings messages retry sends it again, "
                    "cancel drops it",
                    m->attempts - 1);
        o->attempt_delta = -1;
        return;
    }
    if (m->requires_consent && !json_is_true(consent)) {
        snprintf(why, sizeof(why), "the customer has not consented to %s", m->channel);
        give_up(o, p, "skipped", why);
        return;
    }
    if (!json_is_string(addr) || !*json_string_value(addr)) {
        snprintf(why, sizeof(why), "the customer has no %s", field);
        give_up(o, p, "skipped", why);
        return;
    }
    /* the address, canonical: e-mail lower-cased, phone numbers in E.164 */
    char address[160];
    if (strcmp(field, "email") == 0) {
        if (!td_email_plausible(json_string_value(addr))) {
            give_up(o, p, "failed", "customer.email: not a valid e-mail address");
            return;
        }
        td_email_canonical(json_string_value(addr), address, sizeof(address));
    } else if (td_phone_normalize(json_string_value(addr), org->country, address, sizeof(address)) <
               0) {
        give_up(o, p, "failed",
                "customer.phone: not a phone number (use +49... or a national 0...)");
        return;
    }
    if (!m->template_body) {
        set_outcome(o, p, "failed", "template '%s' does not exist", m->template_key);
        return;
    }
    p->recipient = strdup(address);
    if (strcmp(m->channel, "email") == 0)
        p->unsubscribe_url = unsubscribe_url(engine, m->org_id, m->id);
    json_t *locale = json_object_get(customer, "locale");
    struct td_render_input in = {
        .booking = m->booking,
        .org_name = org->name,
        .locale = json_is_string(locale) ? json_string_value(locale) : org->locale,
        .start = m->start,
        .end = m->end,
        .days_until = m->days_until,
    };
    json_t *ctx = td_render_context(&in);
    char err[256] = "";
    /* a message whose earlier attempt may have arrived goes out as it was
     * then: the provider's de-duplication by key sees the same request */
    bool again = m->outcome_unknown && m->rendered_before;
    int rc = !ctx    ? -ENOMEM
             : again ? render_again(p, m->rendered_before)
                     : render_all(p, ctx, err, sizeof(err));
    if (rc == 0)
        p->to_name = strdup(json_string_value(json_object_get(ctx, "fullName")));
    json_decref(ctx);
    if (rc < 0 || !p->recipient) {
        set_outcome(o, p, "failed", "template '%s' cannot be rendered: %s", m->template_key,
                    *err ? err : "out of memory");
        return;
    }
    p->rendered = again ? json_dumps(m->rendered_before, JSON_COMPACT) : rendered_record(p);
    o->rendered = p->rendered;
    o->recipient = p->recipient;
    p->ready = true;
}

static void fill_message(struct td_message *msg, const struct prepared *p)
{
    const struct td_claimed *m = p->row;
    memset(msg, 0, sizeof(*msg));
    msg->id = p->id;
    msg->idempotency_key = p->idempotency_key;
    msg->channel = m->channel;
    msg->to = p->recipient;
    msg->to_name = p->to_name && *p->to_name ? p->to_name : NULL;
    msg->subject = p->subject;
    msg->text = p->text;
    msg->html = p->html;
    msg->booking_id = m->booking_id;
    msg->sequence_key = m->sequence_key;
    msg->step_id = m->step_id;
    msg->unsubscribe_url = p->unsubscribe_url;
    msg->wa_window_open = p->window_open;
    json_t *wa = json_object_get(m->template_body, "whatsapp");
    msg->wa_template = json_string_value(json_object_get(wa, "name"));
    msg->wa_language = json_string_value(json_object_get(wa, "language"));
    msg->wa_params = (const char *const *)p->wa_params;
    msg->wa_param_count = p->wa_count;
    msg->scheduled_for_ms = m->scheduled_ms;
    msg->deadline_ms = m->deadline_ms;
    msg->outcome_unknown = m->outcome_unknown;
}

/* Ends a row whose provider may already have accepted it, instead of
 * failing it: held for an operator, who can see what happened and retry or
 * cancel it. */
static void hold_unknown(struct td_outcome *o, struct prepared *p, const char *what,
                         const struct td_result *r)
{
    set_outcome(o, p, "held",
                "%s (%s), but an earlier attempt's outcome is unknown and the provider may have "
                "accepted it: held for an operator (tidings messages retry|cancel)",
                what, r->reason[0] ? r->reason : "no reason given");
}

/* Maps a plugin verdict to the row's next state, by the channel's policy. A
 * message that may have been accepted (this attempt's or an earlier one's
 * outcome is unknown) never ends 'failed'. */
static void apply_result(PGconn *conn, struct prepared *p, struct td_outcome *o,
                         const struct td_result *r, int64_t now, struct td_deliver_stats *stats)
{
    struct td_claimed *m = p->row;
    const struct td_channel_policy *policy = &p->channel->cfg->policy;
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)now ^ (unsigned)(uintptr_t)&seed;
    switch (r->status) {
    case TD_OK:
        set_outcome(o, p, "sent", NULL);
        if (r->provider_id[0]) {
            p->provider_id = strdup(r->provider_id);
            o->provider_id = p->provider_id;
        }
        stats->sent++;
        return;
    case TD_UNKNOWN: {
        o->unknown = true;
        stats->unknown++;
        if (policy->unknown_hold) {
            set_outcome(o, p, "held",
                        "attempt %d's outcome is unknown (%s): the provider may have accepted it; "
                        "held for an operator (unknown_outcome = hold)",
                        m->attempts, r->reason);
            return;
        }
        if (m->attempts >= policy->max_attempts) {
            set_outcome(o, p, "held",
                        "attempt %d of %d's outcome is unknown (%s): the provider may have "
                        "accepted it; held for an operator",
                        m->attempts, policy->max_attempts, r->reason);
            return;
        }
        long delay = td_channel_policy_backoff(policy, m->attempts, &seed);
        if (delay < policy->unknown_wait_ms)
            delay = policy->unknown_wait_ms; /* a slow provider may still be taking it in */
        if (m->deadline_ms >= 0 && now + delay >= m->deadline_ms) {
            set_outcome(o, p, "expired",
                        "attempt %d's outcome is unknown (%s) and its deadline (%s) comes before "
                        "the next attempt: not sent again (it may have reached the customer)",
                        m->attempts, r->reason, m->deadline_local ? m->deadline_local : "?");
            stats->expired++;
            return;
        }
        set_outcome(o, p, "scheduled",
                    "attempt %d's outcome is unknown (%s); the provider is asked before it is "
                    "sent again in %.1f s (where it can answer)",
                    m->attempts, r->reason, (double)delay / 1000.0);
        o->retry_at_ms = now + delay;
        return;
    }
    case TD_THROTTLED:
    case TD_RETRY: {
        /* being told to slow down is not the message's fault: no attempt used */
        bool throttled = r->status == TD_THROTTLED || r->http_status == 429;
        if (!throttled && m->attempts >= policy->max_attempts) {
            if (m->outcome_unknown) {
                hold_unknown(o, p, "attempts used up", r);
                return;
            }
            set_outcome(o, p, "failed", "gave up after %d attempts: %s", m->attempts, r->reason);
            stats->failed++;
            return;
        }
        /* "engine decides" is -1, and for plugins built for ABI 1.2 or later
         * also 0, so that a zero-initialised result means no "retry now" */
        bool zero_decides = p->channel->plugin->desc->abi_minor >= 2;
        bool given = r->retry_after_ms > 0 || (r->retry_after_ms == 0 && !zero_decides);
        long delay =
            given ? (long)r->retry_after_ms : td_channel_policy_backoff(policy, m->attempts, &seed);
        if (m->deadline_ms >= 0 && now + delay >= m->deadline_ms) {
            /* waiting longer than its deadline: expire now, saying why */
            set_outcome(o, p, "expired", "%s (%s) until after its deadline (%s)%s",
                        throttled ? "rate-limited by the provider" : "could not be sent", r->reason,
                        m->deadline_local ? m->deadline_local : "?",
                        m->outcome_unknown ? "; an earlier attempt's outcome is unknown" : "");
            o->attempt_delta = throttled ? -1 : 0;
            stats->expired++;
            return;
        }
        set_outcome(o, p, "scheduled", "attempt %d: %s; retry in %.1f s", m->attempts, r->reason,
                    (double)delay / 1000.0);
        o->retry_at_ms = now + delay;
        o->attempt_delta = throttled ? -1 : 0;
        stats->retried++;
        return;
    }
    case TD_SUSPEND: {
        /* the connection itself is refused, or its quota used up: stop
         * claiming for it, everywhere; a quota has an end */
        bool quota = r->retry_after_ms > 0;
        set_outcome(o, p, "scheduled", "channel suspended: %s", r->reason);
        /* one with a fallback takes it at once; the others wait for the quota */
        o->retry_at_ms = quota && !m->fallback ? now + r->retry_after_ms : now;
        o->attempt_delta = -1;
        td_deliver_suspend(p->channel, conn, r->reason, quota ? now + r->retry_after_ms : -1);
        stats->released++;
        return;
    }
    case TD_FAIL:
    default:
        if (m->outcome_unknown) {
            hold_unknown(o, p, "refused now", r);
            return;
        }
        give_up(o, p, "failed", r->reason[0] ? r->reason : "refused by the provider");
        stats->failed++;
        return;
    }
}

/* Suspends a channel instance for its organization, in every engine: until
 * the configuration changes or an operator resumes it, or (until_ms >= 0) a
 * quota suspension until then. Logged as an alert the first time. */
void td_deliver_suspend(struct td_instance *channel, PGconn *conn, const char *reason,
                        int64_t until_ms)
{
    if (until_ms >= 0)
        atomic_store(&channel->suspended_quota, true);
    if (atomic_exchange(&channel->suspended, true))
        return;
    char err[256];
    if (until_ms >= 0)
        td_log(TD_LOG_ERROR, channel->org->id, channel->cfg->name,
               "ALERT channel suspended: %s; its messages wait until the quota is back (%.0f min), "
               "those with a fallback take it now",
               reason, (double)(until_ms - td_wall_ms()) / 60000.0);
    else
        td_log(TD_LOG_ERROR, channel->org->id, channel->cfg->name,
               "ALERT channel suspended: %s; its messages wait until the configuration changes "
               "or `tidings channels resume` is run",
               reason);
    if (td_store_channel_suspend(conn, channel->org->id, channel->cfg->name, reason,
                                 channel->fingerprint, until_ms, err, sizeof(err)) < 0)
        td_log(TD_LOG_ERROR, channel->org->id, channel->cfg->name, "suspension not stored: %s",
               err);
}

/* The size of struct td_message as a plugin built against ABI 1.minor lays
 * out its array: fields are only appended, so an older plugin reads the
 * same prefix with a shorter stride. */
static size_t message_stride(unsigned minor)
{
    size_t end = sizeof(struct td_message);
    if (minor < 1)
        end = offsetof(struct td_message, wa_window_open);
    else if (minor < 2)
        end = offsetof(struct td_message, wa_window_open) + sizeof(bool);
    size_t align = _Alignof(struct td_message);
    return (end + align - 1) / align * align;
}

/* Counts recorded verdicts in the metrics and logs one line per message
 * (addresses and texts stay out of the log). */
static void deliver_count(struct td_engine *engine, const struct td_claimed *m,
                          const struct td_outcome *o)
{
    const char *outcome = o->status ? o->status : "unknown";
    bool retry = strcmp(outcome, "scheduled") == 0;
    char labels[256];
    snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\",outcome=\"%s\"", m->org_id,
             m->channel,
             o->unknown ? "unknown"
             : retry    ? "retry"
                        : outcome);
    td_metrics_add(engine->metrics, "tidings_deliveries_total", labels, 1);
    if (retry && o->attempt_delta == 0 && !o->unknown) {
        snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\"", m->org_id, m->channel);
        td_metrics_add(engine->metrics, "tidings_retries_total", labels, 1);
    }
    td_log(strcmp(outcome, "sent") == 0 ? TD_LOG_DEBUG : TD_LOG_INFO, m->org_id, m->channel,
           "message %lld (booking %s, %s/%s): %s%s%s", (long long)m->id, m->booking_id,
           m->sequence_key, m->step_id, retry ? "retry" : outcome, o->reason ? ": " : "",
           o->reason ? o->reason : "");
}

/* Hands the verdicts of items[index[0..n)] to the engine's verdict writer at
 * once, and counts them. */
static void deliver_record(struct td_engine *engine, struct prepared *items,
                           struct td_outcome *outcomes, const size_t *index, size_t n)
{
    struct td_outcome *batch = calloc(n ? n : 1, sizeof(*batch));
    for (size_t k = 0; k < n; k++) {
        if (batch)
            batch[k] = outcomes[index[k]];
        deliver_count(engine, items[index[k]].row, &outcomes[index[k]]);
    }
    if (batch)
        td_inflight_record(engine->inflight, batch, n);
    else
        td_log(TD_LOG_ERROR, NULL, "dispatch", "out of memory: %zu verdicts not written", n);
    free(batch);
}

/* Hands every ready row of channel to its plugin, one round of its
 * concurrency at a time, recording each round's verdicts as soon as the
 * plugin returns: an engine killed mid-round leaves at most one round's
 * messages with an unknown outcome. */
static void deliver_channel(struct td_engine *engine, PGconn *conn, struct prepared *items,
                            struct td_outcome *outcomes, size_t count, struct td_instance *channel,
                            const atomic_bool *stopping, struct td_deliver_stats *stats)
{
    const struct td_plugin *d = channel->plugin->desc;
    size_t limit = d->max_batch;
    size_t round = (size_t)channel->cfg->policy.concurrency;
    if (round < limit)
        limit = round;
    if (limit < 1)
        limit = 1;
    size_t stride = message_stride(d->abi_minor);
    struct td_message *msgs = calloc(limit, sizeof(*msgs));
    unsigned char *packed = stride == sizeof(*msgs) ? NULL : calloc(limit, stride);
    struct td_result *results = calloc(limit, sizeof(*results));
    size_t *index = calloc(limit, sizeof(*index));
    size_t i = 0;
    while (msgs && results && index && (stride == sizeof(*msgs) || packed)) {
        size_t n = 0;
        for (; i < count && n < limit; i++) {
            if (items[i].ready && !items[i].done && items[i].channel == channel) {
                index[n] = i;
                fill_message(&msgs[n++], &items[i]);
            }
        }
        if (n == 0)
            break;
        /* nothing leaves for the provider unless its lease is sure to outlast the call */
        bool leases_ok = td_inflight_leases_ok(engine->inflight);
        if (atomic_load(stopping) || !leases_ok) {
            for (size_t k = 0; k < n; k++) {
                set_outcome(&outcomes[index[k]], &items[index[k]], "scheduled",
                            leases_ok ? "released at shutdown"
                                      : "released: its lease could not be renewed (the database "
                                        "is unreachable)");
                outcomes[index[k]].attempt_delta = -1;
                stats->released++;
            }
            deliver_record(engine, items, outcomes, index, n);
            continue;
        }
        memset(results, 0, limit * sizeof(*results));
        for (size_t k = 0; k < n; k++) {
            results[k].status = TD_RETRY;
            results[k].retry_after_ms = -1;
            snprintf(results[k].reason, sizeof(results[k].reason), "plugin gave no verdict");
        }
        int64_t started = td_wall_ms();
        char labels[160];
        snprintf(labels, sizeof(labels), "channel=\"%s\"", channel->cfg->name);
        for (size_t k = 0; k < n; k++)
            td_metrics_observe(engine->metrics, "tidings_lateness_seconds", labels,
                               (double)(started - msgs[k].scheduled_for_ms) / 1000.0);
        const struct td_message *handed = msgs;
        if (packed) {
            for (size_t k = 0; k < n; k++)
                memcpy(packed + k * stride, &msgs[k], stride);
            handed = (const struct td_message *)(void *)packed;
        }
        d->channel->deliver(channel->state, handed, n, results);
        int64_t now = td_wall_ms();
        td_metrics_observe(engine->metrics, "tidings_provider_latency_seconds", labels,
                           (double)(now - started) / 1000.0);
        for (size_t k = 0; k < n; k++)
            apply_result(conn, &items[index[k]], &outcomes[index[k]], &results[k], now, stats);
        deliver_record(engine, items, outcomes, index, n);
    }
    free(msgs);
    free(packed);
    free(results);
    free(index);
}

/* One query for the whole batch: which recipients are suppressed on their
 * channel (skipped, the fallback takes over) and which WhatsApp numbers are
 * inside their 24-hour window. */
static void deliver_address_facts(PGconn *conn, struct prepared *prep, struct td_outcome *outcomes,
                                  size_t count, struct td_deliver_stats *stats)
{
    json_t *triples = json_array();
    size_t *index = calloc(count ? count : 1, sizeof(*index));
    size_t n = 0;
    for (size_t i = 0; triples && index && i < count; i++) {
        if (!prep[i].ready || prep[i].done)
            continue;
        json_array_append_new(triples, json_pack("[s, s, s]", prep[i].row->org_id,
                                                 prep[i].row->channel, prep[i].recipient));
        index[n++] = i;
    }
    char *text = n ? json_dumps(triples, JSON_COMPACT) : NULL;
    json_t *facts = NULL;
    char err[512];
    if (text && td_store_address_facts(conn, text, &facts, err, sizeof(err)) < 0) {
        /* never send without knowing the address is not suppressed: try again soon */
        td_log(TD_LOG_ERROR, NULL, "dispatch", "suppressions not checked: %s", err);
        for (size_t j = 0; j < n; j++) {
            struct prepared *p = &prep[index[j]];
            p->ready = false;
            set_outcome(&outcomes[index[j]], p, "scheduled", "suppressions could not be checked");
            outcomes[index[j]].retry_at_ms = td_wall_ms() + DELIVER_LOOKUP_RETRY_MS;
            outcomes[index[j]].attempt_delta = -1;
            stats->released++;
        }
    }

    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(facts, "window"), k, v)
    {
        size_t i = (size_t)json_integer_value(v);
        if (i < n)
            prep[index[i]].window_open = true;
    }
    json_array_foreach(json_object_get(facts, "suppressed"), k, v)
    {
        size_t i = (size_t)json_integer_value(v);
        if (i >= n)
            continue;
        struct prepared *p = &prep[index[i]];
        char why[160];
        snprintf(why, sizeof(why), "the customer's address is suppressed for %s", p->row->channel);
        p->ready = false;
        give_up(&outcomes[index[i]], p, "skipped", why);
        stats->skipped++;
    }
    json_decref(facts);
    free(text);
    free(index);
    json_decref(triples);
}

int td_deliver_batch(struct td_engine *engine, struct td_world *world, PGconn *conn,
                     struct td_claimed *items, size_t count, struct td_outcome *outcomes,
                     void **owned, const atomic_bool *stopping, struct td_deliver_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    struct prepared *prep = calloc(count, sizeof(*prep));
    size_t *decided = calloc(count ? count : 1, sizeof(*decided));
    *owned = prep;
    if (!prep || !decided) {
        free(decided);
        return -ENOMEM;
    }
    int64_t now = td_wall_ms();
    for (size_t i = 0; i < count; i++) {
        struct td_outcome *o = &outcomes[i];
        memset(o, 0, sizeof(*o));
        o->org_id = items[i].org_id;
        o->id = items[i].id;
        o->lease_token = items[i].lease_token;
        prep[i].row = &items[i];
        prepare(engine, world, conn, &prep[i], o, now);
        if (prep[i].done) {
            if (strcmp(o->status, "expired") == 0)
                stats->expired++;
            else if (strcmp(o->status, "skipped") == 0)
                stats->skipped++;
            else if (strcmp(o->status, "held") == 0)
                stats->held++;
            else if (strcmp(o->status, "scheduled") == 0)
                stats->released++;
            else
                stats->failed++;
        }
    }
    deliver_address_facts(conn, prep, outcomes, count, stats);
    /* what was decided without the provider is recorded at once */
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (prep[i].done)
            decided[n++] = i;
    }
    deliver_record(engine, prep, outcomes, decided, n);
    free(decided);
    for (size_t i = 0; i < count; i++) {
        if (prep[i].ready && !prep[i].done)
            deliver_channel(engine, conn, prep, outcomes, count, prep[i].channel, stopping, stats);
    }
    return 0;
}

void td_deliver_free(void *owned, size_t count)
{
    struct prepared *prep = owned;
    if (!prep)
        return;
    for (size_t i = 0; i < count; i++) {
        free(prep[i].recipient);
        free(prep[i].to_name);
        free(prep[i].subject);
        free(prep[i].text);
        free(prep[i].html);
        free(prep[i].reason);
        free(prep[i].provider_id);
        free(prep[i].unsubscribe_url);
        for (size_t k = 0; k < prep[i].wa_count && prep[i].wa_params; k++)
            free(prep[i].wa_params[k]);
        free(prep[i].wa_params);
        free(prep[i].rendered);
    }
    free(prep);
}
