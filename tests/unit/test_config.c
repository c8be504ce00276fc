/* Unit tests of the configuration: tidings.ini, conf.d/<org>.ini, secret
 * references and the check of an instance section against its plugin's keys.
 * Every problem must name file, section and line. */
#include "check.h"
#include "config/config.h"
#include "config/plugin_config.h"
#include "config/secret.h"
#include "tmpdir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir;

/* Joins all diag lines into one string for CHECK_HAS. */
static const char *diag_text(const struct td_diag *d)
{
    static char text[8192];
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < d->count && used < sizeof(text); i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s\n", d->lines[i]);
    return text;
}

static void write_engine(const char *name, const char *orgs, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "[database]\ndsn = host=/tmp dbname=x\n\n[plugins]\npath = plugins\n\n[orgs]\n"
             "dir = %s\n%s",
             orgs, extra);
    tmpdir_write(dir, name, text);
}

static void make_dir(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    mkdir(path, 0755);
}

static void test_valid_config_and_defaults(void)
{
    make_dir("ok.d");
    write_engine("ok.ini", "ok.d", "[http]\nlisten = 127.0.0.1:9090\n");
    tmpdir_write(dir, "ok.d/acme.ini",
                 "[org]\nid = acme\nname = Acme Sailing\ntimezone = Europe/Berlin\n\n"
                 "[trigger.webhook]\nplugin = booking_webhook\nsecret = env:ACME_SECRET\n\n"
                 "[channel.email]\nplugin = outbox\ndir = out\n");
    char path[4096];
    snprintf(path, sizeof(path), "%s/ok.ini", dir);
    struct td_diag d = {0};
    struct td_conf *c = NULL;
    CHECK(td_conf_load(path, &c, &d) == 0);
    CHECK_STR(diag_text(&d), "");
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->engine.db_dsn, "host=/tmp dbname=x");
    CHECK_STR(c->engine.http_listen, "127.0.0.1:9090");
    CHECK(c->engine.http_max_body == 65536);
    CHECK(c->engine.dispatch_batch == 100);
    CHECK_STR(c->engine.log_level, "info");
    char want[4096];
    snprintf(want, sizeof(want), "%s/plugins", dir);
    CHECK_STR(c->engine.plugin_path, want);
    CHECK(c->org_count == 1);
    const struct td_org_config *org = td_conf_org(c, "acme");
    CHECK(org != NULL);
    if (org) {
        CHECK_STR(org->name, "Acme Sailing");
        CHECK_STR(org->timezone, "Europe/Berlin");
        CHECK_STR(org->locale, "de");
        CHECK_STR(org->country, "49");
        CHECK(org->instance_count == 2);
        CHECK(org->instances[0].kind == TD_PLUGIN_TRIGGER);
        CHECK_STR(org->instances[0].name, "webhook");
        CHECK_STR(org->instances[0].plugin, "booking_webhook");
        CHECK(org->instances[1].kind == TD_PLUGIN_CHANNEL);
        CHECK_STR(org->instances[1].name, "email");
    }
    td_conf_destroy(c);
    td_diag_clear(&d);
}

static void test_missing_file(void)
{
    struct td_diag d = {0};
    struct td_conf *c = NULL;
    CHECK(td_conf_load("/nonexistent/tidings.ini", &c, &d) == -ENOENT);
    CHECK(c == NULL);
    td_diag_clear(&d);
}

/* Loads name and returns the problems as text. */
static const char *problems_of(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct td_diag d = {0};
    struct td_conf *c = NULL;
    td_conf_load(path, &c, &d);
    const char *text = diag_text(&d);
    td_conf_destroy(c);
    td_diag_clear(&d);
    return text;
}

static void test_engine_problems_name_file_section_line(void)
{
    make_dir("empty.d");
    tmpdir_write(dir, "bad.ini",
                 "[database]\n"       /* 1 */
                 "pool = many\n"      /* 2: bad value; dsn missing */
                 "[http]\n"           /* 3 */
                 "listen = nowhere\n" /* 4 */
                 "max_bodyy = 10\n"   /* 5: unknown key */
                 "timeout = 5\n"      /* 6 */
                 "timeout = 6\n"      /* 7: set twice */
                 "[plugins]\n"        /* 8 */
                 "path = p\n"         /* 9 */
                 "[orgs]\n"           /* 10 */
                 "dir = empty.d\n"    /* 11 */
                 "[colour]\n"         /* 12: unknown section */
                 "red = 1\n"          /* 13 */
                 "[log]\n"            /* 14 */
                 "level = loud\n");   /* 15 */
    const char *t = problems_of("bad.ini");
    CHECK_HAS(t, "bad.ini:1: [database] missing required key 'dsn'");
    CHECK_HAS(t, "bad.ini:2: [database] pool: 'many' is not a whole number from 1 to 256");
    CHECK_HAS(t, "bad.ini:4: [http] listen: 'nowhere' is not host:port");
    CHECK_HAS(t, "bad.ini:5: [http] unknown key 'max_bodyy' (known: listen, max_body,");
    CHECK_HAS(t, "bad.ini:7: [http] key 'timeout' is set twice (first at line 6)");
    CHECK_HAS(t, "bad.ini:12: unknown section [colour]");
    CHECK_HAS(t, "bad.ini:15: [log] level: 'loud' is not a log level");
}

static void test_syntax_errors(void)
{
    make_dir("empty2.d");
    tmpdir_write(dir, "syntax.ini",
                 "orphan = 1\n"
                 "[database]\n"
                 "dsn = x\n"
                 "this line has no equals sign\n");
    const char *t = problems_of("syntax.ini");
    CHECK_HAS(t, "syntax.ini:1: key 'orphan' is outside any [section]");
    CHECK_HAS(t, "syntax.ini:4: syntax error");
}

static void test_org_problems(void)
{
    make_dir("orgs.d");
    write_engine("orgs.ini", "orgs.d", "");
    tmpdir_write(dir, "orgs.d/acme.ini",
                 "[org]\n"                   /* 1 */
                 "id = other\n"              /* 2: not the file name */
                 "name = Acme\n"             /* 3 */
                 "timezone = Mars/Olympus\n" /* 4 */
                 "locale = fr\n"             /* 5 */
                 "colour = blue\n"           /* 6 */
                 "[channel.email]\n"         /* 7: no plugin */
                 "dir = x\n"                 /* 8 */
                 "[channel.Bad Name]\n"      /* 9 */
                 "plugin = outbox\n"         /* 10 */
                 "[gadget.x]\n"              /* 11 */
                 "a = b\n");                 /* 12 */
    tmpdir_write(dir, "orgs.d/noorg.ini", "[channel.email]\nplugin = outbox\n");
    const char *t = problems_of("orgs.ini");
    CHECK_HAS(t, "acme.ini:2: [org] id 'other' does not match the file name (expected 'acme')");
    CHECK_HAS(t, "acme.ini:4: [org] timezone: 'Mars/Olympus' is not a known time zone");
    CHECK_HAS(t, "acme.ini:5: [org] locale: 'fr' is not a supported locale (de, en)");
    CHECK_HAS(t, "acme.ini:6: [org] unknown key 'colour'");
    CHECK_HAS(t, "acme.ini:7: [channel.email] missing required key 'plugin'");
    CHECK_HAS(t, "acme.ini:9: [channel.Bad Name] bad section name");
    CHECK_HAS(t, "acme.ini:11: unknown section [gadget.x]");
    CHECK_HAS(t, "noorg.ini:1: missing section [org]");
}

static void test_secret_references(void)
{
    char err[256], *v = NULL;
    setenv("TD_TEST_SECRET", "s3cr3t", 1);
    CHECK(td_secret_is_reference("env:X"));
    CHECK(td_secret_is_reference("file:/x"));
    CHECK(!td_secret_is_reference("whsec_abc"));
    CHECK(td_secret_resolve("env:TD_TEST_SECRET", NULL, &v, err, sizeof(err)) == 0);
    CHECK_STR(v, "s3cr3t");
    free(v);
    unsetenv("TD_TEST_UNSET");
    CHECK(td_secret_resolve("env:TD_TEST_UNSET", NULL, &v, err, sizeof(err)) == -ENOENT);
    CHECK_HAS(err, "environment variable TD_TEST_UNSET is not set");
    tmpdir_write(dir, "secret.txt", "from-a-file\n");
    CHECK(td_secret_resolve("file:secret.txt", dir, &v, err, sizeof(err)) == 0);
    CHECK_STR(v, "from-a-file");
    free(v);
    CHECK(td_secret_resolve("file:missing.txt", dir, &v, err, sizeof(err)) < 0);
    CHECK_HAS(err, "cannot read secret file");
    tmpdir_write(dir, "empty.txt", "");
    CHECK(td_secret_resolve("file:empty.txt", dir, &v, err, sizeof(err)) < 0);
    CHECK_HAS(err, "is empty");
}

/* A plugin descriptor as a plugin would declare it. */
static const struct td_config_key fake_keys[] = {
    {.name = "url", .type = TD_KEY_URL, .required = true, .help = "where to send"},
    {.name = "api_key", .type = TD_KEY_STRING, .required = true, .secret = true},
    {.name = "batch", .type = TD_KEY_INT, .default_value = "10"},
    {.name = "verbose", .type = TD_KEY_BOOL, .default_value = "no"},
    {.name = "spool", .type = TD_KEY_PATH},
    {.name = "timeout", .type = TD_KEY_DURATION, .default_value = "10s"},
    {.name = "max_body", .type = TD_KEY_SIZE, .default_value = "64k"},
    {.name = "mode", .type = TD_KEY_ENUM, .default_value = "safe"},
};
static const char *const fake_modes[] = {"fast", "safe", NULL};
static const struct td_config_key_limits fake_limits[] = {
    {0},
    {0},
    {.has_range = true, .min = 1, .max = 100},
    {0},
    {0},
    {.has_range = true, .min = 1000, .max = 60000},
    {.has_range = true, .min = 0, .max = 1048576},
    {.choices = fake_modes},
};
static const char *const fake_serves[] = {"email", NULL};
static const struct td_plugin fake_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "fake", "1", "a test double"),
    .config_keys = fake_keys,
    .config_key_count = sizeof(fake_keys) / sizeof(fake_keys[0]),
    .serves = fake_serves,
    .max_batch = 1,
    .config_key_limits = fake_limits,
};

/* Loads orgs.d-style file name with one section and checks it against fake. */
static const char *plugin_problems(const char *body, struct td_instance_settings **out)
{
    make_dir("p.d");
    write_engine("p.ini", "p.d", "");
    tmpdir_write(dir, "p.d/acme.ini", body);
    char path[4096];
    snprintf(path, sizeof(path), "%s/p.ini", dir);
    struct td_diag d = {0};
    struct td_conf *c = NULL;
    td_conf_load(path, &c, &d);
    *out = NULL;
    if (c && c->org_count == 1 && c->orgs[0].instance_count == 1)
        td_plugin_config_build(&c->orgs[0], &c->orgs[0].instances[0], &fake_plugin, out, &d);
    const char *t = diag_text(&d);
    td_conf_destroy(c);
    td_diag_clear(&d);
    return t;
}

static void test_plugin_keys(void)
{
    struct td_instance_settings *s = NULL;
    setenv("TD_FAKE_KEY", "key-123", 1);
    const char *t = plugin_problems("[org]\nid = acme\nname = A\n[channel.email]\nplugin = fake\n"
                                    "url = https://api.example\napi_key = env:TD_FAKE_KEY\n"
                                    "verbose = ON\nspool = sp\n",
                                    &s);
    CHECK_STR(t, "");
    CHECK(s != NULL);
    if (s) {
        CHECK(s->count == 8);
        CHECK_STR(s->items[0].value, "https://api.example");
        CHECK_STR(s->items[1].value, "key-123");
        CHECK_STR(s->items[2].value, "10"); /* default */
        CHECK_STR(s->items[3].value, "true");
        char want[4096];
        snprintf(want, sizeof(want), "%s/p.d/sp", dir);
        CHECK_STR(s->items[4].value, want);
        struct td_config cfg = {.settings = s->items, .setting_count = s->count};
        CHECK_STR(td_config_get(&cfg, "batch"), "10");
        CHECK(td_config_get(&cfg, "nope") == NULL);
        /* ABI 1.2 types arrive normalized, and the typed getters read them */
        CHECK_STR(s->items[5].value, "10000");
        CHECK_STR(s->items[6].value, "65536");
        CHECK_STR(s->items[7].value, "safe");
        CHECK(td_config_get_int(&cfg, "timeout", 0) == 10000);
        CHECK(td_config_get_int(&cfg, "max_body", 0) == 65536);
        CHECK(td_config_get_int(&cfg, "batch", 0) == 10);
        CHECK(td_config_get_int(&cfg, "nope", -7) == -7);
        CHECK(td_config_get_bool(&cfg, "verbose", false));
        CHECK(!td_config_get_bool(&cfg, "nope", false));
        td_instance_settings_destroy(s);
    }

    t = plugin_problems("[org]\nid = acme\nname = A\n"
                        "[channel.email]\n"      /* 4 */
                        "plugin = fake\n"        /* 5 */
                        "api_key = plain-text\n" /* 6: literal secret */
                        "batch = ten\n"          /* 7 */
                        "colour = red\n",        /* 8 */
                        &s);
    CHECK(s == NULL);
    CHECK_HAS(t, "acme.ini:4: [channel.email] missing required key 'url' (where to send)");
    CHECK_HAS(t, "acme.ini:6: [channel.email] api_key is a secret: give it as env:NAME or "
                 "file:PATH");
    CHECK_HAS(t, "acme.ini:7: [channel.email] batch: 'ten' is not a whole number");
    CHECK_HAS(t, "acme.ini:8: [channel.email] unknown key 'colour' (plugin fake knows: url, "
                 "api_key, batch, verbose, spool, timeout, max_body, mode)");
    CHECK(strstr(t, "plain-text") == NULL); /* a secret is never echoed */

    /* ranges, durations, sizes and choices, each named at its line */
    t = plugin_problems("[org]\nid = acme\nname = A\n[channel.email]\nplugin = fake\n"
                        "url = https://x\napi_key = env:TD_FAKE_KEY\n"
                        "batch = 500\n"   /* 8 */
                        "timeout = 5m\n"  /* 9 */
                        "max_body = 2M\n" /* 10 */
                        "mode = turbo\n", /* 11 */
                        &s);
    CHECK(s == NULL);
    CHECK_HAS(t, "acme.ini:8: [channel.email] batch: '500' is not a whole number from 1 to 100");
    CHECK_HAS(t, "acme.ini:9: [channel.email] timeout: '5m' is not from 1s to 1m");
    CHECK_HAS(t, "acme.ini:10: [channel.email] max_body: '2M' is not from 0 to 1048576 bytes");
    CHECK_HAS(t, "acme.ini:11: [channel.email] mode: 'turbo' is not one of: fast, safe");
    t = plugin_problems("[org]\nid = acme\nname = A\n[channel.email]\nplugin = fake\n"
                        "url = https://x\napi_key = env:TD_FAKE_KEY\ntimeout = soon\n"
                        "max_body = lots\n",
                        &s);
    CHECK_HAS(t, "timeout: 'soon' is not a duration (like 500ms, 30s, 5m, 2h)");
    CHECK_HAS(t, "max_body: 'lots' is not a size (like 512, 64k, 10M, 1G)");

    t = plugin_problems("[org]\nid = acme\nname = A\n[channel.sms]\nplugin = fake\n", &s);
    CHECK_HAS(t, "acme.ini:4: [channel.sms] plugin 'fake' serves email, not sms");
    t = plugin_problems("[org]\nid = acme\nname = A\n[trigger.email]\nplugin = fake\n", &s);
    CHECK_HAS(t, "[trigger.email] plugin 'fake' is a channel plugin, not a trigger plugin");
    unsetenv("TD_FAKE_UNSET");
    t = plugin_problems("[org]\nid = acme\nname = A\n[channel.email]\nplugin = fake\nurl = "
                        "ftp://x\napi_key = env:TD_FAKE_UNSET\n",
                        &s);
    CHECK_HAS(t, "acme.ini:6: [channel.email] url: 'ftp://x' is not an http:// or https:// URL");
    CHECK_HAS(t, "acme.ini:7: [channel.email] api_key: environment variable TD_FAKE_UNSET is not "
                 "set");
}

int main(void)
{
    dir = tmpdir_create();
    test_valid_config_and_defaults();
    test_missing_file();
    test_engine_problems_name_file_section_line();
    test_syntax_errors();
    test_org_problems();
    test_secret_references();
    test_plugin_keys();
    return check_exit("test_config");
}
