"""Tests of spec_check (provider request bodies, and 200 answers, against the
providers' OpenAPI schemas in tests/specs/provider-requests.json), with bodies
composed as /work/shared/reference/providers.md composes them, and one round
trip through the fake provider: what it records and what it answers (the sends
and GET /sms/3/logs) must validate too.

    FAKE_PROVIDER_BIN=build/tests/fake_provider/fake_provider python3 test_provider_specs.py

Needs Debian's python3-jsonschema; no database.
"""
import copy
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import jsonschema
except ImportError:  # pragma: no cover - said plainly instead of a bare traceback
    sys.exit("test_provider_specs: needs python3-jsonschema (apt-get install -y "
             "python3-jsonschema)")
import spec_check  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))
import extract_provider_specs  # noqa: E402  (its dump(); PyYAML is not needed for that)
from fake_provider import FakeProviderCase, default_binary  # noqa: E402
from spec_check import (validate, validate_answer, validate_batch_item,  # noqa: E402
                        validate_recorded)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPECS = os.path.join(os.path.dirname(ROOT), "shared", "specs")
ENDPOINTS = ["POST /emails", "POST /emails/batch", "POST /sms/2/text/advanced",
             "POST /sms/3/messages", "POST /whatsapp/1/message/template",
             "POST /whatsapp/1/message/text"]
ANSWERS = ENDPOINTS + ["GET /sms/3/logs"]


# --- bodies as providers.md composes them -----------------------------------------------------

def resend_email(**kw):
    """providers.md 1.2."""
    e = {"from": "Praxis Muster <noreply@mail.example.de>", "to": ["patient@example.org"],
         "subject": "Ihr Termin am 12.05.", "html": "<p>Hallo …</p>", "text": "Hallo …",
         "reply_to": "info@example.de", "headers": {"X-Entity-Ref-ID": "appt-4711"},
         "tags": [{"name": "category", "value": "appointment_reminder"}]}
    e.update(kw)
    return {k: v for k, v in e.items() if v is not None}


def resend_batch():
    """providers.md 1.3 (both items complete)."""
    return [{"from": "a@x.de", "to": "b@y.de", "subject": "1", "text": "one"},
            {"from": "a@x.de", "to": ["c@y.de"], "subject": "2", "text": "two",
             "scheduled_at": "in 1 min"}]


def sms3():
    """providers.md 2.3."""
    return {
        "messages": [{
            "sender": "PraxisMust",
            "destinations": [{"to": "491701234567", "messageId": "notif-4711-sms"}],
            "content": {"text": "Erinnerung: Termin morgen 10:00.", "transliteration": "NONE",
                        "language": {"languageCode": "NONE"}},
            "options": {
                "validityPeriod": {"amount": 12, "timeUnit": "HOURS"},
                "deliveryTimeWindow": {"days": ["MONDAY", "FRIDAY"],
                                       "from": {"hour": 7, "minute": 0},
                                       "to": {"hour": 19, "minute": 0}},
                "campaignReferenceId": "reminders",
                "flash": False,
                "platform": {"entityId": "praxis", "applicationId": "tidings"},
            },
            "webhooks": {
                "delivery": {"url": "https://hooks.example.de/infobip/sms/dlr",
                             "intermediateReport": False, "notify": True},
                "contentType": "application/json",
                "callbackData": "notif=4711",
            },
        }],
        "options": {
            "schedule": {"bulkId": "bulk-4711", "sendAt": "2026-05-12T08:00:00.000+0000",
                         "sendingSpeedLimit": {"amount": 100, "timeUnit": "MINUTE"}},
            "tracking": {"shortenUrl": True, "trackClicks": True},
            "includeSmsCountInResponse": True,
        },
    }


def sms2():
    """providers.md 2.2."""
    return {"messages": [{
        "from": "PraxisMust",
        "destinations": [{"to": "491701234567", "messageId": "notif-4711-sms"}],
        "text": "Erinnerung: Termin morgen 10:00. Antworten Sie STOP zum Abmelden.",
        "notifyUrl": "https://hooks.example.de/infobip/sms/dlr",
        "notifyContentType": "application/json",
        "callbackData": "notif=4711",
        "validityPeriod": 720,
    }]}


def wa_template():
    """providers.md 3.1."""
    return {"messages": [{
        "from": "4930123456789", "to": "491701234567", "messageId": "notif-4711-wa",
        "content": {"templateName": "appointment_reminder", "language": "de",
                    "templateData": {"body": {"placeholders": ["Frau Müller",
                                                              "12.05.2026 10:00"]}}},
        "callbackData": "notif=4711",
        "notifyUrl": "https://hooks.example.de/infobip/wa/report"}]}


def wa_text():
    """providers.md 3.2."""
    return {"from": "4930123456789", "to": "491701234567", "messageId": "notif-4711-wt",
            "content": {"text": "Ihr Termin ist morgen um 10:00.", "previewUrl": False},
            "callbackData": "notif=4711",
            "notifyUrl": "https://hooks.example.de/infobip/wa/report"}


VALID = {
    "POST /emails": resend_email,
    "POST /emails/batch": resend_batch,
    "POST /sms/3/messages": sms3,
    "POST /sms/2/text/advanced": sms2,
    "POST /whatsapp/1/message/template": wa_template,
    "POST /whatsapp/1/message/text": wa_text,
}


def has_path(errors, path):
    """Whether some error line starts with "<path>:" (after an optional record prefix)."""
    return any(e.startswith(path + ":") or (": " + path + ":") in e for e in errors)


class SpecFileTest(unittest.TestCase):
    def test_entries_are_self_contained_json_schemas(self):
        with open(spec_check.SPEC_FILE, encoding="utf-8") as f:
            text = f.read()
        data = json.loads(text)
        self.assertIn("extract_provider_specs.py", data["_generated_by"])
        self.assertEqual(spec_check.endpoints(), sorted(ENDPOINTS))
        self.assertEqual(spec_check.answer_endpoints(), sorted(ANSWERS))
        for name in ENDPOINTS + ["answer to " + e for e in ANSWERS]:
            schema = data[name]
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            self.assertIn(schema["source"]["file"], data["_sources"])
            self.assertTrue(schema["source"]["pointer"].startswith("/paths/"))
            if name.startswith("answer to "):
                self.assertIn("/responses/200/content/application~1json/",
                              schema["source"]["pointer"])
        # no reference out of an entry, no OpenAPI-only keyword left
        for word in ('"discriminator"', '"nullable"', '"example"', '"readOnly"', '"x-'):
            self.assertNotIn(word, text)
        refs = [line for line in text.splitlines() if '"$ref"' in line]
        self.assertTrue(all('"#/$defs/' in line for line in refs), refs)
        # exactly the generator's layout (sorted keys, 2-space indent): not edited by hand
        self.assertEqual(extract_provider_specs.dump(data), text)

    def test_generated_file_is_up_to_date(self):
        """Regenerating from ../shared/specs gives the committed bytes (when both the specs
        and PyYAML are here; the tests themselves need neither)."""
        if not os.path.isdir(SPECS):
            self.skipTest(f"{SPECS} not here")
        try:
            import yaml  # noqa: F401
        except ImportError:
            self.skipTest("python3-yaml not installed")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                         "extract_provider_specs.py"),
                            "--specs", SPECS, "--check"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class ValidBodiesTest(unittest.TestCase):
    def test_providers_md_bodies_are_valid(self):
        for endpoint, body in VALID.items():
            with self.subTest(endpoint=endpoint):
                self.assertEqual(validate(endpoint, body()), [])

    def test_variants(self):
        self.assertEqual(validate("POST /emails", resend_email(to="patient@example.org")), [])
        self.assertEqual(validate("/emails", resend_email(html=None, text=None, template={
            "id": "appointment-reminder", "variables": {"NAME": "Frau Müller", "N": 2}})), [])
        self.assertEqual(validate_batch_item(resend_batch()[0]), [])
        minimal = {"messages": [{"destinations": [{"to": "41793026727"}],
                                 "content": {"text": "This is a sample message"}}]}
        self.assertEqual(validate("POST /sms/3/messages", minimal), [])
        template = wa_template()
        template["messages"][0]["content"]["templateData"]["header"] = {
            "type": "IMAGE", "mediaUrl": "https://example.de/logo.png"}
        template["messages"][0]["content"]["templateData"]["buttons"] = [
            {"type": "QUICK_REPLY", "parameter": "STOP"}, {"type": "URL", "parameter": "x"}]
        self.assertEqual(validate("POST /whatsapp/1/message/template", template), [])


class InvalidBodiesTest(unittest.TestCase):
    def assert_error_at(self, endpoint, body, path):
        errors = validate(endpoint, body)
        self.assertTrue(has_path(errors, path), f"no error at {path}: {errors}")
        return errors

    def test_resend_email_without_to(self):
        errors = self.assert_error_at("POST /emails", resend_email(to=None), "$.to")
        self.assertEqual(errors, ["$.to: required property is missing"])

    def test_resend_tags_with_a_non_object_entry(self):
        body = resend_email(tags=[{"name": "category", "value": "x"}, "appointment_reminder"])
        errors = self.assert_error_at("POST /emails", body, "$.tags[1]")
        self.assertIn("object", errors[0])

    def test_resend_other_refusals(self):
        self.assert_error_at("POST /emails",
                             resend_email(to=[f"p{i}@example.org" for i in range(51)]), "$.to")
        self.assert_error_at("POST /emails", resend_email(to=[]), "$.to")
        self.assert_error_at("POST /emails", resend_email(subject=7), "$.subject")
        self.assert_error_at("POST /emails", [resend_email()], "$")
        self.assert_error_at("POST /emails", resend_email(template={"variables": {}}),
                             "$.template.id")

    def test_resend_batch(self):
        # providers.md 1.3's permissive example: its second e-mail has no "to"
        body = [{"from": "a@x.de", "to": "b@y.de", "subject": "1", "text": "one"},
                {"from": "a@x.de", "subject": "2", "text": "two"}]
        self.assertEqual(validate("POST /emails/batch", body),
                         ["$[1].to: required property is missing"])
        self.assert_error_at("POST /emails/batch", resend_email(), "$")
        self.assertEqual(validate_batch_item(body[1]), ["$.to: required property is missing"])

    def test_sms3_message_without_destinations(self):
        body = sms3()
        del body["messages"][0]["destinations"]
        self.assertEqual(validate("POST /sms/3/messages", body),
                         ["$.messages[0].destinations: required property is missing"])

    def test_sms3_other_refusals(self):
        body = sms3()
        body["messages"][0]["content"] = {"transliteration": "NONE"}
        errors = self.assert_error_at("POST /sms/3/messages", body, "$.messages[0].content")
        self.assertIn("$.messages[0].content.text", errors[0])  # the text alternative
        body = sms3()
        body["messages"][0]["destinations"][0]["to"] = "4" * 65
        self.assert_error_at("POST /sms/3/messages", body, "$.messages[0].destinations[0].to")
        body = sms3()
        body["messages"][0]["options"]["validityPeriod"]["timeUnit"] = "DAYS"
        self.assert_error_at("POST /sms/3/messages", body,
                             "$.messages[0].options.validityPeriod.timeUnit")
        body = sms3()
        body["messages"][0]["options"]["deliveryTimeWindow"]["from"]["hour"] = 24
        self.assert_error_at("POST /sms/3/messages", body,
                             "$.messages[0].options.deliveryTimeWindow.from.hour")
        self.assert_error_at("POST /sms/3/messages", {"messages": {}}, "$.messages")
        self.assert_error_at("POST /sms/3/messages", {}, "$.messages")

    def test_sms2_refusals(self):
        body = sms2()
        del body["messages"][0]["destinations"][0]["to"]
        self.assert_error_at("POST /sms/2/text/advanced", body,
                             "$.messages[0].destinations[0].to")
        body = sms2()
        body["messages"][0]["validityPeriod"] = "720"
        self.assert_error_at("POST /sms/2/text/advanced", body, "$.messages[0].validityPeriod")

    def test_whatsapp_template_without_name_or_language(self):
        for field in ("templateName", "language"):
            body = wa_template()
            del body["messages"][0]["content"][field]
            with self.subTest(field=field):
                self.assertEqual(validate("POST /whatsapp/1/message/template", body),
                                 [f"$.messages[0].content.{field}: required property is missing"])

    def test_whatsapp_template_other_refusals(self):
        body = wa_template()
        del body["messages"][0]["content"]["templateData"]["body"]["placeholders"]
        self.assert_error_at("POST /whatsapp/1/message/template", body,
                             "$.messages[0].content.templateData.body.placeholders")
        body = wa_template()
        body["messages"][0]["content"]["templateData"]["header"] = {"type": "IMAGE"}
        self.assert_error_at("POST /whatsapp/1/message/template", body,
                             "$.messages[0].content.templateData.header.mediaUrl")
        body = wa_template()
        body["messages"][0]["content"]["templateData"]["header"] = {"type": "AUDIO"}
        self.assert_error_at("POST /whatsapp/1/message/template", body,
                             "$.messages[0].content.templateData.header.type")
        body = wa_template()
        body["messages"][0]["from"] = "4" * 25
        self.assert_error_at("POST /whatsapp/1/message/template", body, "$.messages[0].from")
        self.assert_error_at("POST /whatsapp/1/message/template", wa_text(), "$.messages")

    def test_whatsapp_text_without_content_text(self):
        body = wa_text()
        del body["content"]["text"]
        self.assertEqual(validate("POST /whatsapp/1/message/text", body),
                         ["$.content.text: required property is missing"])
        body = wa_text()
        body["content"]["text"] = "x" * 4097
        self.assert_error_at("POST /whatsapp/1/message/text", body, "$.content.text")
        body["content"]["text"] = ""
        self.assert_error_at("POST /whatsapp/1/message/text", body, "$.content.text")

    def test_unknown_endpoint(self):
        with self.assertRaises(KeyError):
            validate("POST /sms/1/text/single", {})
        with self.assertRaises(KeyError):
            validate_answer("GET /sms/1/logs", {})


class AnswersTest(unittest.TestCase):
    """The answer schemas catch what a wrong fake would answer."""

    def test_logs_answer(self):
        item = {"messageId": "a", "destination": "491701234567", "sender": "PraxisMust",
                "bulkId": "b", "sentAt": "2026-05-12T08:00:00.000+0000", "messageCount": 1,
                "status": {"groupId": 1, "groupName": "PENDING", "id": 26,
                           "name": "PENDING_ACCEPTED"},
                "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                          "permanent": False},
                "content": {"text": "Hallo"}}
        self.assertEqual(validate_answer("GET /sms/3/logs", {"results": [item]}), [])
        bad = dict(item, status=dict(item["status"], groupName="SENT"), messageCount="1")
        errors = validate_answer("GET /sms/3/logs", {"results": [bad]})
        self.assertTrue(has_path(errors, "$.results[0].status.groupName"), errors)
        self.assertTrue(has_path(errors, "$.results[0].messageCount"), errors)
        errors = validate_answer("GET /sms/3/logs", {"results": [dict(item, content={})]})
        self.assertTrue(has_path(errors, "$.results[0].content"), errors)
        self.assertTrue(has_path(validate_answer("GET /sms/3/logs", {"results": {}}),
                                 "$.results"))

    def test_send_answers(self):
        self.assertEqual(validate_answer("POST /emails", {"id": "x"}), [])
        self.assertTrue(has_path(validate_answer("POST /emails", {"id": 7}), "$.id"))
        self.assertTrue(has_path(validate_answer("/sms/3/messages", {"bulkId": "b"}),
                                 "$.messages"))


class SpecLooserThanProvidersMdTest(unittest.TestCase):
    """What providers.md (and the fake) refuse but the OpenAPI files allow: spec_check passes
    these, so plugins must not rely on it for them."""

    def test_gaps(self):
        # Resend: tag text is only described (ASCII letters, digits, _ and -); name and value
        # are not required; no limit of 100 e-mails or ban of attachments in a batch
        self.assertEqual(validate("POST /emails", resend_email(tags=[{"name": "bad tag"}])), [])
        self.assertEqual(validate("POST /emails/batch", [resend_email(attachments=[
            {"filename": "a.pdf", "path": "https://example.de/a.pdf"}])] * 101), [])
        # Infobip SMS: destinations may be empty, "to" may be blank; v2 "text" is optional
        body = sms3()
        body["messages"][0]["destinations"] = []
        self.assertEqual(validate("POST /sms/3/messages", body), [])
        body["messages"][0]["destinations"] = [{"to": ""}]
        self.assertEqual(validate("POST /sms/3/messages", body), [])
        body = sms2()
        del body["messages"][0]["text"]
        self.assertEqual(validate("POST /sms/2/text/advanced", body), [])
        # WhatsApp: the template name pattern (lowercase, digits, _) is not in the schema
        body = wa_template()
        body["messages"][0]["content"]["templateName"] = "Appointment Reminder"
        self.assertEqual(validate("POST /whatsapp/1/message/template", body), [])


class ValidateRecordedTest(unittest.TestCase):
    def test_records(self):
        body = sms3()
        records = [
            {"endpoint": "/emails", "key": "k1", "request": resend_email()},
            {"endpoint": "/emails/batch", "key": None, "request": resend_batch()[1],
             "request_batch": True, "batch_index": 1},
            {"endpoint": "/sms/3/messages", "key": "a", "request": body},
            {"endpoint": "/sms/3/messages", "key": "b", "request": copy.deepcopy(body)},
        ]
        self.assertEqual(validate_recorded(records), [])
        del body["messages"][0]["destinations"]
        bad = [{"endpoint": "/emails/batch", "key": "x", "request": {"from": "a@x.de"},
                "request_batch": True},
               {"endpoint": "/sms/3/messages", "key": "a", "request": body},
               {"endpoint": "/sms/3/messages", "key": "b", "request": body},
               {"endpoint": "/emails", "key": "old"}]
        errors = validate_recorded(bad)
        self.assertTrue(has_path(errors, "$.to"), errors)
        self.assertTrue(has_path(errors, "$.subject"), errors)
        # one body shared by two records: checked and reported once
        sms = [e for e in errors if "destinations" in e]
        self.assertEqual(len(sms), 1, errors)
        self.assertIn("record 1 (key a, and 1 more)", sms[0])
        self.assertTrue(any("record 3" in e and '"request"' in e for e in errors), errors)


class FakeProviderRoundTripTest(FakeProviderCase):
    """Correct bodies through the fake provider: every record's "request" validates."""

    @classmethod
    def setUpClass(cls):
        if not os.environ.get("FAKE_PROVIDER_BIN") and not os.path.exists(default_binary()):
            raise unittest.SkipTest(f"no fake_provider at {default_binary()} (build it, or set "
                                    "FAKE_PROVIDER_BIN)")
        super().setUpClass()

    def test_every_endpoint(self):
        r = self.fake.resend("/emails", resend_email(), idempotency_key="spec/1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(validate_answer("POST /emails", r.json()), [])
        r = self.fake.resend("/emails/batch", resend_batch(),
                             headers={"x-batch-validation": "strict"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(validate_answer("POST /emails/batch", r.json()), [])
        for endpoint in ENDPOINTS[2:]:
            path = endpoint.split(" ", 1)[1]
            r = self.fake.infobip(path, VALID[endpoint]())
            self.assertEqual(r.status, 200, (endpoint, r))
            self.assertEqual(validate_answer(endpoint, r.json()), [], endpoint)
        # both SMS went in with messageId notif-4711-sms: the logs have both
        r = self.fake.sms_logs("notif-4711-sms")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["results"]), 2)
        self.assertEqual(validate_answer("GET /sms/3/logs", r.json()), [])
        records = self.fake.messages()
        self.assertEqual(sorted({m["endpoint"] for m in records}),
                         sorted(e.split(" ", 1)[1] for e in ENDPOINTS))
        self.assertEqual(validate_recorded(records), [])
        batch = [m for m in records if m["endpoint"] == "/emails/batch"]
        self.assertEqual([m["request"] for m in batch], resend_batch())
        self.assertEqual(batch[0]["headers"]["x-batch-validation"], "strict")

    def test_refusals_in_a_200_answer(self):
        self.fake.settings(infobip_dedup=True)
        for _ in range(2):
            r = self.fake.infobip("/sms/3/messages", sms3())
            self.assertEqual(validate_answer("POST /sms/3/messages", r.json()), [])
        self.assertEqual(r.json()["messages"][0]["status"]["name"],
                         "REJECTED_DUPLICATE_MESSAGE_ID")
        self.fake.fault("/whatsapp/1/message/template", "reject")
        r = self.fake.infobip("/whatsapp/1/message/template", wa_template())
        self.assertEqual(r.json()["messages"][0]["status"]["groupName"], "REJECTED")
        self.assertEqual(validate_answer("POST /whatsapp/1/message/template", r.json()), [])

    def test_what_the_fake_lets_through_is_still_caught(self):
        # the fake does not look at template headers; the schema requires an IMAGE's mediaUrl
        body = wa_template()
        body["messages"][0]["content"]["templateData"]["header"] = {"type": "IMAGE"}
        self.assertEqual(self.fake.infobip("/whatsapp/1/message/template", body).status, 200)
        errors = validate_recorded(self.fake.messages())
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("$.messages[0].content.templateData.header.mediaUrl", errors[0])


if __name__ == "__main__":
    unittest.main()
