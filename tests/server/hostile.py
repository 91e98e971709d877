#!/usr/bin/env python3
"""Hostile input against a real `sbengine serve` (tests/cli/server_hostile.sh).

Usage: hostile.py PORT TOKEN
Prints one line per check; exit 1 when any fails. Raw sockets, so that the bytes sent are
exactly the hostile ones (no client library fixing them up)."""
import json
import socket
import sys
import time

PORT = int(sys.argv[1])
TOKEN = sys.argv[2]
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures += 1


def connect(timeout=30):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    return s


def read_reply(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:n]


def request(method, path, body=b"", headers=None, auth=True):
    s = connect()
    h = {"Host": "127.0.0.1", "Content-Length": str(len(body)), "Connection": "close"}
    if auth:
        h["Authorization"] = "JWT " + TOKEN
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    try:
        s.sendall(head.encode() + body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before taking a large body
    try:
        return read_reply(s)
    finally:
        s.close()


def result(**over):
    r = {"model": "M", "task": "Image Classification", "dataset_name": "Hostile",
         "results": {"Top 1 Accuracy": 0.5}, "idempotency_key": "k-" + str(time.time())}
    r.update(over)
    return r


# 10 MB bodies: refused on Content-Length before the body is read, and when chunked.
big = b'{"model": "' + b"x" * (10 << 20) + b'"}'
status, _, body = request("POST", "/api/v0/results/", big, {"Idempotency-Key": "big"})
check("10 MB body (Content-Length) -> 413", status == 413, f"{status} {body[:200]!r}")

s = connect()
s.sendall(b"POST /api/v0/results/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          b"Authorization: JWT " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n")
try:
    for _ in range(10):
        s.sendall(b"100000\r\n" + b"x" * 0x100000 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
status, _, body = read_reply(s)
s.close()
check("10 MB chunked body -> 413", status == 413, f"{status} {body[:200]!r}")

# Invalid UTF-8, deep nesting, NaN, overflowing numbers, wrong shapes: 400 with a reason.
bad_utf8 = json.dumps(result()).encode().replace(b'"M"', b'"M\xff\xfe"')
status, _, body = request("POST", "/api/v0/results/", bad_utf8)
check("invalid UTF-8 -> 400", status == 400 and b"not valid JSON" in body, f"{status} {body!r}")

deep = b"[" * 100000 + b"]" * 100000
status, _, body = request("POST", "/api/v0/check/results/", deep)
check("100,000 levels of nesting -> 400", status == 400 and b"nested deeper" in body, f"{status} {body!r}")

for name, text in [("NaN", b'{"results": {"a": NaN}}'), ("1e999", b'{"results": {"a": 1e999}}'),
                   ("duplicate keys", b'{"model": "a", "model": "b"}'), ("not JSON", b"<xml/>")]:
    status, _, body = request("POST", "/api/v0/results/", text, {"Idempotency-Key": "x"})
    check(f"{name} -> 400", status == 400, f"{status} {body!r}")

status, _, body = request("POST", "/api/v0/results/", json.dumps(result(results={"a": "high"})).encode())
check("a metric that is a string -> 400 naming it",
      status == 400 and b"'a' must be a finite number" in body, f"{status} {body!r}")
status, _, body = request("POST", "/api/v0/results/", json.dumps([1, 2]).encode(), {"Idempotency-Key": "y"})
check("a list instead of a result -> 400", status == 400, f"{status} {body!r}")
status, _, body = request("GET", "/api/v0/check/get_results_by_hash/?run_hash=%27%20OR%201=1--", auth=False)
check("SQL in a query parameter -> 400", status == 400, f"{status} {body!r}")
status, _, body = request("GET", "/b/%27%20OR%201=1--/x", auth=False)
check("SQL in a page path -> 404", status == 404, f"{status} {body!r}")
status, _, body = request("GET", "/b/MNIST/<script>alert(1)</script>", auth=False)
check("a script in a page path is not echoed", b"<script>" not in body, f"{status} {body!r}")
status, _, body = request("POST", "/api/v0/results/", b'{"model": 1}', {"Authorization": "JWT ' OR '1'='1"}, auth=False)
check("SQL in the token -> 401", status == 401, f"{status} {body!r}")

# Slow clients: 20 connections that send half a request and stop do not stop others, and the
# server closes them after its idle time-out (the test runs it with --timeout 1).
slow = []
for _ in range(20):
    c = connect()
    c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    slow.append(c)
status, _, _ = request("GET", "/api/v0/benchmarks/", auth=False)
check("a request is served while 20 slow clients hang", status == 200, str(status))
closed = 0
for c in slow:
    try:
        if c.recv(1024) == b"":
            closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
    c.close()
check("the server closes connections that stop sending", closed == 20, f"{closed} of 20 closed")

status, _, _ = request("GET", "/api/v0/benchmarks/", auth=False)
check("the server still answers after all this", status == 200, str(status))
sys.exit(1 if failures else 0)
