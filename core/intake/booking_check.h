/* booking_check: the strict checks of a booking as it comes in (webhook, the
 * SQL way in, import), beyond what parsing needs: no field the engine does not
 * know (outside the free-form "data"), an e-mail address and a phone number
 * that can be sent to, consent given as true or false. Stored documents are
 * not checked again: an older document stays readable. */
#ifndef TD_BOOKING_CHECK_H
#define TD_BOOKING_CHECK_H

#include "util/problems.h"

#include <jansson.h>

/* Adds every problem of doc (an object) to out; country is the organization's
 * calling code for national phone numbers ("49"; NULL: only +E.164 is
 * accepted). Returns the number of problems added. Values are never copied
 * into the texts (they may be addresses). */
size_t td_booking_check(json_t *doc, const char *country, struct td_problems *out);

#endif
