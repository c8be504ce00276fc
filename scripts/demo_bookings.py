#!/usr/bin/env python3
"""Posts the demo's sample bookings (signed) to a running engine.

usage: demo_bookings.py BASE_URL SECRET_FILE [RUN [ORG]]

Three bookings of the demo sailing school, dated from today in Europe/Berlin:
a course the day after tomorrow, one in nine days, and one in three weeks.
RUN (default 1) numbers the booking references, so each demo run books anew. With ORG
haff-segeln it posts one Segelschule course ten days ahead to Gerrit's organization instead.
"""
import datetime
import os
import sys
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webhook_client  # noqa: E402

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(days, hour, minute=0):
    day = datetime.datetime.now(BERLIN).date() + datetime.timedelta(days=days)
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def sample_bookings(run=1):
    people = [
        (f"R{run}-1001", "SKS Praxistörn", "Anna", "Berg", "anna.berg@example.org", "+491711234567",
         at(2, 10), 7, "Hansa 2"),
        (f"R{run}-1002", "Sportbootführerschein See", "Ben", "Krüger", "ben.krueger@example.org",
         "+491729876543", at(9, 9, 30), 8, "Jolle 4"),
        (f"R{run}-1003", "Jüngstenschein", "Clara", "Ohm", "clara.ohm@example.org", "+491601112233",
         at(21, 14), 3, None),
    ]
    for ref, name, first, last, email, phone, start, hours, boat in people:
        data = {"boat": boat} if boat else {}
        yield {
            "id": ref,
            "status": "confirmed",
            "subtype": "class_enrollment",
            "start": start.isoformat(),
            "end": (start + datetime.timedelta(hours=hours)).isoformat(),
            "timezone": "Europe/Berlin",
            "updated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "name": name,
            "location": "Hafen Ueckermünde, Steg 3",
            "customer": {"first_name": first, "last_name": last, "email": email, "phone": phone,
                         "locale": "de", "consent": {"sms": True}},

            "data": data,
        }


def gerrits_course(run=1):
    start = at(10, 10)
    yield {
        "id": f"R{run}-SKS-7", "status": "confirmed", "subtype": "class_enrollment",
        "start": start.isoformat(), "end": (start + datetime.timedelta(days=2, hours=7)).isoformat(),
        "timezone": "Europe/Berlin",
        "updated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "name": "SKS Praxistörn", "location": "Hafen Ueckermünde, Steg 3",
        "customer": {"first_name": "Jonas", "last_name": "Wendt", "email": "jonas.wendt@example.org",
                     "phone": "+491731112223", "locale": "de", "consent": {"sms": True}},
        "data": {"boat": "Hansa 2"},
    }


def main(argv):
    if len(argv) not in (3, 4, 5) or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    org = argv[4] if len(argv) == 5 else "demo"
    url = argv[1].rstrip("/") + f"/v1/orgs/{org}/bookings"
    secret = webhook_client.load_secret(argv[2])
    failed = 0
    run = int(argv[3]) if len(argv) >= 4 else 1
    for b in (gerrits_course(run) if org == "haff-segeln" else sample_bookings(run)):
        status, answer, _ = webhook_client.post_booking(url, secret, b)
        print(f"  POST {b['id']} ({b['name']}, {b['start'][:16]}): HTTP {status} {answer}")
        failed += status != 202
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
