/* libFuzzer target: a sequences and templates file as `tidings sequences
 * validate` and `import --org` check it as a whole (every document, template
 * references, channels served and configured, file lines by the JSON
 * locator), and the locator alone on the same text. */
#include "util/json_locate.h"
#include "expand/objects_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    static char *served[] = {"email", "sms", "whatsapp", NULL};
    static char *configured[] = {"email", "sms", NULL};
    static char org[] = "acme", org_file[] = "conf.d/acme.ini";
    struct td_channel_names names = {served, configured, org, org_file};
    json_error_t jerr;
    json_t *known =
        json_loads("[{\"key\":\"saved\",\"channel\":\"sms\",\"text\":\"x\"}]", 0, &jerr);
    struct td_diag diag = {0}, warnings = {0};
    json_t *doc = td_objects_file_check("fuzz.json", text, size, known, &names, &diag, &warnings);
    /* every problem is one line naming the file */
    for (size_t i = 0; i < diag.count; i++) {
        if (diag.lines[i] && strncmp(diag.lines[i], "fuzz.json", 9) != 0)
            abort();
    }
    static const char *const paths[] = {"",
                                        "sequences",
                                        "sequences[0]",
                                        "sequences[0].steps[1].at.offset",
                                        "templates[0].text",
                                        "[0][1].a",
                                        "a.b[2].c",
                                        "sequences[99999999999999999999]"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int line = td_json_locate(text, size, paths[i]);
        if (line < 0 || (size_t)line > size + 1)
            abort();
    }
    td_diag_clear(&diag);
    td_diag_clear(&warnings);
    json_decref(doc);
    json_decref(known);
    return 0;
}
