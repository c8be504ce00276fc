/* webhook_signature: Standard Webhooks signatures, which Svix (Resend's webhooks) uses too. */
#include "webhook_signature.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int webhook_key_parse(const char *secret, struct webhook_key *key)
{
    static const char prefix[] = "whsec_";
    memset(key, 0, sizeof(*key));
    if (strncmp(secret, prefix, sizeof(prefix) - 1) != 0)
        return -EINVAL;
    const char *b64 = secret + sizeof(prefix) - 1;
    size_t len = strlen(b64);
    if (len < 4 || len % 4 != 0 || len / 4 * 3 > WEBHOOK_KEY_MAX)
        return -EINVAL;
    int n = EVP_DecodeBlock(key->bytes, (const unsigned char *)b64, (int)len);
    if (n < 0)
        return -EINVAL;
    /* EVP_DecodeBlock counts padding as zero bytes; drop them */
    if (len >= 1 && b64[len - 1] == '=')
        n--;
    if (len >= 2 && b64[len - 2] == '=')
        n--;
    if (n < 16) /* the standard asks for 24 to 64 random bytes; refuse toy keys */
        return -EINVAL;
    key->len = (size_t)n;
    return 0;
}

int webhook_sign(const struct webhook_key *key, const char *id, const char *timestamp,
                 const char *body, size_t body_len, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t out_len = 0;
    int ok = ctx && EVP_MAC_init(ctx, key->bytes, key->len, params) &&
             EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) &&
             EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
             EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp)) &&
             EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
             EVP_MAC_update(ctx, (const unsigned char *)body, body_len) &&
             EVP_MAC_final(ctx, mac, &out_len, sizeof(mac));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    mac_len = (unsigned int)out_len;
    if (!ok || cap < 4 + (mac_len + 2) / 3 * 4 + 1)
        return -EINVAL;
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)mac_len);
    return 0;
}

bool webhook_signature_valid(const struct webhook_key *key, const char *id, const char *timestamp,
                             const char *body, size_t body_len, const char *header)
{
    char expected[128];
    if (!header || webhook_sign(key, id, timestamp, body, body_len, expected, sizeof(expected)) < 0)
        return false;
    size_t elen = strlen(expected);
    bool match = false;
    const char *p = header;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* every entry is compared, so timing does not tell which one matched */
        if (len == elen && CRYPTO_memcmp(p, expected, elen) == 0)
            match = true;
        p += len;
    }
    return match;
}

int webhook_timestamp_parse(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 12)
        return -EINVAL;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}
