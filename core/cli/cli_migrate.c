/* cli_migrate: `tidings migrate`. */
#include "cli/cli.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>

static const char migrate_usage[] =
    "usage: tidings [-c FILE] migrate\n"
    "\n"
    "Creates the schema \"tidings\" or brings it up to the version this binary knows,\n"
    "applying each numbered migration once, in order, in its own transaction. Running it\n"
    "again changes nothing. It refuses a database whose schema is newer than it knows.\n";

int td_cli_migrate(const char *config_path, int argc, char **argv)
{
    if (td_cli_wants_help(argc, argv)) {
        fputs(migrate_usage, stdout);
        return TD_EXIT_OK;
    }
    if (argc > 0) {
        fprintf(stderr, "tidings migrate: unexpected argument '%s'\n", argv[0]);
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    int rc = td_cli_load_conf(config_path, &conf);
    if (rc != TD_EXIT_OK)
        return rc;
    char err[512];
    PGconn *c = td_db_connect(conf->engine.db_dsn, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "tidings migrate: cannot reach the database: %s\n", err);
        td_conf_destroy(conf);
        return TD_EXIT_FAILURE;
    }
    rc = td_migrate(c, stdout, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "tidings migrate: %s\n", err);
    } else {
        /* apps may submit bookings for the configured organizations from now on */
        json_t *orgs = json_array();
        for (size_t i = 0; i < conf->org_count; i++)
            json_array_append_new(orgs, json_pack("[s, s]", conf->orgs[i].id, conf->orgs[i].name));
        rc = td_store_organizations(c, orgs, err, sizeof(err));
        json_decref(orgs);
        if (rc < 0)
            fprintf(stderr, "tidings migrate: cannot register the organizations: %s\n", err);
    }
    PQfinish(c);
    td_conf_destroy(conf);
    return rc < 0 ? TD_EXIT_FAILURE : TD_EXIT_OK;
}
