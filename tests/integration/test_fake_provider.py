"""Smoke tests of the fake provider itself: every endpoint, the errors, auth,
idempotency, each fault mode (accept_drop and probabilities too), the SMS logs,
the accepted-per-key counts, Infobip de-duplication and the control API.

    FAKE_PROVIDER_BIN=build/tests/fake_provider/fake_provider python3 test_fake_provider.py
"""
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_provider import FakeProvider, FakeProviderCase, default_binary  # noqa: E402

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def email(**kw):
    e = {"from": "Praxis Muster <noreply@mail.example.de>", "to": ["patient@example.org"],
         "subject": "Ihr Termin", "text": "Hallo", "html": "<p>Hallo</p>"}
    e.update(kw)
    return {k: v for k, v in e.items() if v is not None}


def sms3(*dests, text="Erinnerung: Termin morgen 10:00.", **kw):
    m = {"sender": "PraxisMust", "destinations": [dict(d) for d in dests],
         "content": {"text": text}}
    m.update(kw)
    return {"messages": [m]}


def wa_template(to="491701234567", message_id="wa-1", **content):
    c = {"templateName": "appointment_reminder", "language": "de",
         "templateData": {"body": {"placeholders": ["Frau Müller", "12.05.2026 10:00"]}}}
    c.update(content)
    return {"messages": [{"from": "4930123456789", "to": to, "messageId": message_id,
                          "content": c, "notifyUrl": "http://127.0.0.1:9/wa"}]}


class ResendTest(FakeProviderCase):
    def test_send_email_records_it(self):
        body = email(
            to="patient@example.org", reply_to="info@example.de",
            headers={"List-Unsubscribe": "<mailto:stop@example.de>", "X-Entity-Ref-ID": "a-1"},
            tags=[{"name": "category", "value": "appointment_reminder"}])
        r = self.fake.resend("/emails", body, idempotency_key="notify/1")
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.json()["id"], UUID)
        for h in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            self.assertIn(h, r.headers)
        [m] = self.fake.messages()
        self.assertEqual(m["endpoint"], "/emails")
        self.assertEqual(m["id"], r.json()["id"])
        self.assertEqual(m["key"], "notify/1")
        self.assertEqual(m["to"], ["patient@example.org"])
        self.assertEqual(m["from"], "Praxis Muster <noreply@mail.example.de>")
        self.assertEqual(m["subject"], "Ihr Termin")
        self.assertEqual(m["text"], "Hallo")
        self.assertEqual(m["html"], "<p>Hallo</p>")
        self.assertEqual(m["reply_to"], "info@example.de")
        self.assertEqual(m["tags"], [{"name": "category", "value": "appointment_reminder"}])
        self.assertEqual(m["user_agent"], "tidings-tests/1.0")
        # the body as sent ("to" stays a string there), and the HTTP headers, key masked
        self.assertEqual(m["request"], body)
        self.assertEqual(m["request"]["headers"]["List-Unsubscribe"], "<mailto:stop@example.de>")
        self.assertNotIn("request_batch", m)
        self.assertEqual(m["headers"], {"Authorization": "Bearer...",
                                        "Content-Type": "application/json",
                                        "User-Agent": "tidings-tests/1.0",
                                        "Idempotency-Key": "notify/1"})
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (1, 1, 0))
        self.assertEqual(s["requests"]["/emails"], 1)
        self.assertEqual(s["by_status"], {"200": 1})

    def test_auth_and_user_agent(self):
        r = self.fake.request("POST", "/emails", email(), {"User-Agent": "x"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["name"], "missing_api_key")
        self.assertEqual(r.json()["statusCode"], 401)
        r = self.fake.resend("/emails", email(), key="re_wrong")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json()["name"], "invalid_api_key")
        r = self.fake.request("POST", "/emails", email(),
                              {"Authorization": "Bearer re_test_key"})
        self.assertEqual(r.status, 403)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertEqual(self.fake.stats()["accepted"], 0)

    def test_validation_names_the_field(self):
        for field in ("from", "to", "subject"):
            r = self.fake.resend("/emails", email(**{field: None}))
            self.assertEqual(r.status, 422, r)
            self.assertEqual(r.json()["name"], "validation_error")
            self.assertIn(f"`{field}`", r.json()["message"])
        r = self.fake.resend("/emails", email(to=[f"p{i}@example.org" for i in range(51)]))
        self.assertEqual(r.status, 422)
        self.assertIn("`to`", r.json()["message"])
        r = self.fake.resend("/emails", email(to=[f"p{i}@example.org" for i in range(50)]))
        self.assertEqual(r.status, 200)
        r = self.fake.resend("/emails", email(to="not-an-address"))
        self.assertEqual(r.status, 422)
        r = self.fake.resend("/emails", email(tags=[{"name": "bad tag", "value": "x"}]))
        self.assertEqual(r.status, 422)
        r = self.fake.resend("/emails", "{not json")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["name"], "validation_error")

    def test_idempotency(self):
        body = email()
        a = self.fake.resend("/emails", body, idempotency_key="k-1")
        b = self.fake.resend("/emails", body, idempotency_key="k-1")
        self.assertEqual((a.status, b.status), (200, 200))
        self.assertEqual(a.json()["id"], b.json()["id"])
        c = self.fake.resend("/emails", email(subject="other"), idempotency_key="k-1")
        self.assertEqual(c.status, 409)
        self.assertEqual(c.json()["name"], "invalid_idempotent_request")
        d = self.fake.resend("/emails", body, idempotency_key="k" * 257)
        self.assertEqual(d.status, 400)
        self.assertEqual(d.json()["name"], "invalid_idempotency_key")
        e = self.fake.resend("/emails", body, idempotency_key="")
        self.assertEqual(e.status, 400)
        # the key is per endpoint, and a failed first try does not burn it
        f = self.fake.resend("/emails", email(to=None), idempotency_key="k-2")
        self.assertEqual(f.status, 422)
        g = self.fake.resend("/emails", body, idempotency_key="k-2")
        self.assertEqual(g.status, 200)
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (2, 2, 1))
        self.assertEqual(len(self.fake.messages()), 2)

    def test_concurrent_idempotent_request(self):
        # with hold_key, a slow Resend request holds its Idempotency-Key while it sleeps
        self.fake.fault("/emails", "slow", delay_ms=500, hold_key=True)
        results = {}

        def first():
            results["a"] = self.fake.resend("/emails", email(), idempotency_key="same")

        t = threading.Thread(target=first)
        t.start()
        self.fake.wait_for(lambda s: s["in_flight"] >= 1)
        time.sleep(0.1)
        b = self.fake.resend("/emails", email(), idempotency_key="same")
        t.join()
        self.assertEqual(b.status, 409)
        self.assertEqual(b.json()["name"], "concurrent_idempotent_requests")
        self.assertEqual(results["a"].status, 200)
        c = self.fake.resend("/emails", email(), idempotency_key="same")
        self.assertEqual(c.json()["id"], results["a"].json()["id"])
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (1, 1, 1))

    def test_plain_slow_sleeps_before_the_key_is_claimed(self):
        self.fake.fault("/emails", "slow", delay_ms=500)
        results = {}

        def first():
            results["a"] = self.fake.resend("/emails", email(), idempotency_key="same")

        t = threading.Thread(target=first)
        t.start()
        self.fake.wait_for(lambda s: s["in_flight"] >= 1)
        time.sleep(0.1)
        b = self.fake.resend("/emails", email(), idempotency_key="same")  # wins the key
        t.join()
        self.assertEqual((b.status, results["a"].status), (200, 200))
        self.assertEqual(results["a"].json()["id"], b.json()["id"])  # the sleeper got a replay
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (1, 1, 1))

    def test_batch_strict_and_permissive(self):
        r = self.fake.resend("/emails/batch", [email(), email(to="b@example.org")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["data"]), 2)
        self.assertNotIn("errors", r.json())
        r = self.fake.resend("/emails/batch", [email(), email(to=None)])
        self.assertEqual(r.status, 422)
        self.assertIn("emails.1", r.json()["message"])
        self.assertEqual(self.fake.stats()["accepted"], 2)
        r = self.fake.resend("/emails/batch", [email(), email(to=None), email()],
                             headers={"x-batch-validation": "permissive"})
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.json()["data"]), 2)
        self.assertEqual(r.json()["errors"][0]["index"], 1)
        self.assertIn("`to`", r.json()["errors"][0]["message"])
        r = self.fake.resend("/emails/batch", [email()] * 101)
        self.assertEqual(r.status, 422)
        r = self.fake.resend("/emails/batch", email())
        self.assertEqual(r.status, 422)
        recs = self.fake.messages(endpoint="/emails/batch")
        self.assertEqual([m["batch_index"] for m in recs], [0, 1, 0, 2])
        # each record keeps its own item of the array, and the request's headers
        self.assertEqual([m["request"]["to"] for m in recs],
                         [["patient@example.org"], "b@example.org", ["patient@example.org"],
                          ["patient@example.org"]])
        self.assertTrue(all(m["request_batch"] is True for m in recs))
        self.assertNotIn("x-batch-validation", recs[0]["headers"])
        self.assertEqual(recs[2]["headers"]["x-batch-validation"], "permissive")
        self.assertEqual(recs[3]["headers"], recs[2]["headers"])
        self.assertNotIn("Idempotency-Key", recs[0]["headers"])
        self.assertEqual(self.fake.stats()["accepted"], 4)

    def test_batch_idempotency(self):
        body = [email(), email(to="x@example.org")]
        a = self.fake.resend("/emails/batch", body, idempotency_key="b-1")
        b = self.fake.resend("/emails/batch", body, idempotency_key="b-1")
        self.assertEqual(a.json(), b.json())
        c = self.fake.resend("/emails/batch", body[:1], idempotency_key="b-1")
        self.assertEqual(c.status, 409)
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (2, 1, 1))

    def test_api_keys(self):
        ua = {"User-Agent": "t"}
        r = self.fake.request("GET", "/api-keys", None,
                              {"Authorization": "Bearer re_test_key", **ua})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["data"][0]["name"], "fake")
        self.assertIn("created_at", r.json()["data"][0])
        self.assertEqual(self.fake.request("GET", "/api-keys", None, ua).status, 401)
        r = self.fake.request("GET", "/api-keys", None, {"Authorization": "Bearer no", **ua})
        self.assertEqual(r.status, 403)

    def test_unknown_path_and_method(self):
        r = self.fake.request("GET", "/nope")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["name"], "not_found")
        r = self.fake.request("GET", "/emails")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json()["name"], "method_not_allowed")

    def test_keep_alive(self):
        conn = http.client.HTTPConnection(self.fake.host, self.fake.port, timeout=10)
        headers = {"Authorization": "Bearer re_test_key", "User-Agent": "t",
                   "Content-Type": "application/json"}
        for _ in range(5):
            conn.request("POST", "/emails", json.dumps(email()), headers)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        conn.close()
        self.assertEqual(self.fake.stats()["accepted"], 5)


class InfobipTest(FakeProviderCase):
    def test_sms3(self):
        body = sms3({"to": "491701234567", "messageId": "n-1"}, {"to": "491709999999"},
                    webhooks={"delivery": {"url": "http://127.0.0.1:9/dlr"},
                              "callbackData": "n=1"})
        r = self.fake.infobip("/sms/3/messages", body)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertTrue(j["bulkId"])
        a, b = j["messages"]
        self.assertEqual(a["messageId"], "n-1")
        self.assertEqual(a["destination"], "491701234567")
        self.assertEqual(a["status"], {"groupId": 1, "groupName": "PENDING", "id": 26,
                                       "name": "PENDING_ACCEPTED",
                                       "description": "Message sent to next instance"})
        self.assertEqual(a["details"], {"messageCount": 1})
        self.assertRegex(b["messageId"], UUID)
        recs = self.fake.messages()
        self.assertEqual(len(recs), 2)
        self.assertEqual(recs[0]["key"], "n-1")
        self.assertEqual(recs[0]["sender"], "PraxisMust")
        self.assertEqual(recs[0]["notifyUrl"], "http://127.0.0.1:9/dlr")
        self.assertEqual(recs[0]["callbackData"], "n=1")
        self.assertEqual(recs[0]["text"], "Erinnerung: Termin morgen 10:00.")
        # both records carry the whole request body (kept once by the fake) and its headers
        for rec in recs:
            self.assertEqual(rec["request"], body)
            self.assertEqual(rec["headers"], {"Authorization": "App ib...",
                                              "Content-Type": "application/json"})
            self.assertNotIn("request_batch", rec)

    def test_sms3_segments(self):
        cases = [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
                 ("ä" * 160, 1), ("{" * 80, 1), ("{" * 81, 2), ("ł" * 70, 1), ("ł" * 71, 2)]
        for text, parts in cases:
            r = self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}, text=text))
            self.assertEqual(r.json()["messages"][0]["details"]["messageCount"], parts, text)

    def test_sms3_errors(self):
        r = self.fake.request("POST", "/sms/3/messages", sms3({"to": "4917"}))
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["errorCode"], "E401")
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}), key="wrong")
        self.assertEqual(r.status, 401)
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "+491701234567"}, text=""))
        self.assertEqual(r.status, 400)
        j = r.json()
        self.assertEqual(j["errorCode"], "E400")
        props = {v["property"] for v in j["violations"]}
        self.assertEqual(props, {"messages[0].destinations[0].to", "messages[0].content.text"})
        r = self.fake.infobip("/sms/3/messages", {"messages": []})
        self.assertEqual(r.json()["violations"][0]["property"], "messages")
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "4" * 65}))
        self.assertEqual(r.status, 400)
        r = self.fake.infobip("/sms/3/messages", "nope")
        self.assertEqual(r.status, 400)
        self.assertEqual(self.fake.stats()["accepted"], 0)

    def test_sms2_legacy(self):
        body = {"messages": [{"from": "PraxisMust", "text": "Hallo",
                              "destinations": [{"to": "491701234567", "messageId": "s2-1"}],
                              "notifyUrl": "http://127.0.0.1:9/dlr"}]}
        r = self.fake.infobip("/sms/2/text/advanced", body)
        self.assertEqual(r.status, 200, r)
        [m] = r.json()["messages"]
        self.assertEqual((m["to"], m["messageId"]), ("491701234567", "s2-1"))
        self.assertEqual(m["status"]["name"], "PENDING_ACCEPTED")
        self.assertNotIn("smsCount", m)
        r = self.fake.infobip("/sms/2/text/advanced", dict(body, includeSmsCountInResponse=True))
        self.assertEqual(r.json()["messages"][0]["smsCount"], 1)
        rec = self.fake.messages()[0]
        self.assertEqual((rec["from"], rec["notifyUrl"]), ("PraxisMust", "http://127.0.0.1:9/dlr"))
        self.assertEqual(rec["request"], body)
        self.assertEqual(self.fake.messages()[1]["request"],
                         dict(body, includeSmsCountInResponse=True))
        self.assertEqual(rec["headers"]["Authorization"], "App ib...")
        r = self.fake.request("POST", "/sms/2/text/advanced", body)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json(), {"requestError": {"serviceException": {
            "messageId": "UNAUTHORIZED", "text": "Unauthorized"}}})
        body["messages"][0]["destinations"][0]["to"] = ""
        r = self.fake.infobip("/sms/2/text/advanced", body)
        self.assertEqual(r.status, 400)
        exc = r.json()["requestError"]["serviceException"]
        self.assertEqual(exc["messageId"], "BAD_REQUEST")
        self.assertIn("messages[0].destinations[0].to", exc["validationErrors"])
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (2, 1, 1))

    def test_whatsapp_template(self):
        r = self.fake.infobip("/whatsapp/1/message/template", wa_template(),
                              headers={"User-Agent": "tidings/0.1"})
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertTrue(j["bulkId"])
        [m] = j["messages"]
        self.assertEqual((m["to"], m["messageId"], m["messageCount"]), ("491701234567", "wa-1", 1))
        self.assertEqual((m["status"]["id"], m["status"]["name"]), (7, "PENDING_ENROUTE"))
        [rec] = self.fake.messages()
        self.assertEqual(rec["template"], "appointment_reminder")
        self.assertEqual(rec["placeholders"], ["Frau Müller", "12.05.2026 10:00"])
        self.assertEqual(rec["language"], "de")
        self.assertEqual(rec["notifyUrl"], "http://127.0.0.1:9/wa")
        self.assertEqual(rec["request"], wa_template())
        self.assertEqual(rec["headers"], {"Authorization": "App ib...",
                                          "Content-Type": "application/json",
                                          "User-Agent": "tidings/0.1"})
        r = self.fake.infobip("/whatsapp/1/message/template", wa_template(templateName=""))
        self.assertEqual(r.status, 400)
        errors = r.json()["requestError"]["serviceException"]["validationErrors"]
        self.assertIn("messages[0].content.templateName", errors)
        body = wa_template()
        del body["messages"][0]["content"]["templateData"]
        del body["messages"][0]["to"]
        errors = self.fake.infobip("/whatsapp/1/message/template", body).json()[
            "requestError"]["serviceException"]["validationErrors"]
        self.assertIn("messages[0].to", errors)
        self.assertIn("messages[0].content.templateData.body.placeholders", errors)
        r = self.fake.request("POST", "/whatsapp/1/message/template", wa_template())
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["requestError"]["serviceException"]["messageId"],
                         "UNAUTHORIZED")

    def test_whatsapp_text(self):
        body = {"from": "4930123456789", "to": "491701234567", "messageId": "wt-1",
                "content": {"text": "Hallo"}}
        r = self.fake.infobip("/whatsapp/1/message/text", body)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual((j["to"], j["messageId"], j["status"]["name"]),
                         ("491701234567", "wt-1", "PENDING_ENROUTE"))
        self.assertNotIn("messages", j)
        self.assertEqual(self.fake.messages()[0]["text"], "Hallo")
        self.assertEqual(self.fake.messages()[0]["request"], body)
        body["content"]["text"] = "x" * 4097
        r = self.fake.infobip("/whatsapp/1/message/text", body)
        self.assertEqual(r.status, 400)
        self.assertIn("content.text",
                      r.json()["requestError"]["serviceException"]["validationErrors"])

    def test_balance_and_unknown(self):
        r = self.fake.request("GET", "/account/1/balance", None,
                              {"Authorization": "App ib_test_key"})
        self.assertEqual(r.json(), {"balance": 47.5, "currency": "EUR"})
        self.assertEqual(self.fake.request("GET", "/account/1/balance").status, 401)
        self.assertEqual(self.fake.request("GET", "/sms/3/messages").status, 405)
        r = self.fake.request("GET", "/sms/9/x")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["requestError"]["serviceException"]["messageId"], "NOT_FOUND")

    def test_duplicate_message_ids(self):
        for _ in range(3):
            self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "dup"}))
        self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "other"}))
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["unique_keys"], s["duplicates"]), (4, 2, 2))


class FaultTest(FakeProviderCase):
    def test_status_with_retry_after_resend(self):
        self.fake.fault("/emails", "status", status=429, retry_after=2)
        r = self.fake.resend("/emails", email())
        self.assertEqual(r.status, 429)
        self.assertEqual(r.json(), {"statusCode": 429, "name": "rate_limit_exceeded",
                                    "message": r.json()["message"]})
        self.assertEqual(r.headers["retry-after"], "2")
        self.assertEqual(r.headers["ratelimit-remaining"], "0")
        self.assertEqual(r.headers["ratelimit-reset"], "2")
        self.assertEqual(self.fake.resend("/emails", email()).status, 200)
        s = self.fake.stats()
        self.assertEqual(s["by_status"], {"429": 1, "200": 1})
        self.assertEqual(s["accepted"], 1)

    def test_status_bodies_per_provider(self):
        for status, name in ((500, "application_error"), (503, "service_unavailable"),
                             (401, "missing_api_key"), (403, "invalid_api_key"),
                             (422, "validation_error")):
            self.fake.fault("/emails/batch", "status", status=status)
            r = self.fake.resend("/emails/batch", [email()])
            self.assertEqual((r.status, r.json()["name"]), (status, name))
        self.fake.fault("/sms/3/messages", "status", status=500)
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}))
        self.assertEqual((r.status, r.json()["errorCode"]), (500, "E500"))
        self.fake.fault("/sms/3/messages", "status", status=429, retry_after=5)
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}))
        self.assertEqual((r.status, r.json()["errorCode"]), (429, "E429"))
        self.assertEqual(r.headers["retry-after"], "5")
        self.fake.fault("/sms/2/text/advanced", "status", status=500)
        r = self.fake.infobip("/sms/2/text/advanced", {})
        self.assertEqual(r.json()["requestError"]["serviceException"]["messageId"],
                         "GENERAL_ERROR")
        self.fake.fault("/whatsapp/1/message/template", "status", status=429)
        r = self.fake.infobip("/whatsapp/1/message/template", wa_template())
        self.assertEqual(r.json()["requestError"]["serviceException"]["messageId"],
                         "TOO_MANY_REQUESTS")

    def test_body_override(self):
        self.fake.fault("/emails", "status", status=418, body={"custom": [1, 2]})
        r = self.fake.resend("/emails", email())
        self.assertEqual((r.status, r.json()), (418, {"custom": [1, 2]}))

    def test_slow(self):
        self.fake.fault("/emails", "slow", delay_ms=300)
        t0 = time.monotonic()
        r = self.fake.resend("/emails", email())
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        self.assertEqual(r.status, 200)
        t0 = time.monotonic()
        self.fake.resend("/emails", email())
        self.assertLess(time.monotonic() - t0, 0.25)

    def test_drop(self):
        self.fake.fault("/sms/3/messages", "drop")
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}))
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}))
        self.assertEqual(r.status, 200)
        s = self.fake.stats()
        self.assertEqual((s["dropped"], s["accepted"], s["requests"]["/sms/3/messages"]),
                         (1, 1, 2))

    def test_reject_infobip_only_the_matching_recipient(self):
        self.fake.fault("/sms/3/messages", "reject", to="491700000002")
        r = self.fake.infobip("/sms/3/messages", sms3({"to": "491700000001"},
                                                      {"to": "491700000002"}))
        self.assertEqual(r.status, 200)
        ok, bad = r.json()["messages"]
        self.assertEqual(ok["status"]["name"], "PENDING_ACCEPTED")
        self.assertEqual((bad["status"]["groupId"], bad["status"]["groupName"],
                          bad["status"]["id"], bad["status"]["name"]),
                         (5, "REJECTED", 52, "REJECTED_DESTINATION"))
        self.assertTrue(bad["error"]["permanent"])
        self.assertNotIn("error", ok)
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["rejected"]), (1, 1))
        recs = self.fake.messages()
        self.assertEqual([m["status"] for m in recs], ["PENDING_ACCEPTED", "REJECTED_DESTINATION"])
        self.assertEqual(recs[1]["request"]["messages"][0]["destinations"][1]["to"],
                         "491700000002")

    def test_reject_whatsapp_and_resend(self):
        self.fake.fault("/whatsapp/1/message/text", "reject")
        r = self.fake.infobip("/whatsapp/1/message/text", {
            "from": "4930", "to": "4917", "content": {"text": "x"}})
        self.assertEqual(r.json()["status"]["name"], "REJECTED_DESTINATION")
        self.fake.fault("/emails", "reject")
        r = self.fake.resend("/emails", email())
        self.assertEqual((r.status, r.json()["name"]), (422, "validation_error"))
        self.assertEqual(self.fake.stats()["accepted"], 0)

    def test_queue_order_count_and_to(self):
        self.fake.fault("/emails", "status", status=503, count=2)
        self.fake.fault("/emails", "status", status=429)
        self.fake.fault("/emails", "status", status=500, to="vip@example.org", count=-1)
        statuses = [self.fake.resend("/emails", email()).status for _ in range(5)]
        self.assertEqual(statuses, [503, 503, 429, 200, 200])
        for _ in range(3):
            r = self.fake.resend("/emails", email(to=["x@example.org", "VIP <vip@example.org>"]))
            self.assertEqual(r.status, 500)
        self.assertEqual(len(self.fake.faults()), 1)
        self.fake.reset()
        self.assertEqual(self.fake.faults(), [])
        self.assertEqual(self.fake.resend("/emails", email(to="vip@example.org")).status, 200)

    def test_wildcard_path_and_array_of_faults(self):
        self.fake._control("POST", "faults", [{"path": "*", "mode": "status", "status": 503},
                                              {"path": "/sms/*", "mode": "status",
                                               "status": 500}])
        self.assertEqual(self.fake.infobip("/whatsapp/1/message/template",
                                           wa_template()).status, 503)
        self.assertEqual(self.fake.resend("/emails", email()).status, 200)
        self.assertEqual(self.fake.infobip("/sms/2/text/advanced", {}).status, 500)

    def test_bad_fault_specs(self):
        for spec in ({"path": "/emails"}, {"path": "/emails", "mode": "explode"},
                     {"mode": "drop"}, {"path": "/emails", "mode": "drop", "count": 0},
                     {"path": "/emails", "mode": "status", "status": 99},
                     {"path": "/emails", "mode": "drop", "retryAfter": 3},
                     {"path": "/emails", "mode": "slow", "hold_key": "yes"}):
            r = self.fake.request("POST", "/_control/faults", spec)
            self.assertEqual(r.status, 400, spec)
            self.assertIn("error", r.json())
        self.assertEqual(self.fake.faults(), [])


class ControlTest(FakeProviderCase):
    def test_stats_messages_since_and_reset(self):
        for i in range(5):
            self.fake.resend("/emails", email(subject=f"s{i}"))
        page = self.fake._control("GET", "messages?since=3")
        self.assertEqual([m["subject"] for m in page["messages"]], ["s3", "s4"])
        self.assertEqual(page["next"], 5)
        page = self.fake._control("GET", "messages?since=1&limit=2")
        self.assertEqual([m["subject"] for m in page["messages"]], ["s1", "s2"])
        self.assertEqual(page["next"], 3)
        self.assertEqual(len(self.fake.messages(since=2)), 3)
        self.assertEqual(self.fake.request("GET", "/_control/messages?since=x").status, 400)
        s = self.fake.stats()
        for key in ("requests", "by_status", "accepted", "unique_keys", "duplicates",
                    "in_flight_max"):
            self.assertIn(key, s)
        self.fake.reset()
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["requests"], s["by_status"]), (0, {}, {}))
        self.assertEqual(self.fake.messages(), [])

    def test_bulk_request_members_are_shared_and_paged(self):
        # one /sms/3 request for 300 recipients: 300 records, each with the whole body (kept
        # once by the fake, written into every record); pages cut anywhere keep them whole
        body = sms3(*({"to": f"4917{i:08d}", "messageId": f"bulk-{i}"} for i in range(300)))
        self.assertEqual(self.fake.infobip("/sms/3/messages", body).status, 200)
        self.fake.resend("/emails", email(), headers={"Authorization": "Bearer x"})  # 401
        # http.client sends "ü" as Latin-1: a header that is not UTF-8 is left out
        self.fake.resend("/emails", email(), headers={"User-Agent": "ü-agent"})
        page = self.fake._control("GET", "messages?since=299&limit=2")
        self.assertEqual([m["key"] for m in page["messages"][:1]], ["bulk-299"])
        self.assertEqual(page["messages"][0]["request"], body)
        recs = self.fake.messages()
        self.assertEqual(len(recs), 301)
        self.assertTrue(all(m["request"] == body for m in recs[:300]))
        self.assertEqual(recs[300]["headers"]["Authorization"], "Bearer...")
        self.assertNotIn("User-Agent", recs[300]["headers"])
        self.assertNotIn("user_agent", recs[300])
        self.fake.reset()
        self.assertEqual(self.fake.messages(), [])

    def test_control_requests_are_not_counted(self):
        self.fake.stats()
        self.fake.messages()
        self.assertEqual(self.fake.stats()["requests"], {})

    def test_in_flight_max(self):
        self.fake.fault("/emails", "slow", delay_ms=300, count=4)
        threads = [threading.Thread(target=self.fake.resend, args=("/emails", email()))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # the count drops once the answer is written, which the client may
        # have read already
        s = self.fake.wait_for(lambda st: st["accepted"] == 4 and st["in_flight"] == 0)
        self.assertGreaterEqual(s["in_flight_max"], 2)

    def test_wait_for_times_out(self):
        with self.assertRaises(AssertionError):
            self.fake.wait_for(lambda s: s["accepted"] > 0, timeout=0.2)

    def test_send_delivers_a_webhook(self):
        received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers["Content-Length"])
                received.append((self.path, dict(self.headers), self.rfile.read(n)))
                self.send_response(204 if self.path == "/empty" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/hooks/infobip?x=1"
            dlr = {"results": [{"messageId": "n-1", "status": {"groupId": 3}}]}
            r = self.fake.send(url, dlr, headers={"X-Test": "yes"})
            self.assertEqual(r, {"status": 200, "body": "ok"})
            path, headers, body = received[0]
            self.assertEqual(path, "/hooks/infobip?x=1")
            self.assertEqual(headers["X-Test"], "yes")
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(json.loads(body), dlr)
            raw = '{"type":"email.delivered",  "data":{}}'
            r = self.fake.send(url, raw, headers={"svix-id": "msg_1"})
            self.assertEqual(received[1][2], raw.encode())
            self.assertEqual(received[1][1]["svix-id"], "msg_1")
        finally:
            server.shutdown()
            server.server_close()
        # nothing listens there any more
        r = self.fake.send(url, {}, timeout_ms=2000)
        self.assertEqual(r["status"], 0)
        self.assertIn("error", r)
        r = self.fake.request("POST", "/_control/send", {"url": "https://example.org/"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], 0)
        self.assertEqual(self.fake.request("POST", "/_control/send", {"body": 1}).status, 400)

    def test_unknown_control_endpoint(self):
        self.assertEqual(self.fake.request("GET", "/_control/nope").status, 404)
        self.assertEqual(self.fake.request("GET", "/_control/reset").status, 405)


def sms2(*dests, text="Erinnerung: Termin morgen 10:00."):
    return {"messages": [{"from": "PraxisMust", "destinations": [dict(d) for d in dests],
                          "text": text}]}


def wa_text(to="491701234567", message_id="wt-1"):
    return {"from": "4930123456789", "to": to, "messageId": message_id,
            "content": {"text": "Hallo"}}


def tagged(key, **kw):
    """An e-mail that names its own key in the tag "idempotency_key"."""
    return email(tags=[{"name": "idempotency_key", "value": key}], **kw)


SENT_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
CLOSED = (http.client.HTTPException, ConnectionError)


class KeptAliveClient:
    """Requests on one kept-alive connection, opened again after the fake closed it."""

    def __init__(self, fake):
        self.fake = fake
        self.conn = None

    def post(self, path, body, headers):
        """The answer's status, or 0 when the connection closed without one."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.fake.host, self.fake.port, timeout=10)
        try:
            self.conn.request("POST", path, json.dumps(body),
                              {"Content-Type": "application/json", **headers})
            r = self.conn.getresponse()
            r.read()
            return r.status
        except CLOSED:
            self.conn.close()
            self.conn = None
            return 0

    def close(self):
        if self.conn is not None:
            self.conn.close()


class AcceptDropTest(FakeProviderCase):
    def test_email_is_accepted_and_its_answer_lost(self):
        self.fake.fault("/emails", "accept_drop")
        with self.assertRaises(CLOSED):
            self.fake.resend("/emails", email(), idempotency_key="k-1")
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["dropped"], s["by_status"]), (1, 1, {}))
        [rec] = self.fake.messages()
        self.assertEqual(rec["key"], "k-1")
        self.assertEqual(self.fake.accepted(), {
            "email": {"k-1": 1}, "sms": {}, "whatsapp": {},
            "accept_drops": {"email": 1, "sms": 0, "whatsapp": 0}})
        # the key was remembered with the lost answer: the retry gets it, nothing is sent again
        r = self.fake.resend("/emails", email(), idempotency_key="k-1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["id"], rec["id"])
        self.assertEqual(self.fake.accepted()["email"], {"k-1": 1})
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["duplicates"], s["records"]), (1, 1, 1))

    def test_batch_counts_every_email_it_accepted(self):
        self.fake.fault("/emails/batch", "accept_drop")
        batch = [tagged("m-1"), tagged("m-2", to="b@example.org"), email(to="c@example.org")]
        with self.assertRaises(CLOSED):
            self.fake.resend("/emails/batch", batch, idempotency_key="batch-1")
        recs = self.fake.messages()
        self.assertEqual(len(recs), 3)
        acc = self.fake.accepted()
        self.assertEqual(acc["email"], {"m-1": 1, "m-2": 1, recs[2]["id"]: 1})
        self.assertEqual(acc["accept_drops"]["email"], 3)
        r = self.fake.resend("/emails/batch", batch, idempotency_key="batch-1")
        self.assertEqual([d["id"] for d in r.json()["data"]], [m["id"] for m in recs])
        self.assertEqual(self.fake.accepted()["email"], acc["email"])

    def test_every_infobip_send(self):
        sends = [("/sms/3/messages", lambda: sms3({"to": "491700000001", "messageId": "s3"})),
                 ("/sms/2/text/advanced", lambda: sms2({"to": "491700000002",
                                                        "messageId": "s2"})),
                 ("/whatsapp/1/message/template", lambda: wa_template(message_id="wa")),
                 ("/whatsapp/1/message/text", lambda: wa_text(message_id="wt"))]
        for path, body in sends:
            self.fake.fault(path, "accept_drop")
            with self.assertRaises(CLOSED, msg=path):
                self.fake.infobip(path, body())
            # the client knows nothing and sends again: a real account accepts it again
            self.assertEqual(self.fake.infobip(path, body()).status, 200, path)
        self.assertEqual(self.fake.accepted(), {
            "email": {}, "sms": {"s3": 2, "s2": 2}, "whatsapp": {"wa": 2, "wt": 2},
            "accept_drops": {"email": 0, "sms": 2, "whatsapp": 2}})
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["dropped"], s["by_status"]), (8, 4, {"200": 4}))
        # the lost answer's message is in the logs as well
        self.assertEqual(len(self.fake.sms_logs(["s3", "s2"]).json()["results"]), 4)

    def test_what_is_not_accepted_is_not_counted(self):
        self.fake.fault("/sms/3/messages", "accept_drop")
        with self.assertRaises(CLOSED):
            self.fake.infobip("/sms/3/messages", sms3({"to": "+4917", "messageId": "bad"}))
        self.fake.fault("/emails", "drop")  # a plain drop accepts nothing
        with self.assertRaises(CLOSED):
            self.fake.resend("/emails", email(), idempotency_key="d-1")
        acc = self.fake.accepted()
        self.assertEqual((acc["sms"], acc["email"]), ({}, {}))
        self.assertEqual(acc["accept_drops"], {"email": 0, "sms": 0, "whatsapp": 0})
        self.assertEqual(self.fake.stats()["dropped"], 2)
        self.assertEqual(self.fake.faults(), [])


MIX = [{"path": "/sms/3/messages", "mode": "status", "status": 500, "probability": 0.2,
        "count": -1},
       {"path": "/sms/3/messages", "mode": "status", "status": 429, "retry_after": 1,
        "probability": 0.1, "count": -1},
       {"path": "/sms/3/messages", "mode": "accept_drop", "probability": 0.2, "count": -1}]


class ProbabilityTest(unittest.TestCase):
    SEED = 20240611
    N = 2000

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProvider(seed=cls.SEED)

    @classmethod
    def tearDownClass(cls):
        assert cls.fake.stop() == 0

    def setUp(self):
        self.fake.reset()  # also restarts the draws from the seed

    def run_mix(self, fake, n):
        """n SMS with messageIds p-0.. through MIX; their statuses (0: no answer)."""
        fake._control("POST", "faults", MIX)
        client = KeptAliveClient(fake)
        auth = {"Authorization": f"App {fake.infobip_key}"}
        try:
            return [client.post("/sms/3/messages", sms3({"to": "4917", "messageId": f"p-{i}"}),
                                auth) for i in range(n)]
        finally:
            client.close()

    def test_shares_are_reproducible_with_a_seed(self):
        statuses = self.run_mix(self.fake, self.N)
        share = {st: statuses.count(st) / self.N for st in (500, 429, 0, 200)}
        self.assertEqual(sum(share.values()), 1.0, share)
        for st, want in ((500, 0.2), (429, 0.1), (0, 0.2), (200, 0.5)):
            self.assertAlmostEqual(share[st], want, delta=0.035, msg=share)
        # what the fake says matches what the client saw
        s = self.fake.stats()
        self.assertEqual(s["by_status"], {str(st): statuses.count(st)
                                          for st in (200, 429, 500) if statuses.count(st)})
        self.assertEqual(s["dropped"], statuses.count(0))
        acc = self.fake.accepted()
        self.assertEqual(acc["sms"], {f"p-{i}": 1 for i, st in enumerate(statuses)
                                      if st in (200, 0)})
        self.assertEqual(acc["accept_drops"]["sms"], statuses.count(0))
        # the same seed: the same sequence, after a reset and in another process
        self.fake.reset()
        self.assertEqual(self.run_mix(self.fake, self.N), statuses)
        with FakeProvider(seed=self.SEED) as other:
            self.assertEqual(self.run_mix(other, 300), statuses[:300])
        with FakeProvider(seed=self.SEED + 1) as other:
            self.assertNotEqual(self.run_mix(other, 300), statuses[:300])

    def test_probability_with_a_count(self):
        self.fake.fault("/emails", "status", status=503, probability=0.5, count=5)
        statuses = [self.fake.resend("/emails", email()).status for _ in range(60)]
        self.assertEqual(statuses.count(503), 5)
        self.assertLess(statuses.index(503), 20)
        self.assertEqual(self.fake.faults(), [])

    def test_probability_zero_and_the_listing(self):
        self.fake.fault("/emails", "status", status=500, probability=0, count=-1)
        self.fake.fault("/emails", "status", status=429, probability=0.25, count=-1)
        [never, quarter] = self.fake.faults()
        self.assertEqual((never["probability"], quarter["probability"]), (0, 0.25))
        statuses = [self.fake.resend("/emails", email()).status for _ in range(200)]
        self.assertNotIn(500, statuses)
        self.assertAlmostEqual(statuses.count(429) / 200, 0.25, delta=0.1)
        self.fake.reset()
        self.fake.fault("/emails", "status", status=500)
        self.assertNotIn("probability", self.fake.faults()[0])

    def test_bad_probabilities(self):
        for p in (1.5, -0.1, "half", True, None):
            r = self.fake.request("POST", "/_control/faults",
                                  {"path": "/emails", "mode": "drop", "probability": p})
            self.assertEqual(r.status, 400, p)
            self.assertIn("probability", r.json()["error"])
        self.assertEqual(self.fake.faults(), [])


class SmsLogsTest(FakeProviderCase):
    def send(self):
        """Accepted: a, b (v3, one request), c (v2), d twice; rejected: r; WhatsApp: w."""
        self.fake.fault("/sms/3/messages", "reject", to="491700000009")
        body = sms3({"to": "491700000001", "messageId": "a"},
                    {"to": "491700000002", "messageId": "b"},
                    {"to": "491700000009", "messageId": "r"},
                    options={"platform": {"entityId": "praxis", "applicationId": "tidings"},
                             "campaignReferenceId": "reminders"})
        self.bulk = self.fake.infobip("/sms/3/messages", body).json()["bulkId"]
        self.fake.infobip("/sms/2/text/advanced", sms2({"to": "491700000003", "messageId": "c"},
                                                       text="Zwei"))
        self.fake.infobip("/sms/3/messages", sms3({"to": "491700000004", "messageId": "d"}))
        self.fake.infobip("/sms/3/messages", sms3({"to": "491700000004", "messageId": "d"}))
        self.fake.infobip("/whatsapp/1/message/text", wa_text(message_id="w"))

    def ids(self, r):
        self.assertEqual(r.status, 200, r)
        return [m["messageId"] for m in r.json()["results"]]

    def test_by_one_and_by_several_message_ids(self):
        self.send()
        r = self.fake.sms_logs("a")
        [a] = r.json()["results"]
        self.assertEqual({k: a[k] for k in ("messageId", "destination", "sender", "bulkId",
                                            "messageCount", "content", "platform",
                                            "campaignReferenceId")},
                         {"messageId": "a", "destination": "491700000001",
                          "sender": "PraxisMust", "bulkId": self.bulk, "messageCount": 1,
                          "content": {"text": "Erinnerung: Termin morgen 10:00."},
                          "platform": {"entityId": "praxis", "applicationId": "tidings"},
                          "campaignReferenceId": "reminders"})
        self.assertRegex(a["sentAt"], SENT_AT)
        self.assertEqual(a["status"], {"groupId": 1, "groupName": "PENDING", "id": 26,
                                       "name": "PENDING_ACCEPTED",
                                       "description": "Message sent to next instance"})
        self.assertEqual(a["error"]["name"], "NO_ERROR")
        [c] = self.fake.sms_logs("c").json()["results"]
        self.assertEqual((c["sender"], c["content"]["text"]), ("PraxisMust", "Zwei"))
        self.assertNotIn("platform", c)
        # several, newest first; each id once however often it is listed
        self.assertEqual(self.ids(self.fake.sms_logs(["a", "c", "a"])), ["c", "a"])
        self.assertEqual(self.ids(self.fake.sms_logs(["b", "nope", "a"])), ["b", "a"])
        r = self.fake.request("GET", "/sms/3/logs?messageId=a&messageId=c,b",
                              None, {"Authorization": "App ib_test_key"})
        self.assertEqual(self.ids(r), ["c", "b", "a"])
        # accepted twice: two entries
        self.assertEqual(self.ids(self.fake.sms_logs("d")), ["d", "d"])

    def test_unknown_rejected_and_whatsapp_ids_are_not_found(self):
        self.send()
        for ids in ("nope", "r", "w", ["nope", "w"]):
            self.assertEqual(self.ids(self.fake.sms_logs(ids)), [], ids)

    def test_other_filters_limit_and_order(self):
        self.send()
        self.assertEqual(self.ids(self.fake.sms_logs()), ["d", "d", "c", "b", "a"])
        self.assertEqual(self.ids(self.fake.sms_logs(limit=2)), ["d", "d"])
        self.assertEqual(self.ids(self.fake.sms_logs(["a", "b", "c"], limit=1)), ["c"])
        self.assertEqual(self.ids(self.fake.sms_logs(bulkId=self.bulk)), ["b", "a"])
        self.assertEqual(self.ids(self.fake.sms_logs(bulkId=f"x,{self.bulk}",
                                                     destination="491700000002")), ["b"])
        self.assertEqual(self.ids(self.fake.sms_logs(["a", "c"], sender="PraxisMust",
                                                     generalStatus="PENDING")), ["c", "a"])
        self.assertEqual(self.ids(self.fake.sms_logs(generalStatus="DELIVERED")), [])
        self.assertEqual(self.ids(self.fake.sms_logs(sender="Other")), [])

    def test_errors_auth_and_stats(self):
        self.send()
        for query in ("limit=0", "limit=1001", "limit=x", "generalStatus=GONE"):
            r = self.fake.request("GET", "/sms/3/logs?" + query, None,
                                  {"Authorization": "App ib_test_key"})
            self.assertEqual((r.status, r.json()["errorCode"]), (400, "E400"), query)
            self.assertEqual(r.json()["violations"][0]["property"], query.split("=")[0])
        self.assertEqual(len(self.ids(self.fake.sms_logs(limit=1000))), 5)
        r = self.fake.request("GET", "/sms/3/logs?messageId=a")
        self.assertEqual((r.status, r.json()["errorCode"]), (401, "E401"))
        self.assertEqual(self.fake.sms_logs("a", key="wrong").status, 401)
        self.assertEqual(self.fake.request("POST", "/sms/3/logs", {}).status, 405)
        s = self.fake.stats()
        self.assertEqual(s["requests"]["/sms/3/logs"], 8)
        self.assertEqual(s["accepted"], 6)  # logs requests accept nothing
        self.fake.reset()
        self.assertEqual(self.ids(self.fake.sms_logs()), [])


class AcceptedTest(FakeProviderCase):
    def test_counts_doubles_and_nothing_else(self):
        self.fake.resend("/emails", email(), idempotency_key="e-1")
        self.fake.resend("/emails", email(), idempotency_key="e-1")  # a replay: not sent again
        self.fake.resend("/emails", tagged("e-2"))  # no header: the tag names the key ...
        self.fake.resend("/emails", tagged("e-2"))  # ... and nothing stops a double
        self.fake.resend("/emails", email(to=None), idempotency_key="e-3")  # 422
        plain = self.fake.resend("/emails", email()).json()["id"]
        for _ in range(3):
            self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "s-1"}))
        self.fake.infobip("/sms/2/text/advanced", sms2({"to": "4917", "messageId": "s-2"}))
        self.fake.fault("/sms/3/messages", "reject")
        self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "s-3"}))
        self.fake.infobip("/whatsapp/1/message/template", wa_template(message_id="w-1"))
        self.fake.infobip("/whatsapp/1/message/text", wa_text(message_id="w-1"))
        generated = self.fake.infobip("/sms/3/messages",
                                      sms3({"to": "4917"})).json()["messages"][0]["messageId"]
        self.assertEqual(self.fake.accepted(), {
            "email": {"e-1": 1, "e-2": 2, plain: 1},
            "sms": {"s-1": 3, "s-2": 1, generated: 1},
            "whatsapp": {"w-1": 2},
            "accept_drops": {"email": 0, "sms": 0, "whatsapp": 0}})
        self.fake.reset()
        self.assertEqual(self.fake.accepted(), {
            "email": {}, "sms": {}, "whatsapp": {},
            "accept_drops": {"email": 0, "sms": 0, "whatsapp": 0}})
        self.assertEqual(self.fake.request("POST", "/_control/accepted", {}).status, 405)


class DedupTest(FakeProviderCase):
    def test_off_by_default(self):
        self.assertEqual(self.fake.settings(), {"infobip_dedup": False})
        for _ in range(2):
            r = self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "d-1"}))
            self.assertEqual(r.json()["messages"][0]["status"]["name"], "PENDING_ACCEPTED")
        self.assertEqual(self.fake.accepted()["sms"], {"d-1": 2})

    def test_on_refuses_a_reused_message_id(self):
        self.assertEqual(self.fake.settings(infobip_dedup=True), {"infobip_dedup": True})
        self.assertEqual(self.fake.settings(), {"infobip_dedup": True})
        first = self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "d-1"}))
        self.assertEqual(first.json()["messages"][0]["status"]["name"], "PENDING_ACCEPTED")
        again = self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "d-1"},
                                                          {"to": "4918", "messageId": "d-2"},
                                                          {"to": "4919", "messageId": "d-2"}))
        self.assertEqual(again.status, 200)
        d1, d2, d2_again = again.json()["messages"]
        self.assertEqual(d1["status"], {"groupId": 5, "groupName": "REJECTED", "id": 23,
                                        "name": "REJECTED_DUPLICATE_MESSAGE_ID",
                                        "description": "Duplicate message ID"})
        self.assertEqual(d2["status"]["name"], "PENDING_ACCEPTED")
        self.assertEqual(d2_again["status"]["id"], 23)
        r = self.fake.infobip("/sms/2/text/advanced", sms2({"to": "4917", "messageId": "d-2"}))
        self.assertEqual(r.json()["messages"][0]["status"]["name"],
                         "REJECTED_DUPLICATE_MESSAGE_ID")
        for path, body in (("/whatsapp/1/message/template", wa_template(message_id="d-1")),
                           ("/whatsapp/1/message/text", wa_text(message_id="d-1"))):
            r = self.fake.infobip(path, body)  # WhatsApp is a channel of its own
            status = (r.json()["messages"][0] if "messages" in r.json() else r.json())["status"]
            self.assertEqual(status["name"], "PENDING_ENROUTE" if "template" in path
                             else "REJECTED_DUPLICATE_MESSAGE_ID", path)
        for _ in range(2):  # without a messageId nothing is a duplicate
            self.fake.infobip("/sms/3/messages", sms3({"to": "4917"}))
        acc = self.fake.accepted()
        self.assertEqual({k: v for k, v in acc["sms"].items() if k.startswith("d-")},
                         {"d-1": 1, "d-2": 1})
        self.assertEqual(len(acc["sms"]), 4)
        self.assertEqual(acc["whatsapp"], {"d-1": 1})
        s = self.fake.stats()
        self.assertEqual((s["accepted"], s["rejected"], s["duplicates"]), (5, 4, 4))
        self.assertEqual([m["status"] for m in self.fake.messages()[1:4]],
                         ["REJECTED_DUPLICATE_MESSAGE_ID", "PENDING_ACCEPTED",
                          "REJECTED_DUPLICATE_MESSAGE_ID"])
        self.assertEqual(len(self.fake.sms_logs(["d-1", "d-2"]).json()["results"]), 2)
        # off again: accepted again
        self.fake.settings(infobip_dedup=False)
        self.fake.infobip("/sms/3/messages", sms3({"to": "4917", "messageId": "d-1"}))
        self.assertEqual(self.fake.accepted()["sms"]["d-1"], 2)

    def test_reset_and_bad_settings(self):
        self.fake.settings(infobip_dedup=True)
        self.fake.reset()
        self.assertEqual(self.fake.settings(), {"infobip_dedup": False})
        for body in ({"infobip_dedup": "yes"}, {"infobip_dedup": True, "nope": 1}, [True]):
            r = self.fake.request("POST", "/_control/settings", body)
            self.assertEqual(r.status, 400, body)
            self.assertIn("error", r.json())
        self.assertEqual(self.fake.settings(), {"infobip_dedup": False})
        self.assertEqual(self.fake.request("PUT", "/_control/settings", {}).status, 405)


class SlowAcceptTest(FakeProviderCase):
    def test_accepted_only_after_the_delay(self):
        self.fake.fault("/sms/3/messages", "slow", delay_ms=800)
        body = sms3({"to": "4917", "messageId": "s-1"})
        results = {}
        t = threading.Thread(target=lambda: results.update(
            slow=self.fake.infobip("/sms/3/messages", body)))
        t.start()
        self.fake.wait_for(lambda s: s["in_flight"] >= 1)
        self.assertEqual(self.fake.accepted()["sms"], {})
        # a re-send while the first waits (a lease ran out): the provider gets it twice
        self.assertEqual(self.fake.infobip("/sms/3/messages", body).status, 200)
        self.assertEqual(self.fake.accepted()["sms"], {"s-1": 1})
        t.join()
        self.assertEqual(results["slow"].status, 200)
        self.assertEqual(self.fake.accepted()["sms"], {"s-1": 2})

    def test_accepted_when_the_client_gave_up(self):
        self.fake.fault("/whatsapp/1/message/text", "slow", delay_ms=600)
        with self.assertRaises(TimeoutError):
            self.fake.request("POST", "/whatsapp/1/message/text", wa_text(message_id="g-1"),
                              {"Authorization": "App ib_test_key"}, timeout=0.2)
        self.fake.wait_for(lambda s: s["accepted"] == 1, timeout=5)
        self.assertEqual(self.fake.accepted()["whatsapp"], {"g-1": 1})
        self.assertEqual(self.fake.messages()[0]["key"], "g-1")

    def test_delays_longer_than_a_lease(self):
        for ms in (120000, 600000):
            self.fake.fault("/emails", "slow", delay_ms=ms)
        self.assertEqual([f["delay_ms"] for f in self.fake.faults()], [120000, 600000])
        r = self.fake.request("POST", "/_control/faults",
                              {"path": "/emails", "mode": "slow", "delay_ms": 600001})
        self.assertEqual(r.status, 400)


class LifetimeTest(unittest.TestCase):
    def test_custom_keys_and_clean_stop(self):
        with FakeProvider(resend_key="re_other", infobip_key="ib_other", threads=2) as fake:
            self.assertEqual(fake.resend("/emails", email()).status, 200)
            self.assertEqual(fake.resend("/emails", email(), key="re_test_key").status, 403)
            self.assertEqual(fake.infobip("/sms/3/messages", sms3({"to": "4917"})).status, 200)
            self.assertEqual(fake.stop(), 0)
        self.assertEqual(fake.stop(), 0)

    def test_sigint_and_fixed_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        fake = FakeProvider(port=port)
        try:
            self.assertEqual(fake.port, port)
            fake.proc.send_signal(2)
            self.assertEqual(fake.proc.wait(10), 0)
        finally:
            fake.stop()

    def test_largest_seed(self):
        with FakeProvider(seed=2**64 - 1) as fake:
            self.assertEqual(fake.resend("/emails", email()).status, 200)
            self.assertEqual(fake.stop(), 0)

    def test_bad_arguments(self):
        for args in (["--port", "70000"], ["--threads", "0"], ["--port", "12x"], ["extra"],
                     ["--bogus"], ["--seed", "-1"], ["--seed", " 1"], ["--seed", "x"],
                     ["--seed", "18446744073709551616"]):
            p = subprocess.run([default_binary()] + args, capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stdout, b"")


if __name__ == "__main__":
    unittest.main()
