#!/usr/bin/env python3
"""Delivery benchmark: one engine process on this machine, a private PostgreSQL
cluster and the fake provider (speaking Resend's API on 127.0.0.1) as the
loopback HTTP sink. Prints:

  throughput   N messages due at once, each a POST /emails with its own
               Idempotency-Key; messages/s, next to the raw PostgreSQL ceiling
               for the same claim-and-ack work (pgbench: 100-row claims from a
               copy of tidings.messages, then an ack) measured in the same run
  lateness     a steady stream (default 1,000/s for 30 s) spread over scheduled
               times: sent time minus scheduled time, p50/p99/max
  backlog      peak RSS of the engine and mean claim time with 10,000 and with
               1,000,000 scheduled (future) messages in the table

usage: bench/delivery_bench.py [--messages 100000] [--rate 1000] [--seconds 30]
                               [--skip-backlog] [--build DIR]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def proc_figures(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    return cpu, hwm, rss


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def metric(base, name):
    text = urllib.request.urlopen(f"{base}/metrics").read().decode()
    m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--skip-backlog", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    os.environ.setdefault("TIDINGS_BIN", os.path.join(args.build, "tidings"))
    os.environ.setdefault("TIDINGS_PLUGIN_DIR", os.path.join(args.build, "plugins"))
    os.environ.setdefault("FAKE_PROVIDER_BIN", os.path.join(args.build, "tests", "fake_provider", "fake_provider"))
    import harness
    from fake_provider import FakeProvider

    from harness import Cluster
    cluster = Cluster("tidings-delivery-bench-")
    work = cluster.work
    fake = None
    engine = None
    setup = None
    try:
        print(f"bench: private PostgreSQL, fake provider and one engine ({os.cpu_count()} cores)", flush=True)
        dsn = cluster.start("-c shared_buffers=512MB -c synchronous_commit=on -c max_wal_size=4GB")
        fake = FakeProvider()
        setup = harness.Setup(cluster, orgs=(), workers=4, batch=500, lease=60)
        harness.resend_org(setup, "bench", fake, "concurrency = 64\n")
        with open(os.path.join(setup.dir, "tidings.ini")) as f:
            cfg = f.read().replace("level = debug", "level = info")
        setup.write("tidings.ini", cfg)
        setup.cli("migrate")
        harness.import_templates(setup, "bench")

        # ---- throughput ----
        n = args.messages
        harness.seed_messages(dsn, "bench", n, prefix="T")
        harness.psql(dsn, "VACUUM ANALYZE tidings.messages")
        engine = harness.Engine(setup)
        t0 = time.monotonic()
        cpu0, _, _ = proc_figures(engine.proc.pid)
        while int(harness.scalar(dsn, "SELECT count(*) FROM tidings.messages WHERE status = 'sent'")) < n:
            time.sleep(0.2)
            if time.monotonic() - t0 > 600:
                raise SystemExit("bench: not done after 600 s")
        took = time.monotonic() - t0
        cpu1, hwm, _ = proc_figures(engine.proc.pid)
        stats = fake.stats()
        ok = stats["unique_keys"] == n and stats["accepted"] == n
        print(f"  throughput   {n} messages due at once: {n / took:,.0f} messages/s ({took:.1f} s), "
              f"engine CPU {cpu1 - cpu0:.1f} s, peak RSS {hwm:.1f} MiB, "
              f"{stats['unique_keys']} distinct keys at the provider ({'OK' if ok else 'MISMATCH'})", flush=True)
        engine.stop()
        engine = None

        # ---- the raw PostgreSQL ceiling for the same claim-and-ack ----
        harness.psql(dsn, "DROP TABLE IF EXISTS public.q; "
                          "CREATE TABLE public.q (LIKE tidings.messages INCLUDING ALL); "
                          f"INSERT INTO public.q OVERRIDING SYSTEM VALUE SELECT * FROM tidings.messages; "
                          "UPDATE public.q SET status = 'scheduled', lease_owner = NULL")
        harness.psql(dsn, "VACUUM ANALYZE public.q")

        claim = os.path.join(work, "claim.sql")
        with open(claim, "w") as f:
            f.write("WITH c AS (SELECT org_id, id FROM public.q WHERE status = 'scheduled' "
                    "AND scheduled_for <= now() ORDER BY scheduled_for LIMIT 100 FOR UPDATE SKIP LOCKED), "
                    "u AS (UPDATE public.q m SET status = 'sending', attempts = m.attempts + 1, "
                    "lease_owner = 'pgbench-' || :client_id, lease_expires_at = now() + interval '60 s' "
                    "FROM c WHERE m.org_id = c.org_id AND m.id = c.id RETURNING m.id) "
                    "SELECT coalesce(array_agg(id), '{}')::text AS ids FROM u \\gset\n"
                    "UPDATE public.q SET status = 'sent', sent_at = now(), lease_owner = NULL "
                    "WHERE org_id = 'bench' AND id = ANY (':ids'::bigint[]);\n")
        host = re.search(r"host=(\S+)", dsn).group(1)
        clients = 4
        per_client = n // 100 // clients
        out = run("pgbench", "-n", "-h", host, "-U", "tidings", "-d", "tidings", "-f", claim,
                  "-c", str(clients), "-j", "2", "-t", str(per_client))
        tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
        print(f"  ceiling      pgbench claim-100-then-ack on a copy of tidings.messages, {clients} clients: "
              f"{tps * 100:,.0f} rows/s", flush=True)
        harness.psql(dsn, "DROP TABLE public.q")

        # ---- lateness of a steady stream ----
        harness.psql(dsn, "TRUNCATE tidings.messages, tidings.bookings")
        total = args.rate * args.seconds
        harness.seed_messages(dsn, "bench", total, prefix="S",
                              due=f"now() + interval '5 seconds' + g * interval '{1.0 / args.rate} seconds'")
        engine = harness.Engine(setup)
        deadline = time.monotonic() + args.seconds + 60
        while int(harness.scalar(dsn, "SELECT count(*) FROM tidings.messages WHERE status = 'sent'")) < total:
            time.sleep(0.5)
            if time.monotonic() > deadline:
                raise SystemExit("bench: the stream did not finish")
        late = [float(r[0]) for r in harness.psql(
            dsn, "SELECT extract(epoch FROM sent_at - scheduled_for) FROM tidings.messages")]
        print(f"  lateness     {args.rate}/s for {args.seconds} s: sent minus scheduled "
              f"p50 {pct(late, 50) * 1000:.0f} ms, p99 {pct(late, 99) * 1000:.0f} ms, "
              f"max {max(late) * 1000:.0f} ms", flush=True)
        engine.stop()
        engine = None

        # ---- backlog: memory and claim time at 10k and 1M scheduled rows ----
        if not args.skip_backlog:
            for backlog in (10000, 1000000):
                harness.psql(dsn, "TRUNCATE tidings.messages, tidings.bookings")
                harness.seed_messages(dsn, "bench", backlog, prefix="F", due="now() + interval '30 days'")
                harness.seed_messages(dsn, "bench", 10000, prefix="D")
                harness.psql(dsn, "VACUUM ANALYZE tidings.messages")
                engine = harness.Engine(setup)
                while int(harness.scalar(dsn, "SELECT count(*) FROM tidings.messages WHERE status = 'sent'")) < 10000:
                    time.sleep(0.2)
                _, hwm, rss = proc_figures(engine.proc.pid)
                claims = metric(engine.base, "tidings_claim_seconds_count")
                claim_sum = metric(engine.base, "tidings_claim_seconds_sum")
                print(f"  backlog      {backlog:>9,} scheduled + 10,000 due: peak RSS {hwm:.1f} MiB, "
                      f"mean claim {claim_sum / claims * 1000:.1f} ms over {claims:.0f} claims", flush=True)
                engine.stop()
                engine = None
        return 0
    finally:
        if engine:
            engine.stop()
        if fake:
            fake.stop()
        if setup:
            setup.remove()
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
