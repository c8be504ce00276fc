/* admin_auth: who is calling the admin API. The bearer token of a request
 * is compared, in constant time, against every token the configuration
 * names, so the answer takes as long whichever token (if any) it is. */
#ifndef TD_ADMIN_AUTH_H
#define TD_ADMIN_AUTH_H

#include "config/admin_tokens.h"
#include "config/config.h"

/* The caller of a request that may go on. */
struct td_admin_caller {
    enum td_admin_role role;
    char name[64]; /* the token's name ("anna"), or "operator" */
};

/* Decides whether the request with header authorization ("Bearer <token>",
 * or NULL) may act on organization org of conf. Returns 0 with *caller;
 * -EACCES when it has no token or one no configuration names (answer 401);
 * -ENOENT when org is not one of conf's, or the token is another
 * organization's (answer 404, the same as for an unknown path). */
int td_admin_authorize(const struct td_conf *conf, const char *org, const char *authorization,
                       struct td_admin_caller *caller);

#endif
