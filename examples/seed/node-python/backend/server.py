"""The seed's node + python system (example 5), backend: a standard-library
HTTP service that serves the static site the node stage built (from $SITE,
default /app/site) and a JSON API: GET /api/stock, GET /healthz.

It listens on $BIND:$PORT (default 0.0.0.0:8080, as a container should).

    python3 server.py [--site DIR] [--port 8080]   serve
    python3 server.py --selftest [--site DIR]      serve on a loopback port, check, exit 0 or 1
"""

import argparse
import functools
import http.server
import json
import os
import sys
import threading
import urllib.error
import urllib.request

STOCK = [
    {"name": "bolts", "count": 120},
    {"name": "nuts", "count": 80},
    {"name": "washers", "count": 300},
]


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the API and, for every other path, the site's files."""

    quiet = False

    def do_GET(self):
        if self.path == "/api/stock":
            self.reply(200, "application/json", json.dumps(STOCK, sort_keys=True).encode() + b"\n")
        elif self.path == "/healthz":
            self.reply(200, "text/plain; charset=utf-8", b"ok\n")
        else:
            super().do_GET()

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        if not self.quiet:
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


class QuietHandler(Handler):
    quiet = True


def server(bind, port, site, handler=Handler):
    return http.server.ThreadingHTTPServer((bind, port), functools.partial(handler, directory=site))


def selftest(site):
    """Serves on 127.0.0.1 and checks the API and the site; returns an error text or None."""
    srv = server("127.0.0.1", 0, site, QuietHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    checks = (
        ("/healthz", 200, b"ok\n"),
        ("/api/stock", 200, b'"washers"'),
        ("/", 200, b"<title>seed: node frontend + python backend</title>"),
        ("/app.js", 200, b"seed dashboard, bundled by esbuild"),
        ("/nothing-here", 404, b""),
    )
    try:
        for path, status, want in checks:
            url = "http://127.0.0.1:%d%s" % (srv.server_address[1], path)
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    got_status, got = resp.status, resp.read()
            except urllib.error.HTTPError as e:
                got_status, got = e.code, e.read()
            if got_status != status or want not in got:
                return "GET %s: %d %r, want %d with %r" % (path, got_status, got[:200], status, want)
    finally:
        srv.shutdown()
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=os.environ.get("BIND", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--site", default=os.environ.get("SITE", "/app/site"))
    parser.add_argument("--selftest", action="store_true")
    args = parser.parse_args()
    if args.selftest:
        err = selftest(args.site)
        if err:
            print("selftest:", err, file=sys.stderr)
            return 1
        print("selftest: ok")
        return 0
    srv = server(args.bind, args.port, args.site)
    print("listening on %s:%d, site %s" % (args.bind, args.port, args.site), file=sys.stderr)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
