/* fake_infobip: the Infobip API (SMS v3 and legacy v2, WhatsApp template and text, balance). */
#ifndef FAKE_INFOBIP_H
#define FAKE_INFOBIP_H

#include "fake_http.h"

#include <stdbool.h>

struct fake_ctx;

/* Handles a request on an Infobip path (/sms/..., /whatsapp/..., /account/...). */
void fake_infobip_handle(struct fake_ctx *ctx, const struct fake_request *req,
                         struct fake_reply *rep);
/* Sets an Infobip error reply in the new (E400...) or legacy (requestError) format; details
 * (taken over, may be NULL) are the violations array or the validationErrors object. */
void fake_infobip_error(struct fake_reply *rep, bool new_format, unsigned status, json_t *details);

#endif
