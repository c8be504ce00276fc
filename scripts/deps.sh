#!/usr/bin/env bash
# Installs what Tidings needs from Debian 12's packages, skipping what is
# already there. usage: scripts/deps.sh [demo|test|bench|package]
#   test adds the checkers and the fuzzing compiler; bench adds the load tools bench/ uses;
#   package adds what building the Debian package needs (scripts/package.sh)
# Needs root (or sudo) only when something is missing.
set -euo pipefail
what=${1:-demo}

build=(build-essential cmake pkg-config libpq-dev libcurl4-openssl-dev libjansson-dev
       libinih-dev libmicrohttpd-dev libssl-dev)
run=(postgresql-15 postgresql-client-15 python3 tzdata ca-certificates curl)
tools=()
case "$what" in
  demo) ;;
  test) tools=(clang-format python3-jsonschema python3-yaml clang libclang-rt-14-dev libfaketime) ;;
  bench) tools=(wrk nginx-light linux-perf) ;;
  package) tools=(file dpkg-dev) ;;
  *) echo "usage: scripts/deps.sh [demo|test|bench|package]" >&2; exit 2 ;;
esac

missing=()
for p in "${build[@]}" "${run[@]}" "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} = 0 ]; then
  echo "deps: all ${what} packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]}; run as root to install" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Tidings runs its own private clusters: keep the package from creating and
# starting a system-wide one.
if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q "install ok installed"; then
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/tidings.conf >/dev/null
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
