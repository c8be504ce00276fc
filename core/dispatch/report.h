/* report: applies what a channel plugin parsed from a provider callback
 * (delivery reports, bounces, complaints, seen reports, inbound messages) to
 * messages, suppressions and the WhatsApp 24-hour window. */
#ifndef TD_REPORT_H
#define TD_REPORT_H

#include "tidings/plugin.h"

#include <stdbool.h>

struct td_instance;

/* Applies r for channel instance in. Returns TD_REPORT_APPLIED (also for a
 * replay or an unknown message, which is logged), TD_REPORT_LATER when the
 * message is still being sent, or -EIO when the database cannot take it. */
int td_report_apply(struct td_instance *in, const struct td_report *r);

/* True when an inbound text asks to stop: STOP, STOPP, ENDE, ABMELDEN, in any
 * case, alone apart from spaces and punctuation. */
bool td_report_is_stop(const char *text);

#endif
