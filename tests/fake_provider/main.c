/* main: the fake provider's command line, signal handling and daemon lifetime.
 *
 *   fake_provider [--port N] [--resend-key KEY] [--infobip-key KEY] [--threads N] [--seed N]
 *
 * Prints "fake_provider listening on 127.0.0.1:PORT" once it accepts
 * connections; SIGTERM or SIGINT stops it (exit 0). */
#include "fake_faults.h"
#include "fake_logs.h"
#include "fake_server.h"
#include "fake_sleeper.h"
#include "fake_store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_THREADS 8
#define MAX_THREADS     256

static void usage(FILE *out)
{
    fprintf(out, "usage: fake_provider [--port N] [--resend-key KEY] [--infobip-key KEY] "
                 "[--threads N] [--seed N]\n"
                 "  --port N           port on 127.0.0.1 (0, the default: any free port)\n"
                 "  --resend-key KEY   the Resend API key accepted (default re_test_key)\n"
                 "  --infobip-key KEY  the Infobip API key accepted (default ib_test_key)\n"
                 "  --threads N        libmicrohttpd worker threads (default 8)\n"
                 "  --seed N           start the draws of faults with a \"probability\" from N\n"
                 "                     (0..2^64-1), again after each POST /_control/reset, so\n"
                 "                     that the same requests meet the same faults in every run\n"
                 "                     (default: a random start, not repeated)\n");
}

static int parse_seed(const char *s, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return -1; /* strtoull would take a sign or a space */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_number(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parses the command line, serves until SIGTERM or SIGINT, then stops cleanly (exit 0). */
int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"port", required_argument, NULL, 'p'},
        {"resend-key", required_argument, NULL, 'r'},
        {"infobip-key", required_argument, NULL, 'i'},
        {"threads", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long port = 0, threads = DEFAULT_THREADS;
    uint64_t seed = 0;
    bool seeded = false;
    struct fake_ctx ctx = {.resend_key = "re_test_key", .infobip_key = "ib_test_key"};
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_number(optarg, 0, 65535, &port) < 0) {
                fprintf(stderr, "fake_provider: --port must be 0..65535\n");
                return 2;
            }
            break;
        case 't':
            if (parse_number(optarg, 1, MAX_THREADS, &threads) < 0) {
                fprintf(stderr, "fake_provider: --threads must be 1..%d\n", MAX_THREADS);
                return 2;
            }
            break;
        case 's':
            if (parse_seed(optarg, &seed) < 0) {
                fprintf(stderr, "fake_provider: --seed must be an integer 0..%" PRIu64 "\n",
                        UINT64_MAX);
                return 2;
            }
            seeded = true;
            break;
        case 'r': ctx.resend_key = optarg; break;
        case 'i': ctx.infobip_key = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    /* Every thread libmicrohttpd starts inherits this mask; only sigwait below sees the
     * signals, so the shutdown runs in the main thread, outside any handler. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0);

    int rc = 1;
    unsigned bound = 0;
    atomic_init(&ctx.infobip_dedup, false);
    ctx.store = fake_store_create();
    ctx.faults = fake_faults_create();
    ctx.logs = fake_logs_create();
    ctx.sleeper = fake_sleeper_start();
    if (!ctx.store || !ctx.faults || !ctx.logs || !ctx.sleeper) {
        fprintf(stderr, "fake_provider: out of memory\n");
        goto out_state;
    }
    if (seeded)
        fake_faults_seed(ctx.faults, seed);
    struct MHD_Daemon *daemon = fake_server_start(&ctx, (unsigned)port, (unsigned)threads, &bound);
    if (!daemon) {
        fprintf(stderr, "fake_provider: cannot listen on 127.0.0.1:%ld\n", port);
        goto out_state;
    }
    printf("fake_provider listening on 127.0.0.1:%u\n", bound);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    fake_sleeper_stop(ctx.sleeper); /* libmicrohttpd refuses to stop with suspended requests */
    MHD_stop_daemon(daemon);
    rc = 0;
out_state:
    fake_sleeper_destroy(ctx.sleeper);
    fake_logs_destroy(ctx.logs);
    fake_faults_destroy(ctx.faults);
    fake_store_destroy(ctx.store);
    return rc;
}
