/* admin_tokens: the [admin.<name>] sections of an organization's file. */
#include "config/admin_tokens.h"

#include "config/config_value.h"
#include "config/secret.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *td_admin_role_name(enum td_admin_role role)
{
    switch (role) {
    case TD_ADMIN_VIEWER: return "viewer";
    case TD_ADMIN_EDITOR: return "editor";
    case TD_ADMIN_OPERATOR: return "operator";
    }
    return "?";
}

int td_admin_token_section(const char *path, const char *dir, struct td_ini_section *s,
                           struct td_admin_tokens *tokens, struct td_diag *diag)
{
    const char *name = s->name + strlen("admin.");
    int problems = 0;
    char err[256] = "";
    char *checked = NULL;
    if (td_value_normalize(TD_VALUE_ID, name, NULL, 0, 0, &checked, err, sizeof(err)) < 0) {
        td_diag_add(diag, "%s:%d: [%s] bad section name: %s", path, s->line, s->name, err);
        problems++;
    }
    free(checked);
    enum td_admin_role role = 0;
    struct td_ini_entry *r = td_ini_entry_take(s, "role");
    if (!r)
        td_diag_add(diag, "%s:%d: [%s] missing required key 'role' (viewer or editor)", path,
                    s->line, s->name);
    else if (strcmp(r->value, "viewer") == 0)
        role = TD_ADMIN_VIEWER;
    else if (strcmp(r->value, "editor") == 0)
        role = TD_ADMIN_EDITOR;
    else
        td_diag_add(diag, "%s:%d: [%s] role: '%s' is not viewer or editor", path, r->line, s->name,
                    r->value);
    problems += role == 0;
    char *secret = NULL;
    struct td_ini_entry *t = td_ini_entry_take(s, "token");
    if (!t) {
        td_diag_add(diag, "%s:%d: [%s] missing required key 'token' (env:NAME or file:PATH)", path,
                    s->line, s->name);
        problems++;
    } else if (!td_secret_is_reference(t->value)) {
        td_diag_add(diag,
                    "%s:%d: [%s] token is a secret: give it as env:NAME or file:PATH, not as "
                    "text in the file",
                    path, t->line, s->name);
        problems++;
    } else {
        int rc = td_secret_resolve(t->value, dir, &secret, err, sizeof(err));
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0) {
            td_diag_add(diag, "%s:%d: [%s] token: %s", path, t->line, s->name, err);
            problems++;
        } else if (strlen(secret) < TD_ADMIN_TOKEN_MIN) {
            td_diag_add(diag,
                        "%s:%d: [%s] token: shorter than %d characters (make one with: "
                        "openssl rand -hex 32)",
                        path, t->line, s->name, TD_ADMIN_TOKEN_MIN);
            problems++;
        }
    }
    for (size_t i = 0; i < s->count; i++) {
        if (!s->entries[i].used) {
            td_diag_add(diag, "%s:%d: [%s] unknown key '%s' (known: role, token)", path,
                        s->entries[i].line, s->name, s->entries[i].key);
            problems++;
        }
    }
    if (problems) {
        if (secret)
            memset(secret, 0, strlen(secret));
        free(secret);
        return problems;
    }
    struct td_admin_token *items = realloc(tokens->items, (tokens->count + 1) * sizeof(*items));
    char *copy = strdup(name);
    if (!items || !copy) {
        if (items)
            tokens->items = items;
        free(copy);
        memset(secret, 0, strlen(secret));
        free(secret);
        return -ENOMEM;
    }
    tokens->items = items;
    items[tokens->count++] = (struct td_admin_token){copy, role, secret};
    return 0;
}

void td_admin_tokens_clear(struct td_admin_tokens *tokens)
{
    for (size_t i = 0; i < tokens->count; i++) {
        free(tokens->items[i].name);
        if (tokens->items[i].secret) {
            memset(tokens->items[i].secret, 0, strlen(tokens->items[i].secret));
            free(tokens->items[i].secret);
        }
    }
    free(tokens->items);
    tokens->items = NULL;
    tokens->count = 0;
}
