#!/usr/bin/env bash
# The demo, end to end, on a fresh Debian 12 machine as root: installs what is
# missing, builds, starts a private PostgreSQL cluster in var/pg, migrates,
# imports the sequences, starts the engine with conf.d/demo.ini (and Gerrit's
# conf.d/haff-segeln.ini), posts four
# signed sample bookings, and shows the messages that were scheduled and those
# the outbox channel wrote to var/outbox. Everything stops at the end unless
# --keep-running is given.  usage: scripts/demo.sh [--keep-running]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
[ "${1:-}" = "--keep-running" ] && keep=1
[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

step() { printf '\n== %s\n' "$*"; }

step "1/7 packages"
scripts/deps.sh demo

step "2/7 build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "built build/tidings and build/plugins/*.so"

step "3/7 private PostgreSQL cluster in var/pg"
TIDINGS_PG_TRAVERSE=1 scripts/pg-cluster.sh start var/pg
mkdir -p var/outbox
for org in demo haff-segeln; do
  mkdir -p "var/$org"
  if [ ! -s "var/$org/webhook-secret" ]; then
    python3 -c "import base64,os;print('whsec_'+base64.b64encode(os.urandom(32)).decode())" > "var/$org/webhook-secret"
    chmod 600 "var/$org/webhook-secret"
  fi
done

step "4/7 configuration, schema, sequences"
build/tidings check
build/tidings migrate
build/tidings sequences import --org demo sql/seed/demo.json
build/tidings sequences import --org haff-segeln sql/seed/haff-segeln.json


step "5/7 engine"
port=$(sed -n 's/^listen *= *[0-9.]*:\([0-9]*\).*/\1/p' tidings.ini)
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "demo: port $port is already in use; stop what listens there (or change [http] listen in tidings.ini)" >&2
  exit 1
fi
build/tidings run > var/demo/engine.log 2>&1 &
engine=$!
stop_all() {
  kill -TERM "$engine" 2>/dev/null && wait "$engine" 2>/dev/null || true
  [ $keep = 1 ] || scripts/pg-cluster.sh stop var/pg
}
trap stop_all EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$engine" 2>/dev/null || { cat var/demo/engine.log; exit 1; }
  sleep 0.1
done
echo "engine pid $engine on http://127.0.0.1:$port (log: var/demo/engine.log)"

step "6/7 signed sample bookings: three to the demo school, one to Gerrit's"
before=$(ls var/outbox | wc -l)
run=$(( $(cat var/demo/runs 2>/dev/null || echo 0) + 1 ))
echo "$run" > var/demo/runs
python3 scripts/demo_bookings.py "http://127.0.0.1:$port" var/demo/webhook-secret "$run"
echo "  and one course to Gerrit's organization (haff-segeln), with his shipped sequences:"
python3 scripts/demo_bookings.py "http://127.0.0.1:$port" var/haff-segeln/webhook-secret "$run" haff-segeln
for _ in $(seq 1 100); do
  [ "$(ls var/outbox | wc -l)" -ge $((before + 6)) ] && break
  sleep 0.1
done

step "7/7 what happened"
dsn=$(cat var/pg/dsn)
echo "-- messages of this run (times in each booking's zone, with the offset)"
psql "$dsn" -X -P pager=off -c "
  SELECT m.id, m.booking_id AS booking, m.step_id AS step, m.channel, m.status,
         to_char(m.scheduled_for AT TIME ZONE b.timezone, 'Dy ')
           || tidings.local_text(m.scheduled_for, b.timezone) AS scheduled_for,
         coalesce(m.provider_id, m.reason, '') AS detail
    FROM tidings.messages m JOIN tidings.bookings b USING (org_id, booking_id)
   WHERE m.org_id = 'demo' AND m.booking_id LIKE 'R$run-%'
   ORDER BY m.booking_id, m.scheduled_for, m.channel"
echo "-- Gerrit's course, ten days ahead: his Vorher sequence and the cross-sell (times in the booking's zone)"
psql "$dsn" -X -P pager=off -c "
  SELECT m.id, m.sequence_key AS sequence, m.step_id AS step, m.channel, m.status,
         to_char(m.scheduled_for AT TIME ZONE b.timezone, 'Dy ')
           || tidings.local_text(m.scheduled_for, b.timezone) AS scheduled_for,
         coalesce(m.reason, '') AS reason
    FROM tidings.messages m JOIN tidings.bookings b USING (org_id, booking_id)
   WHERE m.org_id = 'haff-segeln' AND m.booking_id = 'R$run-SKS-7'
   ORDER BY m.scheduled_for, m.sequence_key, m.channel"
echo "-- the outbox (var/outbox)"
ls -lt var/outbox | tail -n +2 | head -n 12
latest_eml=$(ls -t var/outbox/*.eml | head -n 1)
latest_sms=$(ls -t var/outbox/*.json | head -n 1)
echo "-- $latest_eml"
sed -n '1,/^--tidings-alternative-boundary--/p' "$latest_eml" | sed '/Content-Type: text\/html/,$d'
echo "-- $latest_sms"
cat "$latest_sms"
if [ $keep = 1 ]; then
  trap - EXIT
  echo; echo "engine still running (pid $engine); stop it with: kill $engine; scripts/pg-cluster.sh stop var/pg"
else
  echo; echo "stopping the engine (SIGTERM) and the cluster; run again with --keep-running to keep them"
fi
