/* Unit tests of the template renderer and of the variables a template sees. */
#include "check.h"
#include "render/render.h"
#include "render/render_context.h"

#include <stdlib.h>
#include <string.h>

static char *render(const char *tmpl, const char *ctx_json, bool html)
{
    json_error_t jerr;
    json_t *ctx = json_loads(ctx_json, 0, &jerr);
    char err[200] = "";
    char *out = NULL;
    if (td_render(tmpl, ctx, html, &out, err, sizeof(err)) < 0) {
        out = malloc(strlen(err) + 8);
        snprintf(out, strlen(err) + 8, "ERROR: %s", err);
    }
    json_decref(ctx);
    return out;
}

#define CHECK_RENDER(tmpl, ctx, html, want)                                                        \
    do {                                                                                           \
        char *got_ = render(tmpl, ctx, html);                                                      \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

static void test_variables(void)
{
    const char *ctx = "{\"firstName\":\"Anna\",\"n\":3,\"x\":1.5,\"t\":true,"
                      "\"booking\":{\"data\":{\"boat\":\"Hansa 2\"}},\"html\":\"<b>&'\\\"\"}";
    CHECK_RENDER("Hallo {{firstName}}!", ctx, false, "Hallo Anna!");
    CHECK_RENDER("Hallo {{ firstName }}!", ctx, false, "Hallo Anna!");
    CHECK_RENDER("{{n}} {{x}} {{t}}", ctx, false, "3 1.5 true");
    CHECK_RENDER("Boot: {{booking.data.boat}}", ctx, false, "Boot: Hansa 2");
    CHECK_RENDER("[{{missing}}][{{booking.nope.deeper}}]", ctx, false, "[][]");
    CHECK_RENDER("{{html}}", ctx, false, "<b>&'\"");
    CHECK_RENDER("{{html}}", ctx, true, "&lt;b&gt;&amp;&#39;&quot;");
    CHECK_RENDER("{{{html}}}|{{& html}}", ctx, true, "<b>&'\"|<b>&'\"");
    CHECK_RENDER("a{{! a comment }}b", ctx, false, "ab");
    CHECK_RENDER("no tags at all", ctx, false, "no tags at all");
}

static void test_sections(void)
{
    const char *ctx = "{\"items\":[{\"name\":\"Jacke\"},{\"name\":\"Hut\"}],\"yes\":true,"
                      "\"no\":false,\"empty\":[],\"blank\":\"\",\"obj\":{\"k\":\"v\"},"
                      "\"outer\":\"O\",\"list\":[\"a\",\"b\"]}";
    CHECK_RENDER("{{#items}}- {{name}}\n{{/items}}", ctx, false, "- Jacke\n- Hut\n");
    CHECK_RENDER("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{#missing}}M{{/missing}}", ctx, false, "Y");
    CHECK_RENDER("{{^no}}not no{{/no}}{{^yes}}not yes{{/yes}}{{^empty}}none{{/empty}}", ctx, false,
                 "not nonone");
    CHECK_RENDER("{{^blank}}blank{{/blank}}", ctx, false, "blank");
    CHECK_RENDER("{{#obj}}{{k}} {{outer}}{{/obj}}", ctx, false, "v O");
    CHECK_RENDER("{{#list}}<{{.}}>{{/list}}", ctx, false, "<a><b>");
    CHECK_RENDER("{{#items}}{{#yes}}[{{name}}]{{/yes}}{{/items}}", ctx, false, "[Jacke][Hut]");
}

static void test_broken_templates(void)
{
    char *t = render("Hallo {{firstName", "{}", false);
    CHECK_HAS(t, "ERROR: unclosed tag");
    free(t);
    t = render("{{#a}}x", "{}", false);
    CHECK_HAS(t, "ERROR: section 'a' is never closed");
    free(t);
    t = render("{{#a}}x{{/b}}", "{}", false);
    CHECK_HAS(t, "ERROR: section 'a' is closed by 'b'");
    free(t);
    t = render("x{{/a}}", "{}", false);
    CHECK_HAS(t, "ERROR: '{{/a}}' closes no open section");
    free(t);
    t = render("{{}}", "{}", false);
    CHECK_HAS(t, "ERROR: empty tag");
    free(t);
}

static int collect(void *ctx, const char *name, size_t len, const char *section, size_t section_len)
{
    char *buf = ctx;
    size_t used = strlen(buf);
    snprintf(buf + used, 256 - used, "%.*s%s%.*s,", (int)len, name, section ? "@" : "",
             (int)section_len, section ? section : "");
    return 0;
}

static void test_names(void)
{
    char names[256] = "";
    char err[128];
    CHECK(td_render_names("{{a}} {{#s}}{{b.c}}{{/s}} {{^i}}{{.}}{{/i}}{{! x}}", collect, names, err,
                          sizeof(err)) == 0);
    CHECK_STR(names, "a,s,b.c@s,i,");

    CHECK(td_render_names("{{#s}}", collect, names, err, sizeof(err)) < 0);
}

static void test_context(void)
{
    json_error_t jerr;
    json_t *booking = json_loads(
        "{\"id\":\"B-7\",\"name\":\"SKS Praxis\",\"location\":\"Hafen\","
        "\"customer\":{\"first_name\":\"Anna\",\"last_name\":\"Berg\",\"email\":\"a@b.de\"},"
        "\"data\":{\"boat\":\"Hansa\"}}",
        0, &jerr);
    struct td_render_input in = {
        .booking = booking,
        .org_name = "Segelschule",
        .locale = "de",
        .start = {true, 2026, 12, 5, 10, 0, 6},
        .end = {true, 2026, 12, 6, 17, 30, 0},
        .days_until = 7,
    };
    json_t *ctx = td_render_context(&in);
    char *out = NULL, err[100];
    CHECK(td_render("{{fullName}}|{{eventName}}|{{eventDate}}|{{eventTime}}|{{eventEndDate}}|"
                    "{{eventEndTime}}|{{locationName}}|{{bookingRef}}|{{daysUntil}}|{{orgName}}|"
                    "{{data.boat}}|{{customer.email}}|{{phone}}",
                    ctx, false, &out, err, sizeof(err)) == 0);
    CHECK_STR(out, "Anna Berg|SKS Praxis|Samstag, 5. Dezember 2026|10:00|Sonntag, 6. Dezember "
                   "2026|17:30|Hafen|B-7|7|Segelschule|Hansa|a@b.de|");
    free(out);
    json_decref(ctx);
    in.locale = "en";
    ctx = td_render_context(&in);
    CHECK(td_render("{{eventDate}}", ctx, false, &out, err, sizeof(err)) == 0);
    CHECK_STR(out, "Saturday, 5 December 2026");
    free(out);
    json_decref(ctx);
    json_decref(booking);
}

int main(void)
{
    test_variables();
    test_sections();
    test_broken_templates();
    test_names();
    test_context();
    return check_exit("test_render");
}
