"""The timing rules through the real engine and PostgreSQL, at instants the
tests choose (each class has a clock of its own: its PostgreSQL cluster, its
engine and its CLI calls read "now" from the clock's file):

- a wall time that happens twice (the autumn change) means its first
  occurrence, and one in a spring-forward gap moves forward by the gap's
  length, in Berlin, New York, Lord Howe (a half-hour change) and Chatham
  (+12:45 / +13:45), through the webhook and through the SQL way in, with an
  oracle built from Python's zoneinfo;
- "past" is judged against the booking's arrival, never against when the
  engine got round to it: a booking submitted while no engine ran and
  expanded two hours later still sends its confirmation, its "before" message
  whose deadline passed meanwhile expires, with reason; a step one second
  before arrival is skipped, one exactly at arrival is scheduled;
- reasons say what happened, in local time with the offset; a min_lead on a
  trigger-timed step is refused when the sequence is validated;
- `tidings messages list` shows times in the booking's zone with the offset,
  `--json` keeps UTC."""
import datetime as dt
import json
import os
import unittest
import zoneinfo

from harness import (Clock, Database, Engine, Setup, close_class, local_text, psql, scalar, utc,
                     wait_until)

UTC = dt.timezone.utc
ZONES = {"berlin": "Europe/Berlin", "newyork": "America/New_York", "lordhowe": "Australia/Lord_Howe",
         "chatham": "Pacific/Chatham"}

# Wall times that happen twice (autumn) and wall times that do not happen
# (spring gap), in 2026, per zone.
REPEATED = {"berlin": "2026-10-25 02:35", "newyork": "2026-11-01 01:30",
            "lordhowe": "2026-04-05 01:45", "chatham": "2026-04-05 03:00"}
GAP = {"berlin": "2026-03-29 02:30", "newyork": "2026-03-08 02:30",
       "lordhowe": "2026-10-04 02:15", "chatham": "2026-09-27 03:00"}


def first_occurrence(wall, tz):
    """The oracle: zoneinfo with fold=0 is the first occurrence of a repeated
    time, and reads a time in a gap with the offset before it (so it moves
    forward by the gap)."""
    return dt.datetime.fromisoformat(wall).replace(tzinfo=zoneinfo.ZoneInfo(tz), fold=0).astimezone(UTC)


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_submit(org, doc):
    return f"SELECT tidings.submit_booking('{org}', '{json.dumps(doc)}'::jsonb)"


def org_setup(db, orgs):
    setup = Setup(db, orgs=())
    for org, tz in orgs:
        setup.add_org(org, timezone=tz, channels=("email",))
        with open(os.path.join(setup.dir, "conf.d", f"{org}.ini"), "a") as f:
            f.write("\n[trigger.app]\nplugin = pg_notify\n")
    setup.cli("migrate")
    return setup


def import_doc(setup, org, doc, name="doc.json"):
    setup.write(name, json.dumps(doc))
    setup.cli("sequences", "import", "--org", org, os.path.join(setup.dir, name))


TEMPLATES = [{"key": "t", "channel": "email", "subject": "Hallo {{firstName}}", "text": "{{eventName}}"}]


class RepeatedAndMissingWallTimes(unittest.TestCase):
    """At 2026-02-01 12:00 UTC every 2026 change lies ahead: the rows are
    scheduled, and their instants are compared with the oracle."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock(utc("2026-02-01T12:00:00Z"))
        cls.db = Database(clock=cls.clock)
        cls.setup = org_setup(cls.db, [(org, tz) for org, tz in ZONES.items()])
        # Each step lands on a local wall time chosen by the booking: "time" on the
        # start's own day, a day before keeping the wall clock, and a window opening.
        seq = {"key": "walls", "name": "Wall times", "status": "active",
               "trigger": {"on": "booking.confirmed"},
               "steps": [
                   {"id": "at-time", "at": {"from": "start", "offset": "0d", "time": "00:00"},
                    "send": [{"channel": "email", "template": "t"}]},
                   {"id": "day-before", "at": {"from": "start", "offset": "-1d"},
                    "send": [{"channel": "email", "template": "t"}]},
               ]}
        cls.seq = seq
        for org in ZONES:
            import_doc(cls.setup, org, {"sequences": [], "templates": TEMPLATES}, f"{org}.json")
        cls.engine = Engine(cls.setup)
        cls.dsn = cls.db.dsn

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db)

    def sequence_for(self, org, key, hhmm):
        """A sequence whose first step sends at hhmm local on the start's day
        and whose second sends a calendar day before the start, same wall time."""
        seq = json.loads(json.dumps(self.seq))
        seq["key"] = key
        seq["trigger"]["subtypes"] = [key]
        seq["steps"][0]["at"]["time"] = hhmm
        import_doc(self.setup, org, {"sequences": [seq], "templates": TEMPLATES}, f"{key}.json")

    def booking(self, bid, subtype, start_wall, tz):
        start = first_occurrence(start_wall, tz)
        return {"id": bid, "status": "confirmed", "subtype": subtype, "start": iso(start),
                "end": iso(start + dt.timedelta(hours=3)), "timezone": tz, "name": "Kurs",
                "customer": {"first_name": "Ida", "email": f"{bid.lower()}@example.org"}}

    def times(self, bid):
        return {r[0]: utc(r[1]) for r in psql(self.dsn,
                "SELECT step_id, to_char(scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                f"FROM tidings.messages WHERE booking_id = '{bid}' AND status = 'scheduled'")}

    def check_walls(self, walls, kind):
        """For each zone: the step at the wall time, and the step a calendar day
        before a start at that wall time (next day), through the webhook and
        the SQL way in, agree with the oracle."""
        for org, wall in walls.items():
            tz = ZONES[org]
            day, hhmm = wall.split(" ")
            key = f"{kind}-{org}"
            self.sequence_for(org, key, hhmm)
            next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
            # the start: late in the evening of the day (at-time is that day at hhmm),
            # and for day-before, the next day at the same wall time
            web = self.booking(f"W-{key}", key, f"{day} 22:00", tz)
            sql = self.booking(f"S-{key}", key, f"{day} 22:00", tz)
            status, answer, _ = self.engine.post(org, web)
            self.assertEqual(status, 202, answer)
            psql(self.dsn, sql_submit(org, sql))
            shifted = self.booking(f"D-{key}", key, f"{next_day} {hhmm}", tz)
            psql(self.dsn, sql_submit(org, shifted))
            want = first_occurrence(wall, tz)
            for bid in (f"W-{key}", f"S-{key}"):
                got = wait_until(lambda: self.times(bid) or None, what=f"{bid} expanded")
                self.assertEqual(got["at-time"], want, f"{kind} {tz} {wall} ({bid}): "
                                 f"got {got['at-time']}, the oracle says {want}")
            got = wait_until(lambda: self.times(f"D-{key}") or None, what=f"D-{key} expanded")
            self.assertEqual(got["day-before"], want, f"{kind} {tz}: a day before {next_day} {hhmm}")

    def test_a_repeated_wall_time_is_its_first_occurrence(self):
        self.check_walls(REPEATED, "repeated")
        # Berlin's 02:35 on 2026-10-25 is 00:35 UTC (CEST), not 01:35 (CET)
        self.assertEqual(first_occurrence(REPEATED["berlin"], ZONES["berlin"]), utc("2026-10-25T00:35:00Z"))

    def test_a_wall_time_in_a_gap_moves_forward_by_the_gap(self):
        self.check_walls(GAP, "gap")
        # Berlin's 02:30 on 2026-03-29 does not happen: 03:30 CEST (01:30 UTC);
        # Lord Howe's 02:15 on 2026-10-04 is 02:45 (+11:00), half an hour on
        self.assertEqual(first_occurrence(GAP["berlin"], ZONES["berlin"]), utc("2026-03-29T01:30:00Z"))
        self.assertEqual(first_occurrence(GAP["lordhowe"], ZONES["lordhowe"]), utc("2026-10-03T15:45:00Z"))

    def test_a_window_opening_at_a_repeated_time(self):
        seq = {"key": "win", "name": "Window", "status": "active",
               "trigger": {"on": "booking.confirmed", "subtypes": ["win"]},
               "window": {"from": "02:30", "to": "04:00"},
               "steps": [{"id": "early", "at": {"from": "start", "offset": "0d", "time": "01:00"},
                          "send": [{"channel": "email", "template": "t"}]}]}
        import_doc(self.setup, "berlin", {"sequences": [seq], "templates": TEMPLATES}, "win.json")
        b = self.booking("WIN-1", "win", "2026-10-25 12:00", ZONES["berlin"])
        self.assertEqual(self.engine.post("berlin", b)[0], 202)
        self.assertEqual(self.times("WIN-1"), {"early": first_occurrence("2026-10-25 02:30", ZONES["berlin"])})

    def test_the_resolver_agrees_with_zoneinfo_around_every_change(self):
        """Every wall time from 2.5 hours before to 2.5 hours after each change of
        2026 and 2027, in five-minute steps, in nine zones (with half-hour and
        45-minute offsets among them): tidings.local_instant against the oracle."""
        zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham",
                 "Asia/Kathmandu", "Asia/Tokyo", "Pacific/Auckland", "America/St_Johns", "Europe/Dublin"]
        cases = []
        for tz in zones:
            z = zoneinfo.ZoneInfo(tz)
            t, end = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2028, 1, 1, tzinfo=UTC)
            prev = t.astimezone(z).utcoffset()
            while t < end:
                t += dt.timedelta(minutes=15)
                off = t.astimezone(z).utcoffset()
                if off != prev:
                    wall = t.astimezone(z).replace(tzinfo=None)
                    cases += [(tz, wall + dt.timedelta(minutes=m)) for m in range(-150, 151, 5)]
                prev = off
            cases.append((tz, dt.datetime(2026, 7, 1, 12, 0)))  # and one far from any change
        values = ", ".join(f"('{tz}', '{wall.isoformat(sep=' ')}')" for tz, wall in cases)
        got = psql(self.dsn, "SELECT tz, wall, to_char(tidings.local_instant(wall::timestamp, tz) AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                             f"FROM (VALUES {values}) v(tz, wall)")
        self.assertEqual(len(got), len(cases))
        wrong = [(tz, wall, at) for tz, wall, at in got if utc(at) != first_occurrence(wall, tz)]
        self.assertEqual(wrong, [], f"{len(wrong)} of {len(got)} wall times resolved unlike zoneinfo")
        self.assertGreater(len(got), 1500)

    def test_messages_list_shows_local_time_with_its_offset(self):
        if not self.times("W-repeated-berlin"):
            self.check_walls({"berlin": REPEATED["berlin"]}, "repeated")
        out = self.setup.cli("messages", "list", "--org", "berlin", "--booking", "W-repeated-berlin").stdout
        line = next(l for l in out.splitlines() if "/at-time" in l)
        self.assertIn("2026-10-25 02:35 +02:00", line)
        self.assertIn("SCHEDULED (LOCAL)", out.splitlines()[0])
        rows = json.loads(self.setup.cli("messages", "list", "--org", "berlin", "--booking",
                                         "W-repeated-berlin", "--json").stdout)
        at = next(r for r in rows if r["step"] == "at-time")
        self.assertEqual(utc(at["scheduled_for"]), utc("2026-10-25T00:35:00Z"))
        self.assertEqual(at["scheduled_local"], "2026-10-25 02:35 +02:00")


class PastIsJudgedAtArrival(unittest.TestCase):
    """The clock starts at 2026-06-10 08:00 UTC; the engine is stopped while
    bookings arrive, and time moves on before it starts again."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock(utc("2026-06-10T08:00:00Z"))
        cls.db = Database(clock=cls.clock)
        cls.setup = org_setup(cls.db, [("acme", "Europe/Berlin")])
        email = [{"channel": "email", "template": "t"}]
        cls.seqs = [
            {"key": "late", "name": "Late expansion", "status": "active",
             "trigger": {"on": "booking.confirmed", "subtypes": ["late"]},
             "steps": [{"id": "confirm", "at": {"from": "trigger", "offset": "0m"}, "send": email},
                       {"id": "soon-before", "at": {"from": "start", "offset": "-30m"}, "send": email},
                       {"id": "long-before", "at": {"from": "start", "offset": "-3h"}, "send": email},
                       {"id": "after", "at": {"from": "end", "offset": "1h"}, "send": email}]},
            {"key": "edge", "name": "Edge", "status": "active",
             "trigger": {"on": "booking.confirmed", "subtypes": ["edge"]},
             "steps": [{"id": "minute-before", "at": {"from": "start", "offset": "-1m"}, "send": email}]},
            {"key": "evening", "name": "Evening before", "status": "active",
             "trigger": {"on": "booking.confirmed", "subtypes": ["evening"]},
             "steps": [{"id": "same-day-18", "at": {"from": "start", "offset": "-30m", "time": "18:00"},
                        "send": email}]},
        ]
        import_doc(cls.setup, "acme", {"sequences": cls.seqs, "templates": TEMPLATES})
        cls.dsn = cls.db.dsn
        cls.engine = None

    @classmethod
    def tearDownClass(cls):
        engine = cls.engine or Engine(cls.setup)
        close_class(engine, cls.setup, cls.db)

    def state(self, bid):
        return {r[0]: (r[1], r[2]) for r in psql(self.dsn,
                "SELECT step_id, status, coalesce(reason, '') FROM tidings.messages "
                f"WHERE booking_id = '{bid}'")}

    def test_expanded_two_hours_late_loses_nothing(self):
        if self.engine is not None:
            self.assertEqual(self.engine.stop(), 0)
            type(self).engine = None
        t0 = self.clock.now().replace(microsecond=0)
        start, end = t0 + dt.timedelta(hours=1), t0 + dt.timedelta(hours=2)
        doc = {"id": "LATE-1", "status": "confirmed", "subtype": "late", "start": iso(start),
               "end": iso(end), "name": "Kurs", "customer": {"first_name": "Ida", "email": "ida@example.org"}}
        psql(self.dsn, sql_submit("acme", doc))
        arrival = float(scalar(self.dsn, "SELECT extract(epoch FROM received_at) FROM tidings.events "
                                         "WHERE payload->>'id' = 'LATE-1'"))
        # two hours pass with no engine running; then one starts
        self.clock.advance(2 * 3600)
        type(self).engine = Engine(self.setup)
        wait_until(lambda: self.state("LATE-1").get("confirm", ("",))[0] == "sent", timeout=20,
                   what="the confirmation sent although it was expanded two hours late")
        got = self.state("LATE-1")
        self.assertEqual(got["confirm"], ("sent", ""))
        # its time (30 minutes before the start) lay after the arrival, but the start
        # passed before the engine took the booking in: expired, naming the deadline
        self.assertEqual(got["soon-before"],
                         ("expired", f"its deadline ({local_text(start.timestamp())}) passed before it could be sent"))
        # three hours before the start lay before the arrival: skipped as past
        self.assertEqual(got["long-before"],
                         ("skipped", f"past: its time ({local_text((start - dt.timedelta(hours=3)).timestamp())}) "
                                     f"lies before the booking arrived ({local_text(arrival)})"))
        # an hour after the end is still ahead, or just due: it is not lost
        self.assertIn(got["after"][0], ("scheduled", "sending", "sent"))

    def test_one_second_before_arrival_is_past_exactly_at_arrival_is_not(self):
        # The arrival instant is the app transaction's now(); the bookings are built from it
        # in the same transaction, so "a minute before the start" lands exactly at the
        # arrival (to the millisecond), or a second before it.
        start_at = ("to_char((date_trunc('milliseconds', now()) + interval '1 minute' {}) AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
        def doc(bid, shift):
            return (f"jsonb_build_object('id', '{bid}', 'status', 'confirmed', 'subtype', 'edge', "
                    f"'start', {start_at.format(shift)}, 'name', 'Kurs', "
                    "'customer', jsonb_build_object('first_name', 'Ida', 'email', 'ida@example.org'))")
        one_second_earlier = "- interval '1 second'"
        psql(self.dsn, "BEGIN; "
                       f"SELECT tidings.submit_booking('acme', {doc('EDGE-AT', '')}); "
                       f"SELECT tidings.submit_booking('acme', {doc('EDGE-1S', one_second_earlier)}); "
                       "COMMIT;")
        if self.engine is None:
            type(self).engine = Engine(self.setup)
        wait_until(lambda: len(self.state("EDGE-AT")) and len(self.state("EDGE-1S")), what="both expanded")
        at, early = self.state("EDGE-AT")["minute-before"], self.state("EDGE-1S")["minute-before"]
        self.assertIn(at[0], ("scheduled", "sending", "sent"), at)
        self.assertEqual(early[0], "skipped", early)
        self.assertTrue(early[1].startswith("past: its time ("), early)
        # the row says exactly when: due one second before the recorded arrival
        gap = scalar(self.dsn, "SELECT extract(epoch FROM e.received_at) - extract(epoch FROM m.scheduled_for) "
                               "FROM tidings.messages m JOIN tidings.events e ON e.id = m.event_id "
                               "WHERE m.booking_id = 'EDGE-1S'")
        self.assertAlmostEqual(float(gap), 1.0, delta=0.001)

    def test_a_deadline_reason_names_what_happened(self):
        # -30m at 18:00 on the start's own day: after a 10:00 start, with no window at all
        if self.engine is None:
            type(self).engine = Engine(self.setup)
        day = (self.clock.now() + dt.timedelta(days=5)).date()
        start = dt.datetime(day.year, day.month, day.day, 10, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
        doc = {"id": "EVE-1", "status": "confirmed", "subtype": "evening", "start": iso(start),
               "name": "Kurs", "customer": {"first_name": "Ida", "email": "ida@example.org"}}
        self.assertEqual(self.engine.post("acme", doc)[0], 202)
        due = start.replace(hour=18)
        self.assertEqual(self.state("EVE-1")["same-day-18"],
                         ("skipped", f"its time ({local_text(due.timestamp())}) is not before the booking "
                                     f"starts ({local_text(start.timestamp())})"))

    def test_min_lead_on_a_trigger_timed_step_is_refused(self):
        seq = {"key": "lead", "name": "Lead", "status": "active", "trigger": {"on": "booking.confirmed"},
               "steps": [{"id": "now", "at": {"from": "trigger", "offset": "0m"}, "min_lead": "2d",
                          "send": [{"channel": "email", "template": "t"}]}]}
        self.setup.write("lead.json", json.dumps({"sequences": [seq], "templates": TEMPLATES}))
        p = self.setup.cli("sequences", "validate", os.path.join(self.setup.dir, "lead.json"), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("sequences[0].steps[0].min_lead: a step timed from the trigger", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
