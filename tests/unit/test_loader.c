/* Unit tests of the plugin loader: good plugins load, and each kind of
 * broken plugin is refused with one line naming the file and the reason. */
#include "check.h"
#include "plugin_host/loader.h"
#include "tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* BROKEN_DIR and PLUGIN_DIR come from tests/CMakeLists.txt. */

static const char *refusal(const char *name)
{
    static char text[2048];
    struct td_diag d = {0};
    struct td_loaded_plugin p;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.so", BROKEN_DIR, name);
    int rc = td_loader_open_file(path, name, &p, &d);
    CHECK(rc < 0);
    CHECK(d.count == 1);
    snprintf(text, sizeof(text), "%s", d.count ? d.lines[0] : "");
    td_diag_clear(&d);
    return text;
}

static void test_good_plugins_load(void)
{
    struct td_loader *l = td_loader_create(PLUGIN_DIR);
    struct td_diag d = {0};
    const struct td_loaded_plugin *outbox = td_loader_get(l, "outbox", &d);
    CHECK(outbox != NULL);
    CHECK(d.count == 0);
    if (outbox) {
        CHECK_STR(outbox->desc->name, "outbox");
        CHECK(outbox->desc->kind == TD_PLUGIN_CHANNEL);
        CHECK(outbox->desc->channel->deliver != NULL);
    }
    /* the second lookup returns the same loaded plugin */
    CHECK(td_loader_get(l, "outbox", &d) == outbox);
    const struct td_loaded_plugin *webhook = td_loader_get(l, "booking_webhook", &d);
    CHECK(webhook && webhook->desc->kind == TD_PLUGIN_TRIGGER);
    CHECK(td_loader_scan(l, &d) == 0);
    td_diag_clear(&d);
    td_loader_destroy(l);
}

static void test_refusals(void)
{
    const char *t = refusal("wrong_abi");
    CHECK_HAS(t, BROKEN_DIR "/wrong_abi.so: refused: ABI major 99, but this engine speaks 1");
    t = refusal("no_entry");
    CHECK_HAS(t, BROKEN_DIR "/no_entry.so: refused: missing entry symbol td_plugin_entry()");
    t = refusal("misnamed");
    CHECK_HAS(t, BROKEN_DIR "/misnamed.so: refused: declares the name 'other', but the file is "
                            "misnamed.so");
    t = refusal("missing_op");
    CHECK_HAS(t, BROKEN_DIR "/missing_op.so: refused: channel plugin without required operation "
                            "'deliver'");
    t = refusal("newer_minor");
    CHECK_HAS(t, BROKEN_DIR "/newer_minor.so: refused: built for ABI 1.9, newer than this "
                            "engine's 1.2");
    t = refusal("shadow_key");
    CHECK_HAS(t, BROKEN_DIR "/shadow_key.so: refused: declares the key 'concurrency', which the "
                            "engine owns in every section");
    t = refusal("bad_key");
    CHECK_HAS(t, BROKEN_DIR "/bad_key.so: refused: key 'mode' is an enum without choices");
}

static void test_world_writable_file(void)
{
    /* a copy of a good plugin, writable by anyone, in a folder that is not */
    const char *dir = tmpdir_create();
    char src[4096], dst[4096], cmd[12400];
    snprintf(src, sizeof(src), "%s/outbox.so", PLUGIN_DIR);
    snprintf(dst, sizeof(dst), "%s/outbox.so", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0666 '%s'", src, dst, dst);
    CHECK(system(cmd) == 0);
    struct td_diag d = {0};
    struct td_loaded_plugin p;
    CHECK(td_loader_open_file(dst, "outbox", &p, &d) < 0);
    CHECK_HAS(d.count ? d.lines[0] : "", "outbox.so: refused: the file is writable by anyone "
                                         "(chmod o-w ");
    td_diag_clear(&d);
    CHECK(chmod(dst, 0644) == 0);
    CHECK(td_loader_open_file(dst, "outbox", &p, &d) == 0);
    td_loaded_plugin_clear(&p);
}

static void test_not_a_shared_object(void)
{
    const char *dir = tmpdir_create();
    tmpdir_write(dir, "text.so", "this is not ELF\n");
    char path[4096];
    snprintf(path, sizeof(path), "%s/text.so", dir);
    struct td_diag d = {0};
    struct td_loaded_plugin p;
    CHECK(td_loader_open_file(path, "text", &p, &d) < 0);
    CHECK(d.count == 1);
    CHECK_HAS(d.count ? d.lines[0] : "", "text.so: refused: cannot load:");
    td_diag_clear(&d);
}

static void test_duplicate_and_missing(void)
{
    struct td_loader *l = td_loader_create(BROKEN_DIR "/a:" BROKEN_DIR "/b");
    struct td_diag d = {0};
    CHECK(td_loader_get(l, "dup", &d) == NULL);
    CHECK(d.count == 1);
    CHECK_HAS(d.count ? d.lines[0] : "",
              BROKEN_DIR "/b/dup.so: refused: duplicate plugin 'dup' (already found at " BROKEN_DIR
                         "/a/dup.so)");
    td_diag_clear(&d);
    CHECK(td_loader_get(l, "absent", &d) == NULL);
    CHECK_HAS(d.count ? d.lines[0] : "", "plugin 'absent': no absent.so in the plugin path");
    td_diag_clear(&d);
    td_loader_destroy(l);
}

static void test_scan_reports_every_refusal(void)
{
    struct td_loader *l = td_loader_create(BROKEN_DIR);
    struct td_diag d = {0};
    CHECK(td_loader_scan(l, &d) == 7);
    CHECK(d.count == 7);
    td_diag_clear(&d);
    td_loader_destroy(l);
}

static void test_world_writable_folder(void)
{
    const char *dir = tmpdir_create();
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "cp %s/outbox.so %s/", PLUGIN_DIR, dir);
    CHECK(system(cmd) == 0);
    chmod(dir, 0777);
    struct td_loader *l = td_loader_create(dir);
    struct td_diag d = {0};
    CHECK(td_loader_get(l, "outbox", &d) == NULL);
    CHECK_HAS(d.count ? d.lines[0] : "", "is writable by anyone");
    td_diag_clear(&d);
    td_loader_destroy(l);
}

int main(void)
{
    test_good_plugins_load();
    test_refusals();
    test_not_a_shared_object();
    test_duplicate_and_missing();
    test_scan_reports_every_refusal();
    test_world_writable_folder();
    test_world_writable_file();
    return check_exit("test_loader");
}
