/* libFuzzer target: the Resend webhook body parser (the body after its Svix
 * signature is checked: fuzz_signature covers that), as the resend plugin
 * reads it into a report. Every string the report points to is read. Any
 * crash, leak or undefined behaviour fails. */
#include "resend_event.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t text_len(const char *s)
{
    return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resend_event ev;
    volatile size_t sink = 0;
    if (resend_event_parse((const char *)data, size, &ev) == 0 && ev.reported) {
        const struct td_report *r = &ev.report;
        sink += (size_t)r->kind + (size_t)r->permanent;
        sink += text_len(r->message_ref) + text_len(r->provider_id) + text_len(r->status) +
                text_len(r->detail) + text_len(r->address);
    }
    resend_event_clear(&ev);
    (void)sink;
    return 0;
}
