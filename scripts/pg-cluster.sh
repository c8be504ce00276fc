#!/usr/bin/env bash
# A private PostgreSQL cluster for the demo and the tests: its own data folder,
# a Unix socket only (no TCP port to collide with), database and user "tidings".
#
# usage: scripts/pg-cluster.sh start DIR   create (first time) and start; prints the DSN
#        scripts/pg-cluster.sh fresh DIR   destroy what is there, then create and start
#        scripts/pg-cluster.sh stop DIR    stop it (the data stays)
#        scripts/pg-cluster.sh restart DIR stop it fast and start it again (fault tests)
#        scripts/pg-cluster.sh destroy DIR stop it and delete the data
#        scripts/pg-cluster.sh dsn DIR     print the DSN of a started cluster
#
# With TIDINGS_PG_PORT set, it also listens on 127.0.0.1 at that port (as a
# deployment reaches its database over TCP): the DSN names the port, and
# DIR/dsn-tcp holds the TCP connection string.
# DIR/dsn holds the connection string once started. PostgreSQL refuses to run
# as root, so as root the server runs as the "postgres" user the Debian package
# creates. When that user cannot reach DIR (a checkout under /root, say),
# TIDINGS_PG_TRAVERSE=1 grants it search permission (o+x) on the folders above;
# otherwise the data goes to a folder under /var/tmp that DIR/data points to.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
  echo "pg-cluster: PostgreSQL server binaries not found (apt-get install postgresql-15)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The socket lives in a short path: Unix socket paths are limited to 107 bytes.
sock_dir="/tmp/tidings-pg-$(printf '%s' "$dir" | md5sum | cut -c1-10)"

data_dir() {
  if [ -L "$dir/data" ]; then readlink "$dir/data"; else echo "$dir/data"; fi
}

grant_traverse() {
  local d=$1
  while [ "$d" != "/" ]; do
    if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
      echo "pg-cluster: granting search permission (o+x) on $d so PostgreSQL can reach its data"
      chmod o+x "$d"
    fi
    d=$(dirname "$d")
  done
}

prepare_data_dir() {
  if [ "$(id -u)" != 0 ]; then return; fi
  if [ -e "$dir/data" ]; then return; fi
  if runuser -u postgres -- test -x "$dir" 2>/dev/null && runuser -u postgres -- test -w "$dir" 2>/dev/null; then
    return
  fi
  if [ "${TIDINGS_PG_TRAVERSE:-0}" = 1 ]; then
    grant_traverse "$dir"
    chown postgres "$dir"
    return
  fi
  local elsewhere
  elsewhere=$(mktemp -d /var/tmp/tidings-pg-data.XXXXXX)
  chown postgres "$elsewhere"
  ln -s "$elsewhere/data" "$dir/data"
}

start() {
  listen=""
  port=5432
  if [ -n "${TIDINGS_PG_PORT:-}" ]; then
    listen=127.0.0.1
    port=$TIDINGS_PG_PORT
  fi
  prepare_data_dir
  local data; data=$(data_dir)
  mkdir -p "$sock_dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$sock_dir"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres "$data"; fi
    chmod 700 "$data"
    as_owner "$pg_bin/initdb" -D "$data" -U tidings -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! as_owner "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    # tests set the server's clock with libfaketime (TIDINGS_TEST_FAKETIME: the library)
    local preload=()
    [ -n "${TIDINGS_TEST_FAKETIME:-}" ] && preload=(env "LD_PRELOAD=$TIDINGS_TEST_FAKETIME")
    as_owner "${preload[@]}" "$pg_bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
      -o "-c listen_addresses='$listen' -c port=$port -c unix_socket_directories='$sock_dir' -c max_connections=200 ${TIDINGS_PG_OPTIONS:-}" >/dev/null \
      || { tail -n 20 "$data/server.log" >&2; exit 1; }
  fi
  if ! "$pg_bin/psql" -h "$sock_dir" -p "$port" -U tidings -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='tidings'" | grep -q 1; then
    "$pg_bin/createdb" -h "$sock_dir" -p "$port" -U tidings tidings
  fi
  echo "host=$sock_dir port=$port dbname=tidings user=tidings" > "$dir/dsn"
  if [ -n "$listen" ]; then
    echo "host=127.0.0.1 port=$port dbname=tidings user=tidings" > "$dir/dsn-tcp"
  fi
  cat "$dir/dsn"
}

stop() {
  local data; data=$(data_dir)
  if [ -f "$data/PG_VERSION" ]; then
    as_owner "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$dir/dsn" "$dir/dsn-tcp"
}

case "$cmd" in
  start) start ;;
  fresh) stop; data=$(data_dir); rm -rf "$data"; rm -f "$dir/data"; start ;;
  stop) stop ;;
  restart)
    data=$(data_dir)
    as_owner "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    start >/dev/null ;;

  destroy)
    stop
    data=$(data_dir)
    rm -rf "$data"; rm -f "$dir/data"; rm -rf "$sock_dir" ;;
  dsn) cat "$dir/dsn" ;;
  *) echo "pg-cluster: unknown command $cmd (start, fresh, stop, restart, destroy, dsn)" >&2; exit 2 ;;
esac
