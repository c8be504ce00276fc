"""The walking skeleton through its real path: a signed booking is posted
over HTTP to a running engine on a real PostgreSQL, is committed and
expanded before the 202, and its due messages are written by the outbox
channel plugin and end as 'sent'. Bad input gets a precise answer and
changes nothing; SIGTERM finishes or releases in-flight work."""
import datetime as dt
import json
import os
import signal
import statistics
import time
import unittest
import zoneinfo

from harness import (SOURCE_DIR, Database, Engine, Setup, booking, close_class, dumps, now_ts, psql,
                     scalar, wait_until, webhook_client)

DEMO_SEQUENCES = os.path.join(SOURCE_DIR, "sql", "seed", "demo.json")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def counts(dsn):
    return tuple(int(scalar(dsn, f"SELECT count(*) FROM tidings.{t}"))
                 for t in ("events", "bookings", "messages"))


class WalkingSkeleton(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db, orgs=("acme", "bravo"))
        cls.setup.cli("migrate")
        for org in ("acme", "bravo"):
            cls.setup.cli("sequences", "import", "--org", org, DEMO_SEQUENCES)
        cls.engine = Engine(cls.setup)

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db)

    def test_booking_becomes_sent_messages_in_the_outbox(self):
        dsn = self.db.dsn
        b = booking("B-100", days_ahead=3)
        t0 = time.monotonic()
        status, answer, _ = self.engine.post("acme", b)
        t_answer = time.monotonic() - t0
        self.assertEqual(status, 202, answer)
        self.assertEqual(answer["status"], "accepted")
        # confirmation (email + sms) now, reminder the evening before, thanks after
        self.assertEqual(answer["messages_scheduled"], 4)
        # committed before the answer: the event and the rows are there already
        self.assertEqual(scalar(dsn, f"SELECT outcome FROM tidings.events WHERE id = {answer['event_id']}"),
                         "expanded: booking.created, booking.confirmed")
        self.assertEqual(scalar(dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id = 'B-100'"), "4")

        files = wait_until(lambda: len(self.setup.outbox_files("acme")) >= 2 and self.setup.outbox_files("acme"),
                           what="the confirmation in the outbox")
        t_file = time.monotonic() - t0
        rows = psql(dsn, "SELECT id, channel, status, provider_id, attempts, rendered->>'subject' "
                         "FROM tidings.messages WHERE booking_id = 'B-100' AND step_id = 'confirmation' "
                         "ORDER BY channel")
        wait_until(lambda: all(r[2] == "sent" for r in psql(
            dsn, "SELECT id, channel, status FROM tidings.messages WHERE booking_id = 'B-100' "
                 "AND step_id = 'confirmation'")), what="rows to be sent")
        rows = psql(dsn, "SELECT id, channel, status, provider_id, attempts, rendered->>'subject', recipient "
                         "FROM tidings.messages WHERE booking_id = 'B-100' AND step_id = 'confirmation' "
                         "ORDER BY channel")
        email, sms = rows
        self.assertEqual(email[1:5], ["email", "sent", f"outbox:{email[0]}.eml", "1"])
        self.assertEqual(email[5], "Deine Buchung B-100: SKS Praxis")
        self.assertEqual(email[6], "anna@example.org")
        self.assertEqual(sms[1:5], ["sms", "sent", f"outbox:{sms[0]}.json", "1"])
        self.assertIn(f"{email[0]}.eml", files)

        eml = self.setup.read_outbox("acme", f"{email[0]}.eml")
        self.assertIn("To: Anna Berg <anna@example.org>", eml)
        self.assertIn("Subject: Deine Buchung B-100: SKS Praxis", eml)
        self.assertIn("Hallo Anna,", eml)
        self.assertIn("Wir haben deine Buchung für SKS Praxis am", eml)
        self.assertIn("Treffpunkt: Hafen Ueckermünde", eml)
        self.assertIn("Boot: Hansa 2", eml)
        self.assertIn("<strong>SKS Praxis</strong>", eml)
        sms_doc = json.loads(self.setup.read_outbox("acme", f"{sms[0]}.json"))
        self.assertEqual(sms_doc["to"], "+491711234567")
        self.assertTrue(sms_doc["text"].startswith("Acme Segelschule: Hallo Anna, deine Buchung B-100"))

        # the later steps wait for their local time (Europe/Berlin): the evening before the
        # start's local day, and 10:00 on the day after the end's local day (computed here
        # with zoneinfo, so it holds at any hour: a booking may end after local midnight)
        start = dt.datetime.fromisoformat(b["start"].replace("Z", "+00:00")).astimezone(BERLIN)
        end = dt.datetime.fromisoformat(b["end"].replace("Z", "+00:00")).astimezone(BERLIN)
        later = psql(dsn, "SELECT step_id, status, to_char(scheduled_for AT TIME ZONE 'Europe/Berlin', "
                          "'YYYY-MM-DD HH24:MI') FROM tidings.messages WHERE booking_id = 'B-100' "
                          "AND step_id <> 'confirmation' ORDER BY step_id")
        self.assertEqual(later, [["reminder-1d", "scheduled", f"{start.date() - dt.timedelta(days=1)} 18:00"],
                                 ["thanks", "scheduled", f"{end.date() + dt.timedelta(days=1)} 10:00"]])
        print(f"\nPOST to 202 (committed rows): {t_answer * 1000:.1f} ms; "
              f"POST to outbox file: {t_file * 1000:.1f} ms")

    def test_post_to_committed_rows_latency(self):
        """Not a speed target (bench/ has those): the figures for the closing note."""
        samples = []
        for i in range(50):
            t0 = time.monotonic()
            status, answer, _ = self.engine.post("bravo", booking(f"L-{i}", days_ahead=10))
            samples.append((time.monotonic() - t0) * 1000)
            self.assertEqual(status, 202, answer)
        samples.sort()
        print(f"\nPOST to committed rows over 50 bookings: p50 {statistics.median(samples):.1f} ms, "
              f"max {samples[-1]:.1f} ms")

    def test_same_delivery_twice_gets_the_first_answer(self):
        b = booking("B-200")
        body = dumps(b)
        headers = webhook_client.headers_for(self.setup.secrets["acme"], body)
        first = webhook_client.post(self.engine.url("acme"), body, headers)
        second = webhook_client.post(self.engine.url("acme"), body, headers)
        self.assertEqual(first[0], 202)
        self.assertEqual(first[:2], second[:2])
        key = headers["webhook-id"]
        self.assertEqual(scalar(self.db.dsn, f"SELECT count(*) FROM tidings.events WHERE idempotency_key = '{key}'"), "1")
        # the same state under a new delivery id schedules nothing more
        status, answer, _ = self.engine.post("acme", b)
        self.assertEqual((status, answer["messages_scheduled"]), (202, 0))
        self.assertEqual(scalar(self.db.dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id = 'B-200'"), "4")
        self.assertEqual(scalar(self.db.dsn, f"SELECT outcome FROM tidings.events WHERE id = {answer['event_id']}"),
                         "unchanged")

    def test_signature_lists_for_secret_rotation(self):
        """A sender rotating its secret signs with the old and the new one
        (Standard Webhooks: space-separated entries); one matching entry is
        enough, and none matching is a 401."""
        url = self.engine.url("acme")
        body = dumps(booking("B-310"))
        headers = webhook_client.headers_for(self.setup.secrets["acme"], body)
        right = headers["webhook-signature"]
        old = webhook_client.headers_for(self.setup.secrets["bravo"], body, webhook_id=headers["webhook-id"],
                                         timestamp=headers["webhook-timestamp"])["webhook-signature"]
        headers["webhook-signature"] = f"{old} {right}"
        status, answer, _ = webhook_client.post(url, body, headers)
        self.assertEqual((status, answer["messages_scheduled"]), (202, 4), answer)
        body = dumps(booking("B-311"))
        headers = webhook_client.headers_for(self.setup.secrets["bravo"], body)
        headers["webhook-signature"] += " v1a,ignored-scheme " + headers["webhook-signature"]
        self.assert_refused(401, "bad signature", webhook_client.post(url, body, headers))
        # a timestamp too far ahead is refused like a stale one
        self.assert_refused(401, "too far from now", webhook_client.post(
            url, body, webhook_client.headers_for(self.setup.secrets["acme"], body, timestamp=int(now_ts()) + 600)))
        self.assertEqual(scalar(self.db.dsn, "SELECT count(*) FROM tidings.events WHERE payload->>'id' = 'B-311'"), "0")

    def assert_refused(self, want_status, want_error, response):
        status, answer, _ = response
        self.assertEqual(status, want_status, answer)
        self.assertIn(want_error, answer["error"])

    def test_bad_input_gets_a_clear_answer_and_changes_nothing(self):
        dsn = self.db.dsn
        url = self.engine.url("acme")
        secret = self.setup.secrets["acme"]
        before = counts(dsn)

        def signed(body, **kw):
            return webhook_client.post(url, body, webhook_client.headers_for(secret, body, **kw))

        self.assert_refused(400, "malformed JSON at line 1, column", signed(b'{"id": "B-1",'))
        self.assert_refused(400, "malformed JSON", signed(b'{"id": "\xff\xfe"}'))
        b = booking("B-300")
        del b["start"]
        self.assert_refused(400, "start: required", signed(dumps(b)))
        self.assert_refused(400, "status: required, one of", signed(dumps(booking("B-301", status="maybe"))))
        self.assert_refused(400, "start: '2026-02-30T10:00:00Z' is not an RFC 3339 time",
                            signed(dumps(booking("B-302", start="2026-02-30T10:00:00Z"))))
        deep = b"[" * 5000 + b"]" * 5000
        self.assert_refused(400, "malformed JSON", signed(deep))
        # signatures: none, wrong, stale, another organization's secret
        self.assert_refused(401, "missing webhook-id", webhook_client.post(url, dumps(booking()), {}))
        body = dumps(booking("B-303"))
        headers = webhook_client.headers_for(secret, body)
        headers["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        self.assert_refused(401, "bad signature", webhook_client.post(url, body, headers))
        self.assert_refused(401, "too far from now", signed(body, timestamp=int(now_ts()) - 3600))
        self.assert_refused(401, "bad signature", webhook_client.post(
            url, body, webhook_client.headers_for(self.setup.secrets["bravo"], body)))
        # unknown organization, no such endpoint, wrong method, body over the limit:
        # an unknown organization looks like any unknown path (ids cannot be probed)
        unknown_org = webhook_client.post(f"{self.engine.base}/v1/orgs/nobody/bookings", body, headers)
        unknown_path = webhook_client.post(f"{self.engine.base}/v2/x", body, {})
        self.assert_refused(404, "no such endpoint", unknown_org)
        self.assertEqual(unknown_org[1], unknown_path[1])
        big = dumps(booking("B-304", data={"pad": "x" * 70000}))
        self.assert_refused(413, "too large", signed(big))
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.engine.port, timeout=5)
        conn.request("GET", "/v1/orgs/acme/bookings")
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())), (404, unknown_path[1]))
        conn.request("POST", "/healthz")
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())), (405, {"error": "method not allowed"}))
        conn.close()
        self.assertEqual(counts(dsn), before)

    def test_healthz(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.engine.port, timeout=5)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())), (200, {"status": "ok"}))


class Shutdown(unittest.TestCase):
    """SIGTERM: the engine finishes or releases what it claimed; nothing stays
    'sending', and a restarted engine sends the rest."""

    def test_sigterm_finishes_or_releases(self):
        db = Database()
        setup = Setup(db, batch=5)
        try:
            setup.cli("migrate")
            setup.cli("sequences", "import", "--org", "acme", DEMO_SEQUENCES)
            engine = Engine(setup)
            for i in range(40):
                status, _, _ = engine.post("acme", booking(f"S-{i}"))
                self.assertEqual(status, 202)
            self.assertEqual(engine.stop(signal.SIGTERM), 0)
            self.assertIn("stopping (finishing in-flight work)", engine.log_text())
            self.assertIn("stopped", engine.log_text())
            self.assertEqual(scalar(db.dsn, "SELECT count(*) FROM tidings.messages WHERE status = 'sending'"), "0")
            sent = int(scalar(db.dsn, "SELECT count(*) FROM tidings.messages WHERE status = 'sent'"))
            self.assertEqual(len(setup.outbox_files("acme")), sent)
            engine = Engine(setup)
            wait_until(lambda: scalar(db.dsn, "SELECT count(*) FROM tidings.messages "
                                              "WHERE step_id = 'confirmation' AND status <> 'sent'") == "0",
                       timeout=20, what="the rest to be sent after a restart")
            self.assertEqual(engine.stop(), 0)
            self.assertEqual(len(setup.outbox_files("acme")), 80)
        finally:
            setup.remove()
            db.drop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
