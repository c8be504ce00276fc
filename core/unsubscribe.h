/* unsubscribe: the one-click unsubscribe links in e-mails (RFC 8058).
 * GET /v1/unsubscribe/<token> shows a confirmation page and changes nothing;
 * POST (the mail client's one-click, or the page's button) suppresses the
 * address for the organization's e-mail. The token is signed with
 * [http] callback_secret, so it cannot be forged or altered. */
#ifndef TD_UNSUBSCRIBE_H
#define TD_UNSUBSCRIBE_H

struct td_engine;

/* Registers both routes on the engine's HTTP server (when a callback secret
 * is configured). Returns 0 or a negative errno. */
int td_unsubscribe_routes(struct td_engine *engine);

#endif
