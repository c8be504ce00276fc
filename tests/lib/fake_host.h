/* fake_host: a td_host for testing a plugin without the engine. It logs to
 * stderr, keeps the last log line, and fails every service a unit test has
 * no business calling (HTTP, submit). Include it in one test file. */
#ifndef TD_FAKE_HOST_H
#define TD_FAKE_HOST_H

#include "tidings/plugin.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char fake_host_last_log[512];

static void fake_host_log(const struct td_host *host, enum td_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_host_last_log, sizeof(fake_host_last_log), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%s/%s] level %d: %s\n", host->org_id, host->instance_name, (int)level,
            fake_host_last_log);
}

static int64_t fake_host_now_ms(const struct td_host *host)
{
    (void)host;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fake_host_mask(const char *address, char *out, size_t cap)
{
    snprintf(out, cap, "%.2s***", address ? address : "");
}

static struct td_host fake_host_make(const char *org, const char *instance)
{
    struct td_host h = {
        .abi_major = TD_ABI_MAJOR,
        .abi_minor = TD_ABI_MINOR,
        .struct_size = sizeof(struct td_host),
        .org_id = org,
        .instance_name = instance,
        .log = fake_host_log,
        .now_ms = fake_host_now_ms,
        .mask = fake_host_mask,
    };
    return h;
}

/* Loads path and returns its descriptor, or NULL (the reason on stderr). */
static const struct td_plugin *fake_host_load(const char *path, void **handle)
{
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) {
        fprintf(stderr, "%s\n", dlerror());
        return NULL;
    }
    void *sym = dlsym(*handle, TD_PLUGIN_ENTRY_SYMBOL);
    td_plugin_entry_fn entry = NULL;
    memcpy(&entry, &sym, sizeof(entry));
    return entry ? entry() : NULL;
}

#endif
