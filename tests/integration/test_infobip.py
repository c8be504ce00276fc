"""Infobip SMS and WhatsApp, and Gerrit's sequences end to end on all three
real channels, through the running engine and the fake provider: request
bodies valid against the providers' OpenAPI files, delivery reports coming
back (delivered, undeliverable, replays), inbound STOP, the WhatsApp 24-hour
window and the fallback a WhatsApp error 7010 starts."""
import datetime as dt
import json
import os
import time
import unittest
import zoneinfo

from fake_provider import FakeProvider
from harness import (SOURCE_DIR, Database, Engine, Setup, callback_path, callback_token, close_class,
                     counts_by_status, import_templates, make_due_now, new_secret, psql, scalar,
                     message_key, now, seed_messages, svix_headers, wait_until)
from spec_check import validate_recorded

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def digits(e164):
    return e164.lstrip("+")


class Infobip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.fake = FakeProvider()
        cls.callback_secret = "cb-" + new_secret()
        cls.resend_hook_secret = new_secret()
        cls.setup = Setup(cls.db, orgs=())
        cfg = open(cls.setup.config).read().replace(
            "[http]\n", "[http]\npublic_url = http://tidings.test\ncallback_secret = file:callback-secret\n")
        cls.setup.write("tidings.ini", cfg)
        cls.setup.write("callback-secret", cls.callback_secret + "\n")
        cls.setup.write("resend-key", cls.fake.resend_key + "\n")
        cls.setup.write("resend-hook", cls.resend_hook_secret + "\n")
        cls.setup.write("infobip-key", cls.fake.infobip_key + "\n")
        cls.setup.secrets["haff"] = new_secret()
        cls.setup.write("secret-haff", cls.setup.secrets["haff"] + "\n")
        cls.setup.write("conf.d/haff.ini",
                        "[org]\nid = haff\nname = Segelschule am Haff\ntimezone = Europe/Berlin\ncountry = 49\n"
                        "[trigger.webhook]\nplugin = booking_webhook\nsecret = file:../secret-haff\n"
                        "[channel.email]\nplugin = resend\napi_key = file:../resend-key\n"
                        f"from = Segelschule am Haff <hallo@haff.example>\nbase_url = {cls.fake.url}\n"
                        "webhook_secret = file:../resend-hook\n"
                        "[channel.sms]\nplugin = infobip_sms\napi_key = file:../infobip-key\n"
                        f"base_url = {cls.fake.url}\nsender = HaffSegeln\n"
                        "[channel.whatsapp]\nplugin = infobip_whatsapp\napi_key = file:../infobip-key\n"
                        f"base_url = {cls.fake.url}\nsender = 4939771234567\n")
        cls.setup.cli("migrate")
        cls.setup.cli("sequences", "import", "--org", "haff",
                      os.path.join(SOURCE_DIR, "sql", "seed", "haff-segeln.json"))
        import_templates(cls.setup, "haff")
        doc = {"templates": [{"key": "t_wa", "channel": "whatsapp",
                              "whatsapp": {"name": "haff_reminder", "language": "de",
                                           "params": ["{{firstName}}", "{{daysUntil}}"]},
                              "text": "Hallo {{firstName}}, bis bald!"}]}
        cls.setup.write("wa.json", json.dumps(doc))
        cls.setup.cli("sequences", "import", "--org", "haff", os.path.join(cls.setup.dir, "wa.json"))
        cls.engine = Engine(cls.setup)
        cls.dsn = cls.db.dsn
        cls.sms_hook = "http://127.0.0.1:%d%s" % (cls.engine.port, callback_path(cls.callback_secret, "haff", "sms"))
        cls.wa_hook = "http://127.0.0.1:%d%s" % (cls.engine.port, callback_path(cls.callback_secret, "haff", "whatsapp"))
        cls.mail_hook = "http://127.0.0.1:%d%s" % (cls.engine.port, callback_path(cls.callback_secret, "haff", "email"))

    @classmethod
    def tearDownClass(cls):
        problems = validate_recorded(cls.fake.messages())
        log = close_class(cls.engine, cls.setup, cls.db, cls.fake)
        assert problems == [], "requests the real APIs would refuse:\n" + "\n".join(problems)
        assert cls.fake.infobip_key not in log and "491761234567" not in log, "a secret or number in the log"
        for channel in ("sms", "whatsapp", "email"):
            assert callback_token(cls.callback_secret, "haff", channel) not in log, "a callback token in the log"
        assert "message -1" not in log, "a report logged without its message"

    def dlr(self, url, key, to, group, status_id, name, error=None):
        result = {"bulkId": "b1", "messageId": key, "to": digits(to),
                  "sentAt": "2026-11-26T08:00:00.000+0000", "doneAt": "2026-11-26T08:00:05.000+0000",
                  "messageCount": 1, "price": {"pricePerMessage": 0.07, "currency": "EUR"},
                  "status": {"groupId": group, "groupName": {1: "PENDING", 2: "UNDELIVERABLE", 3: "DELIVERED",
                                                             4: "EXPIRED", 5: "REJECTED"}[group],
                             "id": status_id, "name": name, "description": name}}
        result["error"] = error or {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                                    "description": "No Error", "permanent": False}
        return self.fake.send(url, {"results": [result]})

    def sent_row(self, prefix, channel):
        wait_until(lambda: scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE booking_id = '{prefix}1' "
                                            f"AND channel = '{channel}'") not in (None, "scheduled", "sending"),
                   what=f"the {channel} message")
        return psql(self.dsn, "SELECT id, status, coalesce(provider_id, ''), coalesce(recipient, ''), "
                              f"coalesce(reason, '') FROM tidings.messages WHERE booking_id = '{prefix}1' "
                              f"AND channel = '{channel}'")[0]

    def test_sms_is_sent_and_its_delivery_reports_come_back(self):
        seed_messages(self.dsn, "haff", 1, prefix="SM", channel="sms", template="t_sms",
                      phone="'0176 1234567'")
        mid, status, provider_id, to, _ = self.sent_row("SM", "sms")
        self.assertEqual((status, to), ("sent", "+491761234567"))
        key = message_key(self.dsn, "haff", mid)
        rec = [m for m in self.fake.messages() if m.get("key") == key][0]
        msg = rec["request"]["messages"][0]
        self.assertEqual(msg["sender"], "HaffSegeln")
        self.assertEqual(msg["destinations"], [{"to": "491761234567", "messageId": key}])
        self.assertEqual(msg["content"]["text"], "Hallo Anna")
        self.assertEqual(msg["webhooks"]["delivery"]["url"],
                         "http://tidings.test" + callback_path(self.callback_secret, "haff", "sms"))
        self.assertTrue(rec["headers"]["Authorization"].startswith("App"))
        self.assertEqual(self.dlr(self.sms_hook, key, to, 3, 5, "DELIVERED_TO_HANDSET")["status"], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE id = {mid}"), "delivered")
        # the same report again changes nothing
        self.assertEqual(self.dlr(self.sms_hook, key, to, 3, 5, "DELIVERED_TO_HANDSET")["status"], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT count(*) FROM tidings.message_reports WHERE message_id = {mid}"), "1")

    def test_undeliverable_sms(self):
        seed_messages(self.dsn, "haff", 1, prefix="SU", channel="sms", template="t_sms", phone="'+491761112222'")
        mid, status, _, to, _ = self.sent_row("SU", "sms")
        self.dlr(self.sms_hook, message_key(self.dsn, "haff", mid), to, 2, 9, "UNDELIVERABLE_NOT_DELIVERED",
                 {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 1, "name": "EC_UNKNOWN_SUBSCRIBER",
                  "description": "Unknown subscriber", "permanent": True})
        status, reason = psql(self.dsn, f"SELECT status, reason FROM tidings.messages WHERE id = {mid}")[0]
        self.assertEqual(status, "failed")
        self.assertIn("EC_UNKNOWN_SUBSCRIBER", reason)

    def test_rejected_at_send_time_fails_with_the_reason(self):
        self.fake.fault("/sms/3/messages", "reject", to="491769990000")
        seed_messages(self.dsn, "haff", 1, prefix="SR", channel="sms", template="t_sms", phone="'+491769990000'")
        _, status, _, _, reason = self.sent_row("SR", "sms")
        self.assertEqual(status, "failed")
        self.assertIn("REJECTED", reason)

    def test_inbound_stop_suppresses_the_number(self):
        r = self.fake.send(self.sms_hook, {"results": [{
            "messageId": "mo-1", "from": "491763334444", "to": "HaffSegeln", "text": "Stopp",
            "cleanText": "", "keyword": "STOPP", "receivedAt": "2026-11-26T09:00:00.000+0000",
            "smsCount": 1}], "messageCount": 1, "pendingMessageCount": 0})
        self.assertEqual(r["status"], 200)
        self.assertEqual(psql(self.dsn, "SELECT channel, created_by FROM tidings.suppressions "
                                        "WHERE address = '+491763334444'"), [["sms", "customer"]])
        seed_messages(self.dsn, "haff", 1, prefix="SS", channel="sms", template="t_sms", phone="'0176 3334444'")
        _, status, _, _, reason = self.sent_row("SS", "sms")
        self.assertEqual((status, reason), ("skipped", "the customer's address is suppressed for sms"))
        # "stop, please call me" is a sentence, not a keyword
        self.fake.send(self.sms_hook, {"results": [{"messageId": "mo-2", "from": "491765556666",
                                                   "to": "HaffSegeln", "text": "stop, please call me",
                                                   "receivedAt": "2026-11-26T09:00:00.000+0000"}]})
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.suppressions WHERE address = '+491765556666'"), "0")

    def test_whatsapp_template_outside_the_window_text_inside(self):
        seed_messages(self.dsn, "haff", 1, prefix="WA", channel="whatsapp", template="t_wa",
                      phone="'+491767778888'")
        psql(self.dsn, "UPDATE tidings.messages SET requires_consent = false WHERE booking_id = 'WA1'")
        mid, status, _, _, _ = self.sent_row("WA", "whatsapp")
        self.assertEqual(status, "sent")
        rec = [m for m in self.fake.messages() if m.get("key") == message_key(self.dsn, "haff", mid)][0]
        self.assertEqual(rec["endpoint"], "/whatsapp/1/message/template")
        content = rec["request"]["messages"][0]["content"]
        self.assertEqual(content["templateName"], "haff_reminder")
        self.assertEqual(content["templateData"]["body"]["placeholders"][0], "Anna")
        # the customer writes: for 24 hours free text may be sent
        r = self.fake.send(self.wa_hook, {"results": [{
            "from": "491767778888", "to": "4939771234567", "integrationType": "WHATSAPP",
            "receivedAt": "2026-11-26T09:00:00.000+0000", "messageId": "wamid.1",
            "message": {"type": "TEXT", "text": "Danke!"}, "price": {"pricePerMessage": 0, "currency": "EUR"},
            "contact": {"name": "Anna", "phoneNumber": "491767778888"}}], "messageCount": 1})
        self.assertEqual(r["status"], 200)
        psql(self.dsn, "UPDATE tidings.inbound_contacts SET last_inbound_at = now() WHERE address = '+491767778888'")
        seed_messages(self.dsn, "haff", 1, prefix="WB", channel="whatsapp", template="t_wa",
                      phone="'+491767778888'")
        psql(self.dsn, "UPDATE tidings.messages SET requires_consent = false WHERE booking_id = 'WB1'")
        mid2, _, _, _, _ = self.sent_row("WB", "whatsapp")
        rec = [m for m in self.fake.messages() if m.get("key") == message_key(self.dsn, "haff", mid2)][0]
        self.assertEqual(rec["endpoint"], "/whatsapp/1/message/text")
        self.assertEqual(rec["request"]["content"]["text"], "Hallo Anna, bis bald!")

    def test_whatsapp_7010_takes_the_fallback(self):
        psql(self.dsn, "DELETE FROM tidings.inbound_contacts")
        seed_messages(self.dsn, "haff", 1, prefix="WF", channel="whatsapp", template="t_wa",
                      phone="'+491769998888'")
        psql(self.dsn, "UPDATE tidings.messages SET requires_consent = false, "
                       "fallback = '[{\"channel\": \"sms\", \"template\": \"t_sms\", \"requires_consent\": false}]' "
                       "WHERE booking_id = 'WF1'")
        mid, status, _, to, _ = self.sent_row("WF", "whatsapp")
        self.assertEqual(status, "sent")
        self.dlr(self.wa_hook, message_key(self.dsn, "haff", mid), to, 2, 9, "UNDELIVERABLE_NOT_DELIVERED",
                 {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 7010, "name": "EC_NO_SESSION",
                  "description": "No session", "permanent": True})
        wait_until(lambda: scalar(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'WF1' "
                                            "AND channel = 'sms'") == "sent", what="the sms fallback")
        rows = psql(self.dsn, "SELECT channel, status, reason FROM tidings.messages WHERE booking_id = 'WF1' ORDER BY id")
        self.assertEqual(rows[0][:2], ["whatsapp", "failed"])
        self.assertIn("EC_NO_SESSION", rows[0][2])
        self.assertEqual(rows[1][:2], ["sms", "sent"])
        self.assertTrue(rows[1][2] == "" or rows[1][2].startswith("fallback after whatsapp"))

    def test_gerrits_course_on_all_three_channels_with_reports(self):
        day = now().astimezone(BERLIN).date() + dt.timedelta(days=10)
        start = dt.datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN)
        booking = {"id": "G-1", "status": "confirmed", "subtype": "class_enrollment",
                   "start": start.isoformat(), "end": (start + dt.timedelta(days=2)).isoformat(),
                   "timezone": "Europe/Berlin", "name": "SKS Praxis", "location": "Hafen Ueckermünde",
                   "customer": {"first_name": "Jonas", "last_name": "Wendt", "email": "jonas@example.org",
                                "phone": "0173 1112223", "consent": {"sms": True}}}
        status, answer, _ = self.engine.post("haff", booking)
        self.assertEqual((status, answer["messages_scheduled"]), (202, 5))
        make_due_now(self.dsn, "booking_id = 'G-1'")
        wait_until(lambda: counts_by_status(self.dsn) and scalar(
            self.dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id = 'G-1' AND status = 'sent'") == "5",
            timeout=20, what="Gerrit's five messages")
        rows = psql(self.dsn, "SELECT id, channel, provider_id, recipient FROM tidings.messages WHERE booking_id = 'G-1'")
        self.assertEqual(sorted(r[1] for r in rows), ["email", "email", "email", "email", "sms"])
        for mid, channel, pid, to in rows:
            if channel == "sms":
                self.dlr(self.sms_hook, message_key(self.dsn, "haff", mid), to, 3, 5, "DELIVERED_TO_HANDSET")
            else:
                body = json.dumps({"type": "email.delivered", "created_at": "2026-11-26T08:00:01.000Z",
                                   "data": {"email_id": pid, "to": [to], "tags": {"tidings_message": mid}}}).encode()
                r = self.fake.send(self.mail_hook, body.decode(), headers=svix_headers(self.resend_hook_secret, body))
                self.assertEqual(r["status"], 200)
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id = 'G-1' "
                                          "AND status = 'delivered'"), "5")
        subjects = sorted(m["request"]["subject"] for m in self.fake.messages(endpoint="/emails")
                          if m["request"]["to"] == ["jonas@example.org"])
        self.assertIn("Das erwartet dich am Haff", subjects)
        self.assertIn("Deine Packliste fürs Haff", subjects)

    def test_no_callback_token_in_the_debug_log(self):
        # the path is the only credential of Infobip's callbacks: served, refused, reported
        # on, it never shows in the log, even at debug
        self.assertEqual(self.fake.send(self.sms_hook, {"results": []})["status"], 200)
        self.assertEqual(self.fake.send(self.wa_hook, "not json")["status"], 400)
        self.assertEqual(self.fake.send(self.sms_hook, {"results": [{
            "messageId": "td-nobody-haff-1", "to": "491760000000",
            "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}}]})["status"], 200)
        wait_until(lambda: "report for an unknown message" in self.engine.log_text(), what="the log line")
        log = self.engine.log_text()
        self.assertIn(" level=debug ", log, "the engine logs at debug")
        for channel in ("sms", "whatsapp", "email"):
            self.assertIn(f"org=haff component={channel} msg=\"route POST /v1/callbacks/haff/{channel}/***\"",
                          log)
            self.assertNotIn(callback_token(self.callback_secret, "haff", channel), log)
        self.assertIn("point Resend's webhook at this channel's callback URL", log)

    def test_check_callbacks_prints_the_urls(self):
        out = self.setup.cli("check", "--callbacks").stdout
        for channel in ("sms", "whatsapp", "email"):
            self.assertRegex(out, rf"haff\s+{channel}\s+http://tidings\.test"
                                  + callback_path(self.callback_secret, "haff", channel) + "\n")

    def test_connection_checks(self):
        out = self.setup.cli("check", "--connections").stdout
        self.assertRegex(out, r"haff\s+sms\s+infobip_sms\s+ok: balance 47.50 EUR")
        self.assertRegex(out, r"haff\s+whatsapp\s+infobip_whatsapp\s+ok")
        self.assertRegex(out, r"haff\s+email\s+resend\s+ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)
