/* unsubscribe: the one-click unsubscribe links in e-mails (RFC 8058).
 * GET /v1/unsubscribe/<token> shows a confirmation page and changes nothing;
 * POST (the mail client's one-click, or the page's button) suppresses the
 * address for the organization's e-mail. The token is signed with
 * [http] callback_secret, so it cannot be forged or altered. It names the
 * message ("u2\n<org>\n<message id>"), whose recipient is looked up on the
 * click, and reveals no address; the older "u1" tokens, which carried the
 * address, are still accepted but no longer made. */
#ifndef TD_UNSUBSCRIBE_H
#define TD_UNSUBSCRIBE_H

#include <stddef.h>
#include <stdint.h>

struct td_engine;

/* Registers both routes on the engine's HTTP server (when a callback secret
 * is configured). Returns 0 or a negative errno. */
int td_unsubscribe_routes(struct td_engine *engine);

/* The signed token of the link for message message_id of org ("u2"), into
 * out. Returns 0 or -EINVAL (no room in cap, or no secret). */
int td_unsubscribe_token(const char *secret, const char *org, int64_t message_id, char *out,
                         size_t cap);

#endif
