/* fake_control: the control API under /_control (faults, reset, stats, messages, accepted,
 * settings, send). */
#ifndef FAKE_CONTROL_H
#define FAKE_CONTROL_H

#include "fake_http.h"

struct fake_ctx;

/* Handles a request under /_control. */
void fake_control_handle(struct fake_ctx *ctx, const struct fake_request *req,
                         struct fake_reply *rep);

#endif
