"""Engines that share a database agree on configuration, and one engine
reloads its own without dropping work, through the real engine, PostgreSQL
and (for deliveries in flight) the fake provider:

- an engine whose configuration of an organization differs from the one the
  first-started engine runs does not send for it, take its bookings or expand
  its events; it logs why once, /metrics shows it, and once its configuration
  agrees (SIGHUP) it serves the organization again;
- two engines on the same listen port do not both start;
- SIGHUP adds, changes and removes organizations; a configuration that does
  not check is refused whole, the running one goes on; a delivery in flight
  during a reload finishes on the old instance and is sent once."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest
import urllib.request

from fake_provider import FakeProvider
from harness import (BIN, Database, Engine, Setup, booking, close_class, counts_by_status,
                     import_templates, psql, resend_org, scalar, seed_messages, wait_until)


def metrics(engine):
    with urllib.request.urlopen(engine.base + "/metrics", timeout=10) as r:
        return r.read().decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def absolute_ini(setup, org):
    """The org's ini of setup with every relative path made absolute, so that
    another setup can run exactly the same configuration."""
    with open(os.path.join(setup.dir, "conf.d", f"{org}.ini"), encoding="utf-8") as f:
        text = f.read()
    here = os.path.join(setup.dir, "conf.d")
    return text.replace("file:../", f"file:{here}/../").replace("dir = ../", f"dir = {here}/../")


class Agreement(unittest.TestCase):
    """Two configuration folders for one database; the second disagrees about acme."""

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.first = Setup(cls.db, orgs=("acme",))
        cls.first.cli("migrate")
        import_templates(cls.first, "acme")
        cls.stray = Setup(cls.db, orgs=("acme",))
        # the stray's e-mail goes out from another sender: a different configuration
        path = os.path.join(cls.stray.dir, "conf.d", "acme.ini")
        text = open(path, encoding="utf-8").read().replace("Test <test@example.org>",
                                                           "Tidings <tidings@localhost>")
        cls.stray.write("conf.d/acme.ini", text)
        cls.engine = Engine(cls.first)
        time.sleep(0.2)  # started first, for sure
        cls.other = Engine(cls.stray)
        cls.dsn = cls.db.dsn

    @classmethod
    def tearDownClass(cls):
        cls.other.stop()
        close_class(cls.engine, cls.first, cls.db)
        cls.stray.remove()

    def test_a_disagreeing_engine_does_not_send_take_bookings_or_expand(self):
        log = wait_until(lambda: "differs from the one engine" in self.other.log_text() and self.other.log_text(),
                         what="the stray engine to notice")
        self.assertEqual(log.count("ALERT this engine's configuration of acme differs"), 1, log)
        self.assertIn('tidings_org_config_conflict{org="acme"} 1', metrics(self.other))
        self.assertIn('tidings_org_config_conflict{org="acme"} 0', metrics(self.engine))
        # messages due now: every one goes out through the first engine, from its sender
        seed_messages(self.dsn, "acme", 30, prefix="AG")
        wait_until(lambda: counts_by_status(self.dsn, "acme").get("sent") == 30, timeout=20,
                   what="all 30 sent")
        self.assertEqual(self.stray.outbox_files("acme"), [])
        self.assertEqual(len([f for f in self.first.outbox_files("acme") if f.endswith(".eml")]), 30)
        self.assertEqual(scalar(self.dsn, "SELECT count(DISTINCT lease_owner) FROM tidings.messages "
                                          "WHERE booking_id LIKE 'AG%'"), "0")
        # its webhook refuses the organization's bookings (the sender tries again)
        status, answer, headers = self.other.post("acme", booking("AG-B1"))
        self.assertEqual(status, 503, answer)
        self.assertIn("Retry-After", headers)
        self.assertEqual(self.engine.post("acme", booking("AG-B2"), secret=self.first.secrets["acme"])[0], 202)

    def test_zz_agreeing_after_a_reload_serves_again(self):
        wait_until(lambda: "differs from the one engine" in self.other.log_text(), what="the conflict")
        self.stray.write("conf.d/acme.ini", absolute_ini(self.first, "acme"))
        self.other.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "agrees with the other engines: serving it" in self.other.log_text(),
                   what="the stray engine to agree")
        self.assertIn('tidings_org_config_conflict{org="acme"} 0', metrics(self.other))
        status, answer, _ = self.other.post("acme", booking("AG-B3"), secret=self.first.secrets["acme"])
        self.assertEqual(status, 202, answer)


class ListenPort(unittest.TestCase):
    def test_a_second_engine_on_the_same_port_does_not_start(self):
        db = Database()
        port = free_port()
        setup = Setup(db, listen=f"127.0.0.1:{port}")
        setup.cli("migrate")
        engine = Engine(setup)
        try:
            self.assertEqual(engine.port, port)
            p = subprocess.run([BIN, "-c", setup.config, "run"], capture_output=True, text=True,
                               timeout=30, env=setup.env)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}: the address is in use", p.stdout + p.stderr)
            with urllib.request.urlopen(engine.base + "/healthz", timeout=5) as r:
                self.assertEqual(r.status, 200)
        finally:
            close_class(engine, setup, db)


class Reload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.fake = FakeProvider()
        cls.setup = Setup(cls.db, orgs=("acme",))
        resend_org(cls.setup, "slow", cls.fake, "concurrency = 1\n")
        cls.setup.cli("migrate")
        for org in ("acme", "slow"):
            import_templates(cls.setup, org)
        cls.engine = Engine(cls.setup)
        cls.dsn = cls.db.dsn

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db, cls.fake)

    def reload(self, expect):
        before = self.engine.log_text().count(expect)
        self.engine.proc.send_signal(signal.SIGHUP)
        return wait_until(lambda: self.engine.log_text().count(expect) > before and self.engine.log_text(),
                          what=expect)

    def test_organizations_added_changed_removed(self):
        self.setup.add_org("bravo")
        self.reload("reloaded: 3 organizations (1 added, 0 changed, 0 removed)")
        status, answer, _ = self.engine.post("bravo", booking("R-B1"))
        self.assertEqual(status, 202, answer)
        import_templates(self.setup, "bravo")
        # a changed sender: the next message goes out from it
        path = os.path.join(self.setup.dir, "conf.d", "bravo.ini")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.setup.write("conf.d/bravo.ini", text.replace("Test <test@example.org>", "Neu <neu@example.org>"))
        self.reload("reloaded: 3 organizations (0 added, 1 changed, 0 removed)")
        seed_messages(self.dsn, "bravo", 1, prefix="RC")
        wait_until(lambda: counts_by_status(self.dsn, "bravo").get("sent") == 1, what="the message")
        eml = [f for f in self.setup.outbox_files("bravo") if f.endswith(".eml")]
        self.assertEqual(len(eml), 1)
        self.assertIn("From: Neu <neu@example.org>", self.setup.read_outbox("bravo", eml[0]))
        # removed: its bookings are refused as an unknown organization
        os.remove(path)
        self.reload("reloaded: 2 organizations (0 added, 0 changed, 1 removed)")
        status, answer, _ = self.engine.post("bravo", booking("R-B2"))
        self.assertEqual(status, 404, answer)

    def test_a_configuration_that_does_not_check_is_refused_whole(self):
        path = os.path.join(self.setup.dir, "conf.d", "acme.ini")
        with open(path, encoding="utf-8") as f:
            good = f.read()
        self.setup.write("conf.d/acme.ini", good + "\n[channel.fax]\nplugin = outbox\ndir = ../outbox/acme\nspeed = 9600\n")
        self.setup.add_org("charlie")
        try:
            log = self.reload("the running configuration goes on")
            self.assertRegex(log, r"reload refused: \S*acme\.ini:\d+: \[channel\.fax\] unknown key 'speed'")
            # nothing of it is running: charlie is unknown, acme works as before
            self.assertEqual(self.engine.post("charlie", booking("R-C1"))[0], 404)
            self.assertEqual(self.engine.post("acme", booking("R-A1"))[0], 202)
        finally:
            self.setup.write("conf.d/acme.ini", good)
            os.remove(os.path.join(self.setup.dir, "conf.d", "charlie.ini"))

    def test_a_delivery_in_flight_finishes_on_the_old_instance(self):
        self.fake.fault("/emails", "slow", delay_ms=3000, count=1)
        seed_messages(self.dsn, "slow", 1, prefix="RF")
        wait_until(lambda: self.fake.stats()["in_flight"] > 0 if "in_flight" in self.fake.stats()
                   else scalar(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'RF1'") == "sending",
                   what="the request in flight")
        time.sleep(0.5)
        path = os.path.join(self.setup.dir, "conf.d", "slow.ini")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.setup.write("conf.d/slow.ini", text.replace("concurrency = 1", "concurrency = 2"))
        self.reload("1 changed")
        wait_until(lambda: scalar(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'RF1'") == "sent",
                   timeout=20, what="the message sent")
        self.assertEqual(self.fake.stats()["accepted"], 1)
        self.assertEqual(scalar(self.dsn, "SELECT attempts FROM tidings.messages WHERE booking_id = 'RF1'"), "1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
