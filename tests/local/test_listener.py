"""The test listener of the demo's canary, on 127.0.0.1: there is no load balancer locally,
so this answers for the new revision behind it. GET /health answers the status in
$TEST_LISTENER_STATUS (200 by default), as app/'s /health does; anything else is 404.

  python3 tests/local/test_listener.py PORT
"""

import http.server
import os
import sys


class Listener(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = int(os.environ.get("TEST_LISTENER_STATUS", "200")) if self.path == "/health" else 404
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        sys.stderr.write("test listener: " + (format % args) + "\n")


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Listener).serve_forever()
