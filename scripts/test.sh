#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this), on a fresh
# Debian 12 machine as root: installs what is missing, checks the house
# rules, then builds and runs every test twice, once in a normal build and once
# under AddressSanitizer + UndefinedBehaviorSanitizer, and runs the libFuzzer
# targets (clang) for a bounded time. The integration tests start and stop
# their own throwaway PostgreSQL cluster (a ctest fixture).

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
echo "== build-fuzz: the libFuzzer targets (clang), each for a bounded time"
CC=clang cmake -S . -B build-fuzz -DTIDINGS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_booking fuzz_signature fuzz_template >/dev/null
(cd build-fuzz && ctest --output-on-failure -j 2 -L fuzz)
echo "== all tests passed in $(( $(date +%s) - start )) s"

