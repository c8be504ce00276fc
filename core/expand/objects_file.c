/* objects_file: a file of sequences and templates, checked as a whole. */
#include "expand/objects_file.h"

#include "util/buf.h"
#include "util/json_locate.h"
#include "expand/sequence.h"
#include "render/sms.h"
#include "render/template.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths in the file: "sequences[0].steps[1].send[0].fallback[2]". */
#define OBJ_PATH_MAX 256

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

static void check_unique_keys(const char *what, json_t *list, struct td_diag *found)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *a = json_string_value(json_object_get(json_array_get(list, i), "key"));
        for (size_t j = 0; a && j < i; j++) {
            const char *b = json_string_value(json_object_get(json_array_get(list, j), "key"));
            if (b && strcmp(a, b) == 0) {
                char path[OBJ_PATH_MAX];
                snprintf(path, sizeof(path), "%s[%zu].key", what, i);
                td_diag_add_at(found, path, "'%s' is also %s[%zu]", a, what, j);
                break;
            }
        }
    }
}

/* The channels plugins serve, for a message: "email, sms, whatsapp". */
static void served_list(const struct td_channel_names *names, struct td_buf *out)
{
    for (char **s = names->served; s && *s; s++) {
        if (strcmp(*s, "*") != 0)
            td_buf_printf(out, "%s%s", out->len ? ", " : "", *s);
    }
    if (!out->len)
        td_buf_puts(out, "no channel plugin on the plugin path");
}

/* Checks that channel, named at path, can be sent on: some plugin serves it
 * and, for a send (configured true), the organization has configured it. */
static void check_channel(const char *path, const char *channel, bool configured,
                          const struct td_channel_names *names, struct td_diag *found)
{
    if (!names)
        return;
    if (!td_channel_names_served(names, channel)) {
        struct td_buf list = {0};
        served_list(names, &list);
        td_diag_add_at(found, path, "'%s' is not a channel any plugin serves (%s)", channel,
                       td_buf_str(&list));
        td_buf_reset(&list);
    } else if (configured && !td_channel_names_configured(names, channel)) {
        td_diag_add_at(found, path,
                       "'%s' is not configured for organization %s (no [channel.%s] in %s): "
                       "configure it there, or pass --allow-unconfigured-channels to import it "
                       "anyway (for a channel configured later)",
                       channel, names->org, channel, names->org_file);
    }
}

/* Checks one send (or fallback) at where: its template exists for its
 * channel, and the channel can be sent on. Members that are missing or not
 * strings are the sequence parser's to name. */
static void check_send(const char *where, json_t *send, json_t *templates, json_t *known,
                       const struct td_channel_names *names, struct td_diag *found)
{
    const char *channel = json_string_value(json_object_get(send, "channel"));
    const char *key = json_string_value(json_object_get(send, "template"));
    char path[OBJ_PATH_MAX];
    if (channel && *channel) {
        snprintf(path, sizeof(path), "%s.channel", where);
        check_channel(path, channel, true, names, found);
    }
    if (!key || !*key)
        return;
    snprintf(path, sizeof(path), "%s.template", where);
    const char *ch = template_channel(templates, known, key);
    if (!ch)
        td_diag_add_at(found, path, "'%s' does not exist", key);
    else if (channel && *channel && strcmp(ch, channel) != 0)
        td_diag_add_at(found, path, "'%s' is a %s template, not %s", key, ch, channel);
}

/* Checks every send and fallback of sequence index, as far as it has them. */
static void check_sequence_sends(size_t index, json_t *seq, json_t *templates, json_t *known,
                                 const struct td_channel_names *names, struct td_diag *found)
{
    size_t st, x, f;
    json_t *step, *send, *fb;
    json_array_foreach(json_object_get(seq, "steps"), st, step)
    {
        json_array_foreach(json_object_get(step, "send"), x, send)
        {
            if (!json_is_object(send))
                continue;
            char where[OBJ_PATH_MAX];
            snprintf(where, sizeof(where), "sequences[%zu].steps[%zu].send[%zu]", index, st, x);
            check_send(where, send, templates, known, names, found);
            json_array_foreach(json_object_get(send, "fallback"), f, fb)
            {
                if (!json_is_object(fb))
                    continue;
                char fwhere[OBJ_PATH_MAX + 32];
                snprintf(fwhere, sizeof(fwhere), "%s.fallback[%zu]", where, f);
                check_send(fwhere, fb, templates, known, names, found);
            }
        }
    }
}

/* Warns when an SMS template's sample rendering needs more than one segment. */
static void warn_sms_segments(const char *name, const char *text, size_t len, size_t index,
                              const struct td_template *t, struct td_diag *warnings)
{
    if (strcmp(t->channel, "sms") != 0)
        return;
    json_t *sample = NULL;
    char err[200];
    if (td_template_sample(t, &sample, err, sizeof(err)) < 0)
        return;
    struct td_sms_size size = td_sms_measure(json_string_value(json_object_get(sample, "text")));
    char path[64];
    snprintf(path, sizeof(path), "templates[%zu]", index);
    int line = td_json_locate(text, len, path);
    char where[32] = "";
    if (line)
        snprintf(where, sizeof(where), ":%d", line);
    if (size.segments > 1)
        td_diag_add(
            warnings, "%s%s: %s (%s): the sample renders to %zu %s characters, %zu SMS segments",
            name, where, path, t->key, size.units, size.gsm7 ? "GSM-7" : "UCS-2", size.segments);
    json_decref(sample);
}

/* Checks the documents of a file that is an object; problems go to found. */
static void check_documents(json_t *doc, const char *name, const char *text, size_t len,
                            json_t *known, const struct td_channel_names *names,
                            struct td_diag *found, struct td_diag *warnings)
{
    json_t *sequences = json_object_get(doc, "sequences");
    json_t *templates = json_object_get(doc, "templates");
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "sequences") != 0 && strcmp(k, "templates") != 0)
            td_diag_add_at(found, k, "unknown member (expected sequences, templates)");
        else if (!json_is_array(v))
            td_diag_add_at(found, k, "must be an array of %s", k);
    }
    if (!json_is_array(templates))
        templates = NULL;
    if (!json_is_array(sequences))
        sequences = NULL;
    size_t i;
    json_t *item;
    char root[64];
    json_array_foreach(sequences, i, item)
    {
        snprintf(root, sizeof(root), "sequences[%zu]", i);
        struct td_sequence *s = NULL;
        td_sequence_parse_all(item, root, &s, found);
        td_sequence_destroy(s);
        check_sequence_sends(i, item, templates, known, names, found);
    }
    json_array_foreach(templates, i, item)
    {
        snprintf(root, sizeof(root), "templates[%zu]", i);
        struct td_template *t = NULL;
        if (td_template_parse_all(item, root, &t, found) == 0 && warnings)
            warn_sms_segments(name, text, len, i, t, warnings);
        td_template_destroy(t);
        const char *channel = json_string_value(json_object_get(item, "channel"));
        /* a template sends nothing by itself: only a send needs its channel configured */
        if (channel && *channel) {
            snprintf(root, sizeof(root), "templates[%zu].channel", i);
            check_channel(root, channel, false, names, found);
        }
    }
    check_unique_keys("sequences", sequences, found);
    check_unique_keys("templates", templates, found);
}

struct located {
    int line; /* 0: no line */
    size_t index;
};

/* In file order: by line, lineless last, else as found. */
static int cmp_located(const void *a, const void *b)
{
    const struct located *x = a, *y = b;
    long lx = x->line ? x->line : INT_MAX, ly = y->line ? y->line : INT_MAX;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Moves the problems in found to diag, each with the file and its line. */
static void report(const struct td_diag *found, const char *name, const char *text, size_t len,
                   struct td_diag *diag)
{
    struct located *order = calloc(found->count ? found->count : 1, sizeof(*order));
    for (size_t i = 0; order && i < found->count; i++) {
        const char *path = td_diag_path(found, i);
        order[i].line = path ? td_json_locate(text, len, path) : 0;
        order[i].index = i;
    }
    if (order)
        qsort(order, found->count, sizeof(*order), cmp_located);
    for (size_t n = 0; n < found->count; n++) {
        size_t i = order ? order[n].index : n;
        const char *line = found->lines[i] ? found->lines[i] : "(out of memory)";
        if (order && order[n].line)
            td_diag_add(diag, "%s:%d: %s", name, order[n].line, line);
        else
            td_diag_add(diag, "%s: %s", name, line);
    }
    free(order);
}

json_t *td_objects_file_check(const char *name, const char *text, size_t len,
                              json_t *known_templates, const struct td_channel_names *channels,
                              struct td_diag *diag, struct td_diag *warnings)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (jerr.line < 0)
            td_diag_add(diag, "%s: %s", name, jerr.text);
        else
            td_diag_add(diag, "%s:%d:%d: malformed JSON: %s", name, jerr.line, jerr.column,
                        jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        td_diag_add(diag, "%s: expected {\"sequences\": [...], \"templates\": [...]}", name);
        return doc;
    }
    struct td_diag found = {0};
    check_documents(doc, name, text, len, known_templates, channels, &found, warnings);
    report(&found, name, text, len, diag);
    td_diag_clear(&found);
    return doc;
}

json_t *td_objects_file_load(const char *path, json_t *known_templates,
                             const struct td_channel_names *channels, struct td_diag *diag,
                             struct td_diag *warnings)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        td_diag_add(diag, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    struct td_buf text = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        td_buf_append(&text, chunk, n);
    int read_error = ferror(f);
    fclose(f);
    json_t *doc = NULL;
    if (read_error)
        td_diag_add(diag, "%s: cannot read: %s", path, strerror(EIO));
    else if (text.failed)
        td_diag_add(diag, "%s: cannot read: %s", path, strerror(ENOMEM));
    else
        doc = td_objects_file_check(path, td_buf_str(&text), text.len, known_templates, channels,
                                    diag, warnings);
    td_buf_reset(&text);
    return doc;
}
