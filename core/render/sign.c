/* sign: HMAC-SHA256 tokens the engine hands out and checks later. */
#include "render/sign.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define SIGN_MAC_CHARS 22 /* 132 bits of the MAC in base64url */

static int sign_mac(const char *secret, const char *message, unsigned char *mac, unsigned *mac_len)
{
    return HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)message,
                strlen(message), mac, mac_len)
               ? 0
               : -EINVAL;
}

int td_sign_hex(const char *secret, const char *message, size_t hex_len, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (hex_len > 64 || cap <= hex_len || sign_mac(secret, message, mac, &mac_len) < 0)
        return -EINVAL;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < hex_len; i++)
        out[i] = hex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[hex_len] = '\0';
    return 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding; returns the length written or -1 when cap is short. */
static int b64url_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        size_t chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (size_t k = 0; k < chars; k++) {
            if (o + 1 >= cap)
                return -1;
            out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
        }
    }
    out[o] = '\0';
    return (int)o;
}

static int b64url_value(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

/* Decodes base64url (no padding) of len characters; returns bytes or -1. */
static int b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int x = b64url_value(in[i]);
        if (x < 0)
            return -1;
        v = v << 6 | (unsigned)x;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return (int)o;
}

int td_sign_token(const char *secret, const char *payload, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    char macb64[64];
    if (sign_mac(secret, payload, mac, &mac_len) < 0 ||
        b64url_encode(mac, mac_len, macb64, sizeof(macb64)) < SIGN_MAC_CHARS)
        return -EINVAL;
    macb64[SIGN_MAC_CHARS] = '\0';
    int n = b64url_encode((const unsigned char *)payload, strlen(payload), out, cap);
    if (n < 0 || (size_t)n + 1 + SIGN_MAC_CHARS + 1 > cap)
        return -EINVAL;
    snprintf(out + n, cap - (size_t)n, ".%s", macb64);
    return 0;
}

int td_sign_open(const char *secret, const char *token, char *out, size_t cap)
{
    const char *dot = token ? strchr(token, '.') : NULL;
    if (!dot || strlen(dot + 1) != SIGN_MAC_CHARS || cap < 2)
        return -EINVAL;
    int n = b64url_decode(token, (size_t)(dot - token), (unsigned char *)out, cap - 1);
    if (n < 0)
        return -EINVAL;
    out[n] = '\0';
    if (memchr(out, '\0', (size_t)n))
        return -EINVAL;
    char expected[1024];
    if (td_sign_token(secret, out, expected, sizeof(expected)) < 0)
        return -EINVAL;
    const char *edot = strchr(expected, '.');
    if (!edot || CRYPTO_memcmp(edot + 1, dot + 1, SIGN_MAC_CHARS) != 0)
        return -EINVAL;
    return 0;
}
