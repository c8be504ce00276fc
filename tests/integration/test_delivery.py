"""The delivery engine through the real engine, PostgreSQL and the fake
provider speaking Resend's API: retries by verdict (429 with Retry-After uses
no attempt), failures with the provider's reason, suspension and resumption,
deadlines, rate limits fair across organizations, concurrency, many engines
delivering exactly once, kill -9, SIGTERM, a PostgreSQL restart, lease
fencing, idle CPU, metrics and the operator commands."""
import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.request

from fake_provider import FakeProvider
from harness import (Database, Engine, Setup, counts_by_status, import_templates, local_text, message_key, psql,
                     resend_org, scalar, seed_messages, wait_until, SOURCE_DIR)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Env:
    """A database, a fake provider and a setup with organizations sending e-mail to it."""

    def __init__(self, orgs=(("acme", ""),), workers=2, lease=60, batch=100, extra_engine=""):
        self.db = Database()
        self.fake = FakeProvider()
        self.setup = Setup(self.db, orgs=(), workers=workers, lease=lease, batch=batch,
                           extra_engine=extra_engine)
        for org, policy in orgs:
            resend_org(self.setup, org, self.fake, policy)
        self.setup.cli("migrate")
        for org, _ in orgs:
            import_templates(self.setup, org)
        self.engines = []

    def engine(self):
        e = Engine(self.setup)
        self.engines.append(e)
        return e

    def close(self):
        for e in self.engines:
            if e.proc.poll() is None:
                e.stop()
        self.fake.stop()
        self.setup.remove()
        self.db.drop()


def row(dsn, booking):
    r = psql(dsn, "SELECT status, attempts, coalesce(reason, ''), coalesce(provider_id, '') "
                  f"FROM tidings.messages WHERE booking_id = '{booking}'")
    return r[0] if r else None


class Verdicts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env(orgs=(("acme", "backoff = 200ms\nbackoff_max = 400ms\nmax_attempts = 3\n"
                                     "unknown_wait = 300ms\n"),))
        cls.dsn = cls.env.db.dsn
        cls.fake = cls.env.fake
        cls.engine = cls.env.engine()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def setUp(self):
        self.fake.reset()

    def wait_terminal(self, booking, timeout=15):
        return wait_until(lambda: (r := row(self.dsn, booking)) and r[0] not in ("scheduled", "sending") and r,
                          timeout=timeout, what=f"{booking} to end")

    def test_sent_with_idempotency_key_and_id(self):
        seed_messages(self.dsn, "acme", 1, prefix="OK")
        status, attempts, reason, provider_id = self.wait_terminal("OK1")
        self.assertEqual((status, attempts, reason), ("sent", "1", ""))
        got = self.fake.messages()
        self.assertEqual(len(got), 1)
        msg_id = scalar(self.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'OK1'")
        self.assertEqual(got[0]["key"], message_key(self.dsn, "acme", msg_id))
        self.assertEqual(got[0]["to"], ["u1@example.org"])
        self.assertEqual(got[0]["subject"], "Hallo Anna")
        self.assertTrue(provider_id)

    def test_a_changed_template_is_used_by_the_next_message(self):
        # the engine keeps templates between claims: a change by the CLI, or by plain SQL,
        # must reach the very next message all the same
        seed_messages(self.dsn, "acme", 1, prefix="CHGA")
        self.wait_terminal("CHGA1")
        doc = {"templates": [{"key": "t_email", "channel": "email", "subject": "Moin {{firstName}}",
                              "text": "Bis bald!", "html": "<p>Bis bald!</p>"}]}
        self.env.setup.write("templates2.json", json.dumps(doc))
        self.env.setup.cli("sequences", "import", "--org", "acme",
                           os.path.join(self.env.setup.dir, "templates2.json"))
        seed_messages(self.dsn, "acme", 1, prefix="CHGB")
        self.wait_terminal("CHGB1")
        psql(self.dsn, "INSERT INTO tidings.objects (org_id, kind, key, version, body, created_by) "
                       "SELECT org_id, kind, key, version + 1, jsonb_set(body, '{subject}', "
                       "'\"Servus {{firstName}}\"'), 'sql' FROM tidings.current_objects "
                       "WHERE org_id = 'acme' AND kind = 'template' AND key = 't_email'")
        seed_messages(self.dsn, "acme", 1, prefix="CHGC")
        self.wait_terminal("CHGC1")
        subjects = [m["subject"] for m in self.fake.messages()]
        self.assertEqual(subjects, ["Hallo Anna", "Moin Anna", "Servus Anna"])
        import_templates(self.env.setup, "acme")  # as the other tests expect them

    def test_429_honours_retry_after_and_uses_no_attempt(self):
        self.fake.fault("/emails", "status", status=429, retry_after=1, count=2)
        seed_messages(self.dsn, "acme", 1, prefix="RL")
        t0 = time.monotonic()
        status, attempts, _, _ = self.wait_terminal("RL1")
        took = time.monotonic() - t0
        self.assertEqual((status, attempts), ("sent", "1"))
        self.assertGreaterEqual(took, 1.8)  # waited Retry-After twice
        self.assertEqual(self.fake.stats()["by_status"].get("429"), 2)

    def test_5xx_is_retried_with_backoff(self):
        self.fake.fault("/emails", "status", status=503, count=2)
        seed_messages(self.dsn, "acme", 1, prefix="FX")
        self.assertEqual(self.wait_terminal("FX1")[:2], ["sent", "3"])

    def test_attempts_used_up_fail_with_the_reason(self):
        self.fake.fault("/emails", "status", status=500, count=-1)
        seed_messages(self.dsn, "acme", 1, prefix="GU")
        status, attempts, reason, _ = self.wait_terminal("GU1")
        self.assertEqual((status, attempts), ("failed", "3"))
        self.assertRegex(reason, r"^gave up after 3 attempts: resend 500 application_error")

    def test_dropped_connection_is_retried(self):
        self.fake.fault("/emails", "drop", count=1)
        seed_messages(self.dsn, "acme", 1, prefix="DR")
        # the request left and no answer came: the outcome is unknown, the row says so, and
        # the next attempt (the same key, the same body) is sent once more
        self.assertEqual(self.wait_terminal("DR1")[0], "sent")
        stats = self.fake.stats()
        self.assertEqual((stats["dropped"], stats["accepted"]), (1, 1))
        self.assertEqual(psql(self.dsn, "SELECT attempts, unknown_outcomes, outcome_unknown "
                                        "FROM tidings.messages WHERE booking_id = 'DR1'"), [["2", "1", "f"]])

    def test_validation_error_fails_at_once_with_resends_message(self):
        self.fake.fault("/emails", "reject", count=1)
        seed_messages(self.dsn, "acme", 1, prefix="VE")
        status, attempts, reason, _ = self.wait_terminal("VE1")
        self.assertEqual((status, attempts), ("failed", "1"))
        self.assertIn("resend 422 validation_error", reason)

    def test_invalid_address_fails_before_any_request(self):
        seed_messages(self.dsn, "acme", 1, prefix="IA", email="'not-an-address'")
        status, _, reason, _ = self.wait_terminal("IA1")
        self.assertEqual((status, reason), ("failed", "customer.email: not a valid e-mail address"))
        self.assertEqual(self.fake.stats()["requests"].get("/emails", 0), 0)

    def test_throttled_past_its_deadline_expires_at_once(self):
        # the provider says "come back in 10 minutes", but the booking starts in one
        self.fake.fault("/emails", "status", status=429, retry_after=600, count=1)
        seed_messages(self.dsn, "acme", 1, prefix="TD", deadline="now() + interval '1 minute'")
        status, attempts, reason, _ = self.wait_terminal("TD1")
        self.assertEqual(status, "expired")
        self.assertRegex(reason, r"^rate-limited by the provider \(resend 429 rate_limit_exceeded: .*\) "
                                 r"until after its deadline \(\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d\)$")
        self.assertEqual(attempts, "0")  # a 429 uses no attempt

    def test_past_deadline_expires_instead_of_sending_late(self):
        seed_messages(self.dsn, "acme", 1, prefix="EX", due="now() - interval '2 hours'",
                      deadline="now() - interval '1 hour'")
        status, _, reason, _ = self.wait_terminal("EX1")
        deadline = scalar(self.dsn, "SELECT extract(epoch FROM deadline) FROM tidings.messages "
                                    "WHERE booking_id = 'EX1'")
        self.assertEqual((status, reason), ("expired", f"its deadline ({local_text(float(deadline))}) "
                                                       "passed before it could be sent"))
        self.assertEqual(self.fake.stats()["requests"].get("/emails", 0), 0)


class Suspension(unittest.TestCase):
    def test_401_suspends_until_resumed_or_reconfigured(self):
        env = Env(orgs=(("acme", ""),))
        try:
            dsn = env.db.dsn
            env.fake.fault("/emails", "status", status=401, count=-1)
            engine = env.engine()
            seed_messages(dsn, "acme", 5, prefix="SU")
            wait_until(lambda: scalar(dsn, "SELECT count(*) FROM tidings.channel_suspensions") == "1",
                       what="the suspension")
            time.sleep(1.5)
            # the requests in flight were refused; then nothing more is claimed or sent, and
            # none used up an attempt
            refused = env.fake.stats()["requests"].get("/emails")
            self.assertLessEqual(refused, 5)
            seed_messages(dsn, "acme", 3, prefix="SW")
            time.sleep(2)
            self.assertEqual(env.fake.stats()["requests"].get("/emails"), refused)
            self.assertEqual(counts_by_status(dsn), {"scheduled": 8})
            self.assertEqual(scalar(dsn, "SELECT max(attempts) FROM tidings.messages"), "0")
            self.assertIn("ALERT channel suspended", engine.log_text())
            metrics = urllib.request.urlopen(f"{engine.base}/metrics").read().decode()
            self.assertIn('tidings_channel_suspended{org="acme",channel="email"} 1', metrics)
            # an operator resumes it once the key is fixed
            env.fake.reset()
            p = env.setup.cli("channels", "resume", "--org", "acme", "--channel", "email",
                              "--reason", "key rotated", "--as", "ops")
            self.assertIn("acme/email resumed", p.stdout)
            wait_until(lambda: counts_by_status(dsn) == {"sent": 8}, timeout=15, what="all sent")
            self.assertEqual(psql(dsn, "SELECT subject, action, actor, reason FROM tidings.actions"),
                             [["channel email", "resume", "ops", "key rotated"]])
            # suspended again; a changed configuration lifts it at start
            env.fake.fault("/emails", "status", status=403, count=1)
            seed_messages(dsn, "acme", 1, prefix="SV")
            wait_until(lambda: scalar(dsn, "SELECT count(*) FROM tidings.channel_suspensions") == "1",
                       what="the second suspension")
            self.assertEqual(engine.stop(), 0)
            with open(os.path.join(env.setup.dir, "conf.d", "acme.ini"), "a") as f:
                f.write("timeout = 9000\n")
            engine = env.engine()
            wait_until(lambda: row(dsn, "SV1")[0] == "sent", what="the message after reconfiguring")
            self.assertIn("suspension lifted: the configuration changed", engine.log_text())
        finally:
            env.close()


class Throughput(unittest.TestCase):
    def test_rate_limit_per_connection(self):
        env = Env(orgs=(("acme", "rate = 5/s\n"),))
        try:
            env.engine()
            seed_messages(env.db.dsn, "acme", 20, prefix="RT")
            wait_until(lambda: counts_by_status(env.db.dsn) == {"sent": 20}, timeout=20, what="all sent")
            times = sorted(float(r[0]) for r in psql(env.db.dsn,
                           "SELECT extract(epoch FROM sent_at) FROM tidings.messages"))
            # a burst of 5 (one second's worth), then 5 per second: the other 15 take 3 s; no
            # second holds more than the burst and one second's refill
            self.assertGreater(times[-1] - times[0], 2.6)
            for i in range(len(times)):
                in_window = [t for t in times if times[i] <= t < times[i] + 1.0]
                self.assertLessEqual(len(in_window), 10 + 1)

        finally:
            env.close()

    def test_shared_account_is_fair_across_organizations(self):
        env = Env(orgs=(("big", "account = shared\n"), ("small", "account = shared\n")),
                  extra_engine="[account.shared]\nrate = 10/s\n")
        try:
            seed_messages(env.db.dsn, "big", 100, prefix="BG")
            seed_messages(env.db.dsn, "small", 10, prefix="SM")
            env.engine()
            t0 = time.monotonic()
            wait_until(lambda: counts_by_status(env.db.dsn, "small") == {"sent": 10}, timeout=20,
                       what="the small organization's messages")
            took = time.monotonic() - t0
            big_sent = counts_by_status(env.db.dsn, "big").get("sent", 0)
            # half of the shared 10/s each: small is done in about 2 s, not after big's 100
            self.assertLess(took, 4.0)
            self.assertLess(big_sent, 50)
        finally:
            env.close()

    def test_concurrency_bounds_requests_in_flight(self):
        env = Env(orgs=(("acme", "concurrency = 2\n"),))
        try:
            env.fake.fault("/emails", "slow", delay_ms=200, count=-1)
            env.engine()
            seed_messages(env.db.dsn, "acme", 12, prefix="CC")
            wait_until(lambda: counts_by_status(env.db.dsn) == {"sent": 12}, timeout=20, what="all sent")
            self.assertLessEqual(env.fake.stats()["in_flight_max"], 2)
        finally:
            env.close()

    def test_three_engines_deliver_each_message_exactly_once(self):
        n = 20000
        env = Env(orgs=(("acme", "concurrency = 16\n"),), batch=200)
        try:
            seed_messages(env.db.dsn, "acme", n, prefix="X")
            t0 = time.monotonic()
            for _ in range(3):
                env.engine()
            wait_until(lambda: counts_by_status(env.db.dsn) == {"sent": n}, timeout=240, interval=0.5,
                       what="all 20,000 sent")
            took = time.monotonic() - t0
            stats = env.fake.stats()
            self.assertEqual(stats["accepted"], n)
            self.assertEqual(stats["unique_keys"], n)
            self.assertEqual(stats["duplicates"], 0)
            owners = psql(env.db.dsn, "SELECT count(DISTINCT lease_owner) FROM tidings.messages")
            self.assertEqual(owners, [["0"]])  # every lease released
            print(f"\n3 engines delivered {n} messages in {took:.1f} s ({n / took:.0f}/s), "
                  f"each exactly once")
        finally:
            env.close()


class Faults(unittest.TestCase):
    def test_kill_9_loses_nothing_and_the_key_absorbs_the_rest(self):
        n = 600
        env = Env(orgs=(("acme", "concurrency = 4\n"),), lease=5, batch=50)
        try:
            env.fake.fault("/emails", "slow", delay_ms=30, count=-1)
            seed_messages(env.db.dsn, "acme", n, prefix="K")
            first = env.engine()
            wait_until(lambda: counts_by_status(env.db.dsn).get("sent", 0) > 100, timeout=30,
                       what="some to be sent")
            first.proc.kill()  # SIGKILL, mid-run
            first.proc.wait()
            self.assertGreater(counts_by_status(env.db.dsn).get("sending", 0), 0)
            env.engine()
            wait_until(lambda: counts_by_status(env.db.dsn) == {"sent": n}, timeout=60, what="all sent")
            stats = env.fake.stats()
            self.assertEqual(stats["unique_keys"], n)   # every message reached the provider once...
            self.assertEqual(stats["accepted"], n)      # ...and was sent once: repeats were replays
            reclaimed = scalar(env.db.dsn, "SELECT count(*) FROM tidings.messages WHERE attempts > 1")
            print(f"\nkill -9: {reclaimed} messages reclaimed after the lease, "
                  f"{stats['duplicates']} repeated requests absorbed by the idempotency key")
        finally:
            env.close()

    def test_sigterm_drains_and_releases(self):
        env = Env(orgs=(("acme", "concurrency = 2\n"),), batch=100)
        try:
            env.fake.fault("/emails", "slow", delay_ms=300, count=-1)
            seed_messages(env.db.dsn, "acme", 100, prefix="T")
            engine = env.engine()
            wait_until(lambda: counts_by_status(env.db.dsn).get("sending", 0) > 0, what="a claim")
            t0 = time.monotonic()
            self.assertEqual(engine.stop(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - t0, 10)
            c = counts_by_status(env.db.dsn)
            self.assertNotIn("sending", c)
            self.assertEqual(sum(c.values()), 100)
            # what was sent is recorded; what was released has its attempt back
            self.assertEqual(c.get("sent", 0), env.fake.stats()["accepted"])
            self.assertEqual(scalar(env.db.dsn, "SELECT count(*) FROM tidings.messages "
                                                "WHERE status = 'scheduled' AND attempts <> 0"), "0")
            env.fake.reset()
            env.engine()
            wait_until(lambda: counts_by_status(env.db.dsn) == {"sent": 100}, timeout=60, what="the rest")
        finally:
            env.close()

    def test_stalled_engine_is_fenced_off(self):
        env = Env(orgs=(("acme", ""),), lease=5, workers=1)
        try:
            env.fake.fault("/emails", "slow", delay_ms=8000, count=1)
            seed_messages(env.db.dsn, "acme", 1, prefix="F")
            stalled = env.engine()
            wait_until(lambda: row(env.db.dsn, "F1")[0] == "sending", what="the claim")
            time.sleep(0.5)
            stalled.proc.send_signal(signal.SIGSTOP)  # a long pause while it holds the lease
            env.engine()
            wait_until(lambda: row(env.db.dsn, "F1")[0] == "sent", timeout=30, what="the second engine")
            stalled.proc.send_signal(signal.SIGCONT)
            wait_until(lambda: "lease was taken over" in stalled.log_text(), timeout=30,
                       what="the stalled engine's verdict to be refused")
            self.assertEqual(row(env.db.dsn, "F1")[:2], ["sent", "2"])
            self.assertEqual(env.fake.stats()["accepted"], 1)
        finally:
            env.close()

    def test_postgresql_restart_is_survived(self):
        pg_dir = os.path.join(os.environ.get("TIDINGS_PG_DIR", "/tmp"), "..", "restart-pg")
        script = os.path.join(SOURCE_DIR, "scripts", "pg-cluster.sh")
        dsn = subprocess.run([script, "start", pg_dir], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        fake = FakeProvider()
        setup = None
        try:
            class OwnDb:  # the test cluster itself is restarted: use one of its own
                pass
            db = OwnDb()
            db.dsn = dsn
            setup = Setup(db, orgs=(), lease=5)
            resend_org(setup, "acme", fake, "concurrency = 8\n")
            setup.cli("migrate")
            import_templates(setup, "acme")
            psql(dsn, "TRUNCATE tidings.messages, tidings.bookings")
            fake.fault("/emails", "slow", delay_ms=5, count=-1)
            seed_messages(dsn, "acme", 3000, prefix="P")
            engine = Engine(setup)
            wait_until(lambda: counts_by_status(dsn).get("sent", 0) > 300, timeout=30, what="progress")
            subprocess.run([script, "restart", pg_dir], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)

            wait_until(lambda: counts_by_status(dsn) == {"sent": 3000}, timeout=90, interval=0.5,
                       what="all sent after the restart")
            self.assertEqual(fake.stats()["unique_keys"], 3000)
            self.assertEqual(fake.stats()["accepted"], 3000)
            self.assertRegex(engine.log_text(), r"(lost the database|database unreachable|writing .* failed|claim failed)")
            self.assertEqual(engine.stop(), 0)
        finally:
            fake.stop()
            if setup:
                setup.remove()
            subprocess.run([script, "destroy", pg_dir], capture_output=True)


class Operations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env(orgs=(("acme", "max_attempts = 1\n"),))
        cls.dsn = cls.env.db.dsn
        cls.engine = cls.env.engine()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def test_idle_engine_uses_no_cpu(self):
        time.sleep(1)
        before = cpu_seconds(self.engine.proc.pid)
        time.sleep(5)
        used = cpu_seconds(self.engine.proc.pid) - before
        self.assertLess(used, 0.05, f"idle engine used {used:.3f} s of CPU in 5 s")

    def test_due_message_goes_out_within_a_second(self):
        seed_messages(self.dsn, "acme", 1, prefix="ON", due="now() + interval '2 seconds'")
        wait_until(lambda: row(self.dsn, "ON1")[0] == "sent", timeout=10, what="the message")
        late = float(scalar(self.dsn, "SELECT extract(epoch FROM sent_at - scheduled_for) "
                                      "FROM tidings.messages WHERE booking_id = 'ON1'"))
        self.assertLess(late, 1.0)
        self.assertGreaterEqual(late, 0)

    def test_metrics_in_prometheus_format(self):
        seed_messages(self.dsn, "acme", 3, prefix="ME")
        wait_until(lambda: counts_by_status(self.dsn, "acme").get("sent", 0) >= 3, what="sent")
        text = urllib.request.urlopen(f"{self.engine.base}/metrics").read().decode()
        for family in ("tidings_messages", "tidings_due_backlog", "tidings_deliveries_total",
                       "tidings_lateness_seconds", "tidings_provider_latency_seconds",
                       "tidings_lease_reclaims_total", "tidings_channel_suspended",
                       "tidings_retries_total"):
            self.assertIn(f"# TYPE {family} ", text)
        self.assertRegex(text, r'tidings_deliveries_total\{org="acme",channel="email",outcome="sent"\} [1-9]')
        self.assertRegex(text, r'tidings_lateness_seconds_count\{channel="email"\} [1-9]')
        self.assertRegex(text, r'tidings_messages\{org="acme",channel="email",state="sent"\} [1-9]')
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.assertRegex(line, r'^[a-z_]+(\{[^}]*\})? -?[0-9.e+Inf-]+$')

    def test_operators_list_retry_and_cancel_with_who_and_why(self):
        self.env.fake.fault("/emails", "status", status=500, count=1)
        seed_messages(self.dsn, "acme", 1, prefix="OP")
        wait_until(lambda: row(self.dsn, "OP1")[0] == "failed", what="the failure")
        mid = scalar(self.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'OP1'")
        out = self.env.setup.cli("messages", "list", "--org", "acme", "--state", "failed").stdout
        self.assertIn("OP1", out)
        self.assertIn("gave up after 1 attempts", out)
        p = self.env.setup.cli("messages", "retry", "--org", "acme", "--reason", "provider fixed",
                               "--as", "anna", mid)
        self.assertIn(f"message {mid}: failed -> scheduled", p.stdout)
        wait_until(lambda: row(self.dsn, "OP1")[0] == "sent", what="the retried message")
        # cancelling a sent message is refused and changes nothing
        p = self.env.setup.cli("messages", "cancel", "--org", "acme", "--reason", "x", mid, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is sent: nothing to cancel", p.stderr)
        seed_messages(self.dsn, "acme", 1, prefix="OQ", due="now() + interval '1 day'")
        qid = scalar(self.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'OQ1'")
        self.env.setup.cli("messages", "cancel", "--org", "acme", "--reason", "customer called", qid)
        self.assertEqual(row(self.dsn, "OQ1")[0], "cancelled")
        actions = psql(self.dsn, "SELECT subject, action, actor, reason, detail FROM tidings.actions ORDER BY id")
        self.assertEqual(actions[-2:], [
            [f"message {mid}", "retry", "anna", "provider fixed", "failed -> scheduled"],
            [f"message {qid}", "cancel", os.environ.get("USER", "unknown"), "customer called",
             "scheduled -> cancelled"]])

    def test_retry_refuses_a_cancelled_booking_and_keeps_a_time_ahead(self):
        # "see you tomorrow", cancelled with its booking two weeks ahead
        seed_messages(self.dsn, "acme", 1, prefix="RG", due="now() + interval '14 days'")
        rid = scalar(self.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'RG1'")
        due = scalar(self.dsn, f"SELECT scheduled_for FROM tidings.messages WHERE id = {rid}")
        psql(self.dsn, "UPDATE tidings.bookings SET status = 'cancelled' WHERE booking_id = 'RG1'; "
                       f"UPDATE tidings.messages SET status = 'cancelled' WHERE id = {rid}")
        p = self.env.setup.cli("messages", "retry", "--org", "acme", "--reason", "oops", rid, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"message {rid}: not retried: its booking RG1 is cancelled (--force", p.stderr)
        self.assertEqual(row(self.dsn, "RG1")[0], "cancelled")
        # forced, it goes back at its own time, not at once
        p = self.env.setup.cli("messages", "retry", "--org", "acme", "--reason", "rebooked", "--force", rid)
        self.assertIn(f"message {rid}: cancelled -> scheduled", p.stdout)
        self.assertEqual(scalar(self.dsn, f"SELECT scheduled_for FROM tidings.messages WHERE id = {rid}"), due)
        # a deadline that has passed is refused as well
        seed_messages(self.dsn, "acme", 1, prefix="RH", deadline="now() - interval '1 hour'")
        hid = scalar(self.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'RH1'")
        wait_until(lambda: row(self.dsn, "RH1")[0] == "expired", what="the expiry")
        p = self.env.setup.cli("messages", "retry", "--org", "acme", "--reason", "x", hid, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, rf"message {hid}: not retried: its deadline \(.*\) has passed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
