/* The out-of-tree plugin's own test, against the installed SDK's fake host:
 * load the .so just built, create it from a configuration, deliver one
 * e-mail and check the verdict and the file it wrote. For the outbox
 * plugin of the guide; a plugin of your own brings its own checks. */
#include "tidings/fake_host.h"

#include <stdio.h>
#include <stdlib.h>

static int failed;
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                    \
            failed++;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_plugin PLUGIN.so OUT_DIR\n");
        return 2;
    }
    void *handle;
    const struct td_plugin *p = fake_host_load(argv[1], &handle);
    EXPECT(p != NULL && p->kind == TD_PLUGIN_CHANNEL);
    if (!p)
        return 1;
    struct td_setting settings[] = {{"dir", argv[2]}, {"from", "Schule <hallo@schule.example>"}};
    struct td_config cfg = {"acme", "email", settings, 2};
    struct td_host host = fake_host_make("acme", "email");
    struct td_error err = {{0}};
    void *inst = NULL;
    EXPECT(p->channel->create(&host, &cfg, &inst, &err) == 0);
    if (!inst)
        return 1;
    struct td_message m = {.id = "7",
                           .idempotency_key = "k7",
                           .channel = "email",
                           .to = "anna@example.org",
                           .subject = "Hallo",
                           .text = "Bis bald"};
    struct td_result r;
    p->channel->deliver(inst, &m, 1, &r);
    EXPECT(r.status == TD_OK);
    char path[4096];
    snprintf(path, sizeof(path), "%s/7.eml", argv[2]);
    FILE *f = fopen(path, "r");
    EXPECT(f != NULL);
    if (f)
        fclose(f);
    p->channel->destroy(inst);
    printf("test_plugin: %s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
