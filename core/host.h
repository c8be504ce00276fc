/* host: the td_host table each plugin instance gets: the engine's services
 * (log, clock, HTTP routes and client, event submission) bound to it. */
#ifndef TD_HOST_H
#define TD_HOST_H

#include "tidings/plugin.h"

struct td_instance;

/* Fills host for instance (borrowed; must outlive the host). */
void td_host_init(struct td_host *host, struct td_instance *instance);

#endif
