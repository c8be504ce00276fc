#!/usr/bin/env python3
"""Sign and post bookings to a Tidings booking webhook (Standard Webhooks).

usage: webhook_client.py URL SECRET_FILE BOOKING.json [BOOKING.json ...]
       webhook_client.py URL SECRET_FILE -     (one JSON booking per line on stdin)

Prints one line per booking: the HTTP status and the answer. Exits 1 when any
booking was not accepted (2xx). Also importable: sign() and post() are used by
the tests and benchmarks.
"""
import base64
import hashlib
import hmac
import http.client
import json
import sys
import time
import urllib.parse
import uuid


# Where signatures take their timestamp from (tests point it at their clock).
clock = time.time


def load_secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def sign(secret, webhook_id, timestamp, body):
    """Returns the webhook-signature value for body (bytes)."""
    if not secret.startswith("whsec_"):
        raise ValueError("secret must start with whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(secret, body, webhook_id=None, timestamp=None):
    webhook_id = webhook_id or "msg_" + uuid.uuid4().hex
    timestamp = str(int(clock()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def post(url, body, headers, timeout=10):
    """POSTs body (bytes); returns (status, parsed JSON or text, headers)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request("POST", u.path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = raw.decode(errors="replace")
        return resp.status, answer, dict(resp.getheaders())
    finally:
        conn.close()


def post_booking(url, secret, booking, **kw):
    body = json.dumps(booking).encode()
    return post(url, body, headers_for(secret, body, **kw))


def main(argv):
    if len(argv) < 4 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    url, secret = argv[1], load_secret(argv[2])
    if argv[3] == "-":
        bookings = [json.loads(line) for line in sys.stdin if line.strip()]
    else:
        bookings = []
        for path in argv[3:]:
            with open(path, encoding="utf-8") as f:
                bookings.append(json.load(f))
    failed = 0
    for b in bookings:
        status, answer, _ = post_booking(url, secret, b)
        print(f"{b.get('id', '?')}: HTTP {status} {json.dumps(answer, ensure_ascii=False)}")
        if status // 100 != 2:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
