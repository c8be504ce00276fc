/* admin_tokens: who may use the admin API. An organization names its people
 * in [admin.<name>] sections (role = viewer or editor, token = env:/file:),
 * tidings.ini may name one operator token ([admin] operator_token) that
 * reaches every organization. Tokens are secrets: never logged, compared in
 * constant time (core/admin/admin_auth.c). */
#ifndef TD_ADMIN_TOKENS_H
#define TD_ADMIN_TOKENS_H

#include "config/inifile.h"
#include "util/diag.h"

#include <stddef.h>

enum td_admin_role {
    TD_ADMIN_VIEWER = 1,   /* reads */
    TD_ADMIN_EDITOR = 2,   /* reads and changes */
    TD_ADMIN_OPERATOR = 3, /* an editor of every organization */
};

/* The shortest token accepted: 32 characters (a guessable token is a
 * password anyone can try over the network). */
#define TD_ADMIN_TOKEN_MIN 32

struct td_admin_token {
    char *name; /* "anna" of [admin.anna] */
    enum td_admin_role role;
    char *secret; /* the token itself */
};

struct td_admin_tokens {
    struct td_admin_token *items;
    size_t count;
};

/* Adds the [admin.<name>] section s of the file at path (secrets relative to
 * dir) to tokens. Problems go to diag with file and line. Returns how many
 * problems it found, or -ENOMEM. */
int td_admin_token_section(const char *path, const char *dir, struct td_ini_section *s,
                           struct td_admin_tokens *tokens, struct td_diag *diag);

/* Frees what tokens holds (secrets wiped first) and empties it. */
void td_admin_tokens_clear(struct td_admin_tokens *tokens);

/* "viewer", "editor" or "operator". */
const char *td_admin_role_name(enum td_admin_role role);

#endif
