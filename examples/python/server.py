"""The Python example service of whittle: an HTTP server on :8080 that answers
GET / with a fixed line and GET /healthz with "ok". Standard library only.

    python3 server.py [--port 8080]   serve
    python3 server.py --selftest      serve on a loopback port, check both answers, exit 0 or 1
"""

import argparse
import http.server
import sys
import threading
import urllib.request

GREETING = b"hello from whittle (python)\n"


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers / and /healthz; everything else is 404."""

    def do_GET(self):
        body = {"/": GREETING, "/healthz": b"ok\n"}.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def selftest():
    """Serves on 127.0.0.1 and checks both answers; returns an error text or None."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() returns when serve_forever next polls: at the default
    # interval of 0.5 s that wait would be most of the selftest's time.
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        for path, want in (("/", GREETING), ("/healthz", b"ok\n")):
            url = "http://127.0.0.1:%d%s" % (srv.server_address[1], path)
            with urllib.request.urlopen(url, timeout=5) as resp:
                got = resp.read()
                if resp.status != 200 or got != want:
                    return "GET %s: %d %r, want 200 %r" % (path, resp.status, got, want)
    finally:
        srv.shutdown()
        srv.server_close()
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--selftest", action="store_true")
    args = parser.parse_args()
    if args.selftest:
        err = selftest()
        if err:
            print("selftest:", err, file=sys.stderr)
            return 1
        print("selftest: ok")
        return 0
    srv = http.server.ThreadingHTTPServer(("", args.port), Handler)
    print("listening on :%d" % args.port, file=sys.stderr)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
