/* libFuzzer target: the template checker and renderer (admin-written text
 * rendered with booking data). */
#include "render/render.h"
#include "render/template.h"

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
    json_error_t jerr;
    json_t *ctx = json_loads("{\"firstName\":\"Anna\",\"data\":{\"items\":[{\"n\":1},{\"n\":2}],"
                             "\"boat\":\"<b>\"},\"yes\":true}",
                             0, &jerr);
    char err[200], *out = NULL;
    if (td_render(text, ctx, true, &out, err, sizeof(err)) == 0)
        free(out);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "key", "t", "channel", "email", "subject", "s",
                            "text", text);
    struct td_template *t = NULL;
    if (doc && td_template_parse(doc, &t, err, sizeof(err)) == 0)
        td_template_destroy(t);
    json_decref(doc);
    json_decref(ctx);
    free(text);
    return 0;
}
