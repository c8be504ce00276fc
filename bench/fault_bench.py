#!/usr/bin/env python3
"""Fault benchmark: the exactly-once matrix at a few thousand messages, one
third per channel (e-mail through Resend, SMS and WhatsApp through Infobip,
all to the fake provider; Infobip's messageId de-duplication off, its
default), on a private PostgreSQL cluster. For each run it prints, per
channel: messages lost (never accepted by the provider, and not held for an
operator), doubled (accepted more than once), the bound for WhatsApp's
doubles (attempts whose outcome was unknown), accepted messages that ended
'failed', and the time to drain.

  faults  one engine; the provider answers 500 (20 %), 429 with Retry-After
          (10 %) and drops the connection after accepting (20 %)
  kills   three engines; kill -9 of one engine 10 times (a new one started in
          its place each time) and one PostgreSQL restart, while delivering
  slow    one engine; every request takes 7 s (longer than nothing but the
          lease renewal allows), no error at all

usage: bench/fault_bench.py [--messages 3000] [--slow-messages 300] [--runs faults,kills,slow]
                            [--build DIR] [--legacy]

--build points at another build folder (tidings, plugins, the fake provider);
--legacy leaves out configuration keys older engines do not know, so the same
matrix measures a build from before this benchmark.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=3000, help="per run, over the three channels")
    ap.add_argument("--slow-messages", type=int, default=300, help="for the slow run")
    ap.add_argument("--runs", default="faults,kills,slow")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--legacy", action="store_true")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("TIDINGS_BIN", os.path.join(build, "tidings"))
    os.environ.setdefault("TIDINGS_PLUGIN_DIR", os.path.join(build, "plugins"))
    os.environ.setdefault("FAKE_PROVIDER_BIN", os.path.join(build, "tests", "fake_provider", "fake_provider"))
    os.environ.setdefault("TIDINGS_SOURCE_DIR", ROOT)
    import harness  # reads the binaries' paths from the environment set above
    from fault_matrix import Matrix, format_report

    extra = {} if not args.legacy else {"legacy": True}
    results = {}
    per = max(1, args.messages // 3)
    runs = args.runs.split(",")
    if "faults" in runs:
        m = Matrix(per_channel=per, engines=1, **extra)
        try:
            m.provider_faults(error=0.2, throttle=0.1, accept_drop=0.2)
            m.seed()
            m.start_engines()
            results["faults"] = m.drain(timeout=900)
        finally:
            m.close()
        print(format_report("faults (500 20 %, 429 10 %, answer lost after acceptance 20 %)",
                            results["faults"]), flush=True)
    if "kills" in runs:
        m = Matrix(per_channel=per, engines=3, concurrency=8, **extra)
        try:
            m.provider_faults(slow_ms=25)  # in flight long enough for a kill to catch some
            m.seed()
            m.start_engines()
            total = 3 * per
            for k in range(11):
                target = total * (k + 1) // 13
                harness.wait_until(lambda: harness.counts_by_status(m.dsn).get("sent", 0) >= target,
                                   timeout=300, interval=0.05, what="progress")
                if k == 5:
                    m.restart_postgresql()
                else:
                    m.kill_one()
            results["kills"] = m.drain(timeout=900)
        finally:
            m.close()
        print(format_report("kills (3 engines, kill -9 x10, PostgreSQL restart x1)", results["kills"]),
              flush=True)
    if "slow" in runs:
        sper = max(1, args.slow_messages // 3)
        # the engine's defaults: batch 100, concurrency 8, lease 60 s
        m = Matrix(per_channel=sper, engines=1, concurrency=8, batch=100, lease=60, **extra)
        try:
            m.provider_faults(slow_ms=7000)
            m.seed()
            m.start_engines()
            results["slow"] = m.drain(timeout=1200)
        finally:
            m.close()
        print(format_report("slow (every request 7 s, no error)", results["slow"]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
