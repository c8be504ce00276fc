"""The command line through the real binary: exit codes scripts rely on,
one-line errors, `check` naming file, section and line, and migrations that
are idempotent, recorded, and refuse a newer schema."""
import os
import unittest

from harness import BIN, SOURCE_DIR, Database, Setup, psql, scalar

import subprocess


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, env=env)


class Cli(unittest.TestCase):
    def test_help_and_usage(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("run", "migrate", "check", "sequences", "exit codes"):
            self.assertIn(word, p.stdout)
        for cmd in ("run", "migrate", "check", "sequences"):
            p = run(cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn(f"usage: tidings [-c FILE] {cmd}", p.stdout)
        p = run("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)
        self.assertEqual(run().returncode, 2)

    def test_missing_config_is_one_line_and_exit_2(self):
        for cmd in ("run", "check", "migrate"):
            p = run("-c", "/nonexistent/tidings.ini", cmd)
            self.assertEqual(p.returncode, 2, cmd)
            self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
            self.assertIn("configuration file /nonexistent/tidings.ini not found", p.stderr)

    def test_check_names_file_section_and_line(self):
        db = Database()
        setup = Setup(db)
        try:
            self.assertEqual(setup.cli("check").stdout.strip(),
                             f"ok: {setup.config}, 1 organization, 2 channels, 1 trigger")
            setup.write("conf.d/acme.ini",
                        "[org]\nid = acme\nname = Acme\n"
                        "[channel.email]\nplugin = outbox\ndri = /tmp/x\n"
                        "[trigger.webhook]\nplugin = booking_webhook\nsecret = whsec_literal\n"
                        "[channel.sms]\nplugin = no_such_plugin\n")
            p = setup.cli("check", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("acme.ini:4: [channel.email] missing required key 'dir'", p.stderr)
            self.assertIn("acme.ini:6: [channel.email] unknown key 'dri' (plugin outbox knows: dir, from)",
                          p.stderr)
            self.assertIn("acme.ini:9: [trigger.webhook] secret is a secret: give it as env:NAME or file:PATH",
                          p.stderr)
            self.assertNotIn("whsec_literal", p.stderr)
            self.assertIn("acme.ini:10: [channel.sms] plugin 'no_such_plugin': no no_such_plugin.so in the plugin path", p.stderr)
            self.assertIn("tidings check: 4 problems", p.stderr)
            # run refuses the same configuration, before touching anything
            p = setup.cli("run", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("unknown key 'dri'", p.stderr)
        finally:
            setup.remove()
            db.drop()

    def test_migrate_is_idempotent_and_refuses_newer_schemas(self):
        db = Database()
        setup = Setup(db)
        try:
            p = setup.cli("migrate")
            self.assertIn("applied 001_core", p.stdout)
            p = setup.cli("migrate")
            self.assertIn("(already up to date)", p.stdout)
            self.assertNotIn("applied", p.stdout)
            shipped = sorted(f[:-4] for f in os.listdir(os.path.join(SOURCE_DIR, "sql"))
                             if f[:3].isdigit() and f.endswith(".sql"))
            self.assertEqual(psql(db.dsn, "SELECT version, name FROM tidings.schema_version ORDER BY 1"),
                             [[str(int(name[:3])), name] for name in shipped])

            psql(db.dsn, "INSERT INTO tidings.schema_version (version, name) VALUES (999, '999_future')")
            p = setup.cli("migrate", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("schema is at version 999, newer than this tidings knows", p.stderr)
            p = setup.cli("run", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("the database schema is at version 999", p.stderr)
        finally:
            setup.remove()
            db.drop()

    def test_run_refuses_an_unmigrated_database(self):
        db = Database()
        setup = Setup(db)
        try:
            p = setup.cli("run", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("run `tidings migrate` first", p.stderr)
        finally:
            setup.remove()
            db.drop()

    def test_sequences_import_is_all_or_nothing(self):
        db = Database()
        setup = Setup(db)
        try:
            setup.cli("migrate")
            demo = os.path.join(SOURCE_DIR, "sql", "seed", "demo.json")
            self.assertEqual(setup.cli("sequences", "validate", demo).returncode, 0)
            setup.write("bad.json", '{"sequences": [{"key": "s", "name": "S", "status": "active", '
                                    '"trigger": {"on": "booking.confirmed"}, "steps": [{"id": "a", '
                                    '"at": {"from": "start", "offset": "-7x"}, "send": [{"channel": '
                                    '"email", "template": "t"}]}]}], "templates": [{"key": "t", '
                                    '"channel": "email", "subject": "S", "text": "Hi {{firstName"}]}')
            bad = os.path.join(setup.dir, "bad.json")
            p = setup.cli("sequences", "import", "--org", "acme", bad, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("sequences[0].steps[0].at.offset: '-7x' is not an offset", p.stderr)
            self.assertIn("templates[0].text: unclosed tag", p.stderr)
            self.assertIn("nothing saved", p.stderr)
            self.assertEqual(scalar(db.dsn, "SELECT count(*) FROM tidings.objects"), "0")
            p = setup.cli("sequences", "import", "--org", "acme", demo)
            self.assertIn("imported: 5 new versions", p.stdout)
            p = setup.cli("sequences", "import", "--org", "acme", demo)
            self.assertIn("imported: 0 new versions", p.stdout)
            p = setup.cli("sequences", "export", "--org", "acme")
            self.assertIn('"demo-welcome"', p.stdout)
            p = setup.cli("sequences", "import", "--org", "nobody", demo, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("unknown organization 'nobody'", p.stderr)
        finally:
            setup.remove()
            db.drop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
