"""A fake Resend + Infobip provider for the integration tests (stdlib only).

Starts tests/fake_provider's binary on a free port of 127.0.0.1 and drives its
control API. The binary's path comes from FAKE_PROVIDER_BIN (default: under
ctest, the build TIDINGS_PLUGIN_DIR belongs to; else the normal build's).
Typical use:

    with FakeProvider() as fake:
        fake.fault("/emails", "status", status=429, retry_after=2)
        ... point the engine at fake.url, send ...
        stats = fake.wait_for(lambda s: s["accepted"] >= 3, timeout=10)
        records = fake.messages()

Control API (what the methods call):
    POST /_control/faults    {"path","mode","count"?,"to"?,"probability"?,"status"?,
                              "retry_after"?,"delay_ms"?,"hold_key"?,"body"?}
                             (or an array of them)
        path: exact, "*" (any provider path) or a prefix ending in "*" ("/sms/*")
        mode: "status" (status, default 500; retry_after; body overrides the error body),
              "slow" (delay_ms 0..600000, default 1000, then normal handling: what the
              request sends is accepted only after the delay, even when the client has
              given up by then; with hold_key=true a Resend send claims its
              Idempotency-Key before the delay, so a second request with that key
              meanwhile gets 409 concurrent_idempotent_requests),
              "drop" (connection closed, no answer, nothing accepted),
              "reject" (Infobip: 200 with status REJECTED_DESTINATION; Resend: 422),
              "accept_drop" (handled exactly as without a fault: accepted, recorded,
              counted, the Resend Idempotency-Key remembered with its answer, the Infobip
              messageId noted; then the connection is closed without the answer)
        count: requests it applies to (default 1; -1 until reset); to: only requests
        naming this recipient in a "to" field; probability: 0..1 (default 1), the share
        of matching requests the fault takes.
        How faults combine: a request that meets matching faults draws one number u in
        [0, 1) and walks them in the order they were queued, adding up their
        probabilities; the first whose running sum exceeds u applies (and loses one use).
        So [500 at 0.2, 429 at 0.1, accept_drop at 0.2] on one path, each count -1, gives
        20 % 500, 10 % 429, 20 % accept_drop and 50 % normal answers; with probability 1
        the first matching fault applies. FakeProvider(seed=N) (--seed N) makes the draws
        the same in every run, restarted at each reset.
    GET  /_control/faults    {"faults":[...]}
    POST /_control/reset     forget records, counters, SMS logs, faults and idempotency
                             keys; settings back to their defaults
    GET  /_control/stats     {"requests":{path:n},"by_status":{"200":n},"accepted",
                              "unique_keys","duplicates","rejected","dropped",
                              "in_flight","in_flight_max","records"}
                             (dropped: connections closed without an answer, by "drop"
                             and by "accept_drop")
    GET  /_control/accepted  {"email":{key:n},"sms":{key:n},"whatsapp":{key:n},
                              "accept_drops":{"email":n,"sms":n,"whatsapp":n}}
        n: how many times a message with that key was accepted (a duplicate accepted
        twice: 2; Resend replays and rejected messages do not count). The key: e-mail:
        the request's Idempotency-Key on POST /emails, else the value of the e-mail's tag
        "idempotency_key" (the way to give each item of a batch its own key), else the
        e-mail id; SMS and WhatsApp: the messageId (the generated one when the client
        gave none). accept_drops: accepted messages whose answer an accept_drop fault
        lost (a batch of 3 counts 3).
    GET  /_control/settings  {"infobip_dedup":false}
    POST /_control/settings  {"infobip_dedup":true}: a messageId accepted before on the
                             same channel (SMS or WhatsApp) is answered with status
                             REJECTED_DUPLICATE_MESSAGE_ID (groupId 5 REJECTED, id 23) and
                             not accepted again (stats: rejected and duplicates). Default
                             false, like a real account: it is accepted again.
    GET  /_control/messages?since=K&limit=N   {"messages":[...],"next":K2,"total":N}
    POST /_control/send      {"url","body","headers"?,"method"?,"timeout_ms"?}
                             -> {"status":N,"body":"..."} ({"status":0,"error":...})

Provider endpoints beyond the sends: GET /sms/3/logs (Authorization: App <key>) answers
{"results":[...]} from the SMS the fake accepted (v3 and v2), newest first, each with
messageId, destination, sender, bulkId, sentAt, messageCount, status (PENDING_ACCEPTED),
error (NO_ERROR), content.text, and platform / campaignReferenceId when sent; filters
messageId and bulkId (comma-separated or repeated), destination, sender, generalStatus,
limit (1..1000, default 50).
"""
import http.client
import json
import os
import select
import signal
import subprocess
import time
import unittest
import urllib.parse

DEFAULT_BIN = "/work/main/build/tests/fake_provider/fake_provider"


def default_binary():
    """FAKE_PROVIDER_BIN; else the build that TIDINGS_PLUGIN_DIR (<build>/plugins, set by
    ctest) belongs to; else the normal build's."""
    if os.environ.get("FAKE_PROVIDER_BIN"):
        return os.environ["FAKE_PROVIDER_BIN"]
    plugin_dir = os.environ.get("TIDINGS_PLUGIN_DIR")
    if plugin_dir:
        candidate = os.path.join(os.path.dirname(os.path.abspath(plugin_dir)), "tests",
                                 "fake_provider", "fake_provider")
        if os.path.exists(candidate):
            return candidate
    return DEFAULT_BIN


class Response:
    """An HTTP answer: .status, .headers (lower-case names), .body (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Response({self.status}, {self.body[:200]!r})"


class FakeProvider:
    """One running fake_provider process."""

    def __init__(self, resend_key="re_test_key", infobip_key="ib_test_key", port=0, threads=None,
                 binary=None, start_timeout=10.0, seed=None):
        self.resend_key = resend_key
        self.infobip_key = infobip_key
        self.binary = binary or default_binary()
        cmd = [self.binary, "--port", str(port), "--resend-key", resend_key,
               "--infobip-key", infobip_key]
        if threads:
            cmd += ["--threads", str(threads)]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        # stderr is inherited: sanitizer reports show up in the test's output.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.returncode = None
        try:
            line = self._read_line(start_timeout)
            prefix = "fake_provider listening on 127.0.0.1:"
            if not line.startswith(prefix):
                raise RuntimeError(f"fake_provider did not start: {line!r}")
            self.port = int(line[len(prefix):])
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            raise
        self.host = "127.0.0.1"
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        data = b""
        fd = self.proc.stdout.fileno()
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("fake_provider did not print its port in time")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 256)
            if not chunk:
                raise RuntimeError(f"fake_provider exited: {self.proc.wait()}, said {data!r}")
            data += chunk
        return data.decode().strip()

    # --- plain HTTP -------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        """Sends one request on a fresh connection. body: dict/list (sent as JSON), str or
        bytes. Returns a Response."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def resend(self, path, body, key=None, idempotency_key=None, headers=None):
        """POSTs to a Resend endpoint with the key and a User-Agent."""
        h = {"Authorization": f"Bearer {self.resend_key if key is None else key}",
             "User-Agent": "tidings-tests/1.0"}
        if idempotency_key is not None:
            h["Idempotency-Key"] = idempotency_key
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def infobip(self, path, body, key=None, headers=None):
        """POSTs to an Infobip endpoint with the "App" key."""
        h = {"Authorization": f"App {self.infobip_key if key is None else key}"}
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def sms_logs(self, message_ids=None, limit=None, key=None, **filters):
        """GET /sms/3/logs; message_ids: a list (sent comma-separated) or a string. Returns the
        Response."""
        query = dict(filters)
        if message_ids is not None:
            query["messageId"] = (message_ids if isinstance(message_ids, str)
                                  else ",".join(message_ids))
        if limit is not None:
            query["limit"] = str(limit)
        path = "/sms/3/logs"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return self.request("GET", path, None,
                            {"Authorization": f"App {self.infobip_key if key is None else key}"})

    def _control(self, method, path, body=None):
        r = self.request(method, "/_control/" + path, body)
        if r.status != 200:
            raise RuntimeError(f"control {method} {path}: {r.status} {r.body!r}")
        return r.json()

    # --- control API ------------------------------------------------------------------------

    def fault(self, path=None, mode=None, **kw):
        """Queues a fault: fault("/emails", "status", status=429, retry_after=1, count=2),
        fault(path="/sms/3/messages", mode="reject", to="4917..."). Returns the queue."""
        spec = dict(kw)
        if path is not None:
            spec["path"] = path
        if mode is not None:
            spec["mode"] = mode
        return self._control("POST", "faults", spec)

    def faults(self):
        """The queued faults."""
        return self._control("GET", "faults")["faults"]

    def reset(self):
        """Forgets records, counters, faults and idempotency keys."""
        return self._control("POST", "reset", {})

    def stats(self):
        return self._control("GET", "stats")

    def accepted(self):
        """{"email":{key:n},"sms":{...},"whatsapp":{...},"accept_drops":{channel:n}}."""
        return self._control("GET", "accepted")

    def settings(self, **changes):
        """The settings ({"infobip_dedup": bool}); with arguments, changes them first:
        settings(infobip_dedup=True)."""
        if changes:
            return self._control("POST", "settings", changes)
        return self._control("GET", "settings")

    def messages(self, since=0, endpoint=None):
        """All records from index since on (optionally only one endpoint's)."""
        out = []
        while True:
            page = self._control("GET", f"messages?since={since}")
            out += page["messages"]
            if page["next"] >= page["total"] or not page["messages"]:
                break
            since = page["next"]
        if endpoint is not None:
            out = [m for m in out if m["endpoint"] == endpoint]
        return out

    def send(self, url, body, headers=None, method="POST", timeout_ms=None):
        """Makes the fake deliver body (dict/list: JSON; str: exact text) to url, like a
        provider webhook. Returns {"status": N, "body": "..."} ({"status": 0, "error"} when
        the URL did not answer)."""
        spec = {"url": url, "body": body, "method": method}
        if headers:
            spec["headers"] = headers
        if timeout_ms:
            spec["timeout_ms"] = timeout_ms
        return self._control("POST", "send", spec)

    def wait_for(self, predicate, timeout=10.0, interval=0.02):
        """Polls the stats until predicate(stats) is true; returns them. AssertionError on
        timeout (with the last stats)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s; last stats: {stats}")
            time.sleep(interval)

    # --- lifetime ---------------------------------------------------------------------------

    def stop(self, timeout=15.0):
        """SIGTERM, wait; returns the exit code (0 for a clean stop). Safe to call twice."""
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
            self.proc.stdout.close()
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class FakeProviderCase(unittest.TestCase):
    """A test class with one fake provider for all its tests, reset before
    each and required to exit cleanly at the end."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProvider()

    @classmethod
    def tearDownClass(cls):
        rc = cls.fake.stop()
        assert rc == 0, f"fake_provider exited with {rc}"

    def setUp(self):
        self.fake.reset()
