#!/usr/bin/env python3
"""Admin API reads at front-desk scale: 100,000 bookings and 1,000,000 messages
across 10 organizations in a private PostgreSQL cluster, one engine, and each
read endpoint called again and again by one client over a keep-alive
connection: p50 / p99 / max per endpoint (the aim: p99 under 200 ms on this
machine), with the engine's and PostgreSQL's CPU per call.

usage: bench/admin_bench.py [--bookings 100000] [--messages-per-booking 10]
                            [--orgs 10] [--calls 200] [--build DIR]
"""
import argparse
import http.client
import json
import os
import secrets
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

CLK = os.sysconf("SC_CLK_TCK")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def cpu_of(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK
        except OSError:
            pass
    return total


def seed(h, dsn, orgs, bookings, per_booking):
    """Bookings spread over a year around now, messages over each booking's life, states mixed."""
    per_org = bookings // len(orgs)
    for org in orgs:
        h.psql(dsn, f"""
            INSERT INTO tidings.bookings (org_id, booking_id, status, starts_at, ends_at, timezone,
                                          doc, event_id, customer_key)
            SELECT '{org}', 'B' || g, 'confirmed',
                   now() - interval '180 days' + g * interval '{365 * 86400 // per_org} seconds',
                   now() - interval '180 days' + g * interval '{365 * 86400 // per_org} seconds'
                         + interval '6 hours',
                   'Europe/Berlin',
                   jsonb_build_object('id', 'B' || g, 'status', 'confirmed', 'name', 'Kurs',
                       'customer', jsonb_build_object('first_name', 'Anna',
                           'email', 'c' || (g % 20000) || '@example.org',
                           'phone', '+4917' || lpad((g % 20000)::text, 9, '0'))),
                   0, 'c' || (g % 20000) || '@example.org'
              FROM generate_series(1, {per_org}) g;
            INSERT INTO tidings.messages (org_id, booking_id, sequence_key, step_id, channel,
                                          template_key, status, reason, scheduled_for, sent_at,
                                          event_id, timing, recipient)
            SELECT b.org_id, b.booking_id, 'seq' || (s % 4), 'step' || s,
                   CASE WHEN s % 3 = 0 THEN 'sms' ELSE 'email' END, 't_email',
                   CASE WHEN b.starts_at + (s - 5) * interval '1 day' > now() THEN 'scheduled'
                        WHEN s % 17 = 0 THEN 'skipped' WHEN s % 29 = 0 THEN 'bounced'
                        ELSE 'delivered' END,
                   CASE WHEN s % 17 = 0 THEN 'the customer has not consented to sms' END,
                   b.starts_at + (s - 5) * interval '1 day',
                   CASE WHEN b.starts_at + (s - 5) * interval '1 day' <= now()
                        THEN b.starts_at + (s - 5) * interval '1 day' + interval '2 seconds' END,
                   0, '{{"anchor": "start"}}', b.doc->'customer'->>'email'
              FROM tidings.bookings b, generate_series(1, {per_booking}) s
             WHERE b.org_id = '{org}';""")
    h.psql(dsn, "VACUUM ANALYZE tidings.messages, tidings.bookings")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bookings", type=int, default=100000)
    ap.add_argument("--messages-per-booking", type=int, default=10)
    ap.add_argument("--orgs", type=int, default=10)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    os.environ.setdefault("TIDINGS_BIN", os.path.join(args.build, "tidings"))
    os.environ.setdefault("TIDINGS_PLUGIN_DIR", os.path.join(args.build, "plugins"))
    import harness as h

    orgs = [f"org{i}" for i in range(args.orgs)]
    cluster = h.Cluster("tidings-admin-bench-")
    setup = engine = None
    try:
        dsn = cluster.start("-c shared_buffers=512MB")
        setup = h.Setup(cluster, orgs=orgs)
        token = secrets.token_hex(24)
        setup.write("admin-token", token + "\n")
        with open(setup.config) as f:
            cfg = f.read().replace("level = debug", "level = info")
        setup.write("tidings.ini", cfg + "[admin]\noperator_token = file:admin-token\n")
        setup.cli("migrate")
        demo = os.path.join(ROOT, "sql", "seed", "demo.json")
        for org in orgs:
            h.import_templates(setup, org)
            setup.cli("sequences", "import", "--org", org, demo)  # what the preview expands
        t0 = time.monotonic()
        print(f"bench: seeding {args.bookings:,} bookings and "
              f"{args.bookings * args.messages_per_booking:,} messages across {args.orgs} "
              f"organizations ...", flush=True)
        seed(h, dsn, orgs, args.bookings, args.messages_per_booking)
        print(f"  seeded in {time.monotonic() - t0:.0f} s", flush=True)
        # (past rows are seeded in final states, future ones are not due: the engine only reads)
        engine = h.Engine(setup)
        conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        preview = json.dumps({"booking": {"id": "PV", "status": "confirmed",
                                          "start": time.strftime("%Y-%m-%dT10:00:00Z", time.gmtime(time.time() + 20 * 86400)),
                                          "end": time.strftime("%Y-%m-%dT16:00:00Z", time.gmtime(time.time() + 20 * 86400)),
                                          "name": "Kurs", "customer": {"first_name": "Anna",
                                                                       "email": "anna@example.org"}}})
        endpoints = [
            ("stats over 30 days", "GET", "/v1/admin/orgs/{org}/stats", None),
            ("stats by day", "GET", "/v1/admin/orgs/{org}/stats?by=day", None),
            ("customer view", "GET", "/v1/admin/orgs/{org}/customers/c{n}@example.org/messages", None),
            ("message filter", "GET", "/v1/admin/orgs/{org}/messages?state=skipped&channel=email"
                                      f"&to={now}&limit=100", None),
            ("booking timeline", "GET", "/v1/admin/orgs/{org}/bookings/B{n}/timeline", None),
            ("preview", "POST", "/v1/admin/orgs/{org}/preview", preview),
        ]
        for name, method, path, body in endpoints:
            lat = []
            cpu0 = (cpu_of([engine.proc.pid]), cpu_of(cluster.server_pids()))
            for i in range(args.calls):
                url = path.format(org=orgs[i % len(orgs)], n=(i * 7919) % (args.bookings // args.orgs) + 1)
                t = time.perf_counter()
                conn.request(method, url, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                lat.append(time.perf_counter() - t)
                if r.status != 200:
                    raise SystemExit(f"bench: {name}: {url} answered {r.status}")
            cpu1 = (cpu_of([engine.proc.pid]), cpu_of(cluster.server_pids()))
            print(f"  {name:<18} {args.calls} calls: p50 {pct(lat, 50) * 1000:.1f} ms, "
                  f"p99 {pct(lat, 99) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms; CPU per call: "
                  f"engine {(cpu1[0] - cpu0[0]) / args.calls * 1000:.2f} ms, PostgreSQL "
                  f"{(cpu1[1] - cpu0[1]) / args.calls * 1000:.2f} ms", flush=True)
        return 0
    finally:
        if engine:
            engine.stop()
        if setup:
            setup.remove()
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
