"""The engine under a service manager: with $NOTIFY_SOCKET set (as systemd
sets it for a Type=notify unit) it says READY=1 once it serves, RELOADING=1
and READY=1 around a SIGHUP reload, and STOPPING=1 at SIGTERM; without it,
nothing changes. The unit the package installs is checked for the promises
docs/operations.md makes about it."""
import os
import signal
import socket
import unittest
import urllib.request

from harness import SOURCE_DIR, Database, Engine, Setup, close_class


class NotifySocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db, orgs=("acme",))
        cls.setup.cli("migrate")
        cls.path = os.path.join(cls.setup.dir, "notify.sock")
        cls.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.sock.bind(cls.path)
        cls.sock.settimeout(15)
        cls.setup.env["NOTIFY_SOCKET"] = cls.path
        cls.engine = Engine(cls.setup)

    @classmethod
    def tearDownClass(cls):
        cls.sock.close()
        if cls.engine.proc.poll() is None:
            close_class(cls.engine, cls.setup, cls.db)
        else:
            cls.setup.remove()
            cls.db.drop()

    def next_state(self):
        return dict(line.split("=", 1) for line in self.sock.recv(4096).decode().splitlines())

    def test_ready_reloading_and_stopping(self):
        state = self.next_state()
        self.assertEqual(state.get("READY"), "1", state)
        # ready means serving: the health check answers at once
        with urllib.request.urlopen(f"{self.engine.base}/healthz", timeout=5) as r:
            self.assertEqual(r.status, 200)
        self.engine.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.next_state().get("RELOADING"), "1")
        self.assertEqual(self.next_state().get("READY"), "1")
        self.engine.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.next_state().get("STOPPING"), "1")
        self.assertEqual(self.engine.proc.wait(timeout=30), 0)


class PackagedUnit(unittest.TestCase):
    def test_the_unit_is_notify_reloadable_and_hardened(self):
        with open(os.path.join(SOURCE_DIR, "packaging", "tidings.service.in"), encoding="utf-8") as f:
            unit = dict(line.split("=", 1) for line in f.read().splitlines()
                        if "=" in line and not line.startswith("#"))
        self.assertEqual(unit["Type"], "notify")
        self.assertEqual(unit["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(unit["User"], "tidings")
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes")):
            self.assertEqual(unit.get(key), value, key)


if __name__ == "__main__":
    unittest.main(verbosity=2)
