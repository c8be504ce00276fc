/* loader: finds plugin .so files on the plugin path, dlopens them and checks
 * their descriptors. Refusals are one line naming the file and the reason. */
#include "config/plugin_config.h"
#include "dispatch/channel_policy.h"
#include "plugin_host/loader.h"

#include "util/buf.h"
#include "util/path.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct td_loader {
    char **dirs;
    size_t dir_count;
    struct td_loaded_plugin **plugins; /* each allocated alone: pointers stay valid */
    size_t count;
};

struct td_loader *td_loader_create(const char *plugin_path)
{
    struct td_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    const char *p = plugin_path ? plugin_path : "";
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len) {
            char **dirs = realloc(l->dirs, (l->dir_count + 1) * sizeof(*dirs));
            if (!dirs)
                goto out_fail;
            l->dirs = dirs;
            l->dirs[l->dir_count] = strndup(p, len);
            if (!l->dirs[l->dir_count])
                goto out_fail;
            l->dir_count++;
        }
        p += len + (colon ? 1 : 0);
    }
    return l;
out_fail:
    td_loader_destroy(l);
    return NULL;
}

void td_loaded_plugin_clear(struct td_loaded_plugin *p)
{
    if (p->handle)
        dlclose(p->handle);
    free(p->name);
    free(p->path);
    memset(p, 0, sizeof(*p));
}

void td_loader_destroy(struct td_loader *loader)
{
    if (!loader)
        return;
    for (size_t i = 0; i < loader->count; i++) {
        td_loaded_plugin_clear(loader->plugins[i]);
        free(loader->plugins[i]);
    }
    free(loader->plugins);
    for (size_t i = 0; i < loader->dir_count; i++)
        free(loader->dirs[i]);
    free(loader->dirs);
    free(loader);
}

/* Checks what the descriptor promises. Returns NULL when fine, else why not. */
static const char *loader_check_ops(const struct td_plugin *d)
{
    if (d->kind == TD_PLUGIN_CHANNEL) {
        const struct td_channel_ops *ops = d->channel;
        if (!ops)
            return "channel plugin without channel operations";
        if (!ops->create)
            return "channel plugin without required operation 'create'";
        if (!ops->destroy)
            return "channel plugin without required operation 'destroy'";
        if (!ops->deliver)
            return "channel plugin without required operation 'deliver'";
        if (!d->serves || !d->serves[0])
            return "channel plugin that serves no channel (set 'serves')";
        if (d->max_batch == 0)
            return "channel plugin with max_batch 0";
        return NULL;
    }
    if (d->kind == TD_PLUGIN_TRIGGER) {
        const struct td_trigger_ops *ops = d->trigger;
        if (!ops)
            return "trigger plugin without trigger operations";
        if (!ops->create)
            return "trigger plugin without required operation 'create'";
        if (!ops->destroy)
            return "trigger plugin without required operation 'destroy'";
        if (!ops->start)
            return "trigger plugin without required operation 'start'";
        if (!ops->stop)
            return "trigger plugin without required operation 'stop'";
        return NULL;
    }
    return "unknown plugin kind (neither channel nor trigger)";
}

/* A declared key that shadows one the core owns. NULL when none does. */
static const char *loader_check_keys(const struct td_plugin *d, char *detail, size_t cap)
{
    for (size_t i = 0; d->config_keys && i < d->config_key_count; i++) {
        const char *name = d->config_keys[i].name;
        for (size_t k = 0; name && td_core_owned_keys[k]; k++) {
            if (strcmp(name, td_core_owned_keys[k]) == 0) {
                snprintf(detail, cap,
                         "declares the key '%s', which the engine owns in every section "
                         "(rename it, e.g. '%s_%s')",
                         name, d->name ? d->name : "plugin", name);
                return detail;
            }
        }
        if (!name)
            return "declares a key without a name";
        enum td_key_type type = d->config_keys[i].type;
        const struct td_config_key_limits *lim = td_plugin_key_limits(d, i);
        if ((int)type < 0 || type > TD_KEY_ENUM) {
            snprintf(detail, cap, "key '%s' has type %d, which this engine does not know", name,
                     (int)type);
            return detail;
        }
        if (type > TD_KEY_URL && d->abi_minor < 2) {
            snprintf(detail, cap, "key '%s' has type %d, which ABI 1.%u does not have", name,
                     (int)type, (unsigned)d->abi_minor);
            return detail;
        }
        if (type == TD_KEY_ENUM && (!lim || !lim->choices || !lim->choices[0])) {
            snprintf(detail, cap, "key '%s' is an enum without choices (config_key_limits)", name);
            return detail;
        }
        if (lim && lim->has_range && lim->min > lim->max) {
            snprintf(detail, cap, "key '%s' has min %lld above max %lld", name, (long long)lim->min,
                     (long long)lim->max);
            return detail;
        }
    }
    return NULL;
}

int td_loader_open_file(const char *path, const char *expected_name, struct td_loaded_plugin *out,
                        struct td_diag *diag)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH)) {
        /* anyone could replace the code the engine is about to run */
        td_diag_add(diag, "%s: refused: the file is writable by anyone (chmod o-w %s)", path, path);
        return -EINVAL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        td_diag_add(diag, "%s: refused: cannot load: %s (try: ldd %s)", path, dlerror(), path);
        return -EINVAL;
    }
    /* dlsym returns a data pointer; copy it into the function pointer type. */
    void *sym = dlsym(h, TD_PLUGIN_ENTRY_SYMBOL);
    td_plugin_entry_fn entry = NULL;
    memcpy(&entry, &sym, sizeof(entry));
    const struct td_plugin *d = entry ? entry() : NULL;
    const char *why = NULL;
    char detail[160];
    if (!entry) {
        why = "missing entry symbol " TD_PLUGIN_ENTRY_SYMBOL "()";
    } else if (!d) {
        why = TD_PLUGIN_ENTRY_SYMBOL "() returned no descriptor";
    } else if (d->abi_major != TD_ABI_MAJOR) {
        snprintf(detail, sizeof(detail), "ABI major %u, but this engine speaks %d",
                 (unsigned)d->abi_major, TD_ABI_MAJOR);
        why = detail;
    } else if (d->abi_minor > TD_ABI_MINOR) {
        snprintf(detail, sizeof(detail),
                 "built for ABI %u.%u, newer than this engine's %d.%d (rebuild it against this "
                 "engine's tidings/plugin.h, or upgrade the engine)",
                 (unsigned)d->abi_major, (unsigned)d->abi_minor, TD_ABI_MAJOR, TD_ABI_MINOR);
        why = detail;
    } else if (d->struct_size < offsetof(struct td_plugin, trigger) + sizeof(d->trigger)) {
        snprintf(detail, sizeof(detail), "descriptor of %u bytes is too small for ABI %d.0",
                 (unsigned)d->struct_size, TD_ABI_MAJOR);
        why = detail;
    } else if (!d->name || strcmp(d->name, expected_name) != 0) {
        snprintf(detail, sizeof(detail), "declares the name '%s', but the file is %s.so",
                 d->name ? d->name : "(none)", expected_name);
        why = detail;
    } else if ((why = loader_check_ops(d)) == NULL) {
        why = loader_check_keys(d, detail, sizeof(detail));
    }
    if (why) {
        td_diag_add(diag, "%s: refused: %s", path, why);
        dlclose(h);
        return -EINVAL;
    }
    out->name = strdup(expected_name);
    out->path = strdup(path);
    if (!out->name || !out->path) {
        dlclose(h);
        free(out->name);
        free(out->path);
        memset(out, 0, sizeof(*out));
        return -ENOMEM;
    }
    out->handle = h;
    out->desc = d;
    return 0;
}

static const struct td_loaded_plugin *loader_find_loaded(const struct td_loader *l,
                                                         const char *name)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->plugins[i]->name, name) == 0)
            return l->plugins[i];
    }
    return NULL;
}

static bool loader_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Loads name from the one folder that has it; two folders having it is a
 * refusal, as is a folder that anyone may write to. */
static const struct td_loaded_plugin *loader_load(struct td_loader *l, const char *name,
                                                  struct td_diag *diag)
{
    char *found = NULL;
    struct td_buf file = {0};
    td_buf_printf(&file, "%s.so", name);
    for (size_t i = 0; i < l->dir_count; i++) {
        char *candidate = td_path_join(l->dirs[i], td_buf_str(&file));
        if (!candidate)
            break;
        if (!loader_file_exists(candidate)) {
            free(candidate);
            continue;
        }
        if (found) {
            td_diag_add(diag, "%s: refused: duplicate plugin '%s' (already found at %s)", candidate,
                        name, found);
            free(candidate);
            free(found);
            td_buf_reset(&file);
            return NULL;
        }
        found = candidate;
    }
    td_buf_reset(&file);
    if (!found) {
        td_diag_add(diag, "plugin '%s': no %s.so in the plugin path (%zu folder%s searched)", name,
                    name, l->dir_count, l->dir_count == 1 ? "" : "s");
        return NULL;
    }
    struct stat st;
    char *dir = td_path_dir(found);
    if (dir && stat(dir, &st) == 0 && (st.st_mode & S_IWOTH)) {
        td_diag_add(diag, "%s: refused: folder %s is writable by anyone", found, dir);
        free(dir);
        free(found);
        return NULL;
    }
    free(dir);
    struct td_loaded_plugin **list = realloc(l->plugins, (l->count + 1) * sizeof(*list));
    struct td_loaded_plugin *p = calloc(1, sizeof(*p));
    if (list)
        l->plugins = list;
    if (!list || !p) {
        free(p);
        free(found);
        return NULL;
    }
    int rc = td_loader_open_file(found, name, p, diag);
    free(found);
    if (rc < 0) {
        free(p);
        return NULL;
    }
    l->plugins[l->count++] = p;
    return p;
}

const struct td_loaded_plugin *td_loader_get(struct td_loader *loader, const char *name,
                                             struct td_diag *diag)
{
    const struct td_loaded_plugin *p = loader_find_loaded(loader, name);
    return p ? p : loader_load(loader, name, diag);
}

size_t td_loader_count(const struct td_loader *loader)
{
    return loader->count;
}

const struct td_loaded_plugin *td_loader_plugin(const struct td_loader *loader, size_t i)
{
    return i < loader->count ? loader->plugins[i] : NULL;
}

static int loader_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int td_loader_scan(struct td_loader *loader, struct td_diag *diag)
{
    int refused = 0;
    char **names = NULL;
    size_t count = 0;
    for (size_t i = 0; i < loader->dir_count; i++) {
        DIR *d = opendir(loader->dirs[i]);
        if (!d) {
            td_diag_add(diag, "plugin folder %s: %s", loader->dirs[i], strerror(errno));
            refused++;
            continue;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t len = strlen(de->d_name);
            if (de->d_name[0] == '.' || len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
                continue;
            char **p = realloc(names, (count + 1) * sizeof(*p));
            if (!p)
                break;
            names = p;
            names[count] = strndup(de->d_name, len - 3);
            if (names[count])
                count++;
        }
        closedir(d);
    }
    if (count)
        qsort(names, count, sizeof(*names), loader_cmp_names);
    for (size_t i = 0; i < count; i++) {
        /* a name in two folders is listed twice; check it once */
        if ((i == 0 || strcmp(names[i], names[i - 1]) != 0) &&
            !td_loader_get(loader, names[i], diag))
            refused++;
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return refused;
}
