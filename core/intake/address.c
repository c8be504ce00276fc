/* address: customers' addresses made canonical and checked. */
#include "intake/address.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int td_phone_normalize(const char *raw, const char *country, char *out, size_t cap)
{
    char digits[40];
    size_t n = 0;
    bool plus = false;
    if (!raw)
        return -EINVAL;
    for (const char *p = raw; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (n >= sizeof(digits) - 1)
                return -EINVAL;
            digits[n++] = *p;
        } else if (*p == '+' && n == 0 && !plus) {
            plus = true;
        } else if (!strchr(" -./()\t", *p)) {
            return -EINVAL;
        }
    }
    digits[n] = '\0';
    const char *national = NULL;
    if (plus) {
        national = NULL;
    } else if (n > 2 && digits[0] == '0' && digits[1] == '0') {
        memmove(digits, digits + 2, n - 1);
        n -= 2;
    } else if (n > 1 && digits[0] == '0') {
        national = digits + 1;
    } else {
        return -EINVAL; /* neither international nor national: ambiguous */
    }
    int written = national ? snprintf(out, cap, "+%s%s", country, national)
                           : snprintf(out, cap, "+%s", digits);
    if (written < 0 || (size_t)written >= cap)
        return -EINVAL;
    size_t len = strlen(out) - 1;
    if (len < 8 || len > 15 || out[1] == '0')
        return -EINVAL;
    return 0;
}

void td_email_canonical(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    if (cap)
        out[i < cap ? i : cap - 1] = '\0';
}
