/* admin_auth: bearer tokens against the configuration, in constant time. */
#include "admin/admin_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Whether secret equals the presented token, comparing SHA-256 digests with
 * CRYPTO_memcmp: the time depends on neither the content nor the length. */
static bool token_matches(const unsigned char *presented, const char *secret)
{
    unsigned char want[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)secret, strlen(secret), want);
    return CRYPTO_memcmp(presented, want, sizeof(want)) == 0;
}

int td_admin_authorize(const struct td_conf *conf, const char *org, const char *authorization,
                       struct td_admin_caller *caller)
{
    memset(caller, 0, sizeof(*caller));
    const struct td_org_config *target = NULL;
    for (size_t i = 0; i < conf->org_count; i++) {
        if (strcmp(conf->orgs[i].id, org) == 0)
            target = &conf->orgs[i];
    }
    const char *token = NULL;
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        token = authorization + 7;
        while (*token == ' ')
            token++;
    }
    if (!target)
        return -ENOENT;
    if (!token || !*token)
        return -EACCES;
    unsigned char presented[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), presented);
    /* every token is compared, wherever the match is */
    bool mine = false, elsewhere = false;
    for (size_t i = 0; i < conf->org_count; i++) {
        const struct td_admin_tokens *t = &conf->orgs[i].admin;
        for (size_t k = 0; k < t->count; k++) {
            if (!token_matches(presented, t->items[k].secret))
                continue;
            if (&conf->orgs[i] == target) {
                mine = true;
                caller->role = t->items[k].role;
                snprintf(caller->name, sizeof(caller->name), "%s", t->items[k].name);
            } else {
                elsewhere = true;
            }
        }
    }
    const char *op = conf->engine.admin_operator_token;
    if (op && *op && token_matches(presented, op)) {
        caller->role = TD_ADMIN_OPERATOR;
        snprintf(caller->name, sizeof(caller->name), "operator");
        return 0;
    }
    if (mine)
        return 0;
    return elsewhere ? -ENOENT : -EACCES;
}
