/* prepared: makes a claimed row ready for its channel, or decides it
 * without the provider (see prepared.h). */
#include "dispatch/prepared.h"

#include "dispatch/deliver.h"
#include "dispatch/inflight.h"
#include "engine_state.h"
#include "intake/address.h"
#include "plugin_host/world.h"
#include "render/render.h"
#include "render/render_context.h"
#include "render/sms.h"
#include "render/unsubscribe.h"
#include "store/store.h"
#include "tidings/json_write.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void td_prepared_outcome(struct td_outcome *o, struct prepared *p, const char *status,
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

/* Ends the row as status with a reason and, when the row has a fallback
 * chain, hands over to its next channel. */
void td_prepared_give_up(struct td_outcome *o, struct prepared *p, const char *status,
                         const char *why)
{
    td_prepared_outcome(o, p, status, "%s", why);
    o->fallback = p->row->fallback;
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
void td_prepared_make(struct td_engine *engine, struct td_world *world, PGconn *conn,
                      struct prepared *p, struct td_outcome *o, int64_t now)
{
    struct td_claimed *m = p->row;
    snprintf(p->id, sizeof(p->id), "%" PRId64, m->id);
    /* unique across databases: a rebuilt one never repeats another's key */
    snprintf(p->idempotency_key, sizeof(p->idempotency_key), "td-%s-%s-%" PRId64,
             engine->installation_id, m->org_id, m->id);
    if (m->deadline_ms >= 0 && now > m->deadline_ms) {
        td_prepared_outcome(o, p, "expired", "its deadline (%s) passed before it could be sent%s",
                            m->deadline_local ? m->deadline_local : "(unknown)",
                            m->outcome_unknown
                                ? " again (an earlier attempt's outcome is unknown: it "
                                  "may have reached the customer)"
                                : "");
        return;
    }
    const struct td_org_config *org = td_conf_org(world->conf, m->org_id);
    if (!org) {
        td_prepared_outcome(o, p, "failed", "organization %s is not configured", m->org_id);
        return;
    }
    if (!m->booking) {
        td_prepared_outcome(o, p, "failed", "booking %s is not stored", m->booking_id);
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
        td_prepared_outcome(o, p, "scheduled", "conditions could not be checked: %s", why);
        o->retry_at_ms = now + DELIVER_LOOKUP_RETRY_MS;
        o->attempt_delta = -1;
        return;
    }
    if (!holds) {
        td_prepared_outcome(o, p, "skipped", "at send time: %s", why);
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
        td_prepared_give_up(o, p, "skipped", why);
        return;
    }
    if (atomic_load(&p->channel->suspended)) {
        /* claimed for a channel out of quota because it has a fallback */
        if (m->fallback) {
            snprintf(why, sizeof(why), "the %s channel is suspended (its quota is used up)",
                     m->channel);
            td_prepared_give_up(o, p, "skipped", why);
        } else {
            td_prepared_outcome(o, p, "scheduled", "the channel is suspended");
            o->retry_at_ms = now + DELIVER_LOOKUP_RETRY_MS;
            o->attempt_delta = -1;
        }
        return;
    }
    if (m->outcome_unknown && p->channel->cfg->policy.unknown_hold && !m->resend_approved) {
        td_prepared_outcome(
            o, p, "held",
            "attempt %d's outcome is unknown (the provider may have accepted it): held for "
            "an operator (unknown_outcome = hold); tidings messages retry sends it again, "
            "cancel drops it",
            m->attempts - 1);
        o->attempt_delta = -1;
        return;
    }
    if (m->requires_consent && !json_is_true(consent)) {
        snprintf(why, sizeof(why), "the customer has not consented to %s", m->channel);
        td_prepared_give_up(o, p, "skipped", why);
        return;
    }
    if (!json_is_string(addr) || !*json_string_value(addr)) {
        snprintf(why, sizeof(why), "the customer has no %s", field);
        td_prepared_give_up(o, p, "skipped", why);
        return;
    }
    /* the address, canonical: e-mail lower-cased, phone numbers in E.164 */
    char address[160];
    if (strcmp(field, "email") == 0) {
        if (!td_email_plausible(json_string_value(addr))) {
            td_prepared_give_up(o, p, "failed", "customer.email: not a valid e-mail address");
            return;
        }
        td_email_canonical(json_string_value(addr), address, sizeof(address));
    } else if (td_phone_normalize(json_string_value(addr), org->country, address, sizeof(address)) <
               0) {
        td_prepared_give_up(o, p, "failed",
                            "customer.phone: not a phone number (use +49... or a national 0...)");
        return;
    }
    if (!m->template_body) {
        td_prepared_outcome(o, p, "failed", "template '%s' does not exist", m->template_key);
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
        td_prepared_outcome(o, p, "failed", "template '%s' cannot be rendered: %s", m->template_key,
                            *err ? err : "out of memory");
        return;
    }
    p->rendered = again ? json_dumps(m->rendered_before, JSON_COMPACT) : rendered_record(p);
    o->rendered = p->rendered;
    o->recipient = p->recipient;
    p->ready = true;
}

void td_prepared_message(struct td_message *msg, const struct prepared *p)
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

void td_prepared_clear(struct prepared *p)
{
    free(p->recipient);
    free(p->to_name);
    free(p->subject);
    free(p->text);
    free(p->html);
    free(p->reason);
    free(p->provider_id);
    free(p->unsubscribe_url);
    for (size_t k = 0; k < p->wa_count && p->wa_params; k++)
        free(p->wa_params[k]);
    free(p->wa_params);
    free(p->rendered);
    memset(p, 0, sizeof(*p));
}
