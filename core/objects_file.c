/* objects_file: a file of sequences and templates, checked as a whole. */
#include "objects_file.h"

#include "sequence.h"
#include "sms.h"
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

/* Checks that template key exists for channel; where names the send. */
static void check_send_template(const char *path, const char *where, json_t *templates,
                                json_t *known, const char *key, const char *channel,
                                struct td_diag *diag)
{
    const char *ch = template_channel(templates, known, key);
    if (!ch)
        td_diag_add(diag, "%s: %s.template: '%s' does not exist", path, where, key);
    else if (strcmp(ch, channel) != 0)
        td_diag_add(diag, "%s: %s.template: '%s' is a %s template, not %s", path, where, key, ch,
                    channel);
}

/* Warns when an SMS template's sample rendering needs more than one segment. */
static void warn_sms_segments(const char *path, size_t index, const struct td_template *t,
                              struct td_diag *warnings)
{
    if (strcmp(t->channel, "sms") != 0)
        return;
    json_t *sample = NULL;
    char err[200];
    if (td_template_sample(t, &sample, err, sizeof(err)) < 0)
        return;
    struct td_sms_size size = td_sms_measure(json_string_value(json_object_get(sample, "text")));
    if (size.segments > 1)
        td_diag_add(warnings,
                    "%s: templates[%zu] (%s): the sample renders to %zu %s characters, %zu SMS "
                    "segments",
                    path, index, t->key, size.units, size.gsm7 ? "GSM-7" : "UCS-2", size.segments);
    json_decref(sample);
}

json_t *td_objects_file_load(const char *path, json_t *known_templates, struct td_diag *diag,
                             struct td_diag *warnings)
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
        else if (warnings)
            warn_sms_segments(path, i, t, warnings);
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
                char where[96];
                snprintf(where, sizeof(where), "sequences[%zu].steps[%zu].send[%zu]", i, st, x);
                check_send_template(path, where, templates, known_templates, send->template_key,
                                    send->channel, diag);
                size_t f;
                json_t *fb;
                json_array_foreach(send->fallback, f, fb)
                {
                    char fwhere[128];
                    snprintf(fwhere, sizeof(fwhere), "%s.fallback[%zu]", where, f);
                    check_send_template(path, fwhere, templates, known_templates,
                                        json_string_value(json_object_get(fb, "template")),
                                        json_string_value(json_object_get(fb, "channel")), diag);
                }
            }
        }
        td_sequence_destroy(s);
    }
    check_unique_keys(path, "sequences", sequences, diag);
    check_unique_keys(path, "templates", templates, diag);
    return doc;
}
