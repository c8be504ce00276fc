/* Unit tests of the booking webhook's Standard Webhooks signatures, with the
 * standard's own published example. */
#include "check.h"
#include "webhook_signature.h"

#include <string.h>

/* From the Standard Webhooks reference test-suite. */
static const char spec_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char spec_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char spec_ts[] = "1614265330";
static const char spec_body[] = "{\"test\": 2432232314}";
static const char spec_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

static void test_spec_vector(void)
{
    struct webhook_key key;
    CHECK(webhook_key_parse(spec_secret, &key) == 0);
    CHECK(key.len == 24);
    char sig[128];
    CHECK(webhook_sign(&key, spec_id, spec_ts, spec_body, strlen(spec_body), sig, sizeof(sig)) ==
          0);
    CHECK_STR(sig, spec_sig);
    CHECK(webhook_signature_valid(&key, spec_id, spec_ts, spec_body, strlen(spec_body), spec_sig));
}

static void test_rejections(void)
{
    struct webhook_key key;
    webhook_key_parse(spec_secret, &key);
    size_t n = strlen(spec_body);
    /* another body, id or timestamp */
    CHECK(!webhook_signature_valid(&key, spec_id, spec_ts, "{\"test\": 1}", 11, spec_sig));
    CHECK(!webhook_signature_valid(&key, "msg_other", spec_ts, spec_body, n, spec_sig));
    CHECK(!webhook_signature_valid(&key, spec_id, "1614265331", spec_body, n, spec_sig));
    /* wrong scheme, truncated, empty, missing */
    CHECK(!webhook_signature_valid(&key, spec_id, spec_ts, spec_body, n,
                                   "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    CHECK(!webhook_signature_valid(&key, spec_id, spec_ts, spec_body, n, "v1,g0hM9SsE"));
    CHECK(!webhook_signature_valid(&key, spec_id, spec_ts, spec_body, n, ""));
    CHECK(!webhook_signature_valid(&key, spec_id, spec_ts, spec_body, n, NULL));
    /* another key */
    struct webhook_key other;
    CHECK(webhook_key_parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &other) == 0);
    CHECK(!webhook_signature_valid(&other, spec_id, spec_ts, spec_body, n, spec_sig));
}

static void test_rotation_lists(void)
{
    struct webhook_key key;
    webhook_key_parse(spec_secret, &key);
    size_t n = strlen(spec_body);
    char header[256];
    snprintf(header, sizeof(header), "v1,bm90IHRoaXMgb25l %s v1a,ignored", spec_sig);
    CHECK(webhook_signature_valid(&key, spec_id, spec_ts, spec_body, n, header));
    snprintf(header, sizeof(header), "%s v1,bm90IHRoaXMgb25l", spec_sig);
    CHECK(webhook_signature_valid(&key, spec_id, spec_ts, spec_body, n, header));
}

static void test_keys_and_timestamps(void)
{
    struct webhook_key key;
    CHECK(webhook_key_parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key) < 0); /* no prefix */
    CHECK(webhook_key_parse("whsec_", &key) < 0);
    CHECK(webhook_key_parse("whsec_c2hvcnQ=", &key) < 0);         /* 5 bytes: a toy key */
    CHECK(webhook_key_parse("whsec_!!!!!!!!!!!!!!!!", &key) < 0); /* not base64 */
    int64_t ts;
    CHECK(webhook_timestamp_parse("1614265330", &ts) == 0 && ts == 1614265330);
    CHECK(webhook_timestamp_parse("-5", &ts) < 0);
    CHECK(webhook_timestamp_parse("12ab", &ts) < 0);
    CHECK(webhook_timestamp_parse("", &ts) < 0);
    CHECK(webhook_timestamp_parse("99999999999999999999", &ts) < 0);
}

int main(void)
{
    test_spec_vector();
    test_rejections();
    test_rotation_lists();
    test_keys_and_timestamps();
    return check_exit("test_signature");
}
