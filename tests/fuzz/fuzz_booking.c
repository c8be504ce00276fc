/* libFuzzer target: the booking JSON parser and checks (what every webhook
 * body and imported line goes through), then the transitions between the
 * parsed state and itself. Any crash, leak or undefined behaviour fails. */
#include "intake/booking.h"
#include "expand/expand.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct td_booking b;
    char err[256];
    if (td_booking_parse((const char *)data, size, &b, err, sizeof(err)) == 0) {
        struct td_transitions t;
        td_expand_transitions(NULL, &b, &t);
        td_expand_transitions(&b, &b, &t);
        td_booking_clear(&b);
    }
    return 0;
}
