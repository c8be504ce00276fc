/* Unit tests of the log's masking of callback tokens (td_log_path): routes,
 * request paths, URLs and whole messages. */
#include "check.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char token[] = "3f2a9c1e5b7d4a60c0ffee0123456789";

static void masked(const char *in, const char *want)
{
    char out[300];
    td_log_path(in, out, sizeof(out));
    CHECK_STR(out, want);
    CHECK(strstr(out, token) == NULL);
}

static void test_paths_and_urls(void)
{
    masked("/v1/callbacks/haff/sms/3f2a9c1e5b7d4a60c0ffee0123456789", "/v1/callbacks/haff/sms/***");
    masked("https://tidings.example.org/v1/callbacks/haff/whatsapp/"
           "3f2a9c1e5b7d4a60c0ffee0123456789",
           "https://tidings.example.org/v1/callbacks/haff/whatsapp/***");
    /* a query, more segments, quotes and several paths in one message */
    masked("/v1/callbacks/a/email/3f2a9c1e5b7d4a60c0ffee0123456789?x=1",
           "/v1/callbacks/a/email/***?x=1");
    masked("/v1/callbacks/a/email/3f2a9c1e5b7d4a60c0ffee0123456789/more",
           "/v1/callbacks/a/email/***");
    masked("posted \"/v1/callbacks/a/sms/3f2a9c1e5b7d4a60c0ffee0123456789\" and "
           "<http://x/v1/callbacks/b/sms/3f2a9c1e5b7d4a60c0ffee0123456789>",
           "posted \"/v1/callbacks/a/sms/***\" and <http://x/v1/callbacks/b/sms/***>");
    /* punctuation after a path is not part of its token */
    masked("rejected POST /v1/callbacks/a/sms/3f2a9c1e5b7d4a60c0ffee0123456789: 404",
           "rejected POST /v1/callbacks/a/sms/***: 404");
}

static void test_what_is_left_alone(void)
{
    masked("/v1/orgs/haff/bookings", "/v1/orgs/haff/bookings");
    masked("/v1/callbacks/haff/sms", "/v1/callbacks/haff/sms");
    masked("/v1/callbacks/haff/sms/", "/v1/callbacks/haff/sms/");
    masked("/v1/callbacks/", "/v1/callbacks/");
    masked("", "");
    masked(NULL, "-");
    /* a short buffer is cut, never overrun, and never shows the token */
    char small[30];
    td_log_path("/v1/callbacks/haff/sms/3f2a9c1e5b7d4a60c0ffee0123456789", small, sizeof(small));
    CHECK_STR(small, "/v1/callbacks/haff/sms/***");
    char tiny[8];
    td_log_path("/v1/callbacks/haff/sms/3f2a9c1e5b7d4a60c0ffee0123456789", tiny, sizeof(tiny));
    CHECK_STR(tiny, "/v1/cal");
}

/* The line td_log writes in format, captured from stderr. */
static const char *logged(enum td_log_format format, const char *org, const char *component,
                          const char *msg)
{
    static char line[2048];
    fflush(stderr);
    int saved = dup(2);
    FILE *f = tmpfile();
    dup2(fileno(f), 2);
    td_log_set_format(format);
    td_log(TD_LOG_WARN, org, component, "%s", msg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    fclose(f);
    td_log_set_format(TD_LOG_FORMAT_LOGFMT);
    /* the time differs at every call: from its end on */
    const char *level = strstr(line, "level");
    const char *text = strstr(line, "Z ");
    return format == TD_LOG_FORMAT_TEXT ? (text ? text + 2 : line)
                                        : (level ? level - (format == TD_LOG_FORMAT_JSON) : line);
}

static void test_formats(void)
{
    const char *msg = "rejected \"POST\" /v1/callbacks/acme/sms/abcdef: 404\tnext=1";
    CHECK_STR(logged(TD_LOG_FORMAT_LOGFMT, "acme", "http", msg),
              "level=warn org=acme component=http msg=\"rejected \\\"POST\\\" "
              "/v1/callbacks/acme/sms/***: 404\\tnext=1\"\n");
    CHECK_STR(logged(TD_LOG_FORMAT_LOGFMT, NULL, "engine", "stopped"),
              "level=warn component=engine msg=stopped\n");
    CHECK_STR(logged(TD_LOG_FORMAT_JSON, "acme", "http", msg),
              "\"level\":\"warn\",\"org\":\"acme\",\"component\":\"http\",\"msg\":\"rejected "
              "\\\"POST\\\" /v1/callbacks/acme/sms/***: 404\\tnext=1\"}\n");
    CHECK_STR(logged(TD_LOG_FORMAT_TEXT, "acme", "email", "sent"), "warn  [acme/email] sent\n");
    enum td_log_format f;
    CHECK(td_log_format_parse("json", &f) == 0 && f == TD_LOG_FORMAT_JSON);
    CHECK(td_log_format_parse("xml", &f) < 0);
}

int main(void)
{
    test_paths_and_urls();
    test_what_is_left_alone();
    test_formats();
    return check_exit("test_log");
}
