/* digest: a SHA-256 digest over a sequence of text fields, written as hex.
 * Configuration fingerprints are made with it: they change whenever any
 * field does, and say nothing usable about a secret among the fields. */
#ifndef TD_DIGEST_H
#define TD_DIGEST_H

#include <stddef.h>

struct td_digest {
    void *ctx; /* OpenSSL's EVP_MD_CTX */
};

/* Starts a digest. Returns 0, or -ENOMEM. */
int td_digest_begin(struct td_digest *d);

/* Adds one field (NULL is a field of its own, apart from ""): fields are
 * length-prefixed, so ("ab", "c") and ("a", "bc") differ. */
void td_digest_field(struct td_digest *d, const char *s);

/* Ends the digest and writes its first cap - 1 hex digits (at most 64) into
 * hex. Frees what the digest held. */
void td_digest_end(struct td_digest *d, char *hex, size_t cap);

#endif
