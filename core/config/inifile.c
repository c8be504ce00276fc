/* inifile: reads an INI file with inih into sections and keys, keeping the line
 * of every key so later checks can name file, section and line. */
#include "config/inifile.h"

#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ini_reader_state {
    FILE *file;
    int line;             /* line number of the line inih is looking at */
    int last_header_line; /* line of the most recent "[section]" */
    struct td_ini *ini;
    struct td_diag *diag;
    const char *current; /* the section of the previous key, to spot repeats */
    int failed;
};

/* inih reads through this, so we know which line each key came from. */
static char *ini_reader_gets(char *str, int num, void *stream)
{
    struct ini_reader_state *st = stream;
    char *line = fgets(str, num, st->file);
    if (!line)
        return NULL;
    st->line++;
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[')
        st->last_header_line = st->line;
    return line;
}

static struct td_ini_section *ini_section_add(struct td_ini *ini, const char *name, int line)
{
    if (ini->count == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 8;
        struct td_ini_section *p = realloc(ini->sections, cap * sizeof(*p));
        if (!p)
            return NULL;
        ini->sections = p;
        ini->cap = cap;
    }
    struct td_ini_section *s = &ini->sections[ini->count];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    if (!s->name)
        return NULL;
    s->line = line;
    ini->count++;
    return s;
}

static int ini_entry_add(struct td_ini_section *s, const char *key, const char *value, int line)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct td_ini_entry *p = realloc(s->entries, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->entries = p;
        s->cap = cap;
    }
    struct td_ini_entry *e = &s->entries[s->count];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = line;
    e->used = 0;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return -ENOMEM;
    }
    s->count++;
    return 0;
}

static int ini_on_key(void *user, const char *section, const char *key, const char *value)
{
    struct ini_reader_state *st = user;
    const char *path = st->ini->path;
    if (!*section) {
        td_diag_add(st->diag, "%s:%d: key '%s' is outside any [section]", path, st->line, key);
        return 1;
    }
    struct td_ini_section *s = td_ini_section_find(st->ini, section);
    if (s && st->current && strcmp(st->current, section) != 0) {
        td_diag_add(st->diag, "%s:%d: [%s] appears twice (first at line %d)", path,
                    st->last_header_line, section, s->line);
    }
    if (!s) {
        s = ini_section_add(st->ini, section, st->last_header_line);
        if (!s) {
            st->failed = 1;
            return 0;
        }
    }
    st->current = s->name;
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->entries[i].key, key) == 0) {
            td_diag_add(st->diag, "%s:%d: [%s] key '%s' is set twice (first at line %d)", path,
                        st->line, section, key, s->entries[i].line);
            return 1;
        }
    }
    if (ini_entry_add(s, key, value, st->line) < 0) {
        st->failed = 1;
        return 0;
    }
    return 1;
}

int td_ini_read(const char *path, struct td_ini **out, struct td_diag *diag)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = errno;
        if (err != ENOENT)
            td_diag_add(diag, "%s: cannot read: %s", path, strerror(err));
        return -err;
    }
    struct td_ini *ini = calloc(1, sizeof(*ini));
    if (!ini || !(ini->path = strdup(path))) {
        free(ini);
        fclose(f);
        return -ENOMEM;
    }
    /* A value never continues on the next line: an indented line is a key. */
    ini_allow_multiline = false;
    struct ini_reader_state st = {.file = f, .ini = ini, .diag = diag};
    int rc = ini_parse_stream(ini_reader_gets, &st, ini_on_key, &st);
    fclose(f);
    if (st.failed || rc == -2) {
        td_ini_destroy(ini);
        return -ENOMEM;
    }
    if (rc > 0)
        td_diag_add(diag, "%s:%d: syntax error (expected '[section]' or 'key = value')", path, rc);
    *out = ini;
    return 0;
}

void td_ini_destroy(struct td_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->count; i++) {
        struct td_ini_section *s = &ini->sections[i];
        for (size_t j = 0; j < s->count; j++) {
            free(s->entries[j].key);
            free(s->entries[j].value);
        }
        free(s->entries);
        free(s->name);
    }
    free(ini->sections);
    free(ini->path);
    free(ini);
}

struct td_ini_section *td_ini_section_find(const struct td_ini *ini, const char *name)
{
    for (size_t i = 0; i < ini->count; i++) {
        if (strcmp(ini->sections[i].name, name) == 0)
            return &ini->sections[i];
    }
    return NULL;
}

struct td_ini_entry *td_ini_entry_take(struct td_ini_section *section, const char *key)
{
    for (size_t i = 0; i < section->count; i++) {
        if (strcmp(section->entries[i].key, key) == 0) {
            section->entries[i].used = 1;
            return &section->entries[i];
        }
    }
    return NULL;
}
