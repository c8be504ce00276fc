/* inifile: reads an INI file with inih into sections and keys, keeping the line
 * of every key so later checks can name file, section and line. */
#ifndef TD_INI_H
#define TD_INI_H

#include "util/diag.h"

#include <stddef.h>

struct td_ini_entry {
    char *key;
    char *value;
    int line;
    int used; /* set by whoever consumed the key; unused keys are "unknown" */
};

struct td_ini_section {
    char *name;
    int line;
    struct td_ini_entry *entries;
    size_t count;
    size_t cap;
};

struct td_ini {
    char *path;
    struct td_ini_section *sections;
    size_t count;
    size_t cap;
};

/* Reads path. Syntax errors, keys outside a section, duplicate keys and
 * repeated sections are added to diag as "path:line: ...". Returns 0 with
 * *out set (owned by the caller, free with td_ini_destroy) when the file was
 * read, even with problems in diag; -ENOENT when it does not exist, or another
 * negative errno when it cannot be read (a line is added to diag). */
int td_ini_read(const char *path, struct td_ini **out, struct td_diag *diag);

/* Frees an ini; NULL is a no-op. */
void td_ini_destroy(struct td_ini *ini);

/* Returns the section named name, or NULL. Borrowed from ini. */
struct td_ini_section *td_ini_section_find(const struct td_ini *ini, const char *name);
/* Returns the entry for key in section (and marks it used), or NULL. */
struct td_ini_entry *td_ini_entry_take(struct td_ini_section *section, const char *key);

#endif
