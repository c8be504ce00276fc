"""Integration-test harness: a fresh database in the test cluster, a
configuration folder, and a real `tidings run` process.

The ctest fixture "pg" starts the cluster (scripts/pg-cluster.sh) and CMake
passes its folder and the built binaries in the environment:
TIDINGS_BIN, TIDINGS_PLUGIN_DIR, TIDINGS_SOURCE_DIR, TIDINGS_PG_DIR.
"""
import base64
import glob
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zoneinfo

SOURCE_DIR = os.environ.get("TIDINGS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "scripts"))
import webhook_client  # noqa: E402  (scripts/ is the home of the client)

BIN = os.environ.get("TIDINGS_BIN", "tidings")
PLUGIN_DIR = os.environ.get("TIDINGS_PLUGIN_DIR", "")
PG_DIR = os.environ.get("TIDINGS_PG_DIR", "")


def cluster_dsn():
    with open(os.path.join(PG_DIR, "dsn"), encoding="utf-8") as f:
        return f.read().strip()


def psql(dsn, sql):
    """Runs SQL (only trusted test literals in it); returns rows as lists of
    strings."""
    cmd = ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-tAX", "-F", "\t"]
    if len(sql) < 100000:
        p = subprocess.run(cmd + ["-c", sql], capture_output=True, text=True)
    else:  # too long for an argument: through stdin
        p = subprocess.run(cmd + ["-f", "-"], input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"psql failed ({p.returncode}): {p.stderr.strip()}\nSQL: {sql[:2000]}")
    out = p.stdout

    return [line.split("\t") for line in out.splitlines() if line != ""]


def scalar(dsn, sql):
    rows = psql(dsn, sql)
    return rows[0][0] if rows else None


def local_text(epoch, tz="Europe/Berlin"):
    """An instant as the engine shows it to people: '2026-10-25 02:35 +02:00' in zone tz
    (computed here with zoneinfo, independently of the engine's SQL)."""
    t = dt.datetime.fromtimestamp(epoch, zoneinfo.ZoneInfo(tz))
    off = int(t.utcoffset().total_seconds()) // 60
    sign = "-" if off < 0 else "+"
    return f"{t:%Y-%m-%d %H:%M} {sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"


def new_secret():
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ---- time ----------------------------------------------------------------
# Every process of a test reads "now" from one source: the real clock, or a
# clock file of libfaketime (Debian's libfaketime, preloaded into the engine,
# the CLI and the PostgreSQL server). scripts/test.sh runs the timing-sensitive
# tests with the whole suite's clock set to fixed instants: it sets
# TIDINGS_TEST_FAKETIME (the library) and FAKETIME_TIMESTAMP_FILE, and every
# process this harness starts, and the suite's PostgreSQL cluster, read that
# file. This process itself is not preloaded (libfaketime mistranslates the
# absolute monotonic sleeps Python makes): it reads the same file through
# now(). A test that needs its own instants, or time that jumps, takes a
# Clock: a clock file of its own for its private PostgreSQL cluster, its
# engines and its CLI calls.

FAKETIME_LIB = (os.environ.get("TIDINGS_TEST_FAKETIME")
                or next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None))
FAKETIME_ENV = {"FAKETIME_DONT_FAKE_MONOTONIC": "1", "NO_FAKE_STAT": "1"}


def _clock_file_offset(path):
    """The offset in seconds a libfaketime clock file holds ('+3600', '-86400.5')."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return 0.0
    return float(text) if re.fullmatch(r"[+-]\d+(\.\d+)?", text) else 0.0


def suite_offset():
    """How far the suite's clock is ahead of the real one (0 without a suite clock)."""
    if not os.environ.get("TIDINGS_TEST_FAKETIME"):
        return 0.0
    return _clock_file_offset(os.environ.get("FAKETIME_TIMESTAMP_FILE", ""))


def now_ts():
    """The suite's "now", unix seconds: what the engines and PostgreSQL read."""
    return time.time() + suite_offset()


def now():
    """The suite's "now" as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(now_ts(), dt.timezone.utc)


def child_env(extra=None):
    """The environment for a process the tests start: on the suite's clock
    (libfaketime preloaded) when there is one, plus extra."""
    env = dict(os.environ)
    if os.environ.get("TIDINGS_TEST_FAKETIME"):
        env.update(FAKETIME_ENV, LD_PRELOAD=os.environ["TIDINGS_TEST_FAKETIME"])
        if "asan" in os.environ.get("TIDINGS_BUILD_KIND", ""):
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    env.update(extra or {})
    return env


# Signatures made here carry the suite's time, as a sender's clock would.
webhook_client.clock = now_ts


def utc(text):
    """An aware UTC datetime from '2026-10-25T00:30:00Z'-style text."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


class Cluster:
    """A PostgreSQL cluster of its own, in a scratch folder that goes with it
    (scripts/pg-cluster.sh does the work): for tests that restart PostgreSQL
    or set its clock, and for the benchmarks. dsn reaches its database
    "tidings"; env (optional) is added to the server's environment."""

    SCRIPT = os.path.join(SOURCE_DIR, "scripts", "pg-cluster.sh")

    def __init__(self, prefix="tidings-pg-", env=None):
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o755)
        self.dir = os.path.join(self.work, "pg")
        self.clock = None
        self.dsn = None
        self._env = dict(os.environ, **(env or {}))

    def start(self, options="-c fsync=off", tcp_port=None):
        """Creates and starts the cluster with extra server options; returns its DSN
        (the Unix socket). With tcp_port it also listens on 127.0.0.1 there:
        dsn_tcp reaches it over TCP."""
        self._env["TIDINGS_PG_OPTIONS"] = options
        if tcp_port:
            self._env["TIDINGS_PG_PORT"] = str(tcp_port)
        out = subprocess.run([self.SCRIPT, "start", self.dir], check=True, capture_output=True,
                             text=True, env=self._env).stdout
        self.dsn = out.strip().splitlines()[-1]
        self.dsn_tcp = None
        if tcp_port:
            with open(os.path.join(self.dir, "dsn-tcp"), encoding="utf-8") as f:
                self.dsn_tcp = f.read().strip()
        return self.dsn

    def server_pids(self):
        """The postmaster and every process it started (backends, writers)."""
        data = os.path.join(self.dir, "data")
        with open(os.path.join(os.path.realpath(data), "postmaster.pid"), encoding="utf-8") as f:
            master = int(f.readline())
        pids = [master]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                            pids.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        return pids

    def restart(self):
        """Stops the server fast (connections are cut) and starts it again."""
        subprocess.run([self.SCRIPT, "restart", self.dir], check=True, capture_output=True,
                       env=self._env)

    def destroy(self):
        subprocess.run([self.SCRIPT, "destroy", self.dir], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


class Clock:
    """A clock a test sets: a private PostgreSQL cluster, and every engine and
    CLI call of a Setup made with clock=, read "now" from this clock's file.
    set() and advance() move it for all of them at once (they re-read the
    file at every clock call). now() is that time, here."""

    def __init__(self, instant):
        if not FAKETIME_LIB:
            raise unittest.SkipTest("libfaketime is not installed (scripts/deps.sh test installs it)")
        self.dir = tempfile.mkdtemp(prefix="tidings-clock-")
        os.chmod(self.dir, 0o755)  # the cluster's server runs as postgres and reads the file
        self.path = os.path.join(self.dir, "now")
        self.offset = 0.0
        self.set(instant)
        # every clock call re-reads the file: a move is seen at once
        clock = dict(FAKETIME_ENV, FAKETIME_TIMESTAMP_FILE=self.path, FAKETIME_NO_CACHE="1")
        self.env = dict(clock, LD_PRELOAD=FAKETIME_LIB)
        if "asan" in os.environ.get("TIDINGS_BUILD_KIND", ""):
            self.env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        self.cluster = Cluster("tidings-clock-pg-", env=dict(clock, TIDINGS_TEST_FAKETIME=FAKETIME_LIB))
        self.dsn = self.cluster.start()

    def now(self):
        """This clock's time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(time.time() + self.offset, dt.timezone.utc)

    def set(self, when):
        """Moves the clock to when (an aware datetime, behind the real clock: a clock that
        libfaketime sets ahead stops PostgreSQL's own timers, statement_timeout and deadlock
        detection) for every process reading it."""
        if when.timestamp() > time.time():
            raise ValueError(f"{when} is ahead of the real clock; choose an instant in the past")
        self.offset = when.timestamp() - time.time()
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{self.offset:+.3f}\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)

    def advance(self, seconds):
        self.set(self.now() + dt.timedelta(seconds=seconds))

    def destroy(self):
        self.cluster.destroy()
        shutil.rmtree(self.dir, ignore_errors=True)


class Database:
    """A database of its own for one test class, dropped at the end: in the
    suite's cluster, or in a Clock's."""

    def __init__(self, clock=None):
        base = clock.dsn if clock else cluster_dsn()
        self.clock = clock
        self.name = "t_" + uuid.uuid4().hex[:12]
        admin = re.sub(r"dbname=\S+", "dbname=postgres", base)
        psql(admin, f"CREATE DATABASE {self.name}")
        self.admin = admin
        self.dsn = re.sub(r"dbname=\S+", f"dbname={self.name}", base)

    def drop(self):
        psql(self.admin, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Setup:
    """A folder with tidings.ini and conf.d/<org>.ini files, one webhook
    secret and one outbox folder per organization."""

    def __init__(self, db, orgs=("acme",), batch=100, extra_engine="", channels=("email", "sms"),
                 workers=2, lease=60, listen="127.0.0.1:0"):
        self.dir = tempfile.mkdtemp(prefix="tidings-it-")
        self.db = db
        self.clock = getattr(db, "clock", None)
        self.env = dict(os.environ, **self.clock.env) if self.clock else child_env()
        self.secrets = {}
        self.outbox = {}
        os.makedirs(os.path.join(self.dir, "conf.d"))
        self.write("dsn", db.dsn + "\n")
        self.write("tidings.ini",
                   "[database]\ndsn = file:dsn\npool = 8\n"
                   f"[http]\nlisten = {listen}\nmax_body = 65536\n"
                   f"[plugins]\npath = {PLUGIN_DIR}\n"
                   "[orgs]\ndir = conf.d\n"
                   f"[dispatch]\nrecheck = 2\nbatch = {batch}\nworkers = {workers}\nlease = {lease}\n"
                   "[log]\nlevel = debug\n" + extra_engine)
        for org in orgs:
            self.add_org(org, channels=channels)


    def add_org(self, org, timezone="Europe/Berlin", channels=("email", "sms")):
        self.secrets[org] = new_secret()
        self.outbox[org] = os.path.join(self.dir, "outbox", org)
        self.write(f"secret-{org}", self.secrets[org] + "\n")
        text = (f"[org]\nid = {org}\nname = {org.title()} Segelschule\n"
                f"timezone = {timezone}\nlocale = de\n\n"
                f"[trigger.webhook]\nplugin = booking_webhook\nsecret = file:../secret-{org}\n\n")
        for ch in channels:
            text += f"[channel.{ch}]\nplugin = outbox\ndir = ../outbox/{org}\n"
            if ch == "email":
                text += "from = Test <test@example.org>\n"
        self.write(f"conf.d/{org}.ini", text)


    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w", encoding="utf-8") as f:
            f.write(text)

    @property
    def config(self):
        return os.path.join(self.dir, "tidings.ini")

    def cli(self, *args, check=True):
        """Runs `tidings -c <config> args...`; returns the CompletedProcess."""
        p = subprocess.run([BIN, "-c", self.config, *args], capture_output=True, text=True, timeout=60,
                           env=self.env)
        if check and p.returncode != 0:
            raise AssertionError(f"tidings {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def outbox_files(self, org):
        d = self.outbox[org]
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def read_outbox(self, org, name):
        with open(os.path.join(self.outbox[org], name), encoding="utf-8") as f:
            return f.read()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Engine:
    """A running `tidings run`; its log goes to a file in the setup folder."""

    def __init__(self, setup):
        self.setup = setup
        self.log_path = os.path.join(setup.dir, f"engine-{uuid.uuid4().hex[:6]}.log")
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen([BIN, "-c", setup.config, "run"], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=setup.env)
        self.port = wait_until(self._port, timeout=15, what="the engine to listen")
        self.base = f"http://127.0.0.1:{self.port}"

    def _port(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"engine exited with {self.proc.returncode}:\n{self.log_text()}")
        m = re.search(r"listening on \S+ \(port (\d+)\)", self.log_text())
        return int(m.group(1)) if m else None

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def url(self, org):
        return f"{self.base}/v1/orgs/{org}/bookings"

    def post(self, org, booking, secret=None, **kw):
        secret = secret or self.setup.secrets[org]
        if "timestamp" not in kw:
            kw["timestamp"] = int(self.setup.clock.now().timestamp() if self.setup.clock else now_ts())
        return webhook_client.post_booking(self.url(org), secret, booking, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("engine did not stop within %ss" % timeout)
        self.log.close()
        return self.proc.returncode


def close_class(engine, setup, db, fake=None):
    """Ends a test class: stops the engine (and the fake provider), removes
    the set-up and drops the database, then asserts the engine exited cleanly
    (under ASan a leak or memory error changes its exit code). Returns the
    engine's log for further checks."""
    code = engine.stop()
    log = engine.log_text()
    if fake:
        fake.stop()
    setup.remove()
    db.drop()
    if getattr(db, "clock", None):
        db.clock.destroy()
    assert code == 0, f"engine exited with {code}:\n{log[-4000:]}"
    return log


def booking(booking_id="B-1", days_ahead=3, hours=6, status="confirmed", now=None, **extra):
    """A booking document starting days_ahead from now (the suite's clock, or the
    aware datetime now) in whole minutes, UTC."""
    now = int(now.timestamp() if now else now_ts()) // 60 * 60
    start = now + days_ahead * 86400
    doc = {
        "id": booking_id,
        "status": status,
        "subtype": "class_enrollment",
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + hours * 3600)),
        "name": "SKS Praxis",
        "location": "Hafen Ueckermünde",
        "customer": {"first_name": "Anna", "last_name": "Berg", "email": "anna@example.org",
                     "phone": "+491711234567", "consent": {"sms": True}},

        "data": {"boat": "Hansa 2"},
    }
    doc.update(extra)
    return doc


def dumps(obj):
    return json.dumps(obj).encode()


def make_due_now(dsn, where):
    """Makes the scheduled rows matching where due at once and wakes the engine."""
    psql(dsn, f"UPDATE tidings.messages SET scheduled_for = now() WHERE status = 'scheduled' AND {where}")
    psql(dsn, "NOTIFY tidings_due")


def message_key(dsn, org, message_id):
    """The idempotency key (and Infobip messageId) the engine gives a message: it carries the
    database's identity, so no other database ever repeats it."""
    return f"td-{scalar(dsn, 'SELECT id FROM tidings.installation')}-{org}-{message_id}"


def rows(dsn, booking_id, columns="sequence_key, step_id, channel, status"):
    return psql(dsn, f"SELECT {columns} FROM tidings.messages WHERE booking_id = '{booking_id}' "
                     "ORDER BY sequence_key, scheduled_for, step_id, channel")


def resend_org(setup, org, fake, policy="", extra=""):
    """Adds org whose e-mail goes to the fake provider through resend.so."""
    setup.secrets[org] = new_secret()
    setup.write(f"secret-{org}", setup.secrets[org] + "\n")
    setup.write(f"resend-key-{org}", fake.resend_key + "\n")
    setup.write(f"conf.d/{org}.ini",
                f"[org]\nid = {org}\nname = {org.title()} Segelschule\ntimezone = Europe/Berlin\n\n"
                f"[trigger.webhook]\nplugin = booking_webhook\nsecret = file:../secret-{org}\n\n"
                "[channel.email]\nplugin = resend\n"
                f"api_key = file:../resend-key-{org}\nfrom = {org.title()} <hallo@{org}.example>\n"
                f"base_url = {fake.url}\n{policy}\n{extra}")


def seed_messages(dsn, org, n, due="now()", channel="email", template="t_email", prefix="M",
                  deadline="NULL", email="'u' || g || '@example.org'", phone="'+491711234567'",
                  fallback=None):
    """Writes n bookings with one due message each, straight into the tables (for the
    dispatcher's tests: how rows got there is not what they test)."""
    psql(dsn, f"""
        INSERT INTO tidings.bookings (org_id, booking_id, status, starts_at, timezone, doc, event_id,
                                      customer_key)
        SELECT '{org}', '{prefix}' || g, 'confirmed', now() + interval '10 days', 'Europe/Berlin',
               jsonb_build_object('id', '{prefix}' || g, 'status', 'confirmed', 'name', 'Kurs',
                                  'customer', jsonb_build_object('first_name', 'Anna',
                                  'email', {email}, 'phone', {phone},


                                  'consent', jsonb_build_object('sms', true))),
               0, 'u' || g || '@example.org'
          FROM generate_series(1, {n}) g
        ON CONFLICT DO NOTHING;
        INSERT INTO tidings.messages (org_id, booking_id, sequence_key, step_id, channel,
                                      template_key, scheduled_for, deadline, event_id, timing,
                                      fallback)
        SELECT '{org}', '{prefix}' || g, 'bulk', 's1', '{channel}', '{template}', {due},
               {deadline}, 0, '{{"anchor": "trigger"}}',
               {"NULL" if fallback is None else "'" + json.dumps(fallback) + "'::jsonb"}
          FROM generate_series(1, {n}) g;
        NOTIFY tidings_due;""")


def import_templates(setup, org):
    """The templates seed_messages refers to."""
    doc = {"templates": [
        {"key": "t_email", "channel": "email", "subject": "Hallo {{firstName}}",
         "text": "Bis bald, {{firstName}}!", "html": "<p>Bis bald, {{firstName}}!</p>"},
        {"key": "t_sms", "channel": "sms", "text": "Hallo {{firstName}}"}]}
    setup.write("templates.json", json.dumps(doc))
    setup.cli("sequences", "import", "--org", org, os.path.join(setup.dir, "templates.json"))


def counts_by_status(dsn, org=None):
    where = f"WHERE org_id = '{org}'" if org else ""
    return {r[0]: int(r[1]) for r in psql(dsn, f"SELECT status, count(*) FROM tidings.messages {where} GROUP BY 1")}


def callback_path(secret, org, channel):
    """The engine's callback path for a channel (HMAC of the callback secret)."""
    import hashlib
    import hmac as _hmac
    token = _hmac.new(secret.encode(), f"callback/{org}/{channel}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"/v1/callbacks/{org}/{channel}/{token}"


def callback_token(secret, org, channel):
    """The last segment of callback_path: the credential of a channel's callback route."""
    return callback_path(secret, org, channel).rsplit("/", 1)[1]


def signed_token(secret, payload):
    """A token as the engine signs one (core/render/sign.c): base64url(payload) "." the first 22
    characters of base64url(HMAC-SHA256(secret, payload)), no padding."""
    import hashlib
    import hmac as _hmac

    def b64(raw):
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    mac = _hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return b64(payload.encode()) + "." + b64(mac)[:22]


def token_payload(token):
    """The payload a signed token carries (readable by anyone: only its signature is secret)."""
    part = token.split(".", 1)[0]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def base64_forms(text):
    """What base64url of text looks like inside any longer encoded payload: the characters
    that depend on text alone, at each of the three byte alignments."""
    forms = []
    for pad in range(3):
        enc = base64.urlsafe_b64encode(b"\0" * pad + text.encode()).decode().rstrip("=")
        forms.append(enc[4 if pad else 0:-4])
    return forms


def svix_headers(secret, body, msg_id=None, timestamp=None):
    """Headers Resend (Svix) signs a webhook with."""
    h = webhook_client.headers_for(secret, body, webhook_id=msg_id, timestamp=timestamp)
    return {"svix-id": h["webhook-id"], "svix-timestamp": h["webhook-timestamp"],
            "svix-signature": h["webhook-signature"], "content-type": "application/json"}
