/* fake_client: a tiny blocking HTTP/1.1 client (plain http:// only) with which
 * the fake delivers webhooks "from the provider" (POST /_control/send). */
#ifndef FAKE_CLIENT_H
#define FAKE_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct fake_client_answer {
    int status;
    char *body; /* malloc'ed, NUL-terminated (chunked bodies decoded) */
    size_t body_len;
};

/* Sends one request and reads the whole answer; -1 with a reason in err. headers is an object
 * of strings (may be NULL). */
int fake_client_request(const char *method, const char *url, const json_t *headers,
                        const char *body, size_t body_len, long timeout_ms,
                        struct fake_client_answer *answer, char *err, size_t errcap);
/* Frees what an answer holds. */
void fake_client_answer_clear(struct fake_client_answer *answer);

#endif
