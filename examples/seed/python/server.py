"""The seed's Python service (example 6): a small inventory API on the
standard library alone. GET / answers a fixed line, GET /healthz "ok",
GET /api/items the inventory as JSON and GET /api/items/NAME one item.

It listens on $BIND:$PORT (default 0.0.0.0:8080, as a container should).

    python3 server.py [--port 8080]   serve
    python3 server.py --selftest      serve on a loopback port, check the answers, exit 0 or 1
"""

import argparse
import http.server
import json
import os
import sys
import threading
import urllib.error
import urllib.request

GREETING = b"hello from the seed (python)\n"

ITEMS = {
    "bolts": {"name": "bolts", "count": 120, "bin": "A3"},
    "nuts": {"name": "nuts", "count": 80, "bin": "A4"},
    "washers": {"name": "washers", "count": 300, "bin": "B1"},
}


def route(path):
    """Returns (status, content type, body) for a GET of path."""
    if path == "/":
        return 200, "text/plain; charset=utf-8", GREETING
    if path == "/healthz":
        return 200, "text/plain; charset=utf-8", b"ok\n"
    if path == "/api/items":
        body = json.dumps(sorted(ITEMS.values(), key=lambda i: i["name"]), sort_keys=True)
        return 200, "application/json", body.encode() + b"\n"
    if path.startswith("/api/items/"):
        item = ITEMS.get(path[len("/api/items/"):])
        if item is not None:
            return 200, "application/json", json.dumps(item, sort_keys=True).encode() + b"\n"
    return 404, "text/plain; charset=utf-8", b"not found\n"


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves route()."""

    def do_GET(self):
        status, ctype, body = route(self.path)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def selftest():
    """Serves on 127.0.0.1 and checks the answers; returns an error text or None."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    checks = (
        ("/", 200, GREETING),
        ("/healthz", 200, b"ok\n"),
        ("/api/items/nuts", 200, b'{"bin": "A4", "count": 80, "name": "nuts"}\n'),
        ("/api/items/gears", 404, b"not found\n"),
    )
    try:
        for path, status, want in checks:
            url = "http://127.0.0.1:%d%s" % (srv.server_address[1], path)
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    got_status, got = resp.status, resp.read()
            except urllib.error.HTTPError as e:
                got_status, got = e.code, e.read()
            if got_status != status or got != want:
                return "GET %s: %d %r, want %d %r" % (path, got_status, got, status, want)
    finally:
        srv.shutdown()
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=os.environ.get("BIND", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--selftest", action="store_true")
    args = parser.parse_args()
    if args.selftest:
        err = selftest()
        if err:
            print("selftest:", err, file=sys.stderr)
            return 1
        print("selftest: ok")
        return 0
    srv = http.server.ThreadingHTTPServer((args.bind, args.port), Handler)
    print("listening on %s:%d" % (args.bind, args.port), file=sys.stderr)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
