/* libFuzzer target: the Infobip callback parser (delivery and seen reports,
 * inbound SMS and WhatsApp messages, the WhatsApp marketing opt-out), as
 * the SMS and the WhatsApp channel read a callback body. Every string a
 * parsed report points to is read, so a report pointing outside what the
 * set owns shows as a crash. Any crash, leak or undefined behaviour fails. */
#include "infobip.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t text_len(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Reads every field of every report. */
static size_t touch(const struct ib_reports *set)
{
    size_t n = set->count + set->skipped;
    for (size_t i = 0; i < set->count; i++) {
        const struct td_report *r = &set->items[i].report;
        n += (size_t)r->kind + (size_t)r->permanent + (size_t)r->take_fallback +
             (size_t)(r->at_ms & 1);
        n += text_len(r->message_ref) + text_len(r->provider_id) + text_len(r->status) +
             text_len(r->detail) + text_len(r->address) + text_len(r->text) + text_len(r->event_id);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ib_callback sms = {.whatsapp = false};
    static const struct ib_callback whatsapp = {.whatsapp = true, .business_from = "4939771234567"};
    const struct ib_callback *channels[] = {&sms, &whatsapp};
    volatile size_t sink = 0;
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
        struct ib_reports set;
        if (ib_reports_parse(channels[i], (const char *)data, size, &set) == 0)
            sink += touch(&set);
        ib_reports_clear(&set);
    }
    (void)sink;
    return 0;
}
