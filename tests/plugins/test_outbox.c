/* The outbox channel plugin on its own: loaded from outbox.so with a fake
 * host, no engine, no database. This is the pattern docs/plugins.md teaches. */
#include "check.h"
#include "tidings/fake_host.h"
#include "tmpdir.h"

#include <stdlib.h>
#include <sys/stat.h>

static char *read_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int main(void)
{
    void *handle;
    const struct td_plugin *p = fake_host_load(PLUGIN_DIR "/outbox.so", &handle);
    CHECK(p != NULL);
    if (!p)
        return check_exit("test_outbox");
    CHECK_STR(p->name, "outbox");
    CHECK(p->kind == TD_PLUGIN_CHANNEL);

    const char *dir = tmpdir_create();
    char out[4096];
    snprintf(out, sizeof(out), "%s/new/outbox", dir); /* created on demand */
    struct td_setting settings[] = {{"dir", out}, {"from", "Schule <hallo@schule.example>"}};
    struct td_config cfg = {"acme", "email", settings, 2};
    struct td_host host = fake_host_make("acme", "email");
    struct td_error err = {{0}};
    void *inst = NULL;
    CHECK(p->channel->create(&host, &cfg, &inst, &err) == 0);
    CHECK(inst != NULL);

    struct td_message msgs[3] = {
        {.id = "41",
         .idempotency_key = "k41",
         .channel = "email",
         .to = "anna@example.org",
         .to_name = "Anna Berg",
         .subject = "Grüße aus dem Hafen",
         .text = "Hallo Anna",
         .html = "<p>Hallo Anna</p>"},
        {.id = "42",
         .idempotency_key = "k42",
         .channel = "sms",
         .to = "+491711234567",
         .text = "Hallo \"Anna\"\nbis morgen"},
        {.id = "43",
         .idempotency_key = "k43",
         .channel = "email",
         .to = "x@example.org",
         .subject = "Injected\r\nBcc: everyone@example.org",
         .text = "x"},
    };
    struct td_result res[3];
    p->channel->deliver(inst, msgs, 3, res);
    CHECK(res[0].status == TD_OK);
    CHECK_STR(res[0].provider_id, "outbox:41.eml");
    CHECK(res[1].status == TD_OK);
    CHECK_STR(res[1].provider_id, "outbox:42.json");
    /* a header injection attempt is refused, permanently, and nothing written */
    CHECK(res[2].status == TD_FAIL);
    CHECK_HAS(res[2].reason, "line break");
    CHECK(read_file(out, "43.eml") == NULL);

    char *eml = read_file(out, "41.eml");
    CHECK_HAS(eml, "From: Schule <hallo@schule.example>\r\n");
    CHECK_HAS(eml, "To: Anna Berg <anna@example.org>\r\n");
    CHECK_HAS(eml, "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgZGVtIEhhZmVu?=\r\n");
    CHECK_HAS(eml, "Message-ID: <k41@tidings.outbox>");
    /* a long subject is folded into encoded-words of at most 75 characters */
    msgs[0].subject = "Sportbootführerschein See: Ihre Unterlagen für den Kurs am Samstag";
    p->channel->deliver(inst, msgs, 1, res);
    eml = read_file(out, "41.eml");
    CHECK_HAS(
        eml, "Subject: =?UTF-8?B?U3BvcnRib290ZsO8aHJlcnNjaGVpbiBTZWU6IElocmUgVW50ZXJsYWdlbiBm?=\r\n"
             " =?UTF-8?B?w7xyIGRlbiBLdXJzIGFtIFNhbXN0YWc=?=\r\n");
    CHECK_HAS(eml, "Content-Type: multipart/alternative");
    CHECK_HAS(eml, "<p>Hallo Anna</p>");
    char *sms = read_file(out, "42.json");
    CHECK_HAS(sms, "\"to\": \"+491711234567\"");
    CHECK_HAS(sms, "\"text\": \"Hallo \\\"Anna\\\"\\nbis morgen\"");

    /* delivering the same message again replaced its file: no second copy */
    CHECK(res[0].status == TD_OK);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 2", out);
    CHECK(system(cmd) == 0);
    p->channel->destroy(inst);

    /* a folder it cannot create is refused at create(), with the reason */
    snprintf(out, sizeof(out), "/proc/outbox-cannot-be-here");
    inst = NULL;
    CHECK(p->channel->create(&host, &cfg, &inst, &err) < 0);
    CHECK(inst == NULL);
    CHECK_HAS(err.message, "dir /proc/outbox-cannot-be-here");
    p->channel->destroy(NULL); /* destroy(NULL) is a no-op */
    dlclose(handle);
    return check_exit("test_outbox");
}
