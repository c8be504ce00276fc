/* objects_file: a file of sequences and templates, checked as a whole. */
#include "objects_file.h"

#include "sequence.h"
#include "template.h"

#include <stdio.h>
#include <string.h>

/* The channel of template key, from the file's templates or known ones. */
static const char *template_channel(json_t *templates, json_t *known, const char *key)
{
    json_t *lists[] = {templates, known};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *t;
        json_array_foreach(lists[l], i, t)
        {
            const char *k = json_string_value(json_object_get(t, "key"));
            if (k && strcmp(k, key) == 0)
                return json_string_value(json_object_get(t, "channel"));
        }
    }
    return NULL;
}

static void check_unique_keys(const char *path, const char *what, json_t *list,
                              struct td_diag *diag)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *a = json_string_value(json_object_get(json_array_get(list, i), "key"));
        for (size_t j = 0; a && j < i; j++) {
            const char *b = json_string_value(json_object_get(json_array_get(list, j), "key"));
            if (b && strcmp(a, b) == 0)
                td_diag_add(diag, "%s: %s[%zu].key: '%s' is also %s[%zu]", path, what, i, a, what,
                            j);
        }
    }
}

json_t *td_objects_file_load(const char *path, json_t *known_templates, struct td_diag *diag)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (jerr.line < 0)
            td_diag_add(diag, "%s: %s", path, jerr.text);
        else
            td_diag_add(diag, "%s:%d:%d: malformed JSON: %s", path, jerr.line, jerr.column,
                        jerr.text);
        return NULL;
    }
    json_t *sequences = json_object_get(doc, "sequences");
    json_t *templates = json_object_get(doc, "templates");
    if (!json_is_object(doc) || (sequences && !json_is_array(sequences)) ||
        (templates && !json_is_array(templates))) {
        td_diag_add(diag, "%s: expected {\"sequences\": [...], \"templates\": [...]}", path);
        return doc;
    }
    const char *allowed[] = {"sequences", "templates"};
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, allowed[0]) != 0 && strcmp(k, allowed[1]) != 0)
            td_diag_add(diag, "%s: %s: unknown member (expected sequences, templates)", path, k);
    }
    size_t i;
    json_t *item;
    char err[300];
    json_array_foreach(templates, i, item)
    {
        struct td_template *t = NULL;
        if (td_template_parse(item, &t, err, sizeof(err)) < 0)
            td_diag_add(diag, "%s: templates[%zu].%s", path, i, err);
        td_template_destroy(t);
    }
    json_array_foreach(sequences, i, item)
    {
        struct td_sequence *s = NULL;
        if (td_sequence_parse(item, &s, err, sizeof(err)) < 0) {
            td_diag_add(diag, "%s: sequences[%zu].%s", path, i, err);
            continue;
        }
        for (size_t st = 0; st < s->step_count; st++) {
            for (size_t x = 0; x < s->steps[st].send_count; x++) {
                const struct td_send *send = &s->steps[st].sends[x];
                const char *ch = template_channel(templates, known_templates, send->template_key);
                if (!ch)
                    td_diag_add(diag,
                                "%s: sequences[%zu].steps[%zu].send[%zu].template: '%s' "
                                "does not exist",
                                path, i, st, x, send->template_key);
                else if (strcmp(ch, send->channel) != 0)
                    td_diag_add(diag,
                                "%s: sequences[%zu].steps[%zu].send[%zu].template: '%s' is "
                                "a %s template, not %s",
                                path, i, st, x, send->template_key, ch, send->channel);
            }
        }
        td_sequence_destroy(s);
    }
    check_unique_keys(path, "sequences", sequences, diag);
    check_unique_keys(path, "templates", templates, diag);
    return doc;
}
