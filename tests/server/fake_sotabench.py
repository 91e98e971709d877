#!/usr/bin/env python3
"""The one fake HTTP server of the tests, on 127.0.0.1: a sotabench results server for the
end-to-end tests (tests/cli/results_*.sh, bench_cache.sh) and, with --files, a file server
for the download specs (tests/lua/data_download_spec.lua).

Serves the API of docs/server-api.md on 127.0.0.1, records every request, keeps submitted
results by idempotency key (a repeated key is acknowledged, never stored twice) and can be
told to misbehave, one planned behaviour per API request:

  ok            normal answer
  500 502 503   that status (nothing stored)
  401 403 404   that status
  400           {"errors": ["model: not a known model"]}
  429:N         429 with Retry-After: N
  hang          sleep 30 s before answering (the client times out)
  drop          store the result, then close the connection without answering
  drop-before   close the connection without answering, nothing stored
  badjson       store the result, answer 200 with a body that is not JSON
  bare          check/get_results_by_hash/ answers sotabench's bare {metric: value} dict
  reject        check/results/ answers 200 with sotabench's {"response": {"errors": [...]}}
A trailing "*" repeats the behaviour forever; once the plan is used up, requests get "ok".

With --files ROOT, a GET of any path that is not the API's serves the file under ROOT (a
404 when there is none); under /drop/NAME it sends ROOT/NAME's headers and half of its body,
then closes the connection (a dropped download). File requests are not planned or recorded.

Server:   fake_sotabench.py serve --port-file FILE [--token TOKEN] [--tls CERT KEY]
                                  [--files ROOT]
Control:  fake_sotabench.py plan PORT '500,ok' | state PORT | reset PORT
          fake_sotabench.py verify PORT STORE_FILE   (exit 0 when the server holds every
          result of STORE_FILE exactly once, and nothing else; says what differs otherwise)
(control requests go to /_control/... and are not planned or recorded)
"""
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"plan": [], "requests": [], "results": {}, "creates": {}}
TOKEN = None
FILES = None
API_PATHS = {"/results/", "/check/results/", "/check/get_results_by_hash/", "/check/run-hashes/"}


def next_behaviour():
    with LOCK:
        plan = STATE["plan"]
        if not plan:
            return "ok"
        b = plan[0]
        if b.endswith("*"):
            return b[:-1]
        plan.pop(0)
        return b


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj=None, raw=None, headers=()):
        body = raw if raw is not None else json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def control(self, raw):
        path = self.path
        if path == "/_control/plan":
            with LOCK:
                STATE["plan"] = json.loads(raw)
            return self.reply(200, {"ok": True})
        if path == "/_control/reset":
            with LOCK:
                STATE.update(plan=[], requests=[], results={}, creates={})
            return self.reply(200, {"ok": True})
        if path == "/_control/state":
            with LOCK:
                return self.reply(200, {k: STATE[k] for k in ("requests", "results", "creates")})
        return self.reply(404, {"message": "no such control"})

    def store(self, raw):
        """Stores a submitted result; returns (created, id)."""
        result = json.loads(raw)
        key = result.get("idempotency_key") or self.headers.get("Idempotency-Key")
        with LOCK:
            if key in STATE["results"]:
                return False, list(STATE["results"]).index(key) + 1
            STATE["results"][key] = result
            STATE["creates"][key] = STATE["creates"].get(key, 0) + 1
            return True, len(STATE["results"])

    def handle_api(self, method):
        raw = self.body() if method == "POST" else b""
        if self.path.startswith("/_control/"):
            return self.control(raw)
        behaviour = next_behaviour()
        auth = self.headers.get("Authorization")
        with LOCK:
            STATE["requests"].append({
                "method": method, "path": self.path, "behaviour": behaviour,
                "authorization_ok": TOKEN is None or auth == "JWT " + TOKEN,
                "idempotency_key": self.headers.get("Idempotency-Key"),
            })
        route = urllib.parse.urlparse(self.path)
        if behaviour == "hang":
            time.sleep(30)
            return self.close_connection_now()
        if behaviour == "drop-before":
            return self.close_connection_now()
        if behaviour.isdigit() and behaviour != "400":
            return self.reply(int(behaviour), {"message": "planned failure"})
        if behaviour.startswith("429:"):
            return self.reply(429, {"message": "slow down"},
                              headers=[("Retry-After", behaviour[4:])])
        if behaviour == "400":
            return self.reply(400, {"errors": ["model: not a known model"]})
        if TOKEN is not None and auth != "JWT " + TOKEN:
            return self.reply(401, {"detail": "bad token"})
        if method == "POST" and route.path == "/results/":
            created, rid = self.store(raw)
            if behaviour == "drop":
                return self.close_connection_now()
            if behaviour == "badjson":
                return self.reply(200, raw=b"<html>not json")
            return self.reply(201 if created else 200, {"id": rid, "created": created})
        if method == "POST" and route.path == "/check/results/":
            # sotabench's shape: {"results": [result, ...]} in, {"response": {"errors":
            # [{"error": ...}]}} out; a bare result is a 400, as a strict server answers.
            results = json.loads(raw).get("results")
            if not isinstance(results, list):
                return self.reply(400, {"errors": ["results: expected a list of results"]})
            errors = [{"error": f"{k}: required"} for r in results
                      for k in ("model", "task", "dataset_name") if not r.get(k)]
            if behaviour == "reject":
                errors.append({"error": "model: not on the leaderboard"})
            return self.reply(200, {"response": {"errors": errors}})
        if method == "GET" and route.path == "/check/get_results_by_hash/":
            run_hash = urllib.parse.parse_qs(route.query).get("run_hash", [""])[0]
            with LOCK:
                for r in STATE["results"].values():
                    if r.get("run_hash") == run_hash:
                        bare = behaviour == "bare"  # sotabench's shape: the dict alone
                        return self.reply(200, r["results"] if bare else {"results": r["results"]})
            return self.reply(200, {})
        if method == "POST" and route.path == "/check/run-hashes/":
            hashes = json.loads(raw).get("hashes", [])
            with LOCK:
                known = {r.get("run_hash") for r in STATE["results"].values()}
            return self.reply(200, {h: h in known for h in hashes})
        return self.reply(404, {"message": "no such endpoint"})

    def close_connection_now(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def serve_file(self):
        route = urllib.parse.urlparse(self.path).path
        drop = route.startswith("/drop/")
        name = urllib.parse.unquote(route[len("/drop/") if drop else 1:])
        root = os.path.realpath(FILES)
        path = os.path.realpath(os.path.join(root, name))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return self.reply(404, {"message": "no such file"})
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            return self.close_connection_now()
        self.wfile.write(body)

    def do_GET(self):
        route = urllib.parse.urlparse(self.path).path
        if FILES is not None and route not in API_PATHS and not route.startswith("/_control/"):
            return self.serve_file()
        self.handle_api("GET")

    def do_POST(self):
        self.handle_api("POST")


def serve(argv):
    global TOKEN, FILES
    port_file = argv[argv.index("--port-file") + 1]
    if "--token" in argv:
        TOKEN = argv[argv.index("--token") + 1]
    if "--files" in argv:
        FILES = argv[argv.index("--files") + 1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if "--tls" in argv:
        import ssl
        i = argv.index("--tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(argv[i + 1], argv[i + 2])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def control(cmd, port, arg=None):
    url = f"http://127.0.0.1:{port}/_control/{cmd}"
    data = None
    if cmd == "plan":
        data = json.dumps([b for b in arg.split(",") if b]).encode()
    elif cmd == "reset":
        data = b"{}"
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as r:
        sys.stdout.write(r.read().decode() + "\n")


def verify(port, store_file):
    with open(store_file) as f:
        stored = json.load(f)
    keys = [r["idempotency_key"] for r in stored]
    url = f"http://127.0.0.1:{port}/_control/state"
    with urllib.request.urlopen(url, timeout=5) as r:
        state = json.loads(r.read())
    problems = []
    if len(set(keys)) != len(keys):
        problems.append("the store file repeats an idempotency key")
    for key, result in zip(keys, stored):
        creates = state["creates"].get(key, 0)
        if creates != 1:
            problems.append(f"{result['model']} ({key}) recorded {creates} times")
        elif state["results"][key] != result:
            problems.append(f"{result['model']} ({key}) differs from the stored copy")
    extra = set(state["results"]) - set(keys)
    if extra:
        problems.append(f"{len(extra)} unexpected results on the server")
    for p in problems:
        print("verify:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    else:
        control(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
