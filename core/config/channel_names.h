/* channel_names: the channel names a sequences file may send on: those the
 * channel plugins on the plugin path serve, and those an organization has
 * configured (a [channel.<name>] section in its conf.d/<org>.ini). */
#ifndef TD_CHANNEL_NAMES_H
#define TD_CHANNEL_NAMES_H

#include "config/config.h"

#include <stdbool.h>

struct td_channel_names {
    char **served;     /* sorted, distinct, NULL-terminated; "*": some plugin serves any */
    char **configured; /* NULL-terminated, or NULL: no organization to check against */
    char *org;         /* the organization's id, or NULL */
    char *org_file;    /* its conf.d/<org>.ini, or NULL */
};

/* Loads every plugin on plugin_path (refused ones serve nothing) and collects
 * what the channel plugins serve; with org (may be NULL), also the channels
 * it configured. Returns 0 and *out (caller destroys), or -ENOMEM. */
int td_channel_names_create(const char *plugin_path, const struct td_org_config *org,
                            struct td_channel_names **out);

/* Frees the names; NULL is a no-op. */
void td_channel_names_destroy(struct td_channel_names *names);

/* True when some plugin serves channel ("*" serves any). */
bool td_channel_names_served(const struct td_channel_names *names, const char *channel);

/* True when there is no organization to check or it configured channel. */
bool td_channel_names_configured(const struct td_channel_names *names, const char *channel);

#endif
