/* unsubscribe: the one-click unsubscribe links in e-mails (RFC 8058). */
#include "render/unsubscribe.h"

#include "plugin_host/world.h"

#include "intake/address.h"
#include "util/buf.h"
#include "config/config_value.h"
#include "store/db.h"
#include "engine_state.h"
#include "util/log.h"
#include "render/sign.h"
#include "store/store.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define UNSUBSCRIBE_PREFIX "/v1/unsubscribe/"

/* What a link stands for. "u2\n<org>\n<message id>" (made now) names the
 * message, whose recipient is looked up when the link is used, so the link
 * reveals no address; "u1\n<org>\n<channel>\n<address>" (made before, still in
 * mailboxes) names the address itself. */
struct link {
    char org[80];
    char channel[32];   /* u1; for u2 read with the address */
    char address[200];  /* u1; for u2 read from the message */
    int64_t message_id; /* u2, or -1 */
};

/* Reads and checks the token at the end of the path. */
static int link_open(struct td_engine *e, const char *path, struct link *l)
{
    char payload[400];
    memset(l, 0, sizeof(*l));
    l->message_id = -1;
    const char *token = path + strlen(UNSUBSCRIBE_PREFIX);
    if (td_sign_open(e->conf->engine.callback_secret, token, payload, sizeof(payload)) < 0)
        return -EINVAL;
    char *fields[4] = {payload, NULL, NULL, NULL};
    size_t n = 1;
    while (n < 4) {
        char *nl = strchr(fields[n - 1], '\n');
        if (!nl)
            break;
        *nl = '\0';
        fields[n++] = nl + 1;
    }
    long id = -1;
    bool v1 = n == 4 && strcmp(fields[0], "u1") == 0;
    bool v2 = n == 3 && strcmp(fields[0], "u2") == 0 &&
              td_parse_long(fields[2], 1, 0x7fffffffffffffffL, &id) == 0;
    if (!v1 && !v2)
        return -EINVAL;
    struct td_world *w = td_engine_world(e);
    bool known = td_world_org(w, fields[1]) != NULL;
    td_world_release(w);
    if (!known)
        return -EINVAL;
    snprintf(l->org, sizeof(l->org), "%s", fields[1]);
    if (v2) {
        l->message_id = id;
        return 0;
    }
    snprintf(l->channel, sizeof(l->channel), "%s", fields[2]);
    snprintf(l->address, sizeof(l->address), "%s", fields[3]);
    return 0;
}

static void page(struct td_http_response *resp, int status, const char *title, const char *body,
                 const char *form_action)
{
    struct td_buf b = {0};
    td_buf_printf(&b,
                  "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width\"><title>%s</title></head>"
                  "<body style=\"font-family:sans-serif;max-width:36em;margin:3em auto\">"
                  "<h1>%s</h1><p>%s</p>",
                  title, title, body);
    if (form_action)
        td_buf_printf(&b,
                      "<form method=\"post\" action=\"%s\"><input type=\"hidden\" "
                      "name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">"
                      "Abmelden / Unsubscribe</button></form>",
                      form_action);
    td_buf_puts(&b, "</body></html>");
    td_http_respond(resp, status, "text/html; charset=utf-8", td_buf_str(&b), b.len);
    td_buf_reset(&b);
}

static void unsubscribe_get(void *ctx, const struct td_http_request *req,
                            struct td_http_response *resp)
{
    struct link l;
    if (link_open(ctx, req->path, &l) < 0) {
        page(resp, 404, "Link ungültig",
             "Dieser Abmeldelink ist nicht gültig. / This link is not valid.", NULL);
        return;
    }
    /* a GET changes nothing: link checkers and previews follow links */
    page(resp, 200, "E-Mails abbestellen",
         "Möchten Sie keine E-Mails mehr von uns erhalten? Bestätigen Sie mit dem Knopf. / "
         "Confirm with the button to stop receiving our e-mails.",
         req->path);
}

static void unsubscribe_post(void *ctx, const struct td_http_request *req,
                             struct td_http_response *resp)
{
    struct td_engine *e = ctx;
    struct link l;
    if (link_open(e, req->path, &l) < 0) {
        page(resp, 404, "Link ungültig",
             "Dieser Abmeldelink ist nicht gültig. / This link is not valid.", NULL);
        return;
    }
    char err[512];
    bool added = false, found = true;
    PGconn *c = td_db_acquire(e->pool, 2000, err, sizeof(err));
    int rc = c ? 0 : -EIO;
    if (rc == 0 && l.message_id >= 0) {
        char stored[200];
        rc = td_store_message_address(c, l.org, l.message_id, l.channel, sizeof(l.channel), stored,
                                      sizeof(stored), &found, err, sizeof(err));
        if (rc == 0 && found)
            td_email_canonical(stored, l.address, sizeof(l.address));
    }
    if (rc == 0 && found)
        rc = td_store_suppress(c, l.org, l.channel, l.address, "one-click unsubscribe", "customer",
                               &added, err, sizeof(err));
    td_db_release(e->pool, c, c && td_db_connection_lost(c));
    if (rc < 0) {
        td_log(TD_LOG_ERROR, l.org, "unsubscribe", "not stored: %s", err);
        td_http_respond_header(resp, "Retry-After", "30");
        page(resp, 503, "Bitte später erneut versuchen", "Please try again in a minute.", NULL);
        return;
    }
    if (!found) {
        td_log(TD_LOG_WARN, l.org, "unsubscribe",
               "message %lld: no such message or no address: nothing suppressed",
               (long long)l.message_id);
        page(resp, 404, "Link ungültig",
             "Dieser Abmeldelink ist nicht gültig. / This link is not valid.", NULL);
        return;
    }
    char masked[64], which[40] = "an older link";
    td_log_mask(l.address, masked, sizeof(masked));
    if (l.message_id >= 0)
        snprintf(which, sizeof(which), "message %lld", (long long)l.message_id);
    td_log(TD_LOG_INFO, l.org, "unsubscribe", "%s: %s unsubscribed from %s%s", which, masked,
           l.channel, added ? "" : " (already)");
    page(resp, 200, "Abgemeldet",
         "Sie erhalten von uns keine E-Mails mehr. / You will not receive our e-mails any more.",
         NULL);
}

int td_unsubscribe_routes(struct td_engine *engine)
{
    if (!engine->conf->engine.callback_secret)
        return 0;
    int rc = td_http_route_add(engine->http, "GET", UNSUBSCRIBE_PREFIX "*", unsubscribe_get, engine,
                               engine);
    if (rc == 0)
        rc = td_http_route_add(engine->http, "POST", UNSUBSCRIBE_PREFIX "*", unsubscribe_post,
                               engine, engine);
    return rc;
}

int td_unsubscribe_token(const char *secret, const char *org, int64_t message_id, char *out,
                         size_t cap)
{
    char payload[200];
    int n = snprintf(payload, sizeof(payload), "u2\n%s\n%lld", org, (long long)message_id);
    if (!secret || n < 0 || (size_t)n >= sizeof(payload))
        return -EINVAL;
    return td_sign_token(secret, payload, out, cap);
}
