/* peers: the engines that share this database, and their agreement on each
 * organization's configuration. Every few seconds an engine records that it
 * is alive (tidings.engines) and the configuration fingerprint it runs for
 * each of its organizations (tidings.engine_orgs), and reads the others'.
 * For each organization, the fingerprint of the engine that started first
 * (among those alive) is the one that counts: an engine whose fingerprint
 * differs does not send for that organization, take its bookings or expand
 * its events. It logs why, once, and /metrics shows it
 * (tidings_org_config_conflict). An organization is not served until the
 * first comparison is done. */
#ifndef TD_PEERS_H
#define TD_PEERS_H

struct td_engine;
struct td_peers;

/* Registers this engine, compares the running world's organizations once
 * (before returning) and starts the thread that keeps doing both. Returns 0
 * and *out, or a negative errno. */
int td_peers_start(struct td_engine *engine, struct td_peers **out);

/* The engine runs another world: publishes its fingerprints and compares
 * them now (waits for that, a few seconds at most). NULL is a no-op. */
void td_peers_changed(struct td_peers *p);

/* Stops the thread and removes this engine's registration. NULL is a no-op. */
void td_peers_stop(struct td_peers *p);

#endif
