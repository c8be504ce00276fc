"""Plugins built for an older minor ABI keep working: legacy_outbox, built
from the frozen ABI 1.1 header (tests/plugins/abi_1_1/), is loaded by
today's engine, delivers through the real dispatch path, and its verdicts
mean what they meant in 1.1 (a zero retry_after_ms there is "at once")."""
import os
import unittest

from harness import (PLUGIN_DIR, Database, Engine, Setup, close_class, import_templates, psql,
                     seed_messages, wait_until)

LEGACY_DIR = os.path.join(os.path.dirname(PLUGIN_DIR), "legacy-plugins")


class Abi11Plugin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db, orgs=())
        cls.out = os.path.join(cls.setup.dir, "legacy-out")
        os.makedirs(cls.out)
        with open(cls.setup.config, encoding="utf-8") as f:
            text = f.read().replace(f"path = {PLUGIN_DIR}\n", f"path = {PLUGIN_DIR}:{LEGACY_DIR}\n")
        cls.setup.write("tidings.ini", text)
        cls.setup.write("conf.d/acme.ini",
                        "[org]\nid = acme\nname = Acme\ntimezone = Europe/Berlin\nlocale = de\n\n"
                        "[channel.email]\nplugin = legacy_outbox\ndir = ../legacy-out\n"
                        "max_attempts = 3\nbackoff = 10s\n\n"
                        "[channel.sms]\nplugin = legacy_outbox\ndir = ../legacy-out\n")
        # the same source built against today's header serves bravo
        cls.setup.write("conf.d/bravo.ini",
                        "[org]\nid = bravo\nname = Bravo\ntimezone = Europe/Berlin\nlocale = de\n\n"
                        "[channel.email]\nplugin = current_outbox\ndir = ../legacy-out\n"
                        "max_attempts = 3\nbackoff = 10s\n\n"
                        "[channel.sms]\nplugin = current_outbox\ndir = ../legacy-out\n")
        cls.setup.cli("migrate")
        import_templates(cls.setup, "acme")
        import_templates(cls.setup, "bravo")
        cls.engine = Engine(cls.setup)

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db)

    def rows(self, booking):
        return psql(self.db.dsn, "SELECT id, status, attempts, coalesce(provider_id, ''), "
                                 f"coalesce(reason, '') FROM tidings.messages WHERE booking_id = '{booking}'")

    def test_check_passes_and_a_message_is_delivered_through_it(self):
        self.assertTrue(self.setup.cli("check").stdout.startswith("ok: "))
        seed_messages(self.db.dsn, "acme", 1, prefix="L")
        row = wait_until(lambda: (r := self.rows("L1")) and r[0][1] == "sent" and r[0],
                         what="the legacy plugin's verdict")
        msg_id, _, attempts, provider_id, _ = row
        self.assertEqual((attempts, provider_id), ("1", f"legacy-{msg_id}"))
        with open(os.path.join(self.out, f"{msg_id}.txt"), encoding="utf-8") as f:
            self.assertEqual(f.read(), "u1@example.org\nHallo Anna\n")

    def test_a_zero_retry_after_of_a_1_1_plugin_still_means_at_once(self):
        # backoff is 10 s: only "at once" lets three attempts end within seconds
        seed_messages(self.db.dsn, "acme", 1, prefix="R", email="'retry@example.org'")
        row = wait_until(lambda: (r := self.rows("R1")) and r[0][1] == "failed" and r[0], timeout=8,
                         what="three attempts at once")
        self.assertEqual(row[2], "3")
        self.assertEqual(row[4], "gave up after 3 attempts: legacy says later")

    def test_a_zero_retry_after_of_a_1_2_plugin_means_the_backoff(self):
        # the same source built against today's header: its zero-initialised result now says
        # "the engine decides", so the next attempt waits the 10 s backoff (jittered)
        seed_messages(self.db.dsn, "bravo", 1, prefix="Z", email="'retry@example.org'")
        row = wait_until(lambda: (r := self.rows("Z1")) and r[0][2] == "1" and r[0][1] == "scheduled"
                         and "retry in" in r[0][4] and r[0], what="the first attempt's verdict")
        wait = float(psql(self.db.dsn, "SELECT extract(epoch FROM scheduled_for - updated_at) "
                                       "FROM tidings.messages WHERE booking_id = 'Z1'")[0][0])
        self.assertGreater(wait, 4.0, row)


if __name__ == "__main__":
    unittest.main(verbosity=2)
