"""A counting proxy in front of the local AWS (moto): every call that passes is recorded
with its service, operation, S3 bucket and the moment it arrived, so a benchmark can say
how many AWS calls a deploy made and whether their pace stayed inside AWS's rate limits.

Functions reach it through AWS_ENDPOINT_URL like they would reach moto itself. Its own
control paths (never forwarded):
  GET  /__calls   the calls recorded since the last reset, as JSON
  POST /__reset   forget them

Run alone: python aws_proxy.py --upstream http://127.0.0.1:5000 --port 0 (prints its port).
"""

import argparse
import http.client
import http.server
import json
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

# The X-Amz-Target prefixes of the JSON protocols the functions use.
TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "secretsmanager": "secretsmanager",
}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def operation_of(method, path, headers, body):
    """(service, operation, bucket) of one request, from what its protocol puts on the wire."""
    target = headers.get("X-Amz-Target", "")
    if target:
        prefix, _, operation = target.partition(".")
        return TARGET_PREFIXES.get(prefix, prefix), operation, None
    scope = CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(1) if scope else "unknown"
    if service == "s3":
        url = urllib.parse.urlsplit(path)
        parts = url.path.lstrip("/").split("/", 1)
        bucket = parts[0] or None
        has_key = len(parts) > 1 and parts[1] != ""
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if not has_key:
            operation = {"GET": "ListObjectsV2" if "list-type" in query else "ListObjects",
                         "PUT": "CreateBucket", "HEAD": "HeadBucket"}.get(method, method + "Bucket")
        else:
            operation = {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject",
                         "DELETE": "DeleteObject", "POST": "PostObject"}.get(method, method + "Object")
        return "s3", operation, bucket
    # Query protocols (SNS, STS): Action=… in the form body.
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return service, form.get("Action", ["?"])[0], None


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []

    def add(self, call):
        with self.lock:
            self.calls.append(call)

    def snapshot(self):
        with self.lock:
            return list(self.calls)

    def reset(self):
        with self.lock:
            self.calls.clear()


def make_handler(upstream, recorder):
    upstream_url = urllib.parse.urlsplit(upstream)
    local = threading.local()

    def connection():
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(upstream_url.hostname, upstream_url.port, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local.conn = conn
        return conn

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm on, the body waits
        # for the client's delayed ACK (~40 ms) and every call would seem that much slower.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # quiet: the recorder is the log
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))

        def reply(self, status, body, content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self):
            arrived = time.monotonic()
            body = self.read_body()
            if self.path == "/__calls":
                return self.reply(200, json.dumps(recorder.snapshot()).encode())
            if self.path == "/__reset":
                recorder.reset()
                return self.reply(200, b"{}")
            service, operation, bucket = operation_of(self.command, self.path, self.headers, body)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("transfer-encoding", "connection", "content-length")}
            headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):
                conn = connection()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    local.conn = None
                    if attempt == 2:
                        raise
            recorder.add({"service": service, "operation": operation, "bucket": bucket,
                          "method": self.command, "path": self.path.split("?")[0],
                          "status": response.status, "at": arrived,
                          "ms": round((time.monotonic() - arrived) * 1000, 2)})
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length",
                                       "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = forward

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A killed process drops its connections mid-request: expected, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def start(upstream, port=0):
    """Starts the proxy on 127.0.0.1 in a background thread; returns (server, recorder)."""
    recorder = Recorder()
    server = Server(("127.0.0.1", port), make_handler(upstream, recorder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, recorder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server, _ = start(args.upstream, args.port)
    print(server.server_address[1], flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
