/* report: applies what a channel plugin parsed from a provider callback. */
#include "dispatch/report.h"

#include "intake/address.h"
#include "config/config_value.h"
#include "store/db.h"
#include "engine_state.h"
#include "util/log.h"
#include "util/metrics.h"
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* How long a callback may wait for a database connection. */
#define REPORT_DB_WAIT_MS 2000

static const char *const kind_names[] = {"",           "delivered", "delayed", "bounced",
                                         "complained", "failed",    "seen",    "inbound"};

bool td_report_is_stop(const char *text)
{
    static const char *const words[] = {"stop", "stopp", "ende", "abmelden"};
    char word[16];
    size_t n = 0;
    for (const char *p = text ? text : ""; *p; p++) {
        if (isalpha((unsigned char)*p)) {
            if (n + 1 >= sizeof(word))
                return false;
            word[n++] = (char)tolower((unsigned char)*p);
        } else if (!isspace((unsigned char)*p) && !strchr(".!,;:-", *p)) {
            return false;
        } else if (n && isalpha((unsigned char)p[1])) {
            return false; /* a second word: not a bare keyword */
        }
    }
    word[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(word, words[i]) == 0)
            return true;
    }
    return false;
}

/* Reads "<org>-<id>" at ref for org: the id, or -1. */
static int64_t report_org_id(const char *org, const char *ref)
{
    long id;
    size_t olen = strlen(org);
    if (strncmp(ref, org, olen) == 0 && ref[olen] == '-' &&
        td_parse_long(ref + olen + 1, 1, 0x7fffffffffffffffL, &id) == 0)
        return id;
    return -1;
}

/* The message id in what we gave the provider: "td-<installation>-<org>-<id>"
 * (the idempotency key: of this database only), the older
 * "tidings-<org>-<id>", or a plain number. -1 when it is none of them, or
 * another organization's or another database's. */
static int64_t report_message_id(const struct td_engine *engine, const char *org, const char *ref)
{
    long id;
    if (!ref)
        return -1;
    if (td_parse_long(ref, 1, 0x7fffffffffffffffL, &id) == 0)
        return id;
    size_t ilen = strlen(engine->installation_id);
    if (strncmp(ref, "td-", 3) == 0 && ilen &&
        strncmp(ref + 3, engine->installation_id, ilen) == 0 && ref[3 + ilen] == '-')
        return report_org_id(org, ref + 4 + ilen);
    if (strncmp(ref, "tidings-", 8) == 0)
        return report_org_id(org, ref + 8);
    return -1;
}

static void report_count(struct td_instance *in, const char *kind, const char *outcome)
{
    char labels[256];
    snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\",kind=\"%s\",outcome=\"%s\"",
             in->org->id, in->cfg->name, kind, outcome);
    td_metrics_add(in->engine->metrics, "tidings_reports_total", labels, 1);
}

static int report_inbound(struct td_instance *in, PGconn *c, const struct td_report *r)
{
    char address[160], masked[64], err[512];
    bool email = strchr(r->address ? r->address : "", '@') != NULL;
    if (email)
        td_email_canonical(r->address, address, sizeof(address));
    else if (td_phone_normalize(r->address, in->org->country, address, sizeof(address)) < 0) {
        td_log(TD_LOG_WARN, in->org->id, in->cfg->name, "inbound message from an unusable address");
        return TD_REPORT_APPLIED;
    }
    bool stop = td_report_is_stop(r->text);
    if (td_store_inbound(c, in->org->id, in->cfg->name, address, r->text, r->at_ms, stop, err,
                         sizeof(err)) < 0) {
        td_log(TD_LOG_ERROR, in->org->id, in->cfg->name, "inbound message not stored: %s", err);
        return -EIO;
    }
    td_log_mask(address, masked, sizeof(masked));
    td_log(TD_LOG_INFO, in->org->id, in->cfg->name, "inbound message from %s%s", masked,
           stop ? ": asked to stop, suppressed" : "");
    report_count(in, "inbound", stop ? "suppressed" : "recorded");
    return TD_REPORT_APPLIED;
}

/* One line for a report that matched a message: its id, what the report
 * did to the message's status and whether it suppressed the address. */
static void report_log(struct td_instance *in, const char *kind, const struct td_report *r,
                       const struct td_report_effect *fx, bool suppress)
{
    char status[64] = "", suppressed[96] = "";
    bool moving = r->kind == TD_REPORT_DELIVERED || r->kind == TD_REPORT_BOUNCED ||
                  r->kind == TD_REPORT_COMPLAINED || r->kind == TD_REPORT_FAILED;
    if (strcmp(fx->outcome, "applied") == 0 && moving) {
        if (strcmp(fx->before, fx->after) != 0)
            snprintf(status, sizeof(status), "; status %s -> %s", fx->before, fx->after);
        else
            snprintf(status, sizeof(status), "; status stays %s", fx->before);
    }
    if (strcmp(fx->outcome, "applied") == 0 && suppress)
        snprintf(suppressed, sizeof(suppressed), "; %s",
                 !fx->suppressed         ? "no address recorded: nothing suppressed"
                 : fx->suppression_added ? "address suppressed"
                                         : "address already suppressed");
    td_log(TD_LOG_INFO, in->org->id, in->cfg->name, "message %lld: %s report %s%s%.200s%s%s",
           (long long)fx->message_id, kind, fx->outcome, r->detail ? ": " : "",
           r->detail ? r->detail : "", status, suppressed);
}

int td_report_apply(struct td_instance *in, const struct td_report *r)
{
    if (!r || r->kind < TD_REPORT_DELIVERED || r->kind > TD_REPORT_INBOUND)
        return -EINVAL;
    char err[512];
    PGconn *c = td_db_acquire(in->engine->pool, REPORT_DB_WAIT_MS, err, sizeof(err));
    if (!c) {
        td_log(TD_LOG_ERROR, in->org->id, in->cfg->name, "report not stored: %s", err);
        return -EIO;
    }
    int rc;
    if (r->kind == TD_REPORT_INBOUND) {
        rc = report_inbound(in, c, r);
        td_db_release(in->engine->pool, c, td_db_connection_lost(c));
        return rc;
    }
    const char *kind = kind_names[r->kind];
    char event_key[300], address[160] = "";
    snprintf(event_key, sizeof(event_key), "%s", r->event_id ? r->event_id : "");
    if (!r->event_id)
        snprintf(event_key, sizeof(event_key), "%s/%.200s", kind, r->status ? r->status : "");
    /* the address the provider names: used when the message has none recorded */
    if (r->address && strchr(r->address, '@'))
        td_email_canonical(r->address, address, sizeof(address));
    else if (r->address &&
             td_phone_normalize(r->address, in->org->country, address, sizeof(address)) < 0)
        address[0] = '\0';
    struct td_report_change change = {
        .kind = kind,
        .status = r->status,
        .detail = r->detail,
        .event_key = event_key,
        .address = address[0] ? address : NULL,
        .at_ms = r->at_ms,
        .suppress =
            (r->kind == TD_REPORT_BOUNCED && r->permanent) || r->kind == TD_REPORT_COMPLAINED,
        .take_fallback = r->kind == TD_REPORT_FAILED && r->take_fallback,
    };
    int64_t id = report_message_id(in->engine, in->org->id, r->message_ref);
    struct td_report_effect fx;
    rc = td_store_report_apply(c, in->org->id, id, r->provider_id, &change, &fx, err, sizeof(err));
    td_db_release(in->engine->pool, c, td_db_connection_lost(c));
    if (rc < 0) {
        td_log(TD_LOG_ERROR, in->org->id, in->cfg->name, "report not stored: %s", err);
        return -EIO;
    }
    report_count(in, kind, fx.outcome);
    if (strcmp(fx.outcome, "unknown") == 0) {
        /* acknowledged all the same: an error would only make the provider repeat it */
        td_log(TD_LOG_WARN, in->org->id, in->cfg->name,
               "%s report for an unknown message (%.60s), acknowledged", kind,
               r->message_ref   ? r->message_ref
               : r->provider_id ? r->provider_id
                                : "no id");
        return TD_REPORT_APPLIED;
    }
    report_log(in, kind, r, &fx, change.suppress);
    return strcmp(fx.outcome, "later") == 0 ? TD_REPORT_LATER : TD_REPORT_APPLIED;
}
