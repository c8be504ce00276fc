/* fake_server: the libmicrohttpd daemon and the per-request pipeline (read the
 * body, count, apply faults, route to Resend, Infobip or the control API). */
#ifndef FAKE_SERVER_H
#define FAKE_SERVER_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

struct fake_store;
struct fake_faults;
struct fake_sleeper;
struct fake_logs;

/* What every handler gets: the shared state, the expected API keys and the settings. */
struct fake_ctx {
    struct fake_store *store;
    struct fake_faults *faults;
    struct fake_sleeper *sleeper;
    struct fake_logs *logs;
    const char *resend_key;
    const char *infobip_key;
    atomic_bool infobip_dedup; /* a reused messageId is REJECTED_DUPLICATE_MESSAGE_ID */
};

/* Starts the daemon on 127.0.0.1:port (0: any free port) and stores the bound port; NULL on
 * failure. Before MHD_stop_daemon, stop ctx->sleeper (no connection may stay suspended). */
struct MHD_Daemon *fake_server_start(struct fake_ctx *ctx, unsigned port, unsigned threads,
                                     unsigned *bound_port);

#endif
