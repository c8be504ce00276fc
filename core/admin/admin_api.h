/* admin_api: the admin API on the engine's HTTP server, under
 * /v1/admin/orgs/<org>/..., described by docs/openapi.yaml. Every request
 * carries a bearer token (admin_auth.c); a token reaches its own
 * organization only (the operator token every one); answers are JSON. */
#ifndef TD_ADMIN_API_H
#define TD_ADMIN_API_H

struct td_engine;

/* Registers the admin routes on the engine's HTTP server. Returns 0 or a
 * negative errno. */
int td_admin_routes(struct td_engine *engine);

#endif
