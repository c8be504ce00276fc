/* host: the td_host table each plugin instance gets: the engine's services
 * (log, clock, HTTP routes and client, event submission) bound to it. */
#ifndef TD_HOST_H
#define TD_HOST_H

#include "tidings/plugin.h"

#include <stddef.h>

struct td_engine_config;
struct td_instance;

/* The callback path of channel of org, "/v1/callbacks/<org>/<channel>/<token>"
 * (the token an HMAC of the callback secret: a credential, never logged),
 * into path, and the public URL ending in it into url ("" without [http]
 * public_url). Returns 0, -ENOENT without a callback secret (both ""), or
 * -EINVAL when path is too small. */
int td_host_callback(const struct td_engine_config *cfg, const char *org, const char *channel,
                     char *path, size_t pcap, char *url, size_t ucap);

/* Fills host for instance (borrowed; must outlive the host). */
void td_host_init(struct td_host *host, struct td_instance *instance);

#endif
