/* fake_resend: the Resend API (POST /emails, POST /emails/batch, GET /api-keys). */
#ifndef FAKE_RESEND_H
#define FAKE_RESEND_H

#include "fake_http.h"

#include <stdbool.h>

struct fake_ctx;

/* Handles a request on a Resend path (any path not claimed by Infobip or the control API). */
void fake_resend_handle(struct fake_ctx *ctx, const struct fake_request *req,
                        struct fake_reply *rep);
/* First half of fake_resend_handle: the checks, and the claim of the Idempotency-Key of a send.
 * True when fake_resend_finish must complete the send; false when rep holds the answer. */
bool fake_resend_begin(struct fake_ctx *ctx, const struct fake_request *req,
                       struct fake_reply *rep);
/* Second half: validates and records the e-mails and settles the Idempotency-Key. */
void fake_resend_finish(struct fake_ctx *ctx, const struct fake_request *req,
                        struct fake_reply *rep);
/* Sets a Resend error reply {"statusCode","name","message"}. */
void fake_resend_error(struct fake_reply *rep, unsigned status, const char *name,
                       const char *message);
/* Sets the Resend error reply usual for a status (used by "status" faults). */
void fake_resend_status_error(struct fake_reply *rep, unsigned status);
/* Adds the ratelimit-* headers; with retry_after >= 0 the limit is exhausted and Retry-After set.
 */
void fake_resend_ratelimit(struct fake_reply *rep, long retry_after);

#endif
