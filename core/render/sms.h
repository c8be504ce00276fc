/* sms: how many SMS segments a text takes. GSM-7 when every character is in
 * the GSM 03.38 alphabet (extension characters count twice): 160 in one
 * segment, 153 per segment when split; else UCS-2: 70, or 67 per segment. */
#ifndef TD_SMS_H
#define TD_SMS_H

#include <stdbool.h>
#include <stddef.h>

struct td_sms_size {
    bool gsm7;    /* false: UCS-2 */
    size_t units; /* GSM-7 septets or UTF-16 code units */
    size_t segments;
};

/* Measures a UTF-8 text. Invalid UTF-8 bytes count as one UCS-2 unit each. */
struct td_sms_size td_sms_measure(const char *text);

#endif
