"""Strict input that names every fault, through the real CLI and PostgreSQL:
a sequences file with many problems is refused whole with every problem,
its path and its line; sends on channels no plugin serves, or that the
organization has not configured, are refused (the latter can be let in);
a CSV quote that is not closed stops a bookings import at its line, or is
refused alone with --skip-bad-lines, and the counts add up."""
import json
import os
import shutil
import tempfile
import unittest

from harness import PLUGIN_DIR, Database, Setup, booking, psql, scalar

# Several problems in several sequences and templates. Each marker names
# the line a problem is reported on (found below by searching the text, so
# that the expected line numbers do not come from the code under test).
MANY_PROBLEMS = """{
  "sequences": [
    { "key": "first", "name": "First", "status": "active",
      "trigger": { "on": "booking.confirmed" },
      "steps": [
        { "id": "7d", "at": { "from": "start",
                              "offset": "-7x" },
          "send": [ { "channel": "email", "template": "welcome" } ] },
        { "id": "1d", "at": { "from": "start", "offset": "-1d",
                              "time": "25:00" },
          "send": [ { "channel": "email", "template": "missing" } ] }
      ] },
    { "key": "second", "name": "Second", "status": "sleeping",
      "trigger": { "on": "booking.confirmed" },
      "window": { "from": "08:00", "to": "20:00",
                  "days": ["mon", "funday"] },
      "steps": [
        { "id": "x", "at": { "from": "trigger" },
          "min_lead": "2d",
          "send": [ { "channel": "email", "template": "welcome", "colour": "red" } ] }
      ] },
    "not a sequence"
  ],
  "templates": [
    { "key": "welcome", "channel": "email", "subject": "Hallo",
      "text": "Hallo {{vorname}}" },
    { "key": "welcome", "channel": "sms",
      "text": "a \\"quoted\\" {{firstName" }
  ]
}
"""

EXPECTED = [  # (marker on the line, what is said there)
    ('"offset": "-7x"',
     "sequences[0].steps[0].at.offset: '-7x' is not an offset like -7d, 2h, 30m or 1d12h"),
    ('"time": "25:00"', "sequences[0].steps[1].at.time: '25:00' is not a local time like 09:00"),
    ('"template": "missing"', "sequences[0].steps[1].send[0].template: 'missing' does not exist"),
    ('"status": "sleeping"',
     "sequences[1].status: 'sleeping' is not active, paused, archived or draft"),
    ('"funday"', "sequences[1].window.days[1]: must be one of mon, tue, wed, thu, fri, sat, sun"),
    ('"min_lead": "2d"', "sequences[1].steps[0].min_lead: a step timed from the trigger"),
    ('"colour": "red"', "sequences[1].steps[0].send[0].colour: unknown"),
    ('"not a sequence"', "sequences[2]: must be a JSON object"),
    ('"text": "Hallo {{vorname}}"', "templates[0].text: unknown variable 'vorname'"),
    ('"key": "welcome", "channel": "sms"', "templates[1].key: 'welcome' is also templates[0]"),
    ('"text": "a \\"quoted', "templates[1].text: unclosed tag"),
]


def line_of(text, marker):
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def sequence(key, sends, **extra):
    doc = {"key": key, "name": key.title(), "status": "active",
           "trigger": {"on": "booking.confirmed"},
           "steps": [{"id": "s1", "at": {"from": "start", "offset": "-1d", "time": "09:00"},
                      "send": sends}]}
    doc.update(extra)
    return doc


TEMPLATES = [
    {"key": "t_email", "channel": "email", "subject": "Hallo", "text": "Hallo {{firstName}}"},
    {"key": "t_sms", "channel": "sms", "text": "Hallo {{firstName}}"},
    {"key": "t_wa", "channel": "whatsapp",
     "whatsapp": {"name": "reminder", "language": "de", "params": ["{{firstName}}"]}},
]


class SequencesFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db)  # acme: email and sms through the outbox plugin
        cls.setup.cli("migrate")

    @classmethod
    def tearDownClass(cls):
        cls.setup.remove()
        cls.db.drop()

    def write(self, name, doc):
        self.setup.write(name, doc if isinstance(doc, str) else json.dumps(doc, indent=2))
        return os.path.join(self.setup.dir, name)

    def objects(self):
        return scalar(self.db.dsn, "SELECT count(*) FROM tidings.objects")

    def test_every_problem_with_its_path_and_line(self):
        before = self.objects()
        path = self.write("many.json", MANY_PROBLEMS)
        for args in (("validate",), ("import", "--org", "acme")):
            p = self.setup.cli("sequences", *args, path, check=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            problems = [line for line in p.stderr.splitlines() if line.startswith(path + ":")]
            self.assertEqual(len(problems), len(EXPECTED), p.stderr)
            for (marker, said), got in zip(EXPECTED, problems):
                self.assertTrue(got.startswith(f"{path}:{line_of(MANY_PROBLEMS, marker)}: {said}"),
                                f"\n got:  {got}\n want: {path}:{line_of(MANY_PROBLEMS, marker)}: {said}")
        self.assertIn(f"tidings sequences validate: {len(EXPECTED)} problems", "\n".join(
            self.setup.cli("sequences", "validate", path, check=False).stderr.splitlines()))
        p = self.setup.cli("sequences", "import", "--org", "acme", path, check=False)
        self.assertIn(f"nothing saved ({len(EXPECTED)} problems)", p.stderr)
        self.assertEqual(self.objects(), before)
        # a file that is not JSON is one problem, with its line and column
        bad = self.write("broken.json", '{\n  "sequences": [\n    {"key": }\n  ]\n}\n')
        p = self.setup.cli("sequences", "validate", bad, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{bad}:3:", p.stderr)
        self.assertIn("malformed JSON", p.stderr)

    def test_a_send_on_a_channel_no_plugin_serves(self):
        before = self.objects()
        # a plugin path with the three provider plugins only (no outbox, which serves any)
        plugins = tempfile.mkdtemp(prefix="tidings-plugins-")
        setup = Setup(self.db)
        try:
            for name in ("resend", "infobip_sms", "infobip_whatsapp"):
                os.symlink(os.path.join(PLUGIN_DIR, f"{name}.so"), os.path.join(plugins, f"{name}.so"))
            with open(setup.config, encoding="utf-8") as f:
                ini = f.read().replace(f"path = {PLUGIN_DIR}\n", f"path = {plugins}\n")
            setup.write("tidings.ini", ini)
            doc = {"sequences": [
                sequence("typo", [{"channel": "email", "template": "t_email"}]),
            ], "templates": TEMPLATES + [{"key": "t_fax", "channel": "fax", "text": "x"}]}
            doc["sequences"][0]["steps"] += [
                {"id": "s2", "at": {"from": "start", "offset": "-2d"},
                 "send": [{"channel": "email", "template": "t_email"}]},
                {"id": "s3", "at": {"from": "start", "offset": "-3d"},
                 "send": [{"channel": "smss", "template": "t_sms",
                           "fallback": [{"channel": "mail", "template": "t_email"}]}]}]
            setup.write("typo.json", json.dumps(doc, indent=2))
            path = os.path.join(setup.dir, "typo.json")
            for args in (("validate",), ("import", "--org", "acme"),
                         ("import", "--org", "acme", "--allow-unconfigured-channels")):
                p = setup.cli("sequences", *args, path, check=False)
                self.assertEqual(p.returncode, 1, args)
                self.assertIn("sequences[0].steps[2].send[0].channel: 'smss' is not a channel any "
                              "plugin serves (email, sms, whatsapp)", p.stderr)
                self.assertIn("sequences[0].steps[2].send[0].fallback[0].channel: 'mail' is not a "
                              "channel any plugin serves (email, sms, whatsapp)", p.stderr)
                self.assertIn("templates[3].channel: 'fax' is not a channel any plugin serves "
                              "(email, sms, whatsapp)", p.stderr)
                # the template the send names is for sms, not for the channel written
                self.assertIn("sequences[0].steps[2].send[0].template: 't_sms' is a sms template, "
                              "not smss", p.stderr)
            self.assertEqual(self.objects(), before)
        finally:
            setup.remove()
            shutil.rmtree(plugins, ignore_errors=True)

    def test_a_send_on_a_channel_the_organization_has_not_configured(self):
        before = int(self.objects())
        doc = {"sequences": [sequence("wa", [{"channel": "email", "template": "t_email"},
                                             {"channel": "whatsapp", "template": "t_wa"}])],
               "templates": TEMPLATES}
        path = self.write("wa.json", doc)
        org_file = os.path.join(self.setup.dir, "conf.d", "acme.ini")
        refusal = ("sequences[0].steps[0].send[1].channel: 'whatsapp' is not configured for "
                   f"organization acme (no [channel.whatsapp] in {org_file}): configure it there, "
                   "or pass --allow-unconfigured-channels to import it anyway (for a channel "
                   "configured later)")
        p = self.setup.cli("sequences", "import", "--org", "acme", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(refusal, p.stderr)
        self.assertIn("nothing saved (1 problem)", p.stderr)
        # a whatsapp template alone sends nothing: only the send is refused
        self.assertNotIn("templates[2]", p.stderr)
        self.assertEqual(int(self.objects()), before)
        # some plugin serves whatsapp (the outbox serves any): validate without --org passes
        self.assertEqual(self.setup.cli("sequences", "validate", path).returncode, 0)
        p = self.setup.cli("sequences", "validate", "--org", "acme", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(refusal, p.stderr)
        # let in, for a channel configured later
        p = self.setup.cli("sequences", "import", "--org", "acme", "--allow-unconfigured-channels", path)
        self.assertIn("imported: 4 new versions", p.stdout)
        self.assertEqual(int(self.objects()), before + 4)
        self.assertIn("--allow-unconfigured-channels",
                      self.setup.cli("sequences", "--help").stdout)


CSV_HEADER = "id,status,start,name,customer.first_name,customer.email\n"


class BookingsCsv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db)
        cls.setup.cli("migrate")
        cls.start = booking("x", days_ahead=20)["start"]

    @classmethod
    def tearDownClass(cls):
        cls.setup.remove()
        cls.db.drop()

    def row(self, bid, name="Kurs"):
        return f"{bid},confirmed,{self.start},{name},Ida,{bid.lower()}@example.org\n"

    def stored(self, prefix):
        return [r[0] for r in psql(self.db.dsn, "SELECT booking_id FROM tidings.bookings "
                                                f"WHERE booking_id LIKE '{prefix}%' ORDER BY 1")]

    def test_an_unclosed_quote_stops_the_import_at_its_line(self):
        # 8 lines: the quote opened on line 4 would close at line 6's opening quote
        text = (CSV_HEADER + self.row("U-2") + self.row("U-3")
                + f"U-4,confirmed,{self.start},\"SKS Praxis,Ida,u-4@example.org\n"
                + self.row("U-5") + self.row("U-6", '"Hansa 2"') + self.row("U-7") + self.row("U-8"))
        self.assertEqual(text.count("\n"), 8)
        self.setup.write("unclosed.csv", text)
        path = os.path.join(self.setup.dir, "unclosed.csv")
        p = self.setup.cli("bookings", "import", "--org", "acme", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("3 records: 2 accepted (0 messages scheduled), 0 skipped (already known), "
                      "1 refused", p.stdout)
        self.assertIn("refused line 4: a quoted field is not closed", p.stdout)
        self.assertIn("stopped at line 4: nothing from it onward was imported", p.stdout)
        self.assertIn("--skip-bad-lines", p.stdout)
        self.assertEqual(self.stored("U-"), ["U-2", "U-3"])
        # told to skip it: line 4 is refused, every other line is a record of its own
        p = self.setup.cli("bookings", "import", "--org", "acme", "--skip-bad-lines", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("7 records: 4 accepted (0 messages scheduled), 2 skipped (already known), "
                      "1 refused", p.stdout)
        self.assertIn("refused line 4: a quoted field is not closed", p.stdout)
        self.assertNotIn("stopped", p.stdout)
        self.assertEqual(self.stored("U-"), ["U-2", "U-3", "U-5", "U-6", "U-7", "U-8"])
        doc = json.loads(scalar(self.db.dsn, "SELECT doc FROM tidings.bookings WHERE booking_id = 'U-6'"))
        self.assertEqual(doc["name"], "Hansa 2")
        self.assertIn("--skip-bad-lines", self.setup.cli("bookings", "--help").stdout)

    def test_a_quote_that_never_closes_and_text_after_a_closing_quote(self):
        text = (CSV_HEADER + self.row("Q-2")
                + f"Q-3,confirmed,{self.start},\"Anna \"the boss\" Berg\",Ida,q-3@example.org\n"
                + self.row("Q-4")
                + f"Q-5,confirmed,{self.start},\"never closed,Ida,q-5@example.org\n"
                + self.row("Q-6"))
        self.setup.write("quotes.csv", text)
        path = os.path.join(self.setup.dir, "quotes.csv")
        p = self.setup.cli("bookings", "import", "--org", "acme", "--skip-bad-lines", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("5 records: 3 accepted (0 messages scheduled), 0 skipped (already known), "
                      "2 refused", p.stdout)
        self.assertIn("refused line 3: text after the closing quote of a quoted field", p.stdout)
        self.assertIn("refused line 5: a quoted field is not closed", p.stdout)
        self.assertEqual(self.stored("Q-"), ["Q-2", "Q-4", "Q-6"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
