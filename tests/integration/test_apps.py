"""The SQL way in and a hardened webhook, through the real engine and
PostgreSQL: tidings.submit_booking in the app's transaction (rolled back with
it; SQL errors naming the field), an app table's trigger, 1,000 bookings
submitted while the engine is stopped, a killed listening connection, two
engines and parallel workers sharing waiting events in each booking's order,
a failing event holding back only its booking; stalled HTTP clients cut off, 503 with
Retry-After while the database is down; and the bulk import."""
import json
import os
import socket
import subprocess
import time
import unittest

from harness import (SOURCE_DIR, Database, Engine, Setup, booking, close_class, dumps, psql, scalar,
                     wait_until, webhook_client)

DEMO = os.path.join(SOURCE_DIR, "sql", "seed", "demo.json")


def submit_sql(b, org="acme", key=None):
    k = "NULL" if key is None else f"'{key}'"
    return f"SELECT tidings.submit_booking('{org}', '{json.dumps(b)}'::jsonb, {k})"


def psql_error(dsn, sql):
    p = subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-tAX", "-c", sql],
                       capture_output=True, text=True)
    return p.returncode, p.stderr


class SqlWayIn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db, orgs=("acme",))
        with open(os.path.join(cls.setup.dir, "conf.d", "acme.ini"), "a") as f:
            f.write("\n[trigger.app]\nplugin = pg_notify\nworkers = 3\n")
        cls.setup.cli("migrate")
        cls.setup.cli("sequences", "import", "--org", "acme", DEMO)
        cls.dsn = cls.db.dsn
        cls.engine = Engine(cls.setup)

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db)

    def expanded(self, booking_id, rows=4, timeout=10):
        wait_until(lambda: scalar(self.dsn, f"SELECT count(*) FROM tidings.messages WHERE booking_id = '{booking_id}'")
                   == str(rows), timeout=timeout, what=f"{booking_id} expanded")

    def test_submit_in_the_apps_transaction(self):
        psql(self.dsn, "CREATE TABLE IF NOT EXISTS public.app_orders (id text PRIMARY KEY)")
        t0 = time.monotonic()
        psql(self.dsn, f"BEGIN; INSERT INTO public.app_orders VALUES ('A-1'); {submit_sql(booking('A-1'))}; COMMIT;")
        self.expanded("A-1")
        print(f"\nSQL submit to committed message rows: {(time.monotonic() - t0) * 1000:.0f} ms")
        self.assertEqual(scalar(self.dsn, "SELECT outcome FROM tidings.events WHERE payload->>'id' = 'A-1'"),
                         "expanded: booking.created, booking.confirmed")
        # rolled back with the app's own work: nothing at all
        psql(self.dsn, f"BEGIN; INSERT INTO public.app_orders VALUES ('A-2'); {submit_sql(booking('A-2'))}; ROLLBACK;")
        time.sleep(1)
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE payload->>'id' = 'A-2'"), "0")
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM public.app_orders WHERE id = 'A-2'"), "0")
        # the same event key twice: one event
        psql(self.dsn, submit_sql(booking("A-3"), key="job-7") + ";" + submit_sql(booking("A-3"), key="job-7"))
        self.expanded("A-3")
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE payload->>'id' = 'A-3'"), "1")

    def test_bad_input_is_an_sql_error_naming_the_field(self):
        before = scalar(self.dsn, "SELECT count(*) FROM tidings.events")
        cases = [
            (booking("X-1", start="5.12.2026"), "booking.start: '5.12.2026' is not an RFC 3339 time"),
            ({**booking("X-2"), "status": "maybe"}, "booking.status: required, one of"),
            ({k: v for k, v in booking("X-3").items() if k != "id"}, "booking.id: required"),
            ({**booking("X-4"), "customer": "anna"}, "booking.customer: must be an object"),
            ({**booking("X-5"), "timezone": "Mars/Base"}, "booking.timezone: 'Mars/Base' is not a known time zone"),
            (booking("X-6", end="2020-01-01T00:00:00Z"), "booking.end: is before start"),
        ]
        for b, want in cases:
            code, err = psql_error(self.dsn, submit_sql(b))
            self.assertNotEqual(code, 0)
            self.assertIn(want, err)
        code, err = psql_error(self.dsn, submit_sql(booking("X-7"), org="nobody"))
        self.assertIn("org: unknown organization 'nobody'", err)
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.events"), before)

    def test_an_app_tables_trigger(self):
        with open(os.path.join(SOURCE_DIR, "sql", "app", "example_trigger.sql")) as f:
            psql(self.dsn, f.read().replace("'haff-segeln'", "'acme'"))
        start = booking("T-1")["start"]
        psql(self.dsn, f"INSERT INTO shop.bookings VALUES ('T-1', 'confirmed', 'course', '{start}', NULL, "
                       "'tina@example.org', 'Tina')")
        self.expanded("T-1")
        psql(self.dsn, "UPDATE shop.bookings SET state = 'cancelled' WHERE ref = 'T-1'")
        wait_until(lambda: scalar(self.dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id = 'T-1' "
                                            "AND status = 'cancelled'") != "0", what="the cancellation")
        doc = json.loads(scalar(self.dsn, "SELECT doc FROM tidings.bookings WHERE booking_id = 'T-1'"))
        self.assertEqual((doc["status"], doc["customer"]["email"], doc["subtype"]), ("cancelled", "tina@example.org", "course"))

    def test_engine_stopped_while_1000_are_submitted(self):
        self.assertEqual(self.engine.stop(), 0)
        bookings = [booking(f"S-{i}") for i in range(1000)]
        sql = ";".join(submit_sql(b) for b in bookings)
        psql(self.dsn, f"BEGIN; {sql}; COMMIT;")
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE processed_at IS NULL"), "1000")
        # two engines start: they share the waiting events, each is expanded once
        type(self).engine = Engine(self.setup)
        second = Engine(self.setup)
        try:
            wait_until(lambda: scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE processed_at IS NULL") == "0",
                       timeout=90, interval=0.5, what="all 1000 expanded")
            self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id LIKE 'S-%'"), "4000")
            self.assertEqual(scalar(self.dsn, "SELECT count(DISTINCT outcome) FROM tidings.events "
                                              "WHERE payload->>'id' LIKE 'S-%'"), "1")
        finally:
            self.assertEqual(second.stop(), 0)

    def test_killed_listening_connection_reconnects_and_catches_up(self):
        wait_until(lambda: scalar(self.dsn, "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN tidings_events'") != "0",
                   what="the LISTEN connection")
        psql(self.dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN tidings_events'")
        psql(self.dsn, submit_sql(booking("K-1")))
        self.expanded("K-1", timeout=15)
        wait_until(lambda: "lost the listening connection" in self.engine.log_text(), what="the log line")


    def test_parallel_workers_keep_each_bookings_order(self):
        """Three workers (and a second engine) expand waiting events at once;
        each booking's events are still expanded in the order written."""
        self.assertEqual(self.engine.stop(), 0)
        steps = [dict(days_ahead=10), dict(days_ahead=12), dict(days_ahead=12, status="cancelled"),
                 dict(days_ahead=14)]
        sql = ";".join(submit_sql(booking(f"O-{i}", **step)) for step in steps for i in range(150))
        psql(self.dsn, f"BEGIN; {sql}; COMMIT;")
        type(self).engine = Engine(self.setup)
        second = Engine(self.setup)
        try:
            wait_until(lambda: scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE processed_at IS NULL") == "0",
                       timeout=90, interval=0.5, what="all 600 expanded")
        finally:
            self.assertEqual(second.stop(), 0)
        out_of_order = scalar(self.dsn, """
            SELECT count(*) FROM (SELECT processed_at, lag(processed_at) OVER (PARTITION BY payload->>'id' ORDER BY id) AS prev
                                    FROM tidings.events WHERE payload->>'id' LIKE 'O-%') x
             WHERE processed_at <= prev""")
        self.assertEqual(out_of_order, "0")
        outcomes = psql(self.dsn, """
            SELECT string_agg(outcome, ' | ' ORDER BY id) FROM tidings.events WHERE payload->>'id' LIKE 'O-%'
             GROUP BY payload->>'id'""")
        self.assertEqual(len(outcomes), 150)
        for (joined,) in outcomes:
            o = joined.split(" | ")
            self.assertTrue(o[0].startswith("expanded: booking.created, booking.confirmed"), joined)
            self.assertIn("booking.moved", o[1], joined)
            self.assertIn("booking.cancelled", o[2], joined)
            self.assertIn("booking.confirmed", o[3], joined)
        self.assertEqual(scalar(self.dsn, """
            SELECT count(*) FROM tidings.bookings b JOIN tidings.events e ON e.org_id = b.org_id AND e.id = b.event_id
             WHERE b.booking_id LIKE 'O-%' AND b.status = 'confirmed' AND e.payload = (
                   SELECT payload FROM tidings.events l WHERE l.payload->>'id' = b.booking_id ORDER BY l.id DESC LIMIT 1)"""),
            "150")

    def test_a_failing_event_holds_back_only_its_booking(self):
        """An event PostgreSQL refuses to expand (here a test trigger makes it
        fail) waits with its booking's later events; every other booking,
        in its partition too, goes on; once the fault is gone it is expanded,
        in order."""
        psql(self.dsn, """
            CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.booking_id = 'P-POISON' THEN RAISE EXCEPTION 'the test refuses P-POISON'; END IF;
                  RETURN NEW; END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON tidings.bookings
                FOR EACH ROW EXECUTE FUNCTION public.refuse_poison()""")
        try:
            self.assertEqual(self.engine.stop(), 0)
            sql = [submit_sql(booking(f"P-{i}")) for i in range(40)]
            sql.insert(3, submit_sql(booking("P-POISON")))
            sql.insert(10, submit_sql(booking("P-POISON", status="cancelled")))
            psql(self.dsn, "BEGIN; " + ";".join(sql) + "; COMMIT;")
            neighbours = scalar(self.dsn, """
                SELECT count(*) FROM tidings.events WHERE payload->>'id' LIKE 'P-%' AND payload->>'id' <> 'P-POISON'
                   AND (hashtext(payload->>'id') & 2147483647) % 8 = (hashtext('P-POISON') & 2147483647) % 8""")
            self.assertNotEqual(neighbours, "0", "a booking shares the poisoned partition")
            type(self).engine = Engine(self.setup)
            wait_until(lambda: scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE processed_at IS NULL") == "2",
                       timeout=30, interval=0.3, what="every other booking expanded")
            self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE processed_at IS NULL "
                                              "AND payload->>'id' = 'P-POISON'"), "2")
            wait_until(lambda: "for booking P-POISON not expanded" in self.engine.log_text(), what="the log line")
        finally:
            psql(self.dsn, "DROP TRIGGER refuse_poison ON tidings.bookings; DROP FUNCTION public.refuse_poison()")
        psql(self.dsn, submit_sql(booking("P-WAKE")))
        wait_until(lambda: scalar(self.dsn, "SELECT count(*) FROM tidings.events WHERE processed_at IS NULL") == "0",
                   timeout=30, interval=0.3, what="P-POISON expanded once the fault is gone")
        outcomes = [r[0] for r in psql(self.dsn, "SELECT outcome FROM tidings.events WHERE payload->>'id' = 'P-POISON' ORDER BY id")]
        self.assertTrue(outcomes[0].startswith("expanded: booking.created, booking.confirmed"), outcomes)
        self.assertIn("booking.cancelled", outcomes[1])


class WebhookHardening(unittest.TestCase):
    def test_stalled_client_is_cut_off(self):
        db = Database()
        setup = Setup(db, extra_engine="")
        with open(setup.config) as f:
            cfg = f.read().replace("[http]\n", "[http]\ntimeout = 2\n")
        setup.write("tidings.ini", cfg)
        try:
            setup.cli("migrate")
            engine = Engine(setup)
            s = socket.create_connection(("127.0.0.1", engine.port))
            s.sendall(b"POST /v1/orgs/acme/bookings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\"")
            s.settimeout(10)
            t0 = time.monotonic()
            data = s.recv(1024)  # the server closes the connection
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - t0, 6)
            s.close()
            # and serves others all the while
            self.assertEqual(engine.post("acme", booking("H-1"))[0], 202)
            self.assertEqual(engine.stop(), 0)
        finally:
            setup.remove()
            db.drop()

    def test_database_down_gives_503_with_retry_after(self):
        pg_dir = os.path.join(os.environ.get("TIDINGS_PG_DIR", "/tmp"), "..", "down-pg")
        script = os.path.join(SOURCE_DIR, "scripts", "pg-cluster.sh")
        dsn = subprocess.run([script, "start", pg_dir], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        setup = None

        class OwnDb:
            pass
        db = OwnDb()
        db.dsn = dsn
        try:
            setup = Setup(db)
            setup.cli("migrate")
            engine = Engine(setup)
            self.assertEqual(engine.post("acme", booking("D-1"))[0], 202)
            subprocess.run([script, "stop", pg_dir], check=True, capture_output=True)
            t0 = time.monotonic()
            status, answer, headers = engine.post("acme", booking("D-2"))
            self.assertEqual(status, 503)
            self.assertEqual(headers.get("Retry-After"), "5")
            self.assertLess(time.monotonic() - t0, 5)
            subprocess.run([script, "start", pg_dir], check=True, capture_output=True)
            wait_until(lambda: engine.post("acme", booking("D-2"))[0] == 202, timeout=20, interval=0.5,
                       what="acceptance after the database is back")
            self.assertEqual(scalar(dsn, "SELECT count(*) FROM tidings.events WHERE payload->>'id' = 'D-2'"), "1")
            self.assertEqual(engine.stop(), 0)
        finally:
            if setup:
                setup.remove()
            subprocess.run([script, "destroy", pg_dir], capture_output=True)


class BulkImport(unittest.TestCase):
    def test_jsonl_and_csv_idempotent_with_a_summary(self):
        db = Database()
        setup = Setup(db)
        try:
            setup.cli("migrate")
            setup.cli("sequences", "import", "--org", "acme", DEMO)
            lines = [json.dumps(booking(f"I-{i}", days_ahead=20)) for i in range(200)]
            lines.insert(50, '{"id": "broken",')
            lines.insert(120, json.dumps({**booking("I-bad"), "start": "tomorrow"}))
            setup.write("bookings.jsonl", "\n".join(lines) + "\n")
            path = os.path.join(setup.dir, "bookings.jsonl")
            p = setup.cli("bookings", "import", "--org", "acme", path, check=False)
            self.assertEqual(p.returncode, 1)  # two lines refused
            self.assertIn("202 records: 200 accepted (800 messages scheduled), 0 skipped (already known), 2 refused", p.stdout)
            self.assertIn("refused line 51: malformed JSON", p.stdout)
            self.assertIn("refused line 121: start: 'tomorrow' is not an RFC 3339 time", p.stdout)
            self.assertIn("importing", p.stderr)  # progress
            self.assertIn("100%", p.stderr)
            # again: nothing new
            p = setup.cli("bookings", "import", "--org", "acme", path, check=False)
            self.assertIn("200 skipped (already known), 2 refused", p.stdout)
            self.assertEqual(scalar(db.dsn, "SELECT count(*) FROM tidings.events WHERE source = 'import'"), "200")
            # CSV with a header, quoted fields, nested columns
            setup.write("bookings.csv",
                        "id,status,start,end,name,customer.first_name,customer.email,customer.consent.sms,data.boat\n"
                        f"C-1,confirmed,{booking('x', days_ahead=20)['start']},,\"SKS, Praxis\",Ida,ida@example.org,true,\"Hansa \"\"2\"\"\"\n"
                        f"C-2,confirmed,not-a-time,,Kurs,Ole,ole@example.org,false,\n"
                        f"C-3,confirmed,{booking('x', days_ahead=21)['start']}\n")
            p = setup.cli("bookings", "import", "--org", "acme", os.path.join(setup.dir, "bookings.csv"), check=False)
            self.assertIn("3 records: 1 accepted", p.stdout)
            self.assertIn("refused line 3: start: 'not-a-time'", p.stdout)
            self.assertIn("refused line 4: 3 fields, the header has 9", p.stdout)
            doc = json.loads(scalar(db.dsn, "SELECT doc FROM tidings.bookings WHERE booking_id = 'C-1'"))
            self.assertEqual((doc["name"], doc["data"]["boat"], doc["customer"]["consent"]["sms"]),
                             ("SKS, Praxis", 'Hansa "2"', True))
            self.assertNotIn("end", doc)
        finally:
            setup.remove()
            db.drop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
