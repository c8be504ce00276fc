/* address: customers' addresses made canonical and checked: phone numbers to
 * E.164 with the organization's default country, e-mail addresses by shape. */
#ifndef TD_ADDRESS_H
#define TD_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* td_email_plausible(): the one check, shared with the plugins */
#include "tidings/plugin_util.h"

/* Normalizes a phone number to E.164 ("+491711234567"): spaces, dashes, dots,
 * slashes and brackets are dropped; "00" starts an international number;
 * a leading "0" is a national number of calling code country ("49"). Returns
 * 0, or -EINVAL when the result is not + and 8 to 15 digits. */
int td_phone_normalize(const char *raw, const char *country, char *out, size_t cap);

/* Lower-cases an e-mail address into out (for suppressions). */
void td_email_canonical(const char *s, char *out, size_t cap);

#endif
