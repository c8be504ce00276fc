"""Real channels through the running engine and the fake provider: Resend's
requests and webhooks (Svix signatures, delivered / bounced / complained /
delayed, replays, unknown ids), one-click unsubscribe, suppressions, phone
numbers in E.164, connection checks."""
import json
import os
import re
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from fake_provider import FakeProvider
from harness import (Database, Engine, Setup, base64_forms, callback_path, callback_token,
                     close_class, counts_by_status, import_templates, new_secret, psql, scalar,
                     seed_messages, signed_token, svix_headers, message_key, now_ts,
                     token_payload, wait_until, webhook_client)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Resend(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.fake = FakeProvider()
        cls.callback_secret = "cb-" + new_secret()
        cls.webhook_secret = new_secret()
        cls.setup = Setup(cls.db, orgs=(), extra_engine="")
        # the engine's public URL and callback secret: signed callback paths and unsubscribe links
        cfg = open(cls.setup.config).read().replace(
            "[http]\n", "[http]\npublic_url = http://tidings.test\ncallback_secret = file:callback-secret\n")
        cls.setup.write("tidings.ini", cfg)
        cls.setup.write("callback-secret", cls.callback_secret + "\n")
        cls.setup.write("resend-key", cls.fake.resend_key + "\n")
        cls.setup.write("resend-webhook", cls.webhook_secret + "\n")
        cls.setup.write("conf.d/acme.ini",
                        "[org]\nid = acme\nname = Acme\ntimezone = Europe/Berlin\n"
                        "[channel.email]\nplugin = resend\napi_key = file:../resend-key\n"
                        "from = Acme Segelschule <hallo@acme.example>\nreply_to = buero@acme.example\n"
                        f"base_url = {cls.fake.url}\nwebhook_secret = file:../resend-webhook\n"
                        "[channel.sms]\nplugin = outbox\ndir = ../outbox/acme\n")
        cls.setup.outbox["acme"] = os.path.join(cls.setup.dir, "outbox", "acme")
        cls.setup.cli("migrate")
        import_templates(cls.setup, "acme")
        cls.engine = Engine(cls.setup)
        cls.dsn = cls.db.dsn
        cls.hook = cls.engine.base + callback_path(cls.callback_secret, "acme", "email")

    @classmethod
    def tearDownClass(cls):
        from spec_check import validate_recorded
        problems = validate_recorded(cls.fake.messages())
        log = close_class(cls.engine, cls.setup, cls.db, cls.fake)
        assert problems == [], "requests Resend would refuse:\n" + "\n".join(problems)
        assert cls.fake.resend_key not in log and cls.webhook_secret not in log, "a secret in the log"
        assert callback_token(cls.callback_secret, "acme", "email") not in log, "a callback token in the log"
        assert "message -1" not in log, "a report logged without its message"

    def send_one(self, prefix, **kw):
        seed_messages(self.dsn, "acme", 1, prefix=prefix, **kw)
        wait_until(lambda: scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE booking_id = '{prefix}1'")
                   not in ("scheduled", "sending"), what="the message")
        mid, status, provider_id = psql(self.dsn, "SELECT id, status, coalesce(provider_id, '') FROM "
                                                  f"tidings.messages WHERE booking_id = '{prefix}1'")[0]
        return mid, status, provider_id

    def event(self, type_, provider_id, mid, to="u1@example.org", **data):
        d = {"created_at": "2026-11-26T08:00:00.000Z", "email_id": provider_id, "from": "x",
             "to": [to], "subject": "s", "tags": {"tidings_message": mid}}
        d.update(data)
        return json.dumps({"type": type_, "created_at": "2026-11-26T08:00:01.000Z", "data": d}).encode()

    def post_hook(self, body, **kw):
        return http("POST", self.hook, body, svix_headers(self.webhook_secret, body, **kw))

    def test_request_carries_what_resend_needs(self):
        mid, status, provider_id = self.send_one("RQ")
        self.assertEqual(status, "sent")
        rec = [m for m in self.fake.messages() if m.get("key") == message_key(self.dsn, "acme", mid)][0]
        self.assertEqual(rec["headers"]["Idempotency-Key"], message_key(self.dsn, "acme", mid))
        self.assertTrue(rec["headers"]["User-Agent"].startswith("tidings/"))
        self.assertTrue(rec["headers"]["Authorization"].startswith("Bearer"))
        req = rec["request"]
        self.assertEqual(req["from"], "Acme Segelschule <hallo@acme.example>")
        self.assertEqual(req["reply_to"], "buero@acme.example")
        self.assertEqual(req["to"], ["u1@example.org"])
        self.assertEqual(req["subject"], "Hallo Anna")
        self.assertIn("Bis bald, Anna!", req["text"])
        self.assertIn("{'name': 'tidings_message', 'value': '%s'}" % mid, str(req["tags"]))
        # RFC 8058 one-click unsubscribe
        self.assertEqual(req["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertRegex(req["headers"]["List-Unsubscribe"], r"^<http://tidings\.test/v1/unsubscribe/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}>$")

    def test_webhooks_move_messages_and_replays_change_nothing(self):
        mid, _, pid = self.send_one("WH")
        body = self.event("email.delivered", pid, mid)
        headers = svix_headers(self.webhook_secret, body)
        self.assertEqual(http("POST", self.hook, body, headers)[0], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE id = {mid}"), "delivered")
        # the same event again (Resend retries with the same svix-id): nothing changes
        self.assertEqual(http("POST", self.hook, body, headers)[0], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT count(*) FROM tidings.message_reports WHERE message_id = {mid}"), "1")
        # delayed is recorded and changes no state; complained suppresses the address
        self.assertEqual(self.post_hook(self.event("email.delivery_delayed", pid, mid))[0], 200)
        self.assertEqual(self.post_hook(self.event("email.complained", pid, mid))[0], 200)
        self.assertEqual(psql(self.dsn, f"SELECT status, reason FROM tidings.messages WHERE id = {mid}"),
                         [["complained", "provider reported complained"]])
        self.assertEqual(psql(self.dsn, "SELECT reason, created_by FROM tidings.suppressions "
                                        "WHERE address = 'u1@example.org' AND channel = 'email'"),
                         [["provider reported complained", "provider"]])
        kinds = [r[0] for r in psql(self.dsn, f"SELECT kind FROM tidings.message_reports WHERE message_id = {mid} ORDER BY id")]
        self.assertEqual(kinds, ["delivered", "delayed", "complained"])

    def test_bounces(self):
        mid, _, pid = self.send_one("BO", email="'bounce.hard@example.org'")
        body = self.event("email.bounced", pid, mid, to="bounce.hard@example.org",
                          bounce={"type": "Permanent", "subType": "General", "message": "550 5.1.1 Unknown User"})
        self.assertEqual(self.post_hook(body)[0], 200)
        self.assertEqual(psql(self.dsn, f"SELECT status, reason FROM tidings.messages WHERE id = {mid}"),
                         [["bounced", "provider reported bounced: Permanent bounce: 550 5.1.1 Unknown User"]])
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.suppressions WHERE address = 'bounce.hard@example.org'"), "1")
        # a temporary bounce does not suppress
        mid2, _, pid2 = self.send_one("BT", email="'bounce.soft@example.org'")
        self.post_hook(self.event("email.bounced", pid2, mid2, to="bounce.soft@example.org",
                                  bounce={"type": "Temporary", "message": "mailbox full"}))
        self.assertEqual(scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE id = {mid2}"), "bounced")
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.suppressions WHERE address = 'bounce.soft@example.org'"), "0")
        # the suppressed address gets nothing more: skipped with reason
        _, status, _ = self.send_one("BX", email="'bounce.hard@example.org'")
        self.assertEqual(status, "skipped")

    def test_a_complaint_after_a_temporary_bounce_suppresses_the_address(self):
        addr = "soft.then.spam@example.org"
        mid, _, pid = self.send_one("CB", email=f"'{addr}'")
        self.assertEqual(self.post_hook(self.event("email.bounced", pid, mid, to=addr,
                                                   bounce={"type": "Temporary", "message": "mailbox full"}))[0], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE id = {mid}"), "bounced")
        self.assertEqual(scalar(self.dsn, f"SELECT count(*) FROM tidings.suppressions WHERE address = '{addr}'"), "0")
        # the mail got through after all, and the customer marked it as spam
        body = self.event("email.complained", pid, mid, to=addr)
        headers = svix_headers(self.webhook_secret, body)
        self.assertEqual(http("POST", self.hook, body, headers)[0], 200)
        self.assertEqual(psql(self.dsn, f"SELECT status, reason FROM tidings.messages WHERE id = {mid}"),
                         [["complained", "provider reported complained"]])
        self.assertEqual(psql(self.dsn, "SELECT channel, reason, created_by FROM tidings.suppressions "
                                        f"WHERE address = '{addr}'"),
                         [["email", "provider reported complained", "provider"]])
        wait_until(lambda: f"message {mid}: complained report applied; status bounced -> complained; "
                           "address suppressed" in self.engine.log_text(), what="the log line")
        # the same complaint again changes nothing
        self.assertEqual(http("POST", self.hook, body, headers)[0], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT count(*) FROM tidings.message_reports WHERE message_id = {mid}"), "2")
        wait_until(lambda: f"message {mid}: complained report replay" in self.engine.log_text(), what="the replay")
        # the next message to that address is not sent
        _, status, _ = self.send_one("CC", email=f"'{addr}'")
        self.assertEqual(status, "skipped")
        self.assertEqual(scalar(self.dsn, "SELECT reason FROM tidings.messages WHERE booking_id = 'CC1'"),
                         "the customer's address is suppressed for email")

    def test_a_hard_bounce_suppresses_whatever_the_state(self):
        addr = "gone.later@example.org"
        mid, _, pid = self.send_one("HB", email=f"'{addr}'")
        self.post_hook(self.event("email.bounced", pid, mid, to=addr,
                                  bounce={"type": "Temporary", "message": "mailbox full"}))
        # Resend gives up later: a permanent bounce, found by Resend's id alone (no tag)
        event = json.loads(self.event("email.bounced", pid, mid, to=addr,
                                      bounce={"type": "Permanent", "message": "550 5.1.1 Unknown User"}))
        del event["data"]["tags"]
        self.assertEqual(self.post_hook(json.dumps(event).encode())[0], 200)
        self.assertEqual(psql(self.dsn, f"SELECT status, reason FROM tidings.messages WHERE id = {mid}"),
                         [["bounced", "provider reported bounced: Temporary bounce: mailbox full"]])
        self.assertEqual(psql(self.dsn, f"SELECT reason FROM tidings.suppressions WHERE address = '{addr}'"),
                         [["provider reported bounced"]])
        wait_until(lambda: f"message {mid}: bounced report applied: Permanent bounce: 550 5.1.1 Unknown User; "
                           "status stays bounced; address suppressed" in self.engine.log_text(),
                   what="the log line naming the message")
        # a complaint on a message in a state no report moves (cancelled by an operator, say)
        addr2 = "cancelled.then.spam@example.org"
        mid2, _, pid2 = self.send_one("HC", email=f"'{addr2}'")
        psql(self.dsn, f"UPDATE tidings.messages SET status = 'cancelled' WHERE id = {mid2}")
        self.assertEqual(self.post_hook(self.event("email.complained", pid2, mid2, to=addr2))[0], 200)
        self.assertEqual(scalar(self.dsn, f"SELECT status FROM tidings.messages WHERE id = {mid2}"), "cancelled")
        self.assertEqual(scalar(self.dsn, f"SELECT count(*) FROM tidings.suppressions WHERE address = '{addr2}'"), "1")
        wait_until(lambda: f"message {mid2}: complained report applied; status stays cancelled; "
                           "address suppressed" in self.engine.log_text(), what="the log line")

    def test_bad_signatures_and_unknown_ids(self):
        body = self.event("email.delivered", "no-such-id", "999999999")
        self.assertEqual(http("POST", self.hook, body, {"content-type": "application/json"})[0], 401)
        stale = svix_headers(self.webhook_secret, body, timestamp=int(now_ts()) - 600)
        self.assertEqual(http("POST", self.hook, body, stale)[0], 401)
        other = svix_headers(new_secret(), body)
        self.assertEqual(http("POST", self.hook, body, other)[0], 401)
        # a valid signature for a message we do not know: acknowledged (no retry loop), logged
        self.assertEqual(self.post_hook(body)[0], 200)
        wait_until(lambda: "report for an unknown message" in self.engine.log_text(), what="the log line")
        # the path is unguessable: another token is simply not found
        wrong = self.engine.base + "/v1/callbacks/acme/email/" + "0" * 32
        self.assertEqual(http("POST", wrong, body, svix_headers(self.webhook_secret, body))[0], 404)

    def test_one_click_unsubscribe(self):
        mid, _, _ = self.send_one("UN", email="'leave.me@example.org'")
        rec = [m for m in self.fake.messages() if m.get("key") == message_key(self.dsn, "acme", mid)][0]
        link = rec["request"]["headers"]["List-Unsubscribe"].strip("<>")
        path = urllib.parse.urlsplit(link).path
        status, page = http("GET", self.engine.base + path)
        self.assertEqual(status, 200)
        self.assertIn("<form method=\"post\"", page)
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.suppressions WHERE address = 'leave.me@example.org'"), "0")
        status, page = http("POST", self.engine.base + path, b"List-Unsubscribe=One-Click",
                            {"content-type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        self.assertEqual(psql(self.dsn, "SELECT channel, reason, created_by FROM tidings.suppressions "
                                        "WHERE address = 'leave.me@example.org'"),
                         [["email", "one-click unsubscribe", "customer"]])
        tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        self.assertEqual(http("POST", self.engine.base + tampered, b"")[0], 404)
        # the link names the message, never the address (links end up in proxy logs)
        token = path.rsplit("/", 1)[1]
        self.assertEqual(token_payload(token), f"u2\nacme\n{mid}")
        for form in base64_forms("leave.me@example.org"):
            self.assertNotIn(form, link)
        self.assertNotIn("leave.me", link)
        wait_until(lambda: re.search(rf"message {mid}: l\*+@e\*+\.org unsubscribed from email", self.engine.log_text()),
                   what="the log line")
        # the suppressed address gets nothing more
        _, status, _ = self.send_one("UO", email="'leave.me@example.org'")
        self.assertEqual(status, "skipped")

    def test_older_links_with_the_address_still_unsubscribe(self):
        # links made before (u1: the address inside) are in customers' mailboxes
        token = signed_token(self.callback_secret, "u1\nacme\nemail\nold.link@example.org")
        path = "/v1/unsubscribe/" + token
        status, page = http("GET", self.engine.base + path)
        self.assertEqual(status, 200)
        self.assertIn("<form method=\"post\"", page)
        status, _ = http("POST", self.engine.base + path, b"List-Unsubscribe=One-Click",
                         {"content-type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        self.assertEqual(psql(self.dsn, "SELECT channel, reason, created_by FROM tidings.suppressions "
                                        "WHERE address = 'old.link@example.org'"),
                         [["email", "one-click unsubscribe", "customer"]])
        # signed with another secret, or for another organization: not valid
        forged = signed_token("cb-" + new_secret(), "u2\nacme\n1")
        self.assertEqual(http("POST", self.engine.base + "/v1/unsubscribe/" + forged, b"")[0], 404)
        other = signed_token(self.callback_secret, "u2\nnobody\n1")
        self.assertEqual(http("POST", self.engine.base + "/v1/unsubscribe/" + other, b"")[0], 404)
        # a good signature for a message that is not there: nothing to suppress
        missing = signed_token(self.callback_secret, "u2\nacme\n999999999")
        self.assertEqual(http("POST", self.engine.base + "/v1/unsubscribe/" + missing, b"")[0], 404)
        wait_until(lambda: "message 999999999: no such message or no address" in self.engine.log_text(),
                   what="the log line")

    def test_a_link_whose_sending_left_no_record_suppresses_the_booking_address(self):
        # an engine died after Resend took the mail: the row has no recipient yet
        seed_messages(self.dsn, "acme", 1, prefix="NR", due="now() + interval '1 day'",
                      email="'No.Record@Example.org'")
        mid = scalar(self.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'NR1'")
        self.assertEqual(scalar(self.dsn, f"SELECT coalesce(recipient, 'none') FROM tidings.messages WHERE id = {mid}"),
                         "none")
        path = "/v1/unsubscribe/" + signed_token(self.callback_secret, f"u2\nacme\n{mid}")
        self.assertEqual(http("POST", self.engine.base + path, b"List-Unsubscribe=One-Click",
                              {"content-type": "application/x-www-form-urlencoded"})[0], 200)
        self.assertEqual(psql(self.dsn, "SELECT channel, reason FROM tidings.suppressions "
                                        "WHERE address = 'no.record@example.org'"),
                         [["email", "one-click unsubscribe"]])

    def test_phone_numbers_are_e164_and_bad_ones_fail_before_sending(self):
        seed_messages(self.dsn, "acme", 1, prefix="PN", channel="sms", template="t_sms",
                      phone="'0171 / 123 45-67'")
        wait_until(lambda: scalar(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'PN1'") == "sent",
                   what="the sms")
        self.assertEqual(scalar(self.dsn, "SELECT recipient FROM tidings.messages WHERE booking_id = 'PN1'"),
                         "+491711234567")
        seed_messages(self.dsn, "acme", 1, prefix="PI", channel="sms", template="t_sms",
                      phone="'0049 171 7654321'")
        wait_until(lambda: scalar(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'PI1'") == "sent",
                   what="the sms")
        self.assertEqual(scalar(self.dsn, "SELECT recipient FROM tidings.messages WHERE booking_id = 'PI1'"),
                         "+491717654321")
        seed_messages(self.dsn, "acme", 1, prefix="PB", channel="sms", template="t_sms", phone="'12ab'")
        wait_until(lambda: scalar(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'PB1'") == "failed",
                   what="the refusal")
        self.assertIn("customer.phone: not a phone number",
                      scalar(self.dsn, "SELECT reason FROM tidings.messages WHERE booking_id = 'PB1'"))

    def test_suppressions_by_hand(self):
        out = self.setup.cli("suppressions", "add", "--org", "acme", "--channel", "sms", "--reason",
                             "asked by phone", "--as", "ops", "0171 9999999").stdout
        self.assertIn("+491719999999 suppressed on sms", out)
        out = self.setup.cli("suppressions", "list", "--org", "acme").stdout
        self.assertIn("+491719999999", out)
        out = self.setup.cli("suppressions", "remove", "--org", "acme", "--channel", "sms", "--reason",
                             "consent given again", "+49 171 9999999").stdout
        self.assertIn("no longer suppressed", out)
        self.assertEqual(psql(self.dsn, "SELECT action, actor, reason FROM tidings.actions "
                                        "WHERE subject = 'address +491719999999 on sms' ORDER BY id"),
                         [["suppress", "ops", "asked by phone"],
                          ["unsuppress", os.environ.get("USER", "unknown"), "consent given again"]])
        p = self.setup.cli("suppressions", "add", "--org", "acme", "--channel", "sms", "--reason", "x",
                           "12ab", check=False)
        self.assertEqual(p.returncode, 2)

    def test_check_connections(self):
        p = self.setup.cli("check", "--connections")
        self.assertRegex(p.stdout, r"acme\s+email\s+resend\s+ok")
        self.assertRegex(p.stdout, r"acme\s+sms\s+outbox\s+no connection test")
        self.assertNotIn(self.fake.resend_key, p.stdout + p.stderr)
        self.setup.write("resend-key", "re_wrong_key\n")
        try:
            p = self.setup.cli("check", "--connections", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertRegex(p.stdout, r"acme\s+email\s+resend\s+FAILED: resend 40[13]")
            self.assertNotIn("re_wrong_key", p.stdout + p.stderr)
        finally:
            self.setup.write("resend-key", self.fake.resend_key + "\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
