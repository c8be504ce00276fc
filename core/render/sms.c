/* sms: how many SMS segments a text takes. */
#include "render/sms.h"

#include <stdint.h>
#include <string.h>

/* The GSM 03.38 basic alphabet beyond printable ASCII, as code points. */
static const uint32_t gsm_basic_extra[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8,
    0x00C5, 0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3,
    0x0398, 0x039E, 0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6,
    0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};
/* ASCII characters that are not in the basic alphabet. */
static const char ascii_not_basic[] = "`^{}\\[~]|";
/* The extension table: each costs an escape plus itself. */
static const uint32_t gsm_extension[] = {'^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC, 0x0C};

/* Decodes one UTF-8 character; returns its length, or 1 (and 0xFFFD) when
 * the bytes are not valid UTF-8. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] & 0xE0) == 0xC0   ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (!len) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t v = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* 1 or 2 septets, or 0 when not in GSM-7 at all. */
static int gsm_septets(uint32_t cp)
{
    if (cp == '\n' || cp == '\r')
        return 1;
    if (cp >= 0x20 && cp < 0x7F && !strchr(ascii_not_basic, (int)cp))
        return 1;
    for (size_t i = 0; i < sizeof(gsm_basic_extra) / sizeof(gsm_basic_extra[0]); i++) {
        if (gsm_basic_extra[i] == cp)
            return 1;
    }
    for (size_t i = 0; i < sizeof(gsm_extension) / sizeof(gsm_extension[0]); i++) {
        if (gsm_extension[i] == cp)
            return 2;
    }
    return 0;
}

struct td_sms_size td_sms_measure(const char *text)
{
    struct td_sms_size size = {.gsm7 = true};
    size_t septets = 0, utf16 = 0;
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        int n = gsm_septets(cp);
        if (n == 0)
            size.gsm7 = false;
        septets += (size_t)n;
        utf16 += cp > 0xFFFF ? 2 : 1;
    }
    size.units = size.gsm7 ? septets : utf16;
    size_t single = size.gsm7 ? 160 : 70, part = size.gsm7 ? 153 : 67;
    size.segments = size.units == 0 ? 1 : size.units <= single ? 1 : (size.units + part - 1) / part;
    return size;
}
