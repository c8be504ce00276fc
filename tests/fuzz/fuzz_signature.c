/* libFuzzer target: the signature parsers: a Standard Webhooks / Svix secret,
 * timestamp and signature header, and the engine's signed tokens (callback
 * paths, unsubscribe links). The input is split at newlines into
 * secret, id, timestamp, signature header and body. */
#include "render/sign.h"
#include "webhook_signature.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *parts[5] = {text, "", "", "", ""};
    for (int i = 1; i < 5; i++) {
        char *nl = strchr(parts[i - 1], '\n');
        if (!nl)
            break;
        *nl = '\0';
        parts[i] = nl + 1;
    }
    struct webhook_key key;
    int64_t ts;
    webhook_timestamp_parse(parts[2], &ts);
    if (webhook_key_parse(parts[0], &key) == 0)
        webhook_signature_valid(&key, parts[1], parts[2], parts[4], strlen(parts[4]), parts[3]);
    char payload[512];
    td_sign_open("a fuzzing secret", parts[3], payload, sizeof(payload));
    char token[1024];
    if (td_sign_token("a fuzzing secret", parts[1], token, sizeof(token)) == 0 &&
        td_sign_open("a fuzzing secret", token, payload, sizeof(payload)) != 0 &&
        strlen(parts[1]) < sizeof(payload))
        abort(); /* a token we made must open again */
    free(text);
    return 0;
}
