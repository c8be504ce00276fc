#!/usr/bin/env python3
"""Intake benchmark: signed bookings posted over HTTP to a real engine on a
private PostgreSQL cluster; reports bookings per second, POST-to-committed-rows
latency percentiles (the 202 is sent only after the event and its message rows
are committed), the engine's CPU time and peak memory, and checks that every
booking and every message row arrived.

usage: bench/intake_bench.py [--bookings N] [--concurrency C] [--build DIR]
"""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import webhook_client  # noqa: E402
from harness import Cluster  # noqa: E402


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def proc_figures(pid):
    """CPU seconds (user + system) and peak RSS in MiB of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024
    return cpu, hwm


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def generated_sequences(n):
    """n active sequences that all match the bench's bookings: 4 steps, 5 rows each, with a
    condition and a send window, like real ones."""
    email = [{"channel": "email", "template": "t"}]
    seqs = []
    for i in range(n):
        seqs.append({
            "key": f"seq-{i}", "name": f"Sequence {i}", "status": "active",
            "trigger": {"on": "booking.confirmed"}, "exit": {"on": ["booking.cancelled"]},
            "window": {"from": "08:00", "to": "20:00"},
            "when": {"field": "customer.email", "exists": True},
            "steps": [
                {"id": "7d", "at": {"from": "start", "offset": "-7d", "time": "09:00"}, "send": email},
                {"id": "3d", "at": {"from": "start", "offset": "-3d", "time": "09:00"}, "send": email},
                {"id": "1d", "at": {"from": "start", "offset": "-1d", "time": "18:00"},
                 "send": email + [{"channel": "sms", "template": "s"}]},
                {"id": "after", "at": {"from": "trigger", "offset": "30d", "time": "10:00"}, "send": email},
            ]})
    templates = [{"key": "t", "channel": "email", "subject": "Hallo {{firstName}}", "text": "{{eventName}} am {{eventDate}}"},
                 {"key": "s", "channel": "sms", "text": "Hallo {{firstName}}, bis morgen"}]
    return {"sequences": seqs, "templates": templates}


def main():

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bookings", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--sequences", type=int, default=0,
                    help="active sequences per organization (0: the demo sequence)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()

    cluster = Cluster("tidings-bench-")
    work = cluster.work
    engine = None
    try:
        print(f"bench: private PostgreSQL in {cluster.dir}", flush=True)
        dsn = cluster.start("-c shared_buffers=256MB")
        secret = "whsec_" + __import__("base64").b64encode(os.urandom(32)).decode()
        os.makedirs(os.path.join(work, "conf.d"))
        probe = __import__("socket").socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with open(os.path.join(work, "secret"), "w") as f:
            f.write(secret)
        with open(os.path.join(work, "tidings.ini"), "w") as f:
            f.write(f"[database]\ndsn = {dsn}\npool = 16\n[http]\nlisten = 127.0.0.1:{port}\nthreads = 8\n"
                    f"[plugins]\npath = {args.build}/plugins\n[orgs]\ndir = conf.d\n[log]\nlevel = warn\n")
        with open(os.path.join(work, "conf.d", "bench.ini"), "w") as f:
            f.write("[org]\nid = bench\nname = Bench\ntimezone = Europe/Berlin\n"
                    "[trigger.webhook]\nplugin = booking_webhook\nsecret = file:../secret\n"
                    "[channel.email]\nplugin = outbox\ndir = ../outbox\n"
                    "[channel.sms]\nplugin = outbox\ndir = ../outbox\n")
        tidings = os.path.join(args.build, "tidings")
        cfg = os.path.join(work, "tidings.ini")
        sh(tidings, "-c", cfg, "migrate")
        seq_file = os.path.join(ROOT, "sql", "seed", "demo.json")
        rows_per_booking = 4
        if args.sequences:
            seq_file = os.path.join(work, "sequences.json")
            with open(seq_file, "w") as f:
                json.dump(generated_sequences(args.sequences), f)
            rows_per_booking = 5 * args.sequences
        sh(tidings, "-c", cfg, "sequences", "import", "--org", "bench", seq_file)
        log = open(os.path.join(work, "engine.log"), "w")
        engine = subprocess.Popen([tidings, "-c", cfg, "run"], stderr=log)
        deadline = time.monotonic() + 15
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if engine.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: engine did not start; see " + log.name)
            time.sleep(0.05)

        # bookings start 10 days ahead so all 4 steps of the demo sequence are planned
        start = int(time.time()) // 60 * 60 + 10 * 86400
        bodies = []
        for i in range(args.bookings):
            b = {"id": f"BENCH-{i}", "status": "confirmed", "start":
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + (i % 500) * 3600)),
                 "name": "Kurs", "location": "Hafen",
                 "customer": {"first_name": "Anna", "email": f"a{i}@example.org", "phone": "+491711234567"}}
            bodies.append(json.dumps(b).encode())
        latencies = []
        errors = []
        lock = threading.Lock()
        next_index = [0]

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine = []
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(bodies):
                    break
                body = bodies[i]
                headers = webhook_client.headers_for(secret, body)
                t0 = time.perf_counter()
                conn.request("POST", "/v1/orgs/bench/bookings", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t0)
                if resp.status != 202:
                    errors.append(resp.status)
            conn.close()
            with lock:
                latencies.extend(mine)

        profiler = None
        if os.environ.get("BENCH_PERF"):
            profiler = subprocess.Popen(["perf", "record", "-g", "-o", os.environ["BENCH_PERF"], "-p",
                                         str(engine.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        cpu0, _ = proc_figures(engine.pid)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu1, hwm = proc_figures(engine.pid)
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()

        latencies.sort()
        events = int(sh("psql", dsn, "-tAXc", "SELECT count(*) FROM tidings.events").strip())
        rows = int(sh("psql", dsn, "-tAXc", "SELECT count(*) FROM tidings.messages").strip())
        ms = [x * 1000 for x in latencies]
        what = (f"{args.sequences} active sequences ({rows_per_booking} message rows per booking)"
                if args.sequences else "demo sequence (4 message rows per booking)")
        print(f"bench: {args.bookings} signed bookings, {args.concurrency} concurrent keep-alive clients, {what}")
        print(f"  throughput          {args.bookings / wall:8.0f} bookings/s  ({wall:.2f} s)")
        print(f"  POST -> 202 (committed rows)  p50 {percentile(ms, 50):.2f} ms  p95 {percentile(ms, 95):.2f} ms  "
              f"p99 {percentile(ms, 99):.2f} ms  max {ms[-1]:.2f} ms")
        print(f"  engine CPU          {cpu1 - cpu0:8.2f} s  ({(cpu1 - cpu0) / args.bookings * 1e3:.3f} ms per booking)")
        print(f"  engine peak RSS     {hwm:8.1f} MiB")
        print(f"  stored              {events} events, {rows} message rows, {len(errors)} non-202 answers")
        ok = not errors and events == args.bookings and rows == rows_per_booking * args.bookings
        print("  result              " + ("OK: nothing lost" if ok else "FAILED: something is missing"))
        return 0 if ok else 1
    finally:
        if engine and engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
            engine.wait(timeout=30)
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
