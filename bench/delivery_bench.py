#!/usr/bin/env python3
"""Delivery benchmark: engine processes on this machine, a private PostgreSQL
cluster reached over TCP on 127.0.0.1 (as a deployment reaches it) and over its
Unix socket, and a loopback HTTP stand-in for Resend. Every figure comes with
the CPU each party spent, so the run's ceilings stand next to it:

  throughput   N messages due at once, each its own POST /emails with its own
               Idempotency-Key (the stand-in's log proves each arrived once);
               messages/s, CPU per message of the engine, of PostgreSQL and of
               the stand-in, peak RSS; over TCP, then over the Unix socket
  ceiling      pgbench doing the bare claim-and-ack (claim 100 due rows FOR
               UPDATE SKIP LOCKED from a copy of tidings.messages, then mark
               them sent) in the same run: rows/s and PostgreSQL CPU per row
  engines      the throughput with 1, 2 and 3 engine processes on the one
               database, and how the CPU was split
  steady       a stream spread over scheduled times (5,000/s for 60 s, then
               1,000/s for 30 s): sent time minus scheduled time, p50/p99/max
  backlog      peak RSS and mean claim time with 10,000 and 1,000,000 future
               messages in the table (--backlog)

BENCH_PERF=FILE records a perf profile (call graphs) of the engine during the
first throughput run.

The stand-in is nginx (Debian's nginx-light, one worker, `return 200` with a
Resend-shaped body, the Idempotency-Key of each request logged), or the C fake
provider of the tests with --stand-in fake (dearer: it parses every body and
remembers every key).

usage: bench/delivery_bench.py [--messages 100000] [--engines 1,2,3]
                               [--steady 5000:60,1000:30] [--stand-in nginx|fake]
                               [--db tcp,unix] [--backlog] [--build DIR]
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

CLK = os.sysconf("SC_CLK_TCK")


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of(pids, children=False):
    """CPU seconds (user + system) of the live processes pids; with children,
    also what their exited children spent."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if children:
            total += int(fields[13]) + int(fields[14])
    return total / CLK


def peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def sent_count(engines):
    """Messages the engines have recorded as sent (their /metrics: cheap)."""
    total = 0
    for e in engines:
        text = urllib.request.urlopen(f"{e.base}/metrics", timeout=5).read().decode()
        total += sum(float(v) for v in re.findall(
            r'^tidings_deliveries_total\{[^}]*outcome="sent"[^}]*\} ([0-9.e+]+)$', text, re.M))
    return int(total)


class Nginx:
    """nginx on a free loopback port answering POST /emails like Resend."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tidings-standin-")
        os.makedirs(os.path.join(self.dir, "logs"))
        self.port = free_port()
        self.log = os.path.join(self.dir, "logs", "keys.log")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format keys '$http_idempotency_key';
  access_log {self.log} keys buffer=256k flush=1s;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_buffer_size 64k;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location = /emails {{
      default_type application/json;
      return 200 '{{"id":"$request_id"}}';
    }}
  }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("bench: nginx did not start")
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def pids(self):
        return [int(p) for p in run("pgrep", "-P", str(self.proc.pid)).split()] + [self.proc.pid]

    def reset(self):
        """Empties the key log (nginx reopens it on USR1)."""
        open(self.log, "w").close()
        self.proc.send_signal(10)
        time.sleep(0.3)

    def keys(self):
        """(requests, distinct keys) logged so far (after a flush)."""
        self.proc.send_signal(10)  # reopen: what was buffered is written first
        time.sleep(1.2)
        with open(self.log) as f:
            lines = f.read().split()
        return len(lines), len(set(lines))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Fake:
    """The C fake provider of the tests."""

    def __init__(self):
        from fake_provider import FakeProvider
        self.fake = FakeProvider()
        self.url = self.fake.url
        self.resend_key = self.fake.resend_key
        self.proc = self.fake.proc

    def pids(self):
        return [self.proc.pid]

    def reset(self):
        self.fake.reset()

    def keys(self):
        st = self.fake.stats()
        return st["accepted"], st["unique_keys"]

    def stop(self):
        self.fake.stop()


class Bench:
    def __init__(self, args):
        import harness
        self.h = harness
        self.args = args
        self.cluster = harness.Cluster("tidings-delivery-bench-")
        self.cluster.start("-c shared_buffers=512MB -c max_wal_size=4GB -c synchronous_commit=on",
                           tcp_port=free_port())
        self.dsn = self.cluster.dsn
        self.standin = Nginx() if args.stand_in == "nginx" else Fake()
        self.setup = None
        self.engines = []

    def configure(self, db):
        """A set-up whose engines reach the database over db (tcp or unix)."""
        if self.setup:
            self.setup.remove()
        self.mode = db

        class Db:
            pass
        target = Db()
        target.dsn = self.cluster.dsn_tcp if db == "tcp" else self.cluster.dsn
        setup = self.h.Setup(target, orgs=(), workers=self.args.workers, batch=self.args.batch,
                             lease=60)

        class StandinUrl:
            url = self.standin.url
            resend_key = getattr(self.standin, "resend_key", "re_bench_key")
        self.h.resend_org(setup, "bench", StandinUrl, f"concurrency = {self.args.concurrency}\n")
        with open(os.path.join(setup.dir, "tidings.ini")) as f:
            setup.write("tidings.ini", f.read().replace("level = debug", "level = info"))
        self.setup = setup
        setup.cli("migrate")
        self.h.import_templates(setup, "bench")

    def start_engines(self, n):
        self.engines = [self.h.Engine(self.setup) for _ in range(n)]

    def stop_engines(self):
        for e in self.engines:
            e.stop()
        self.engines = []

    def seed(self, n, prefix, due="now()"):
        self.h.psql(self.dsn, "TRUNCATE tidings.messages, tidings.bookings")
        self.h.seed_messages(self.dsn, "bench", n, prefix=prefix, due=due)
        self.h.psql(self.dsn, "VACUUM ANALYZE tidings.messages, tidings.bookings")

    def throughput(self, n, engines, label):
        """Sends n due messages with `engines` engine processes; returns the figures."""
        self.seed(n, "T")
        self.standin.reset()
        pg_pids = self.cluster.server_pids()
        self.start_engines(engines)
        pg_pids = sorted(set(pg_pids) | set(self.cluster.server_pids()))
        eng_pids = [e.proc.pid for e in self.engines]
        cpu0 = (cpu_of(eng_pids), cpu_of(pg_pids, children=True), cpu_of(self.standin.pids()))
        perf = None
        if os.environ.get("BENCH_PERF") and label == "throughput":
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g",
                                     "--call-graph", "dwarf,16384", "-o", os.environ["BENCH_PERF"],
                                     "-p", ",".join(str(p) for p in eng_pids)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        t0 = time.monotonic()
        self.h.psql(self.dsn, "NOTIFY tidings_due")
        while sent_count(self.engines) < n:
            time.sleep(0.1)
            if time.monotonic() - t0 > 900:
                raise SystemExit("bench: not done after 900 s")
        took = time.monotonic() - t0
        if perf:
            perf.send_signal(2)
            perf.wait()
        pg_pids = sorted(set(pg_pids) | set(self.cluster.server_pids()))
        cpu1 = (cpu_of(eng_pids), cpu_of(pg_pids, children=True), cpu_of(self.standin.pids()))
        rss = max(peak_rss(p) for p in eng_pids)
        self.stop_engines()
        stored = int(self.h.scalar(self.dsn, "SELECT count(*) FROM tidings.messages WHERE status = 'sent'"))
        requests, distinct = self.standin.keys()
        ok = stored == n and requests == n and distinct == n
        eng, pg, si = (cpu1[i] - cpu0[i] for i in range(3))
        print(f"  {label:<11}  {n:,} due over {self.mode}, {engines} engine{'s' if engines > 1 else ''}: "
              f"{n / took:,.0f} messages/s ({took:.1f} s); CPU per message: engine "
              f"{eng / n * 1e6:.1f} µs, PostgreSQL {pg / n * 1e6:.1f} µs, stand-in "
              f"{si / n * 1e6:.1f} µs (box {(eng + pg + si) / took / os.cpu_count() * 100:.0f}% "
              f"busy); peak RSS {rss:.1f} MiB; {requests:,} requests, {distinct:,} distinct keys, "
              f"{stored:,} sent rows ({'OK' if ok else 'MISMATCH'})", flush=True)
        if not ok:
            raise SystemExit("bench: lost or doubled messages")
        return n / took, eng, pg, si

    def ceiling(self, n):
        """pgbench doing the bare claim-and-ack of n rows."""
        h = self.h
        h.psql(self.dsn, "DROP TABLE IF EXISTS public.q; "
                         "CREATE TABLE public.q (LIKE tidings.messages INCLUDING ALL); "
                         "INSERT INTO public.q OVERRIDING SYSTEM VALUE SELECT * FROM tidings.messages; "
                         "UPDATE public.q SET status = 'scheduled', lease_owner = NULL, sent_at = NULL")
        h.psql(self.dsn, "VACUUM ANALYZE public.q")
        claim = os.path.join(self.cluster.work, "claim.sql")
        with open(claim, "w") as f:
            f.write("WITH c AS (SELECT org_id, id FROM public.q WHERE status = 'scheduled' "
                    "AND scheduled_for <= now() ORDER BY scheduled_for LIMIT 100 FOR UPDATE SKIP LOCKED), "
                    "u AS (UPDATE public.q m SET status = 'sending', attempts = m.attempts + 1, "
                    "lease_owner = 'pgbench-' || :client_id, lease_expires_at = now() + interval '60 s' "
                    "FROM c WHERE m.org_id = c.org_id AND m.id = c.id RETURNING m.id) "
                    "SELECT coalesce(array_agg(id), '{}')::text AS ids FROM u \\gset\n"
                    "UPDATE public.q SET status = 'sent', sent_at = now(), lease_owner = NULL "
                    "WHERE org_id = 'bench' AND id = ANY (':ids'::bigint[]);\n")
        tcp = dict(re.findall(r"(\w+)=(\S+)", self.cluster.dsn_tcp))
        clients = 2
        pg_pids = self.cluster.server_pids()
        cmd = ["pgbench", "-n", "-h", tcp["host"], "-p", tcp["port"], "-U", "tidings", "-d",
               "tidings", "-f", claim, "-c", str(clients), "-j", "2", "-t", str(n // 100 // clients)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.3)
        pg_pids = sorted(set(pg_pids) | set(self.cluster.server_pids()))
        cpu0 = cpu_of(pg_pids, children=True)
        t0 = time.monotonic()
        out, _ = p.communicate()
        took = time.monotonic() - t0
        pg_pids = sorted(set(pg_pids) | set(self.cluster.server_pids()))
        cpu1 = cpu_of(pg_pids, children=True)
        rows = int(h.scalar(self.dsn, "SELECT count(*) FROM public.q WHERE status = 'sent'"))
        tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
        print(f"  ceiling      pgbench claim-100-then-ack over TCP, {clients} clients: "
              f"{tps * 100:,.0f} rows/s; PostgreSQL CPU {(cpu1 - cpu0) / rows * 1e6:.1f} µs per row "
              f"({rows:,} rows)", flush=True)
        h.psql(self.dsn, "DROP TABLE public.q")
        return tps * 100, (cpu1 - cpu0) / rows

    def steady(self, rate, seconds):
        total = rate * seconds
        # seeded a day ahead, then moved (in one statement, with the engine already idle) to
        # begin 10 s after the move: seeding 300,000 rows takes longer than any lead given at
        # seeding time, and a stream that starts in the past measures the seeding, not the engine
        self.seed(total, "S", due=f"now() + interval '1 day' + g * interval '{1.0 / rate} seconds'")
        self.start_engines(1)
        time.sleep(1)
        self.h.psql(self.dsn, "UPDATE tidings.messages SET scheduled_for = scheduled_for + "
                              "(now() + interval '10 seconds' - (SELECT min(scheduled_for) "
                              "FROM tidings.messages)); NOTIFY tidings_due")
        lead = float(self.h.scalar(self.dsn, "SELECT extract(epoch FROM min(scheduled_for) - now()) "
                                             "FROM tidings.messages"))
        if lead <= 0:
            raise SystemExit("bench: the stream began before it was in place")
        deadline = time.monotonic() + seconds + 120
        while sent_count(self.engines) < total:
            time.sleep(0.5)
            if time.monotonic() > deadline:
                raise SystemExit("bench: the stream did not finish")
        self.stop_engines()
        late = [float(r[0]) for r in self.h.psql(
            self.dsn, "SELECT extract(epoch FROM sent_at - scheduled_for) FROM tidings.messages")]
        print(f"  steady       {rate:,}/s for {seconds} s: sent minus scheduled p50 "
              f"{pct(late, 50) * 1000:.0f} ms, p99 {pct(late, 99) * 1000:.0f} ms, "
              f"max {max(late) * 1000:.0f} ms", flush=True)

    def backlog(self):
        for rows in (10000, 1000000):
            self.h.psql(self.dsn, "TRUNCATE tidings.messages, tidings.bookings")
            self.h.seed_messages(self.dsn, "bench", rows, prefix="F", due="now() + interval '30 days'")
            self.h.seed_messages(self.dsn, "bench", 10000, prefix="D")
            self.h.psql(self.dsn, "VACUUM ANALYZE tidings.messages")
            self.start_engines(1)
            e = self.engines[0]
            while sent_count(self.engines) < 10000:
                time.sleep(0.2)
            text = urllib.request.urlopen(f"{e.base}/metrics").read().decode()
            count = float(re.search(r"^tidings_claim_seconds_count ([0-9.e+]+)$", text, re.M).group(1))
            total = float(re.search(r"^tidings_claim_seconds_sum ([0-9.e+-]+)$", text, re.M).group(1))
            print(f"  backlog      {rows:>9,} scheduled + 10,000 due: peak RSS "
                  f"{peak_rss(e.proc.pid):.1f} MiB, mean claim {total / count * 1000:.1f} ms over "
                  f"{count:.0f} claims", flush=True)
            self.stop_engines()

    def close(self):
        self.stop_engines()
        self.standin.stop()
        if self.setup:
            self.setup.remove()
        self.cluster.destroy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--engines", default="1,2,3", help="engine counts to compare (1 first)")
    ap.add_argument("--steady", default="5000:60,1000:30", help="rate:seconds,... ('' skips)")
    ap.add_argument("--stand-in", default="nginx", choices=("nginx", "fake"))
    ap.add_argument("--db", default="tcp,unix", help="how the engine reaches PostgreSQL")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--backlog", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    os.environ.setdefault("TIDINGS_BIN", os.path.join(args.build, "tidings"))
    os.environ.setdefault("TIDINGS_PLUGIN_DIR", os.path.join(args.build, "plugins"))
    os.environ.setdefault("FAKE_PROVIDER_BIN",
                          os.path.join(args.build, "tests", "fake_provider", "fake_provider"))
    if args.stand_in == "nginx" and not shutil.which("nginx"):
        raise SystemExit("bench: nginx not found (scripts/deps.sh bench installs nginx-light)")
    b = Bench(args)
    try:
        print(f"bench: {os.cpu_count()} cores; PostgreSQL 15 (private cluster), stand-in "
              f"{args.stand_in}; engines with {args.workers} workers, batch {args.batch}, "
              f"concurrency {args.concurrency}", flush=True)
        dbs = [d for d in args.db.split(",") if d]
        counts = [int(c) for c in args.engines.split(",") if c]
        rates = {}
        for i, db in enumerate(dbs):
            b.configure(db)
            for c in (counts if i == 0 else [1]):
                rate, eng, pg, si = b.throughput(args.messages, c, f"throughput" if c == 1 else "engines")
                rates[(db, c)] = (rate, eng, pg, si)
                if c == 1 and i == 0:
                    b.ceiling(args.messages)
        first = dbs[0]
        if len(counts) > 1 and (first, 1) in rates:
            one = rates[(first, 1)][0]
            line = ", ".join(f"{c}: {rates[(first, c)][0] / one:.2f}x" for c in counts if (first, c) in rates)
            print(f"  scaling      over {first}, against 1 engine: {line}", flush=True)
        b.configure(dbs[0])
        for part in [p for p in args.steady.split(",") if p]:
            rate, seconds = (int(x) for x in part.split(":"))
            b.steady(rate, seconds)
        if args.backlog:
            b.backlog()
        return 0
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
