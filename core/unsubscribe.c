/* unsubscribe: the one-click unsubscribe links in e-mails (RFC 8058). */
#include "unsubscribe.h"

#include "world.h"

#include "buf.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "sign.h"
#include "store.h"

#include <errno.h>
#include <string.h>

#define UNSUBSCRIBE_PREFIX "/v1/unsubscribe/"

struct link {
    char org[80];
    char channel[32];
    char address[200];
};

/* Reads and checks the token at the end of the path. */
static int link_open(struct td_engine *e, const char *path, struct link *l)
{
    char payload[400];
    const char *token = path + strlen(UNSUBSCRIBE_PREFIX);
    if (td_sign_open(e->conf->engine.callback_secret, token, payload, sizeof(payload)) < 0)
        return -EINVAL;
    char *fields[4] = {payload, NULL, NULL, NULL};
    for (int i = 1; i < 4; i++) {
        char *nl = fields[i - 1] ? strchr(fields[i - 1], '\n') : NULL;
        if (!nl)
            return -EINVAL;
        *nl = '\0';
        fields[i] = nl + 1;
    }
    struct td_world *w = td_engine_world(e);
    bool known = td_world_org(w, fields[1]) != NULL;
    td_world_release(w);
    if (strcmp(fields[0], "u1") != 0 || !known)
        return -EINVAL;
    snprintf(l->org, sizeof(l->org), "%s", fields[1]);
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
    bool added = false;
    PGconn *c = td_db_acquire(e->pool, 2000, err, sizeof(err));
    int rc = c ? td_store_suppress(c, l.org, l.channel, l.address, "one-click unsubscribe",
                                   "customer", &added, err, sizeof(err))
               : -EIO;
    td_db_release(e->pool, c, c && td_db_connection_lost(c));
    if (rc < 0) {
        td_log(TD_LOG_ERROR, l.org, "unsubscribe", "not stored: %s", err);
        td_http_respond_header(resp, "Retry-After", "30");
        page(resp, 503, "Bitte später erneut versuchen", "Please try again in a minute.", NULL);
        return;
    }
    char masked[64];
    td_log_mask(l.address, masked, sizeof(masked));
    td_log(TD_LOG_INFO, l.org, "unsubscribe", "%s unsubscribed from %s%s", masked, l.channel,
           added ? "" : " (already)");
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
