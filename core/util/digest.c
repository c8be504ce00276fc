/* digest: SHA-256 over length-prefixed text fields, as hex. */
#include "util/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int td_digest_begin(struct td_digest *d)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        d->ctx = NULL;
        return -ENOMEM;
    }
    d->ctx = ctx;
    return 0;
}

void td_digest_field(struct td_digest *d, const char *s)
{
    if (!d->ctx)
        return;
    char prefix[24];
    int n = s ? snprintf(prefix, sizeof(prefix), "%zu:", strlen(s))
              : snprintf(prefix, sizeof(prefix), "-:");
    EVP_DigestUpdate(d->ctx, prefix, (size_t)n);
    if (s)
        EVP_DigestUpdate(d->ctx, s, strlen(s));
}

void td_digest_end(struct td_digest *d, char *hex, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (cap)
        hex[0] = '\0';
    if (!d->ctx)
        return;
    EVP_DigestFinal_ex(d->ctx, md, &len);
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
    static const char digits[] = "0123456789abcdef";
    size_t k = 0;
    for (unsigned i = 0; i < len && k + 2 < cap; i++) {
        hex[k++] = digits[md[i] >> 4];
        hex[k++] = digits[md[i] & 15];
    }
    hex[k] = '\0';
}
