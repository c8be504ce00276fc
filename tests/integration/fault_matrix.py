"""The exactly-once fault matrix, shared by the suite's fault test
(test_exactly_once.py, small) and the benchmark (bench/fault_bench.py, a few
thousand messages): one organization sends e-mail through Resend, SMS and
WhatsApp through Infobip, all to the fake provider, from engines on a private
PostgreSQL cluster; the provider, the engines and PostgreSQL are made to fail,
and the fake provider's own count of what it accepted per message key
(GET /_control/accepted) says what was lost and what was doubled.

    m = Matrix(per_channel=200, engines=2, lease=5)
    m.provider_faults(error=0.2, throttle=0.1, accept_drop=0.2)
    m.seed(); m.start_engines()
    ... m.kill_one(); m.restart_postgresql() ...
    report = m.drain()      # per channel: lost, doubled, unknown, states, drain time
    m.close()
"""
import json
import os
import random
import signal
import time

from fake_provider import FakeProvider
from harness import (Cluster, Engine, Setup, counts_by_status, new_secret, psql, scalar,
                     seed_messages)

CHANNELS = ("email", "sms", "whatsapp")
SEND_PATHS = {"email": "/emails", "sms": "/sms/3/messages", "whatsapp": "/whatsapp/1/message/template"}
TEMPLATES = {"email": "t_email", "sms": "t_sms", "whatsapp": "t_wa"}
# a row in one of these states is done with
TERMINAL = ("sent", "delivered", "failed", "held", "skipped", "expired", "cancelled")


class Matrix:
    def __init__(self, per_channel, engines=1, lease=5, workers=2, batch=50, concurrency=8,
                 seed=7, policy="", whatsapp_policy="", timeout_ms=10000, legacy=False):
        self.per_channel = per_channel
        self.engine_count = engines
        self.rng = random.Random(seed)
        self.cluster = Cluster("tidings-faults-")
        self.cluster.start()
        self.dsn = self.cluster.dsn
        self.fake = FakeProvider(seed=seed)
        self.setup = Setup(self.cluster, orgs=(), lease=lease, workers=workers, batch=batch)
        s = self.setup
        s.write("resend-key", self.fake.resend_key + "\n")
        s.write("infobip-key", self.fake.infobip_key + "\n")
        s.secrets["acme"] = new_secret()
        s.write("secret-acme", s.secrets["acme"] + "\n")
        # quick retries, so that a run drains in seconds
        # (legacy: an engine from before unknown outcomes, for "before" figures)
        core = (f"concurrency = {concurrency}\nmax_attempts = 12\nbackoff = 200ms\nbackoff_max = 2s\n"
                f"{'' if legacy else 'unknown_wait = 500ms' + chr(10)}{policy}")
        s.write("conf.d/acme.ini",
                "[org]\nid = acme\nname = Acme\ntimezone = Europe/Berlin\ncountry = 49\n"
                "[trigger.webhook]\nplugin = booking_webhook\nsecret = file:../secret-acme\n"
                f"[channel.email]\nplugin = resend\napi_key = file:../resend-key\n"
                f"from = Acme <hallo@acme.example>\nbase_url = {self.fake.url}\ntimeout = {timeout_ms}\n{core}\n"
                f"[channel.sms]\nplugin = infobip_sms\napi_key = file:../infobip-key\n"
                f"base_url = {self.fake.url}\nsender = AcmeSMS\ntimeout = {timeout_ms}\n{core}\n"
                f"[channel.whatsapp]\nplugin = infobip_whatsapp\napi_key = file:../infobip-key\n"
                f"base_url = {self.fake.url}\nsender = 4939771234567\ntimeout = {timeout_ms}\n{core}\n"
                f"{whatsapp_policy}\n")
        s.cli("migrate")
        doc = {"templates": [
            {"key": "t_email", "channel": "email", "subject": "Hallo {{firstName}}",
             "text": "Bis bald, {{firstName}}!"},
            {"key": "t_sms", "channel": "sms", "text": "Hallo {{firstName}}, bis bald"},
            {"key": "t_wa", "channel": "whatsapp",
             "whatsapp": {"name": "acme_reminder", "language": "de", "params": ["{{firstName}}"]}}]}
        s.write("templates.json", json.dumps(doc))
        s.cli("sequences", "import", "--org", "acme", os.path.join(s.dir, "templates.json"))
        self.engines = []
        self.kills = 0
        self.restarts = 0

    # --- faults ------------------------------------------------------------------------------

    def provider_faults(self, error=0.0, throttle=0.0, accept_drop=0.0, slow_ms=0):
        """On every send path: answers 500 (error), 429 with Retry-After (throttle) and lost
        answers after acceptance (accept_drop), as shares of requests; or every request slow."""
        for path in SEND_PATHS.values():
            if slow_ms:
                self.fake.fault(path, "slow", delay_ms=slow_ms, count=-1)
                continue
            if error:
                self.fake.fault(path, "status", status=500, count=-1, probability=error)
            if throttle:
                self.fake.fault(path, "status", status=429, retry_after=1, count=-1,
                                probability=throttle)
            if accept_drop:
                self.fake.fault(path, "accept_drop", count=-1, probability=accept_drop)

    # --- work ---------------------------------------------------------------------------------

    def seed(self):
        for ch in CHANNELS:
            seed_messages(self.dsn, "acme", self.per_channel, channel=ch, template=TEMPLATES[ch],
                          prefix=f"{ch[0].upper()}")
        self.t0 = time.monotonic()

    def start_engines(self, n=None):
        for _ in range(n or self.engine_count):
            self.engines.append(Engine(self.setup))

    def kill_one(self):
        """kill -9 of one running engine (chosen at random), and a new one in its place."""
        alive = [e for e in self.engines if e.proc.poll() is None]
        victim = self.rng.choice(alive)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        victim.log.close()
        self.kills += 1
        self.engines.append(Engine(self.setup))

    def restart_postgresql(self):
        self.cluster.restart()
        self.restarts += 1

    def done(self):
        counts = counts_by_status(self.dsn)
        return sum(n for state, n in counts.items() if state in TERMINAL) == 3 * self.per_channel

    def drain(self, timeout=120.0):
        """Waits until every row is done with (or the time is up); returns the report."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.done():
            time.sleep(0.2)
        took = time.monotonic() - self.t0
        return self.report(took)

    def report(self, took):
        accepted = self.fake.accepted()
        new_schema = scalar(self.dsn, "SELECT to_regclass('tidings.installation') IS NOT NULL") == "t"
        installation = scalar(self.dsn, "SELECT id FROM tidings.installation") if new_schema else None
        unknown = "unknown_outcomes" if new_schema else "0"
        rows = psql(self.dsn, f"SELECT id, channel, status, {unknown} FROM tidings.messages "
                              "WHERE org_id = 'acme'")
        out = {"drain_s": round(took, 1), "kills": self.kills, "postgresql_restarts": self.restarts}
        for ch in CHANNELS:
            mine = [r for r in rows if r[1] == ch]
            counts = accepted.get(ch, {})
            states, lost, doubled, unknown, accepted_but_failed = {}, 0, 0, 0, 0
            for mid, _, status, unk in mine:
                states[status] = states.get(status, 0) + 1
                key = f"td-{installation}-acme-{mid}" if installation else f"tidings-acme-{mid}"
                n = counts.get(key, 0)
                unknown += int(unk)
                doubled += max(0, n - 1)
                if n == 0 and status not in ("held",):
                    lost += 1           # never reached the provider, and not held for an operator
                if n > 0 and status == "failed":
                    accepted_but_failed += 1
            out[ch] = {"messages": len(mine), "states": states, "lost": lost, "doubled": doubled,
                       "unknown_bound": unknown, "accepted_but_failed": accepted_but_failed,
                       "accept_drops": accepted.get("accept_drops", {}).get(ch, 0)}
        return out

    def close(self):
        for e in self.engines:
            if e.proc.poll() is None:
                e.stop()
            else:
                e.log.close()
        self.fake.stop()
        self.setup.remove()
        self.cluster.destroy()


def format_report(name, r):
    lines = [f"{name}: drained in {r['drain_s']} s ({r['kills']} kill -9, "
             f"{r['postgresql_restarts']} PostgreSQL restarts)"]
    for ch in CHANNELS:
        c = r[ch]
        states = ", ".join(f"{k} {v}" for k, v in sorted(c["states"].items()))
        lines.append(f"  {ch:9s} {c['messages']:5d} messages: lost {c['lost']}, doubled {c['doubled']} "
                     f"(bound: {c['unknown_bound']} unknown outcomes), accepted-but-failed "
                     f"{c['accepted_but_failed']}, answers lost after acceptance {c['accept_drops']}; {states}")
    return "\n".join(lines)
