"""One send per message at the provider, whatever fails, through the real
engine, PostgreSQL and the fake provider (which counts what it accepted per
message key), with Infobip's de-duplication off (its default):

- the provider answers 500, 429 and drops answers after accepting: no
  e-mail or SMS accepted twice, WhatsApp doubled at most as often as an
  outcome was unknown, nothing lost, nothing that was accepted ends failed;
- engines killed with kill -9 and a PostgreSQL restart, the same;
- a provider slower than the lease: nothing doubled at all (the lease is
  kept alive while the request is in flight);
- libcurl does not re-send a request by itself when a reused connection dies
  after the request left; the SMS plugin finds the message in the provider's
  logs instead of sending it again;
- an unknown outcome can be held for an operator; an accepted message that
  is then refused is held, not failed;
- a used-up Resend quota suspends the channel, the fallback takes over, and
  the channel comes back with the quota;
- keys carry the database's identity: a second database never repeats one."""
import json
import os
import time
import unittest

from fake_provider import FakeProvider
from fault_matrix import CHANNELS, Matrix, format_report
from harness import (Database, Engine, Setup, counts_by_status, import_templates, message_key, psql,
                     resend_org, scalar, seed_messages, wait_until)


class FaultMatrix(unittest.TestCase):
    def check(self, report, whatsapp_may_double=True):
        print("\n" + format_report(self.id().split(".")[-1], report))
        for ch in CHANNELS:
            c = report[ch]
            self.assertEqual(c["lost"], 0, (ch, c))
            self.assertEqual(c["accepted_but_failed"], 0, (ch, c))
            self.assertEqual(sum(c["states"].values()), c["messages"], (ch, c))
            self.assertNotIn("scheduled", c["states"], (ch, c))
            self.assertNotIn("sending", c["states"], (ch, c))
        self.assertEqual(report["email"]["doubled"], 0, report["email"])
        self.assertEqual(report["sms"]["doubled"], 0, report["sms"])
        wa = report["whatsapp"]
        self.assertLessEqual(wa["doubled"], wa["unknown_bound"] if whatsapp_may_double else 0, wa)

    def test_provider_errors_throttling_and_lost_answers(self):
        m = Matrix(per_channel=60, engines=1)
        try:
            m.provider_faults(error=0.2, throttle=0.1, accept_drop=0.2)
            m.seed()
            m.start_engines()
            r = m.drain(timeout=120)
            self.check(r)
            # the lost answers were there, and every channel saw some
            for ch in CHANNELS:
                self.assertGreater(r[ch]["accept_drops"], 0, ch)
            self.assertGreater(r["sms"]["unknown_bound"], 0)
        finally:
            m.close()

    def test_engines_killed_and_postgresql_restarted(self):
        m = Matrix(per_channel=150, engines=2, lease=5, concurrency=4)
        try:
            m.provider_faults(slow_ms=40)
            m.seed()
            m.start_engines()
            for step in range(3):
                wait_until(lambda: counts_by_status(m.dsn).get("sent", 0) > 60 * (step + 1), timeout=60,
                           interval=0.1, what="progress")
                if step == 1:
                    m.restart_postgresql()
                else:
                    m.kill_one()
            self.check(m.drain(timeout=150))
        finally:
            m.close()

    def test_a_provider_slower_than_the_lease_doubles_nothing(self):
        m = Matrix(per_channel=4, engines=2, lease=5, concurrency=4)
        try:
            m.provider_faults(slow_ms=7000)
            m.seed()
            m.start_engines()
            r = m.drain(timeout=120)
            self.check(r, whatsapp_may_double=False)
            for ch in CHANNELS:
                self.assertEqual(r[ch]["states"], {"sent": 4}, ch)
                self.assertEqual(r[ch]["unknown_bound"], 0, ch)
            self.assertEqual(scalar(m.dsn, "SELECT max(attempts) FROM tidings.messages"), "1")
        finally:
            m.close()


class Infobip(unittest.TestCase):
    """Single faults on the Infobip channels, one message at a time, one worker (so one
    connection is reused)."""

    def start(self, whatsapp_policy="unknown_outcome = hold\n"):
        self.m = Matrix(per_channel=0, engines=1, workers=1, concurrency=1,
                        whatsapp_policy=whatsapp_policy)
        self.dsn = self.m.dsn
        self.fake = self.m.fake
        self.m.start_engines()

    def tearDown(self):
        self.m.close()

    def one(self, channel, prefix, n=1):
        template = {"sms": "t_sms", "whatsapp": "t_wa", "email": "t_email"}[channel]
        seed_messages(self.dsn, "acme", n, channel=channel, template=template, prefix=prefix)

    def row(self, booking):
        return psql(self.dsn, "SELECT id, status, attempts, unknown_outcomes, coalesce(reason, '') "
                              f"FROM tidings.messages WHERE booking_id = '{booking}'")[0]

    def test_a_dead_reused_connection_is_not_resent_by_libcurl_and_the_logs_settle_it(self):
        # the first SMS keeps the connection open; the answer to the second is lost after
        # Infobip accepted it, on that reused connection
        self.start()
        self.one("sms", "CA")
        wait_until(lambda: self.row("CA1")[1] == "sent", what="the first SMS")
        self.fake.fault("/sms/3/messages", "accept_drop", count=1)
        self.one("sms", "CB")
        wait_until(lambda: self.row("CB1")[1] == "sent", timeout=20, what="the second SMS settled")
        mid, status, attempts, unknown, _ = self.row("CB1")
        accepted = self.fake.accepted()["sms"]
        self.assertEqual(accepted.get(message_key(self.dsn, "acme", mid)), 1, accepted)
        self.assertEqual((unknown, attempts), ("1", "2"))
        self.assertIn("found in the message logs", "\n".join(e.log_text() for e in self.m.engines))
        self.assertEqual(self.fake.stats()["requests"].get("/sms/3/messages"), 2)

    def test_an_unknown_whatsapp_outcome_is_held_and_an_operator_sends_it_again(self):
        self.start()
        self.fake.fault("/whatsapp/1/message/template", "accept_drop", count=1)
        self.one("whatsapp", "WH")
        wait_until(lambda: self.row("WH1")[1] == "held", timeout=20, what="the message held")
        mid, _, _, unknown, reason = self.row("WH1")
        self.assertEqual(unknown, "1")
        self.assertIn("outcome is unknown", reason)
        self.assertIn("held for an operator (unknown_outcome = hold)", reason)
        self.m.setup.cli("messages", "retry", "--org", "acme", "--reason", "the customer did not get it", mid)
        wait_until(lambda: self.row("WH1")[1] == "sent", timeout=20, what="the operator's re-send")
        self.assertEqual(self.fake.accepted()["whatsapp"][message_key(self.dsn, "acme", mid)], 2)

    def test_accepted_then_refused_is_held_not_failed(self):
        # WhatsApp sends again after an unknown outcome; the second attempt is refused
        self.start(whatsapp_policy="")
        self.fake.fault("/whatsapp/1/message/template", "accept_drop", count=1)
        self.fake.fault("/whatsapp/1/message/template", "reject", count=1)
        self.one("whatsapp", "RF")
        wait_until(lambda: self.row("RF1")[1] not in ("scheduled", "sending"), timeout=30,
                   what="a final state")
        mid, status, _, _, reason = self.row("RF1")
        self.assertEqual(status, "held", reason)
        self.assertIn("an earlier attempt's outcome is unknown and the provider may have accepted it",
                      reason)


class QuotaAndKeys(unittest.TestCase):
    def test_a_used_up_quota_suspends_the_channel_and_the_fallback_takes_over(self):
        db = Database()
        fake = FakeProvider()
        setup = Setup(db, orgs=())
        resend_org(setup, "acme", fake, "backoff = 200ms\n",
                   extra="[channel.sms]\nplugin = outbox\ndir = ../outbox/acme\n")
        setup.outbox["acme"] = os.path.join(setup.dir, "outbox", "acme")
        setup.cli("migrate")
        import_templates(setup, "acme")
        engine = Engine(setup)
        try:
            fake.fault("/emails", "status", status=429, retry_after=3, count=1,
                       body={"statusCode": 429, "name": "daily_quota_exceeded",
                             "message": "You have reached your daily email sending quota."})
            seed_messages(db.dsn, "acme", 1, prefix="Q", fallback=[{"channel": "sms", "template": "t_sms"}])
            wait_until(lambda: "ALERT channel suspended" in engine.log_text(), what="the alert")
            self.assertEqual(psql(db.dsn, "SELECT kind FROM tidings.channel_suspensions"), [["quota"]])
            seed_messages(db.dsn, "acme", 1, prefix="QN")
            # the row with a fallback went on by SMS; the one without waits, then goes by e-mail
            wait_until(lambda: psql(db.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'Q1' "
                                            "AND channel = 'sms'") == [["sent"]], what="the fallback")
            self.assertEqual(psql(db.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'Q1' "
                                          "AND channel = 'email'"),
                             [["skipped", "the email channel is suspended (its quota is used up)"]])
            wait_until(lambda: scalar(db.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'QN1'")
                       == "sent", timeout=20, what="e-mail once the quota is back")
            self.assertEqual(psql(db.dsn, "SELECT count(*) FROM tidings.channel_suspensions"), [["0"]])
        except AssertionError:
            print(engine.log_text()[-3000:])
            raise
        finally:
            engine.stop()
            fake.stop()
            setup.remove()
            db.drop()

    def test_keys_carry_the_databases_identity(self):
        keys = []
        for _ in range(2):
            db = Database()
            setup = Setup(db)
            setup.cli("migrate")
            keys.append(message_key(db.dsn, "acme", 1))
            setup.remove()
            db.drop()
        self.assertNotEqual(keys[0], keys[1])
        for k in keys:
            self.assertRegex(k, r"^td-[0-9a-f]{16}-acme-1$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
