/* engine: builds the running engine (configuration, plugins and their
 * instances, the database pool, the HTTP server, the dispatcher, the peers),
 * runs it until a signal, reloads it on SIGHUP and takes it down. What the
 * stages share while it runs is in engine_state.h. */
#ifndef TD_ENGINE_H
#define TD_ENGINE_H

#include "config/config.h"
#include "engine_state.h"

/* Records the organizations of conf in the database (the SQL way in refuses
 * others). Returns 0 or -EIO (printed). */
int td_engine_register_orgs(struct td_engine *engine, const struct td_conf *conf);

/* Runs the engine with conf until SIGTERM or SIGINT: migrations must be
 * applied. Returns a process exit code. */

int td_engine_run(struct td_conf *conf);

#endif
