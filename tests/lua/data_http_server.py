#!/usr/bin/env python3
"""A local HTTP server for tests/lua/data_download_spec.lua.

Usage: data_http_server.py ROOT PORT_FILE
Serves files under ROOT on 127.0.0.1 (a free port, written to PORT_FILE once listening);
a missing file is a 404. Under /drop/NAME it sends ROOT/NAME's headers and half of its
body, then closes the connection (a dropped download)."""
import http.server
import os
import sys

root, port_file = sys.argv[1], sys.argv[2]


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/drop/"):
            path = os.path.join(root, self.path[len("/drop/"):])
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
