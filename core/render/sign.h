/* sign: HMAC-SHA256 tokens the engine hands out and checks later: the secret
 * path of a channel's callback route, and one-click unsubscribe links. */
#ifndef TD_SIGN_H
#define TD_SIGN_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the first bytes of HMAC-SHA256(secret, message) as lower-case hex
 * (hex_len characters, at most 64) into out. Returns 0 or -EINVAL. */
int td_sign_hex(const char *secret, const char *message, size_t hex_len, char *out, size_t cap);

/* A token carrying payload: base64url(payload) "." base64url(HMAC-SHA256)[:22].
 * Returns 0 or -EINVAL (too long for cap). */
int td_sign_token(const char *secret, const char *payload, char *out, size_t cap);

/* Checks a token made by td_sign_token (in constant time) and writes its payload
 * into out. Returns 0, or -EINVAL when it is malformed or its signature is wrong. */
int td_sign_open(const char *secret, const char *token, char *out, size_t cap);

#endif
