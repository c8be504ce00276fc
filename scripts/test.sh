#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this), on a fresh
# Debian 12 machine as root: installs what is missing, checks the house
# rules, then builds and runs every test twice, once in a normal build and once
# under AddressSanitizer + UndefinedBehaviorSanitizer, runs the clock-dependent
# tests again at fixed instants (libfaketime), and runs the libFuzzer targets
# (clang) for a bounded time. The integration tests start and stop their own
# throwaway PostgreSQL cluster (a ctest fixture).

set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
jobs=$(nproc)

scripts/deps.sh test
scripts/checksrc.sh

for variant in build build-asan; do
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$variant" = build-asan ] && flags=(-DCMAKE_BUILD_TYPE=Debug -DTIDINGS_SANITIZE=ON)
  echo "== $variant: configure and build"
  cmake -S . -B "$variant" "${flags[@]}" >/dev/null
  cmake --build "$variant" -j "$jobs" >/dev/null
  echo "== $variant: ctest"
  (cd "$variant" && ctest --output-on-failure -j 2 --timeout 600)
done
# The clock-dependent tests again, with the clock of every process (the
# PostgreSQL cluster, the engines and CLI calls the tests start; the tests
# read the same clock file) set by libfaketime to fixed instants: late evening
# UTC on New Year's Eve (Berlin is already in the next day and year), just
# before Berlin's spring change, in the approach to its repeated autumn hour,
# and around Lord Howe's half-hour change (2026-10-03 15:30 UTC; also the day
# after). A run at the real time came first. Every instant lies behind the
# real clock: a clock set ahead by libfaketime stops PostgreSQL's own timers
# (statement_timeout, deadlock detection) from firing.

faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -n 1)
clock_dir=$(mktemp -d /tmp/tidings-suite-clock.XXXXXX)
chmod 755 "$clock_dir"
trap 'rm -rf "$clock_dir"' EXIT
for instant in 2025-12-31T23:30:00Z 2026-03-29T00:30:00Z 2026-10-25T00:30:00Z \
               2026-10-03T15:00:00Z 2026-10-04T15:30:00Z; do
  echo "== build: the timing tests at $instant"
  echo "+$(( $(date -u -d "$instant" +%s) - $(date -u +%s) ))" | sed 's/^+-/-/' > "$clock_dir/now"
  chmod 644 "$clock_dir/now"
  (cd build && TIDINGS_TEST_FAKETIME="$faketime_lib" FAKETIME_TIMESTAMP_FILE="$clock_dir/now" \
     ctest --output-on-failure -j 2 --timeout 600 -L timing)
done
echo "== build-fuzz: the libFuzzer targets (clang), each for a bounded time"
CC=clang cmake -S . -B build-fuzz -DTIDINGS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_booking fuzz_signature fuzz_template fuzz_infobip fuzz_resend fuzz_csv fuzz_objects_file >/dev/null
(cd build-fuzz && ctest --output-on-failure -j 2 -L fuzz)
echo "== all tests passed in $(( $(date +%s) - start )) s"

