/* webhook_signature: Standard Webhooks signatures, which Svix (Resend's webhooks) uses too
 * (HMAC-SHA256 over
 * "{webhook-id}.{webhook-timestamp}.{body}", base64, "v1,<sig>"). */
#ifndef TD_WEBHOOK_SIGNATURE_H
#define TD_WEBHOOK_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_KEY_MAX 128

struct webhook_key {
    unsigned char bytes[WEBHOOK_KEY_MAX];
    size_t len;
};

/* Decodes "whsec_<base64>" into key. Returns 0 or -EINVAL. */
int webhook_key_parse(const char *secret, struct webhook_key *key);

/* Writes "v1,<base64 signature>" for id, timestamp and body into out (at
 * least 64 bytes). Returns 0 or -EINVAL. */
int webhook_sign(const struct webhook_key *key, const char *id, const char *timestamp,
                 const char *body, size_t body_len, char *out, size_t cap);

/* True when any "v1,<sig>" entry of the space-separated header matches, each
 * compared in constant time. */
bool webhook_signature_valid(const struct webhook_key *key, const char *id, const char *timestamp,
                             const char *body, size_t body_len, const char *header);

/* Parses a unix-seconds timestamp. Returns 0 or -EINVAL. */
int webhook_timestamp_parse(const char *s, int64_t *out);

#endif
