/* fake_provider_client: starts the tests' fake provider (tests/fake_provider)
 * on a free port, drives its control API (reset, faults, what it received)
 * and stops it; for plugin tests that run tidings/fake_host.h in its real
 * libcurl mode (FAKE_HOST_CURL). Test-tree only: not part of the SDK. */
#ifndef TD_FAKE_PROVIDER_CLIENT_H
#define TD_FAKE_PROVIDER_CLIENT_H

#define FAKE_HOST_CURL
#include "tidings/fake_host.h"

#include <jansson.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct fake_provider {
    FILE *out; /* its stdout, through popen */
    pid_t pid;
    int port;
    char url[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts bin on a free port and waits for its "listening" line. Returns 0,
 * or -1 (the reason on stderr). */
static inline int fake_provider_start(const char *bin, struct fake_provider *fp)
{
    char cmd[4200];
    memset(fp, 0, sizeof(*fp));
    /* the shell prints its pid, then becomes the fake: that pid is the fake's */
    snprintf(cmd, sizeof(cmd), "echo $$; exec '%s' --port 0 </dev/null", bin);
    fp->out = popen(cmd, "r");
    if (!fp->out) {
        perror("popen");
        return -1;
    }
    char line[256];
    long pid = 0;
    if (fgets(line, sizeof(line), fp->out))
        pid = strtol(line, NULL, 10);
    const char *prefix = "fake_provider listening on 127.0.0.1:";
    if (pid <= 0 || !fgets(line, sizeof(line), fp->out) ||
        strncmp(line, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "fake_provider did not start (%s)\n", bin);
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
        pclose(fp->out);
        fp->out = NULL;
        return -1;
    }
    fp->pid = (pid_t)pid;
    fp->port = (int)strtol(line + strlen(prefix), NULL, 10);
    snprintf(fp->url, sizeof(fp->url), "http://127.0.0.1:%d", fp->port);
    return 0;
}

/* Stops the fake (SIGTERM) and waits for it. Returns its exit status. */
static inline int fake_provider_stop(struct fake_provider *fp)
{
    if (!fp->out)
        return -1;
    kill(fp->pid, SIGTERM);
    int status = pclose(fp->out);
    fp->out = NULL;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Calls the fake's control API (method, "/_control/...", a JSON body or
 * NULL); returns the answer's body (malloc'ed) or NULL, the status in
 * *status when status is not NULL. */
static inline char *fake_provider_call(const struct fake_provider *fp, const char *method,
                                       const char *path, const char *body, int *status)
{
    char url[600];
    snprintf(url, sizeof(url), "%s%s", fp->url, path);
    struct td_http_header h[1] = {{"Content-Type", "application/json"}};
    struct td_http_call call = {.method = method,
                                .url = url,
                                .headers = h,
                                .header_count = 1,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = 10000};
    struct td_http_reply reply;
    fake_host_http_request(NULL, &call, &reply);
    if (status)
        *status = reply.status;
    return reply.body;
}

/* Clears what the fake recorded and its faults. Returns 0 when it answered 200. */
static inline int fake_provider_reset(const struct fake_provider *fp)
{
    int status = 0;
    free(fake_provider_call(fp, "POST", "/_control/reset", NULL, &status));
    return status == 200 ? 0 : -1;
}

/* Sets the fake's faults (a JSON document, see tests/fake_provider). Returns
 * 0 when it answered 200. */
static inline int fake_provider_fault(const struct fake_provider *fp, const char *json)
{
    int status = 0;
    free(fake_provider_call(fp, "POST", "/_control/faults", json, &status));
    return status == 200 ? 0 : -1;
}

/* GET path of the control API, parsed (the caller decrefs), or NULL. */
static inline json_t *fake_provider_json(const struct fake_provider *fp, const char *path)
{
    char *text = fake_provider_call(fp, "GET", path, NULL, NULL);
    json_error_t jerr;
    json_t *j = text ? json_loads(text, 0, &jerr) : NULL;
    free(text);
    return j;
}
#endif
