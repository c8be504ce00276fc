"""The admin API through the running engine and PostgreSQL: per-organization
tokens with roles and the operator token, refusals that reveal nothing (401
without a valid token, the one 404 for another organization's token or an
unknown one), the sequences list and the customer view, every answer
validated against docs/openapi.yaml."""
import json
import os
import re
import secrets
import unittest
import urllib.error
import urllib.request

import jsonschema
import yaml

from harness import (SOURCE_DIR, Database, Engine, Setup, booking, close_class, import_templates,
                     psql, scalar, seed_messages, wait_until)

with open(os.path.join(SOURCE_DIR, "docs", "openapi.yaml"), encoding="utf-8") as f:
    OPENAPI = yaml.safe_load(f)


def response_schema(template, method, status):
    """The schema docs/openapi.yaml gives for an answer (refs resolved against the document)."""
    op = OPENAPI["paths"][template][method.lower()]
    answer = op["responses"][str(status)]
    if "$ref" in answer:
        answer = OPENAPI["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return {**answer["content"]["application/json"]["schema"], "components": OPENAPI["components"]}


class AdminApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db, orgs=("acme", "bravo"))
        cls.tokens = {n: secrets.token_hex(24) for n in ("anna", "viktor", "bea", "operator")}
        for name, token in cls.tokens.items():
            cls.setup.write(f"admin-{name}", token + "\n")
        for org, sections in (("acme", "[admin.anna]\nrole = editor\ntoken = file:../admin-anna\n"
                                       "[admin.viktor]\nrole = viewer\ntoken = file:../admin-viktor\n"),
                              ("bravo", "[admin.bea]\nrole = editor\ntoken = file:../admin-bea\n")):
            with open(os.path.join(cls.setup.dir, "conf.d", f"{org}.ini"), "a", encoding="utf-8") as f:
                f.write("\n" + sections)
        with open(cls.setup.config, "a", encoding="utf-8") as f:
            f.write("[admin]\noperator_token = file:admin-operator\n")
        cls.setup.cli("migrate")
        cls.setup.cli("sequences", "import", "--org", "acme",
                      os.path.join(SOURCE_DIR, "sql", "seed", "demo.json"))
        import_templates(cls.setup, "acme")
        cls.engine = Engine(cls.setup)

    @classmethod
    def tearDownClass(cls):
        log = close_class(cls.engine, cls.setup, cls.db)
        for token in cls.tokens.values():
            assert token not in log, "an admin token in the log"

    def call(self, path, token=None, method="GET", template=None, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.engine.base + path, method=method, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        self.assertEqual(headers.get("Content-Type"), "application/json", body)
        doc = json.loads(body)
        if template:
            jsonschema.validate(doc, response_schema(template, method, status))
        return status, headers, doc

    def test_who_am_i_by_role(self):
        t = "/v1/admin/orgs/{org}"
        for name, role, can in (("anna", "editor", True), ("viktor", "viewer", False)):
            status, _, doc = self.call("/v1/admin/orgs/acme", self.tokens[name], template=t)
            self.assertEqual(status, 200)
            self.assertEqual((doc["org"], doc["name"], doc["caller"]),
                             ("acme", "Acme Segelschule", {"name": name, "role": role, "can_change": can}))
        status, _, doc = self.call("/v1/admin/orgs/bravo", self.tokens["operator"], template=t)
        self.assertEqual((status, doc["caller"]["role"]), (200, "operator"))

    def test_refusals_reveal_nothing(self):
        t = "/v1/admin/orgs/{org}"
        status, headers, doc = self.call("/v1/admin/orgs/acme", template=t)
        self.assertEqual(status, 401)
        self.assertEqual(headers.get("WWW-Authenticate"), 'Bearer realm="tidings"')
        self.assertEqual(self.call("/v1/admin/orgs/acme", "x" * 48, template=t)[0], 401)
        near = self.tokens["anna"][:-1] + ("1" if self.tokens["anna"][-1] == "0" else "0")
        self.assertEqual(self.call("/v1/admin/orgs/acme", near, template=t)[0], 401)  # one character off
        # another organization's token, an unknown organization, an unknown path: one answer
        unknown = self.call("/v1/nothing/here")
        self.assertEqual(unknown[0], 404)
        for path, token in (("/v1/admin/orgs/acme", self.tokens["bea"]),
                            ("/v1/admin/orgs/acme/sequences", self.tokens["bea"]),
                            ("/v1/admin/orgs/nobody", self.tokens["anna"]),
                            ("/v1/admin/orgs/nobody", None),
                            ("/v1/admin/orgs/acme/nothing", self.tokens["anna"])):
            status, _, doc = self.call(path, token)
            self.assertEqual((status, doc), (404, unknown[2]), path)
        # a method the endpoint does not have: 405, as the document's GET says
        status, headers, doc = self.call("/v1/admin/orgs/acme", self.tokens["anna"], method="POST")
        self.assertEqual((status, headers.get("Allow")), (405, "GET"))
        jsonschema.validate(doc, response_schema(t, "GET", 405))

    def test_sequences_list(self):
        t = "/v1/admin/orgs/{org}/sequences"
        status, _, doc = self.call("/v1/admin/orgs/acme/sequences", self.tokens["viktor"], template=t)
        self.assertEqual(status, 200)
        with open(os.path.join(SOURCE_DIR, "sql", "seed", "demo.json"), encoding="utf-8") as f:
            seed = json.load(f)["sequences"]
        self.assertEqual([s["key"] for s in doc], sorted(s["key"] for s in seed))
        first = next(s for s in seed if s["key"] == doc[0]["key"])
        self.assertEqual((doc[0]["version"], doc[0]["steps"], doc[0]["status"]),
                         (1, len(first["steps"]), first.get("status", "active")))
        status, _, doc = self.call("/v1/admin/orgs/bravo/sequences", self.tokens["bea"], template=t)
        self.assertEqual((status, doc), (200, []))

    def test_customer_view(self):
        t = "/v1/admin/orgs/{org}/customers/{address}/messages"
        seed_messages(self.db.dsn, "acme", 3, prefix="CV")
        # u2's booking gets a second message, sent, on another channel
        seed_messages(self.db.dsn, "acme", 1, prefix="CW", email="'u2@example.org'", channel="sms",
                      template="t_sms")
        status, _, doc = self.call("/v1/admin/orgs/acme/customers/U2@Example.org/messages",
                                   self.tokens["viktor"], template=t)
        self.assertEqual(status, 200)
        self.assertEqual(doc["address"], "U2@Example.org")
        self.assertEqual(sorted(m["booking_id"] for m in doc["messages"]), ["CV2", "CW1"])
        self.assertTrue(all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d \+0[12]:00$", m["scheduled_local"])
                            for m in doc["messages"]))
        keys = [(m["sent_at"] or m["scheduled_for"], m["id"]) for m in doc["messages"]]
        self.assertEqual(keys, sorted(keys, reverse=True))
        status, _, doc = self.call("/v1/admin/orgs/acme/customers/u2@example.org/messages?limit=1",
                                   self.tokens["viktor"], template=t)
        self.assertEqual((status, len(doc["messages"])), (200, 1))
        # not another organization's customers, even with the same address
        status, _, doc = self.call("/v1/admin/orgs/bravo/customers/u2@example.org/messages",
                                   self.tokens["bea"], template=t)
        self.assertEqual((status, doc["messages"]), (200, []))
        for bad in ("0", "1001", "ten", ""):
            status, _, doc = self.call(f"/v1/admin/orgs/acme/customers/u2@example.org/messages?limit={bad}",
                                       self.tokens["viktor"], template=t)
            self.assertEqual((status, doc["problems"][0]["field"]), (400, "limit"), bad)


    def test_message_filter(self):
        t = "/v1/admin/orgs/{org}/messages"
        seed_messages(self.db.dsn, "acme", 2, prefix="MF")
        seed_messages(self.db.dsn, "acme", 1, prefix="MG", channel="sms", template="t_sms",
                      due="now() + interval '3 days'")
        psql(self.db.dsn, "UPDATE tidings.messages SET status = 'skipped', reason = 'test' "
                          "WHERE booking_id = 'MF2'")
        base = "/v1/admin/orgs/acme/messages"
        status, _, doc = self.call(base + "?channel=sms", self.tokens["viktor"], template=t)
        self.assertEqual(status, 200)
        self.assertIn("MG1", [m["booking_id"] for m in doc["messages"]])
        self.assertTrue(all(m["channel"] == "sms" for m in doc["messages"]))
        status, _, doc = self.call(base + "?state=skipped&sequence=bulk&step=s1", self.tokens["viktor"],
                                   template=t)
        self.assertEqual([m["booking_id"] for m in doc["messages"] if m["booking_id"].startswith("M")],
                         ["MF2"])
        self.assertTrue(all(m["status"] == "skipped" for m in doc["messages"]))
        # a time range: only what is scheduled inside it
        start = psql(self.db.dsn, "SELECT to_char((now() + interval '2 days') AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")[0][0]
        status, _, doc = self.call(base + f"?from={start}", self.tokens["viktor"], template=t)
        self.assertEqual([m["booking_id"] for m in doc["messages"]], ["MG1"])
        status, _, doc = self.call(base + f"?to={start}&limit=1", self.tokens["viktor"], template=t)
        self.assertEqual(len(doc["messages"]), 1)
        self.assertNotEqual(doc["messages"][0]["booking_id"], "MG1")
        for query, field in (("state=lost", "state"), ("from=yesterday", "from"),
                             ("to=2026-12-01", "to"), ("limit=0", "limit")):
            status, _, doc = self.call(f"{base}?{query}", self.tokens["viktor"], template=t)
            self.assertEqual((status, doc["problems"][0]["field"]), (400, field), query)

    def test_booking_timeline(self):
        t = "/v1/admin/orgs/{org}/bookings/{id}/timeline"
        seed_messages(self.db.dsn, "acme", 1, prefix="TL")
        seed_messages(self.db.dsn, "acme", 1, prefix="TL", channel="sms", template="t_sms",
                      due="now() + interval '1 day'")
        mid = psql(self.db.dsn, "SELECT id FROM tidings.messages WHERE booking_id = 'TL1' "
                                "AND channel = 'email'")[0][0]
        psql(self.db.dsn, "INSERT INTO tidings.message_reports (org_id, message_id, channel, kind, "
                          f"status, event_key) VALUES ('acme', {mid}, 'email', 'delivered', "
                          "'email.delivered', 'ev-1')")
        status, _, doc = self.call("/v1/admin/orgs/acme/bookings/TL1/timeline", self.tokens["viktor"],
                                   template=t)
        self.assertEqual(status, 200)
        self.assertEqual(doc["booking"]["id"], "TL1")
        self.assertEqual(doc["booking"]["timezone"], "Europe/Berlin")
        self.assertEqual([m["channel"] for m in doc["messages"]], ["email", "sms"])  # oldest first
        self.assertEqual([r["kind"] for r in doc["messages"][0]["reports"]], ["delivered"])
        self.assertEqual(doc["messages"][1]["reports"], [])
        status, _, doc = self.call("/v1/admin/orgs/acme/bookings/NOPE/timeline", self.tokens["viktor"])
        self.assertEqual((status, doc), (404, {"error": "no such booking"}))
        # another organization's booking is not there for its token
        status, _, doc = self.call("/v1/admin/orgs/bravo/bookings/TL1/timeline", self.tokens["bea"])
        self.assertEqual(status, 404)


    def test_stats_against_the_targets(self):
        t = "/v1/admin/orgs/{org}/stats"
        # a month of its own, far from the other tests' rows
        rows = (("delivered", "email"), ("delivered", "email"), ("delivered", "email"),
                ("bounced", "email"), ("complained", "sms"), ("skipped", "sms"), ("scheduled", "sms"))
        for i, (state, channel) in enumerate(rows):
            seed_messages(self.db.dsn, "bravo", 1, prefix=f"ST{i}-", channel=channel,
                          due="'2025-03-10T09:00:00Z'::timestamptz")
            psql(self.db.dsn, f"UPDATE tidings.messages SET status = '{state}', reason = "
                              f"{'$$no consent$$' if state == 'skipped' else 'NULL'}, sent_at = CASE "
                              f"WHEN '{state}' IN ('delivered', 'bounced', 'complained') THEN "
                              f"scheduled_for + interval '{i + 1} seconds' END "
                              f"WHERE booking_id = 'ST{i}-1'")
        q = "/v1/admin/orgs/bravo/stats?from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z"
        status, _, doc = self.call(q, self.tokens["bea"], template=t)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["targets"]["email_delivery_rate"], 0.99)
        email, sms = doc["groups"]
        self.assertEqual((email["key"], email["total"], email["counts"]),
                         ("email", 4, {"delivered": 3, "bounced": 1}))
        self.assertEqual((email["delivery_rate"], email["bounce_rate"]), (0.75, 0.25))
        self.assertEqual((sms["key"], sms["reached_provider"], sms["complaint_rate"], sms["skips"]),
                         ("sms", 1, 1.0, {"no consent": 1}))
        # sent 1, 2, 3 and 4 seconds late
        self.assertEqual(email["lateness_p50_seconds"], 2.5)
        self.assertAlmostEqual(email["lateness_p99_seconds"], 3.97, places=2)
        status, _, doc = self.call(q + "&by=day", self.tokens["bea"], template=t)
        self.assertEqual([g["key"] for g in doc["groups"]], ["2025-03-10"])
        for query, field in (("by=month", "by"), ("from=last-week", "from"), ("to=x", "to"),
                             ("from=2025-04-01T00:00:00Z&to=2025-03-01T00:00:00Z", "from")):
            status, _, doc = self.call(f"/v1/admin/orgs/bravo/stats?{query}", self.tokens["bea"],
                                       template=t)
            self.assertEqual((status, doc["problems"][0]["field"]), (400, field), query)

    def test_the_cli_speaks_the_same_reads(self):
        seed_messages(self.db.dsn, "acme", 1, prefix="CLI", email="'cli@example.org'",
                      due="now() + interval '2 days'")
        long_reason = "held: " + "a reason that is long enough to be cut off by a narrow column " * 2
        psql(self.db.dsn, f"UPDATE tidings.messages SET reason = '{long_reason}' WHERE booking_id = 'CLI1'")
        api = self.call("/v1/admin/orgs/acme/customers/cli@example.org/messages", self.tokens["viktor"])[2]
        out = self.setup.cli("customers", "show", "--org", "acme", "--json", "cli@example.org").stdout
        self.assertEqual(json.loads(out), api)
        human = self.setup.cli("customers", "show", "--org", "acme", "CLI@example.org").stdout
        self.assertIn(long_reason.strip(), human)  # whole, not cut off
        self.assertIn(api["messages"][0]["scheduled_local"], human)
        self.assertIn("(1 message)", human)
        q = "from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z"
        api = self.call(f"/v1/admin/orgs/bravo/stats?{q}&by=step", self.tokens["bea"])[2]
        out = self.setup.cli("stats", "--org", "bravo", "--by", "step", "--from", "2025-03-01T00:00:00Z",
                             "--to", "2025-04-01T00:00:00Z", "--json").stdout
        self.assertEqual(json.loads(out), api)
        p = self.setup.cli("stats", "--org", "bravo", "--by", "month", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--by: one of channel, sequence, step, day", p.stderr)
        p = self.setup.cli("customers", "show", "--org", "nobody", "x@example.org", check=False)
        self.assertEqual((p.returncode, p.stderr.strip()),
                         (1, "tidings customers show: no organization 'nobody' in the configuration"))

    def counts(self):
        return tuple(scalar(self.db.dsn, f"SELECT count(*) FROM tidings.{t}")
                     for t in ("events", "bookings", "messages"))

    def test_preview_is_the_real_expansion_and_writes_nothing(self):
        t = "/v1/admin/orgs/{org}/preview"
        b = booking("PV-1", days_ahead=10)
        before = self.counts()
        # arriving at a chosen instant (whole milliseconds), as the real one will a moment later
        arrival = int(scalar(self.db.dsn, "SELECT (extract(epoch FROM now()) * 1000)::bigint"))
        now = scalar(self.db.dsn, f"SELECT to_char(to_timestamp({arrival} / 1000.0) AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
        status, _, doc = self.call("/v1/admin/orgs/acme/preview", self.tokens["viktor"], "POST",
                                   template=t, body={"booking": b, "now": now})
        self.assertEqual(status, 200, doc)
        self.assertEqual(self.counts(), before)  # nothing kept
        self.assertEqual(doc["booking"], "PV-1")
        sent = [s for s in doc["steps"] if s["outcome"] == "send"]
        self.assertTrue(sent, doc)
        email = next(s for s in sent if s["channel"] == "email")
        self.assertEqual(email["to"], b["customer"]["email"])
        self.assertTrue(email["subject"] and email["text"])
        # the same booking through the real way in plans the same rows at the same times
        status, answer, _ = self.engine.post("acme", b)
        self.assertEqual(status, 202, answer)
        real_arrival = scalar(self.db.dsn, "SELECT floor(extract(epoch FROM received_at) * 1000)::bigint "
                                           "FROM tidings.events WHERE payload->>'id' = 'PV-1'")
        real = psql(self.db.dsn, "SELECT sequence_key, step_id, channel, "
                                 "(extract(epoch FROM scheduled_for) * 1000)::bigint FROM tidings.messages "
                                 "WHERE booking_id = 'PV-1' ORDER BY 1, 2, 3")
        # steps due on arrival are due at each one's own arrival; every other time is the same
        real = [r[:3] + ["arrival" if r[3] == real_arrival else r[3]] for r in real]
        previewed = [[s["sequence"], s["step"], s["channel"],
                      "arrival" if s["scheduled_ms"] == arrival else str(s["scheduled_ms"])]
                     for s in doc["steps"]]
        self.assertIn("arrival", [p[3] for p in previewed])
        self.assertEqual(sorted(previewed), sorted(real))

    def test_preview_names_every_fault(self):
        t = "/v1/admin/orgs/{org}/preview"
        bad = booking("PV-2", days_ahead=10)
        bad["customer"]["emial"] = bad["customer"].pop("email")
        status, _, doc = self.call("/v1/admin/orgs/acme/preview", self.tokens["viktor"], "POST",
                                   template=t, body={"booking": bad})
        self.assertEqual(status, 400)
        self.assertIn("customer.emial", [p["field"] for p in doc["problems"]])
        for body, field in (({"booking": booking("PV-3"), "now": "soon"}, "now"),
                            ({"bookin": {}}, "bookin"), ({"now": "2026-12-01T09:00:00Z"}, "booking")):
            status, _, doc = self.call("/v1/admin/orgs/acme/preview", self.tokens["viktor"], "POST",
                                       template=t, body=body)
            self.assertEqual((status, doc["problems"][0]["field"]), (400, field), body)


class AdminConfig(unittest.TestCase):
    def test_tokens_are_checked_where_they_are_written(self):
        db = Database()
        setup = Setup(db, orgs=("acme",))
        try:
            setup.write("short", "abc\n")
            with open(os.path.join(setup.dir, "conf.d", "acme.ini"), "a", encoding="utf-8") as f:
                f.write("\n[admin.anna]\nrole = boss\ntoken = file:../short\n"
                        "[admin.otto]\nrole = viewer\ntoken = plain-text-token-plain-text-token-xx\n")
            p = setup.cli("check", check=False)
            out = p.stdout + p.stderr
            self.assertEqual(p.returncode, 1, out)
            self.assertRegex(out, r"acme\.ini:\d+: \[admin\.anna\] role: 'boss' is not viewer or editor")
            self.assertRegex(out, r"acme\.ini:\d+: \[admin\.anna\] token: shorter than 32 characters")
            self.assertRegex(out, r"acme\.ini:\d+: \[admin\.otto\] token is a secret: give it as env:NAME")
            self.assertNotIn("plain-text-token", out)
        finally:
            setup.remove()
            db.drop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
