#!/usr/bin/env bash
# Proves the Debian package on this machine (meant for a pristine Debian 12,
# a fresh container or VM, as root: bash scripts/test-package.sh):
# builds it, installs it with apt (which pulls its dependencies), checks what
# it put where, verifies the unit with systemd-analyze, then starts the engine
# exactly as the unit does (its ExecStartPre and ExecStart lines, as the
# tidings user, with NOTIFY_SOCKET), waits for READY=1, sends a signed booking
# through it, reloads it (SIGHUP) and stops it (SIGTERM). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "== $*"; }

step "1/6 build the package"
bash scripts/package.sh
deb=$(ls "$PWD"/build-deb/tidings_*.deb)

step "2/6 install it with apt"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$deb" >/dev/null
id tidings
unit=/usr/lib/systemd/system/tidings.service
test -f "$unit" && test -f /etc/tidings/tidings.ini && test -x /usr/bin/tidings
plugindir=$(pkg-config --variable=plugindir tidings-plugin)
test "$plugindir" = "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/tidings/plugins"
ls "$plugindir"
test -f /usr/include/tidings/plugin.h && test -f /usr/include/tidings/fake_host.h

step "3/6 the unit, as systemd reads it"
apt-get install -y -qq systemd >/dev/null
systemd-analyze verify "$unit"

step "4/6 a database and one organization"
bash scripts/deps.sh demo >/dev/null
pgdir=/var/tmp/tidings-package-pg
# whatever happens, nothing of the run stays behind
trap 'pkill -u tidings -x tidings 2>/dev/null || true; bash scripts/pg-cluster.sh destroy "$pgdir" >/dev/null 2>&1 || true' EXIT
TIDINGS_PG_PORT=55433 bash scripts/pg-cluster.sh fresh "$pgdir" >/dev/null
install -o root -g tidings -m 0640 "$pgdir/dsn-tcp" /etc/tidings/dsn
python3 -c "import base64,os;print('whsec_'+base64.b64encode(os.urandom(32)).decode())" >/etc/tidings/demo-secret
chown root:tidings /etc/tidings/demo-secret && chmod 0640 /etc/tidings/demo-secret
cat >/etc/tidings/conf.d/demo.ini <<'INI'
[org]
id = demo
name = Segelschule Demo
timezone = Europe/Berlin
locale = de

[trigger.webhook]
plugin = booking_webhook
secret = file:../demo-secret

[channel.email]
plugin = outbox
dir = /var/lib/tidings/outbox
from = Segelschule Demo <hallo@segelschule-demo.example>

[channel.sms]
plugin = outbox
dir = /var/lib/tidings/outbox
INI
runuser -u tidings -- /usr/bin/tidings -c /etc/tidings/tidings.ini migrate >/dev/null
runuser -u tidings -- /usr/bin/tidings -c /etc/tidings/tidings.ini sequences import --org demo \
  /usr/share/tidings/sql/seed/demo.json >/dev/null

step "5/6 start it as the unit does, wait for READY=1, send a booking"
sock=/run/tidings-notify.sock
rm -f "$sock"
python3 - "$sock" "$unit" <<'PY'
import json, os, signal, socket, subprocess, sys, time, urllib.request
sys.path.insert(0, "scripts")
import webhook_client
sock_path, unit = sys.argv[1], sys.argv[2]
lines = [l.split("=", 1) for l in open(unit).read().splitlines() if "=" in l and not l.startswith("#")]
pre = [v for k, v in lines if k == "ExecStartPre"]
start = [v for k, v in lines if k == "ExecStart"][0]
user = dict(lines)["User"]
# setpriv execs the command as the user (same process, as systemd's User= does), so signals
# reach the engine itself
as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
for cmd in pre:
    subprocess.run([*as_user, *cmd.split()], check=True, cwd="/var/lib/tidings")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
os.chmod(sock_path, 0o777)
s.settimeout(30)
env = dict(os.environ, NOTIFY_SOCKET=sock_path)
eng = subprocess.Popen([*as_user, *start.split()], env=env, cwd="/var/lib/tidings")
import atexit
atexit.register(lambda: eng.poll() is None and eng.kill())
def state():
    return dict(l.split("=", 1) for l in s.recv(4096).decode().splitlines())
assert state().get("READY") == "1", "no READY=1"
print("READY=1 received")
with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=5) as r:
    assert r.status == 200
start_at = time.strftime("%Y-%m-%dT10:00:00Z", time.gmtime(time.time() + 10 * 86400))
end_at = time.strftime("%Y-%m-%dT16:00:00Z", time.gmtime(time.time() + 10 * 86400))
booking = {"id": "PKG-1", "status": "confirmed", "start": start_at, "end": end_at,
           "timezone": "Europe/Berlin", "name": "Kurs",
           "customer": {"first_name": "Anna", "email": "anna@example.org"}}
status, answer, _ = webhook_client.post_booking("http://127.0.0.1:8080/v1/orgs/demo/bookings",
                                             webhook_client.load_secret("/etc/tidings/demo-secret"),
                                             booking)
assert status == 202, (status, answer)
for _ in range(100):
    if os.path.isdir("/var/lib/tidings/outbox") and os.listdir("/var/lib/tidings/outbox"):
        break
    time.sleep(0.1)
files = os.listdir("/var/lib/tidings/outbox")
assert files, "nothing in the outbox"
print("booking accepted; outbox:", sorted(files))
eng.send_signal(signal.SIGHUP)  # what ExecReload does
assert state().get("RELOADING") == "1"
assert state().get("READY") == "1"
print("reloaded")
eng.send_signal(signal.SIGTERM)
assert state().get("STOPPING") == "1"
assert eng.wait(timeout=60) == 0
print("stopped cleanly")
PY

step "6/6 clean up"
rm -f "$sock"
echo "package: ok"
