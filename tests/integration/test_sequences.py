"""Sequences as data, through the real engine and PostgreSQL: Gerrit's shipped
sequences produce exactly the right messages at the right local times; the
booking lifecycle (stale, unchanged, moved, cancelled) and sequence status
act on pending rows with a reason; daylight-saving changes and send windows
are honoured; conditions are re-checked at send time; fallback chains,
consent and suppression decide the channel."""
import datetime as dt
import json
import os
import time
import unittest
import zoneinfo

from harness import (SOURCE_DIR, Clock, Database, Engine, Setup, close_class, local_text,
                     make_due_now, psql, rows, scalar, utc, wait_until)
from harness import now as suite_now

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
HAFF = os.path.join(SOURCE_DIR, "sql", "seed", "haff-segeln.json")


def local_day(days, now=None):
    """The Berlin calendar day `days` after now (the suite's clock, or the aware datetime now)."""
    return (now or suite_now()).astimezone(BERLIN).date() + dt.timedelta(days=days)


def at(day, hour, minute=0, tz=BERLIN):
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def stamp(when):
    return when.isoformat()


def iso_now(offset_s=0):
    return suite_now().replace(microsecond=0) + dt.timedelta(seconds=offset_s)


def course(booking_id, start, end, status="confirmed", subtype="class_enrollment", updated=None,
           email="lena@example.org", **extra):
    b = {"id": booking_id, "status": status, "subtype": subtype, "start": stamp(start),
         "end": stamp(end), "timezone": "Europe/Berlin",
         "updated_at": stamp(updated or iso_now()),
         "name": "SKS Praxis" if subtype == "class_enrollment" else "Haff Erleben, Zimmer 3",
         "location": "Hafen Ueckermünde",
         "customer": {"first_name": "Lena", "last_name": "Kraus", "email": email,
                      "phone": "+491761234567", "consent": {"sms": True}},
         "data": {}}
    b.update(extra)
    return b


def local_rows(dsn, booking_id):
    """(sequence, step, channel, status, local 'YYYY-MM-DD HH:MI') of a booking's rows."""
    return [tuple(r) for r in psql(dsn,
        "SELECT sequence_key, step_id, channel, status, "
        "to_char(scheduled_for AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI') "
        f"FROM tidings.messages WHERE booking_id = '{booking_id}' "
        "ORDER BY sequence_key, step_id, channel")]


class GerritsSequences(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.setup = Setup(cls.db, orgs=("haff",), channels=("email", "sms", "whatsapp"))
        cls.setup.cli("migrate")
        cls.setup.cli("sequences", "import", "--org", "haff", HAFF)
        cls.engine = Engine(cls.setup)
        cls.dsn = cls.db.dsn

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db)

    def post(self, booking):
        status, answer, _ = self.engine.post("haff", booking)
        self.assertEqual(status, 202, answer)
        return answer

    def test_segelschule_booked_10_days_ahead(self):
        day = local_day(10)
        start, end = at(day, 10), at(day + dt.timedelta(days=2), 17)
        answer = self.post(course("G-10", start, end, email="g10@example.org"))
        self.assertEqual(answer["messages_scheduled"], 5)
        d = lambda n, hh: f"{day + dt.timedelta(days=n)} {hh}"
        vorher = [
            ("crosssell-segel-haus", "7d", "email", "scheduled", d(-7, "09:00")),
            ("segel-vorher", "1d", "email", "scheduled", d(-1, "18:00")),
            ("segel-vorher", "1d", "sms", "scheduled", d(-1, "18:00")),
            ("segel-vorher", "3d", "email", "scheduled", d(-3, "09:00")),
            ("segel-vorher", "7d", "email", "scheduled", d(-7, "09:00")),
        ]
        self.assertEqual(local_rows(self.dsn, "G-10"), vorher)
        # before messages expire when the course starts
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.messages WHERE booking_id = 'G-10' "
                                          "AND deadline = (SELECT starts_at FROM tidings.bookings "
                                          "WHERE booking_id = 'G-10')"), "5")
        # checked in, then completed: Während and Nachher, timed from those moments
        self.post(course("G-10", start, end, status="checked_in", updated=iso_now(1), email="g10@example.org"))
        self.post(course("G-10", start, end, status="completed", updated=iso_now(2), email="g10@example.org"))
        today = local_day(0)
        t = lambda n, hh: f"{today + dt.timedelta(days=n)} {hh}"
        expected = sorted(vorher + [
            ("segel-waehrend", "d2", "email", "scheduled", t(1, "09:00")),
            ("segel-nachher", "zertifikat", "email", "scheduled", t(1, "10:00")),
            ("segel-nachher", "review", "email", "scheduled", t(2, "10:00")),
            ("segel-nachher", "empfehlung", "email", "scheduled", t(7, "10:00")),
            ("segel-nachher", "upsell-see", "email", "scheduled", t(14, "10:00")),
            ("segel-nachher", "jahrestag", "email", "scheduled", t(365, "10:00")),
        ])
        self.assertEqual(sorted(local_rows(self.dsn, "G-10")), expected)
        events = psql(self.dsn, "SELECT outcome, messages_scheduled FROM tidings.events e "
                                "WHERE payload->>'id' = 'G-10' ORDER BY id")
        self.assertEqual(events, [["expanded: booking.created, booking.confirmed", "5"],
                                  ["expanded: booking.checked_in", "1"],
                                  ["expanded: booking.completed", "5"]])

    def test_segelschule_booked_2_days_ahead(self):
        day = local_day(2)
        self.post(course("G-2", at(day, 10), at(day, 17), email="g2@example.org"))
        got = {(r[0], r[1], r[2]): (r[3], r[4]) for r in psql(self.dsn,
               "SELECT sequence_key, step_id, channel, status, coalesce(reason, '') "
               "FROM tidings.messages WHERE booking_id = 'G-2'")}
        self.assertEqual(got[("segel-vorher", "7d", "email")],
                         ("skipped", "booked too late for this step (min_lead)"))
        self.assertEqual(got[("segel-vorher", "3d", "email")],
                         ("skipped", "booked too late for this step (min_lead)"))
        self.assertEqual(got[("crosssell-segel-haus", "7d", "email")],
                         ("skipped", "booked too late for this step (min_lead)"))
        self.assertEqual(got[("segel-vorher", "1d", "email")], ("scheduled", ""))
        self.assertEqual(got[("segel-vorher", "1d", "sms")], ("scheduled", ""))
        self.assertEqual(len(got), 5)

    def test_cross_sell_only_without_a_house_booking(self):
        day = local_day(12)
        house = course("H-1", at(day - dt.timedelta(days=1), 15), at(day + dt.timedelta(days=3), 10),
                       subtype="reservation", email="Paul@Example.org")
        self.post(house)
        # a course in the same days for the same customer (e-mail compared without case)
        self.post(course("S-1", at(day, 10), at(day + dt.timedelta(days=1), 17), email="paul@example.org"))
        reason = psql(self.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'S-1' "
                                "AND sequence_key = 'crosssell-segel-haus'")
        self.assertEqual(reason, [["skipped", "the customer has other bookings like this"]])
        # another customer gets it; if she books the house later, it is skipped at send time
        self.post(course("S-2", at(day, 10), at(day + dt.timedelta(days=1), 17), email="mia@example.org"))
        self.assertEqual(psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'S-2' "
                                        "AND sequence_key = 'crosssell-segel-haus'"), [["scheduled"]])
        self.post(course("H-2", at(day, 15), at(day + dt.timedelta(days=2), 10), subtype="reservation",
                         email="mia@example.org"))
        make_due_now(self.dsn, "booking_id = 'S-2' AND sequence_key = 'crosssell-segel-haus'")
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'S-2' "
                                          "AND sequence_key = 'crosssell-segel-haus'") != [["scheduled"]],
                   what="the cross-sell to be decided")
        self.assertEqual(psql(self.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'S-2' "
                                        "AND sequence_key = 'crosssell-segel-haus'"),
                         [["skipped", "at send time: the customer has other bookings like this"]])

    def test_lifecycle_stale_unchanged_moved_cancelled(self):
        day = local_day(20)
        first = course("L-1", at(day, 10), at(day, 17), updated=iso_now(-60), email="l1@example.org")
        self.post(first)
        before = rows(self.dsn, "L-1", "id, status, scheduled_for")
        # the same state again, and an older state: nothing changes
        self.assertEqual(self.post(first)["messages_scheduled"], 0)
        older = course("L-1", at(day, 10), at(day, 17), status="cancelled", updated=iso_now(-3600),
                       email="l1@example.org")
        self.post(older)
        self.assertEqual(rows(self.dsn, "L-1", "id, status, scheduled_for"), before)
        outcomes = [r[0] for r in psql(self.dsn, "SELECT outcome FROM tidings.events "
                                                 "WHERE payload->>'id' = 'L-1' ORDER BY id")]
        self.assertEqual(outcomes[1:], ["unchanged", "stale"])
        # moved two days later: pending rows follow, with the reason
        moved_day = day + dt.timedelta(days=2)
        self.post(course("L-1", at(moved_day, 11), at(moved_day, 17), updated=iso_now(), email="l1@example.org"))
        got = psql(self.dsn, "SELECT step_id, channel, to_char(scheduled_for AT TIME ZONE 'Europe/Berlin', "
                             "'YYYY-MM-DD HH24:MI'), reason FROM tidings.messages WHERE booking_id = 'L-1' "
                             "AND sequence_key = 'segel-vorher' ORDER BY step_id, channel")
        self.assertEqual([g[:3] for g in got], [
            ["1d", "email", f"{moved_day - dt.timedelta(days=1)} 18:00"],
            ["1d", "sms", f"{moved_day - dt.timedelta(days=1)} 18:00"],
            ["3d", "email", f"{moved_day - dt.timedelta(days=3)} 09:00"],
            ["7d", "email", f"{moved_day - dt.timedelta(days=7)} 09:00"],
        ])
        self.assertTrue(all(g[3].startswith("booking.moved: re-timed from ") for g in got), got)
        before, after = at(day - dt.timedelta(days=1), 18), at(moved_day - dt.timedelta(days=1), 18)
        self.assertEqual(got[0][3], f"booking.moved: re-timed from {local_text(before.timestamp())} "
                                    f"to {local_text(after.timestamp())}")
        self.assertEqual(scalar(self.dsn, "SELECT deadline AT TIME ZONE 'Europe/Berlin' FROM tidings.messages "
                                          "WHERE booking_id = 'L-1' AND step_id = '7d' "
                                          "AND sequence_key = 'segel-vorher'"),
                         f"{moved_day} 11:00:00")
        # cancelled: the sequences that exit on it cancel what is pending
        self.post(course("L-1", at(moved_day, 11), at(moved_day, 17), status="cancelled",
                         updated=iso_now(5), email="l1@example.org"))
        statuses = psql(self.dsn, "SELECT DISTINCT status, reason FROM tidings.messages WHERE booking_id = 'L-1'")
        self.assertEqual(statuses, [["cancelled", "booking.cancelled: the sequence exits on it"]])

    def test_booking_without_an_end_skips_steps_timed_from_it(self):
        demo = {"sequences": [{"key": "after-end", "name": "Nach dem Ende", "status": "active",
                               "trigger": {"on": "booking.confirmed"},
                               "steps": [{"id": "thanks", "at": {"from": "end", "offset": "1d"},
                                          "send": [{"channel": "email", "template": "segel_review"}]}]}]}
        self.setup.write("after-end.json", json.dumps(demo))
        self.setup.cli("sequences", "import", "--org", "haff", os.path.join(self.setup.dir, "after-end.json"))
        b = course("E-1", at(local_day(5), 10), at(local_day(5), 12), email="e1@example.org")
        del b["end"]
        self.post(b)
        self.assertEqual(psql(self.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'E-1' "
                                        "AND sequence_key = 'after-end'"),
                         [["skipped", "the booking has no end, and this step is timed from it"]])
        demo["sequences"][0]["status"] = "archived"
        self.setup.write("after-end.json", json.dumps(demo))
        self.setup.cli("sequences", "import", "--org", "haff", os.path.join(self.setup.dir, "after-end.json"))


class TimingAndChannels(unittest.TestCase):
    """Own sequences, written for each rule, at an instant of the class's own
    choosing (2026-06-15 10:00 UTC): the spring change of 2026 lies behind it,
    the autumn change of 2026 and the changes of 2027 ahead."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock(utc("2026-06-15T10:00:00Z"))
        cls.db = Database(clock=cls.clock)
        cls.setup = Setup(cls.db, orgs=("acme",), channels=("email", "sms", "whatsapp"))
        cls.setup.add_org("kiwi", timezone="Pacific/Auckland", channels=("email",))
        cls.setup.cli("migrate")
        cls.dsn = cls.db.dsn
        step = lambda id, frm, off, time=None, **kw: dict({"id": id, "at": dict({"from": frm, "offset": off},
                                                             **({"time": time} if time else {}))}, **kw)
        email = [{"channel": "email", "template": "t_email"}]
        templates = [
            {"key": "t_email", "channel": "email", "subject": "Hallo {{firstName}}", "text": "{{eventName}} am {{eventDate}}"},
            {"key": "t_sms", "channel": "sms", "text": "Hallo {{firstName}}, bis {{eventTime}}"},
            {"key": "t_wa", "channel": "whatsapp",
             "whatsapp": {"name": "haff_reminder", "language": "de", "params": ["{{firstName}}", "{{daysUntil}}"]}},
        ]
        sequences = [
            {"key": "dst", "name": "DST", "status": "active", "trigger": {"on": "booking.confirmed", "subtypes": ["dst"]},
             "steps": [step("minus1d-18", "start", "-1d", "18:00", send=email),
                       step("minus1d", "start", "-1d", send=email),
                       step("minus24h", "start", "-24h", send=email),
                       step("minus7d-09", "start", "-7d", "09:00", send=email)]},
            {"key": "windowed", "name": "Window", "status": "active",
             "trigger": {"on": "booking.confirmed", "subtypes": ["window"]},
             "window": {"from": "09:00", "to": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
             "steps": [step("sat-10", "start", "-2d", "10:00", send=email),
                       step("evening", "start", "-1d", "20:00", send=email),
                       step("early", "start", "0", "06:00", window={"from": "07:00", "to": "08:00"}, send=email)]},
            {"key": "chain", "name": "Chain", "status": "active", "trigger": {"on": "booking.confirmed", "subtypes": ["chain"]},
             "steps": [step("now", "trigger", "0", send=[
                 {"channel": "whatsapp", "template": "t_wa",
                  "fallback": [{"channel": "sms", "template": "t_sms"}, {"channel": "email", "template": "t_email"}]}])]},
            {"key": "unpaid", "name": "Unpaid", "status": "active", "trigger": {"on": "booking.confirmed", "subtypes": ["unpaid"]},
             "when": {"field": "data.paid", "equals": False},
             "steps": [step("reminder", "start", "-3d", "09:00", send=email)]},
            {"key": "pausable", "name": "Pause me", "status": "active", "trigger": {"on": "booking.confirmed", "subtypes": ["pause"]},
             "steps": [step("later", "start", "-2d", "09:00", send=email)]},
        ]
        cls.doc = {"sequences": sequences, "templates": templates}
        cls.setup.write("mine.json", json.dumps(cls.doc))
        mine = os.path.join(cls.setup.dir, "mine.json")
        cls.setup.cli("sequences", "import", "--org", "acme", mine)
        # kiwi sends e-mail only: its sms and whatsapp sends are skipped or fall back
        cls.setup.cli("sequences", "import", "--org", "kiwi", "--allow-unconfigured-channels", mine)
        cls.engine = Engine(cls.setup)

    @classmethod
    def tearDownClass(cls):
        close_class(cls.engine, cls.setup, cls.db)

    def post(self, booking, org="acme"):
        status, answer, _ = self.engine.post(org, booking)
        self.assertEqual(status, 202, answer)
        return answer

    def utc_times(self, booking_id):
        return {r[0]: r[1] for r in psql(self.dsn,
                "SELECT step_id, to_char(scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
                f"FROM tidings.messages WHERE booking_id = '{booking_id}'")}

    def booking(self, bid, start, subtype, tz="Europe/Berlin", **extra):
        b = {"id": bid, "status": "confirmed", "subtype": subtype, "start": start, "timezone": tz,
             "name": "Kurs", "customer": {"first_name": "Ida", "email": f"{bid.lower()}@example.org",
                                           "phone": "+491761234567"}}
        b.update(extra)
        return b

    def test_daylight_saving_spring_2026(self):
        # Berlin moves from +01:00 to +02:00 on 2026-03-29 at 02:00. These times are past, so
        # the rows are skipped, but their computed times are kept: the path is the real one.
        # A calendar day before a 09:00 CEST start is 09:00 CET (23 hours); 24h is 24 hours.
        self.post(self.booking("DST-S", "2026-03-29T09:00:00+02:00", "dst"))
        self.assertEqual(self.utc_times("DST-S"), {
            "minus1d-18": "2026-03-28 17:00",   # 18:00 CET
            "minus1d": "2026-03-28 08:00",      # 09:00 CET
            "minus24h": "2026-03-28 07:00",     # 08:00 CET
            "minus7d-09": "2026-03-22 08:00",   # 09:00 CET
        })
        arrival = float(scalar(self.dsn, "SELECT extract(epoch FROM received_at) FROM tidings.events "
                                         "WHERE payload->>'id' = 'DST-S'"))
        got = dict(psql(self.dsn, "SELECT step_id, status || ': ' || reason FROM tidings.messages "
                                  "WHERE booking_id = 'DST-S'"))
        self.assertEqual(got["minus1d-18"], "skipped: past: its time (2026-03-28 18:00 +01:00) lies before "
                                            f"the booking arrived ({local_text(arrival)})")
        self.assertTrue(all(v.startswith("skipped: past: its time (") for v in got.values()), got)

    def test_daylight_saving_autumn_2026_and_spring_2027(self):
        # 2026-10-25 03:00 CEST becomes 02:00 CET: a calendar day before 09:00 CET is 25 hours
        self.post(self.booking("DST-A", "2026-10-25T09:00:00+01:00", "dst"))
        self.assertEqual(self.utc_times("DST-A"), {
            "minus1d-18": "2026-10-24 16:00",   # 18:00 CEST
            "minus1d": "2026-10-24 07:00",      # 09:00 CEST
            "minus24h": "2026-10-24 08:00",     # 10:00 CEST
            "minus7d-09": "2026-10-18 07:00",   # 09:00 CEST
        })
        # the next change is in the future (2027-03-28): the rows are scheduled
        self.post(self.booking("DST-27", "2027-03-28T09:00:00+02:00", "dst"))
        self.assertEqual(self.utc_times("DST-27"), {
            "minus1d-18": "2027-03-27 17:00", "minus1d": "2027-03-27 08:00",
            "minus24h": "2027-03-27 07:00", "minus7d-09": "2027-03-21 08:00"})
        self.assertEqual(scalar(self.dsn, "SELECT count(*) FROM tidings.messages "
                                          "WHERE booking_id = 'DST-27' AND status = 'scheduled'"), "4")

    def test_zone_far_from_utc(self):
        # Auckland: +13:00 in (southern) summer, +12:00 after 2027-04-04 03:00. The
        # organization's zone applies when the booking names none.
        b = self.booking("NZ-1", "2027-04-04T09:00:00+12:00", "dst")
        del b["timezone"]
        self.post(b, org="kiwi")
        self.assertEqual(self.utc_times("NZ-1"), {
            "minus1d-18": "2027-04-03 05:00",   # 18:00 NZDT
            "minus1d": "2027-04-02 20:00",      # 09:00 NZDT
            "minus24h": "2027-04-02 21:00",     # exactly 24 hours earlier
            "minus7d-09": "2027-03-27 20:00",   # 09:00 NZDT
        })

    def test_send_windows(self):
        # start Monday 2027-01-11 09:00 Berlin: -2d 10:00 is a Saturday -> Monday 09:00;
        # -1d 20:00 is after 17:00 on Sunday -> Monday 09:00; the step's own window wins
        self.post(self.booking("W-1", "2027-01-11T09:00:00+01:00", "window"))
        self.assertEqual(self.utc_times("W-1"), {
            "sat-10": "2027-01-11 08:00", "evening": "2027-01-11 08:00", "early": "2027-01-11 06:00"})
        # ...but a "before" message may not land at or after the start: that one is skipped
        self.assertEqual(psql(self.dsn, "SELECT step_id, status, coalesce(reason, '') FROM tidings.messages "
                                        "WHERE booking_id = 'W-1' ORDER BY step_id"),
                         [["early", "scheduled", ""],
                          ["evening", "skipped", "no time inside its send window before the booking starts "
                                                 "(2027-01-11 09:00 +01:00)"],
                          ["sat-10", "skipped", "no time inside its send window before the booking starts "
                                                "(2027-01-11 09:00 +01:00)"]])

    def test_fallback_chain_takes_the_next_channel(self):
        # no WhatsApp consent: whatsapp -> sms (consented) is sent
        self.post(self.booking("F-1", stamp(at(local_day(3, self.clock.now()), 10)), "chain",
                               customer={"first_name": "Ida", "email": "f1@example.org",
                                         "phone": "+491761234567", "consent": {"sms": True}}))
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'F-1' "
                                          "AND channel = 'sms'") == [["sent"]], what="the sms fallback")
        got = psql(self.dsn, "SELECT channel, status, reason FROM tidings.messages WHERE booking_id = 'F-1' ORDER BY id")
        self.assertEqual(got, [["whatsapp", "skipped", "the customer has not consented to whatsapp"],
                               ["sms", "sent", ""]])
        # no consent at all and no phone: on to e-mail
        self.post(self.booking("F-2", stamp(at(local_day(3, self.clock.now()), 10)), "chain",
                               customer={"first_name": "Ida", "email": "f2@example.org"}))
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'F-2' "
                                          "AND channel = 'email'") == [["sent"]], what="the e-mail fallback")
        got = psql(self.dsn, "SELECT channel, status, reason FROM tidings.messages WHERE booking_id = 'F-2' ORDER BY id")
        self.assertEqual(got, [["whatsapp", "skipped", "the customer has not consented to whatsapp"],
                               ["sms", "skipped", "the customer has not consented to sms"],
                               ["email", "sent", ""]])
        # consented WhatsApp: the approved template's parameters are rendered
        self.post(self.booking("F-3", stamp(at(local_day(3, self.clock.now()), 10)), "chain",
                               customer={"first_name": "Ida", "phone": "+491761234567",
                                         "consent": {"whatsapp": True}}))
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'F-3'")
                   == [["sent"]], what="the whatsapp message")
        rendered = json.loads(scalar(self.dsn, "SELECT rendered FROM tidings.messages WHERE booking_id = 'F-3'"))
        self.assertEqual(rendered["whatsapp"], {"name": "haff_reminder", "language": "de", "params": ["Ida", "3"]})

    def test_sms_size_is_recorded(self):
        self.post(self.booking("Z-1", stamp(at(local_day(3, self.clock.now()), 10)), "chain",
                               customer={"first_name": "Zoë", "phone": "+491761234567", "consent": {"sms": True}}))
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'Z-1' "
                                          "AND channel = 'sms'") == [["sent"]], what="the sms")
        rendered = json.loads(scalar(self.dsn, "SELECT rendered FROM tidings.messages WHERE booking_id = 'Z-1' AND channel = 'sms'"))
        self.assertEqual(rendered["text"], "Hallo Zoë, bis 10:00")
        self.assertEqual(rendered["sms"], {"encoding": "UCS-2", "characters": 20, "segments": 1})

    def test_suppressed_address_is_skipped(self):
        psql(self.dsn, "INSERT INTO tidings.suppressions (org_id, channel, address, reason, created_by) "
                       "VALUES ('acme', 'email', 's1@example.org', 'test', 'test')")
        self.post(self.booking("S1", stamp(at(local_day(3, self.clock.now()), 10)), "chain",
                               customer={"first_name": "Ida", "email": "S1@example.org"}))
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'S1' "
                                          "AND channel = 'email'") == [["skipped"]], what="the suppressed e-mail")
        self.assertEqual(scalar(self.dsn, "SELECT reason FROM tidings.messages WHERE booking_id = 'S1' AND channel = 'email'"),
                         "the customer's address is suppressed for email")

    def test_condition_rechecked_at_send_time(self):
        b = self.booking("P-1", stamp(at(local_day(10, self.clock.now()), 10)), "unpaid", data={"paid": False})
        self.post(b)
        self.assertEqual(psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'P-1'"), [["scheduled"]])
        b["data"] = {"paid": True}
        self.assertEqual(self.post(b)["messages_scheduled"], 0)
        make_due_now(self.dsn, "booking_id = 'P-1'")
        wait_until(lambda: psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'P-1'") == [["skipped"]],
                   what="the reminder to be skipped")
        self.assertIn("at send time: condition not met", scalar(self.dsn, "SELECT reason FROM tidings.messages WHERE booking_id = 'P-1'"))

    def test_paused_sequence_stops_its_pending_messages(self):
        self.post(self.booking("Q-1", stamp(at(local_day(10, self.clock.now()), 10)), "pause"))
        self.assertEqual(psql(self.dsn, "SELECT status FROM tidings.messages WHERE booking_id = 'Q-1'"), [["scheduled"]])
        doc = json.loads(json.dumps(self.doc))
        for s in doc["sequences"]:
            if s["key"] == "pausable":
                s["status"] = "paused"
        self.setup.write("paused.json", json.dumps(doc))
        out = self.setup.cli("sequences", "import", "--org", "acme", os.path.join(self.setup.dir, "paused.json")).stdout
        self.assertIn("paused: 1 pending message held", out)
        self.assertEqual(psql(self.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'Q-1'"),
                         [["paused", "held: sequence paused"]])
        # and a new booking no longer starts it
        self.assertEqual(self.post(self.booking("Q-2", stamp(at(local_day(10, self.clock.now()), 10)), "pause"))["messages_scheduled"], 0)
        # active again: what it held is released, at its own time
        for s in doc["sequences"]:
            if s["key"] == "pausable":
                s["status"] = "active"
        self.setup.write("active.json", json.dumps(doc))
        out = self.setup.cli("sequences", "import", "--org", "acme", os.path.join(self.setup.dir, "active.json")).stdout
        self.assertIn("active: 1 pending message released", out)
        self.assertEqual(psql(self.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'Q-1'"),
                         [["scheduled", "released: sequence active again"]])
        # archived: cancelled, held or not
        for s in doc["sequences"]:
            if s["key"] == "pausable":
                s["status"] = "archived"
        self.setup.write("archived.json", json.dumps(doc))
        out = self.setup.cli("sequences", "import", "--org", "acme", os.path.join(self.setup.dir, "archived.json")).stdout
        self.assertIn("archived: 1 pending message cancelled", out)
        self.assertEqual(psql(self.dsn, "SELECT status, reason FROM tidings.messages WHERE booking_id = 'Q-1'"),
                         [["cancelled", "sequence archived"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
