#!/usr/bin/env python3
"""Trigger load test: bookings arriving both ways at a steady rate, on this
machine, against one engine and a private PostgreSQL cluster.

  webhook  signed POSTs from wrk (Debian's package) on 127.0.0.1, paced to the
           rate; wrk reports the latency of each POST, which is answered only
           after the event and its message rows are committed
  sql      tidings.submit_booking() calls from pgbench at the rate (-R); the
           time from the app's commit to the engine's committed message rows
           is read from the events table (received_at to processed_at)

Both check that nothing was lost: every accepted booking is an expanded event
with its rows. Prints bookings/s and p50/p99.

usage: bench/trigger_bench.py [--rate 1000] [--seconds 20] [--build DIR]
(needs wrk: apt-get install wrk)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


SEQUENCES = {"sequences": [{
    "key": "bench", "name": "Bench", "status": "active", "trigger": {"on": "booking.confirmed"},
    "exit": {"on": ["booking.cancelled"]}, "window": {"from": "08:00", "to": "20:00"},
    "steps": [
        {"id": "7d", "at": {"from": "start", "offset": "-7d", "time": "09:00"},
         "send": [{"channel": "email", "template": "t"}]},
        {"id": "1d", "at": {"from": "start", "offset": "-1d", "time": "18:00"},
         "send": [{"channel": "email", "template": "t"}, {"channel": "sms", "template": "s"}]}]}],
    "templates": [{"key": "t", "channel": "email", "subject": "Hallo {{firstName}}", "text": "{{eventName}}"},
                  {"key": "s", "channel": "sms", "text": "Hallo {{firstName}}"}]}


def stored(dsn, source, rows):
    """(events of source, those expanded into exactly rows message rows), in one snapshot."""
    import harness
    return [int(v) for v in harness.psql(
        dsn, "SELECT count(*), count(*) FILTER (WHERE n = %d) FROM (SELECT e.id, count(m.id) AS n "
             "FROM tidings.events e LEFT JOIN tidings.messages m ON m.org_id = e.org_id AND m.event_id = e.id "
             "WHERE e.source = '%s' AND e.processed_at IS NOT NULL GROUP BY e.id) x" % (rows, source))[0]]


def bench_webhook(args, setup, engine, dsn, work):
    """Signed POSTs from wrk, paced to the rate."""
    import harness
    import webhook_client
    n = args.rate * args.seconds + args.rate * 5
    start = int(time.time()) // 60 * 60 + 30 * 86400
    secret = setup.secrets["bench"]
    lua = ["local reqs = {}"]
    for i in range(n):
        b = {"id": f"W-{i}", "status": "confirmed", "start": time.strftime("%Y-%m-%dT%H:%M:%SZ",
             time.gmtime(start + (i % 1000) * 3600)), "name": "Kurs",
             "customer": {"first_name": "Anna", "email": f"w{i}@example.org", "phone": "+491711234567"}}
        body = json.dumps(b)
        h = webhook_client.headers_for(secret, body.encode())
        lua.append("reqs[%d] = wrk.format('POST', '/v1/orgs/bench/bookings', {['Content-Type']='application/json',"
                   "['webhook-id']='%s',['webhook-timestamp']='%s',['webhook-signature']='%s'}, [[%s]])"
                   % (i + 1, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"], body))
    # wrk keeps each connection busy; delay() paces every thread to its
    # share of the rate against the wall clock (LuaJIT's ffi reads it), so
    # the offered rate holds whatever the answer time is
    connections = 64
    threads = 2
    interval_ms = 1000.0 * threads / args.rate
    lua += ["local ffi = require('ffi')",
            "ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } td_ts; int clock_gettime(int, td_ts *); ]]",
            "local ts = ffi.new('td_ts')",
            "local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end",
            "local counter = 0",
            "local thread_id = 0",
            "local next_slot = nil",
            "function setup(thread) thread:set('tid', thread_id); thread_id = thread_id + 1 end",
            "function init(args) counter = tid end",
            f"function request() counter = counter + {threads}; return reqs[(counter % #reqs) + 1] end",
            "function delay()",
            "  local now = now_ms()",
            "  local slot = math.max(next_slot or now, now)",
            f"  next_slot = slot + {interval_ms}",
            "  return math.floor(slot - now)",
            "end",
            "function response(status, headers, body) if status ~= 202 then bad = (bad or 0) + 1 end end",
            "function done(summary, latency, requests)",
            "  io.write(string.format('latency_us p50 %d p99 %d max %d\\n', latency:percentile(50), latency:percentile(99), latency.max))",
            "end"]
    script_path = os.path.join(work, "post.lua")
    with open(script_path, "w") as f:
        f.write("\n".join(lua))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{args.seconds}s", "--latency", "-s", script_path,
                          engine.base], check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = re.search(r"latency_us p50 (\d+) p99 (\d+) max (\d+)", out)
    # wrk counts the answers it read; posts still in flight when it stopped
    # may be committed too, so events can exceed the 202s but never fall short
    accepted = requests - (int(non2xx.group(1)) if non2xx else 0)
    events, expanded = stored(dsn, "webhook", 3)
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    print(f"  webhook  {rate:,.0f} bookings/s ({requests} in {args.seconds} s, wrk {connections} connections), "
          f"POST->202 (committed rows) p50 {int(lat.group(1)) / 1000:.1f} ms, p99 {int(lat.group(2)) / 1000:.1f} ms, "
          f"max {int(lat.group(3)) / 1000:.1f} ms; {accepted} accepted, {requests - accepted} refused; "
          f"{events} events, {expanded} with their 3 rows; lost {max(0, accepted - expanded)}", flush=True)


def bench_sql(args, dsn, work):
    """submit_booking() calls from pgbench at the rate."""
    import harness
    host = re.search(r"host=(\S+)", dsn).group(1)
    sql_script = os.path.join(work, "submit.sql")
    with open(sql_script, "w") as f:
        f.write("\\set n random(1, 1000000000)\n"
                "SELECT tidings.submit_booking('bench', jsonb_build_object('id', 'S-' || :client_id || '-' || :n, "
                "'status', 'confirmed', 'start', to_char(now() + interval '30 days' + (:n % 1000) * interval '1 hour', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'name', 'Kurs', 'customer', jsonb_build_object('first_name', "
                "'Anna', 'email', 's' || :n || '@example.org', 'phone', '+491711234567')));\n")
    out = subprocess.run(["pgbench", "-n", "-h", host, "-U", "tidings", "-d", "tidings", "-f", sql_script,
                          "-c", "8", "-j", "2", "-R", str(args.rate), "-T", str(args.seconds)],
                         check=True, capture_output=True, text=True).stdout
    tx = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    call_ms = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
    deadline = time.monotonic() + 60
    while int(harness.scalar(dsn, "SELECT count(*) FROM tidings.events WHERE source = 'sql' AND processed_at IS NULL")) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    # from the app's transaction start (received_at, a little before its
    # commit) to the commit of the engine's transaction that wrote the rows
    # (the events row's xmin, track_commit_timestamp = on)
    lat = [float(r[0]) for r in harness.psql(
        dsn, "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at) FROM tidings.events "
             "WHERE source = 'sql' AND processed_at IS NOT NULL")]
    events, expanded = stored(dsn, "sql", 3)
    print(f"  sql      {tps:,.0f} bookings/s ({tx} submit_booking calls, pgbench -R {args.rate}), app commit -> "
          f"committed rows p50 {pct(lat, 50) * 1000:.1f} ms, p99 {pct(lat, 99) * 1000:.1f} ms, "
          f"max {max(lat) * 1000:.1f} ms; {events} events, {expanded} with their 3 rows; "
          f"lost {tx - expanded}; the app's submit_booking transaction took {call_ms:.1f} ms on average", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--only", choices=("webhook", "sql"), help="run one way in only")
    ap.add_argument("--workers", type=int, default=2, help="pg_notify workers (default 2)")
    ap.add_argument("--statements", action="store_true",
                    help="print the statements that took the most server time (pg_stat_statements)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("trigger_bench: wrk is not installed (apt-get install wrk)")
    os.environ.setdefault("TIDINGS_BIN", os.path.join(args.build, "tidings"))
    os.environ.setdefault("TIDINGS_PLUGIN_DIR", os.path.join(args.build, "plugins"))
    import harness
    from harness import Cluster

    cluster = Cluster("tidings-trigger-bench-")
    work = cluster.work
    setup = engine = None
    try:
        options = "-c shared_buffers=256MB -c track_commit_timestamp=on"
        if args.statements:
            options += " -c shared_preload_libraries=pg_stat_statements"
        dsn = cluster.start(options)
        if args.statements:
            harness.psql(dsn, "CREATE EXTENSION pg_stat_statements")
        setup = harness.Setup(cluster, orgs=("bench",), workers=2)
        with open(setup.config) as f:
            cfg = f.read().replace("level = debug", "level = warn").replace("pool = 8", "pool = 16") \
                .replace("[http]\n", "[http]\nthreads = 8\n")
        setup.write("tidings.ini", cfg)
        with open(os.path.join(setup.dir, "conf.d", "bench.ini"), "a") as f:
            f.write("\n[trigger.app]\nplugin = pg_notify\nworkers = %d\n" % args.workers)
        setup.cli("migrate")
        setup.write("seq.json", json.dumps(SEQUENCES))
        setup.cli("sequences", "import", "--org", "bench", os.path.join(setup.dir, "seq.json"))
        with open(setup.config) as f:
            cfg = f.read().replace("level = warn", "level = info")
        setup.write("tidings.ini", cfg)
        engine = harness.Engine(setup)
        print(f"bench: one engine, private PostgreSQL, {args.rate} bookings/s for {args.seconds} s each way "
              f"(3 message rows per booking)", flush=True)

        if args.only in (None, "webhook"):
            bench_webhook(args, setup, engine, dsn, work)
        if args.only in (None, "sql"):
            bench_sql(args, dsn, work)
        if args.statements:
            print("  server time by statement (calls, total ms, mean ms):")
            for calls, total, mean, query in harness.psql(
                    dsn, "SELECT calls, round(total_exec_time::numeric), round(mean_exec_time::numeric, 3), "
                         "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements "
                         "ORDER BY total_exec_time DESC LIMIT 12"):
                print(f"    {calls:>7} {total:>7} {mean:>8}  {query}")
        return 0
    finally:
        if engine:
            engine.stop()
        if setup:
            setup.remove()
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
