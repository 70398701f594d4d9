"""A minimal Lambda Runtime API host, for measuring cold starts.

It starts a function's bootstrap process (a Rust binary, or `python -m awslambdaric
module.handler`) with the environment Lambda gives it, serves it one event over the Runtime
API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) and measures, from the
moment the process was spawned:
  init          until the first GET /runtime/invocation/next (the runtime is ready);
  first invoke  until POST /runtime/invocation/<id>/response (init + handling the event);
  peak RSS      the process's high-water resident memory (VmHWM in /proc/<pid>/status),
                read after the response, before the host kills it;
  anon RSS      of that, what is not mapped from files (RssAnon, at the same moment): the
                heap, the stacks and the relocated data — the process's own memory, without
                its code.
Every contender speaks the same protocol to the same host, so what differs is the runtime.
"""

import http.server
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid

API = "/2018-06-01/runtime"


class Invocation:
    def __init__(self, event, timeout_s):
        self.event = json.dumps(event).encode()
        self.request_id = str(uuid.uuid4())
        self.timeout_s = timeout_s
        self.spawned = None
        self.first_poll = None
        self.responded = None
        self.response = None
        self.error = None
        self.done = threading.Event()
        self.killed = threading.Event()
        self.served = False
        self.lock = threading.Lock()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A killed process drops its connections mid-request: expected, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _handler(host):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # see aws_proxy.py: no delayed-ACK stalls

        def log_message(self, *args):
            pass

        def body(self):
            return self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))

        def reply(self, status, payload=b"{}", headers=()):
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            now = time.monotonic()
            inv = host.current
            if self.path != f"{API}/invocation/next" or inv is None:
                return self.reply(404)
            with inv.lock:
                first = not inv.served
                inv.served = True
                if inv.first_poll is None:
                    inv.first_poll = now
            if not first:
                # A warm runtime asks for its next event: there is none; the host ends it.
                inv.killed.wait(inv.timeout_s)
                self.close_connection = True
                return
            deadline_ms = int((time.time() + inv.timeout_s) * 1000)
            self.reply(200, inv.event, [
                ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn", host.function_arn),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
            ])

        def do_POST(self):
            now = time.monotonic()
            payload = self.body()
            inv = host.current
            if inv is not None and self.path == f"{API}/invocation/{inv.request_id}/response":
                inv.responded, inv.response = now, payload
                self.reply(202)
                inv.done.set()
            elif inv is not None and self.path == f"{API}/invocation/{inv.request_id}/error":
                inv.responded, inv.error = now, payload.decode("utf-8", "replace")
                self.reply(202)
                inv.done.set()
            elif inv is not None and self.path == f"{API}/init/error":
                inv.error = "init error: " + payload.decode("utf-8", "replace")
                self.reply(202)
                inv.done.set()
            else:
                self.reply(404)

    return Handler


class RuntimeApiHost:
    """One host serves any number of contenders, one cold start at a time."""

    def __init__(self, function_name="bench"):
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.port = self.server.server_address[1]
        self.function_name = function_name
        self.function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.current = None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

    def lambda_env(self, memory_mb=128):
        """What Lambda puts in every function's environment (lambda_runtime reads these)."""
        return {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}",
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_bench",
        }

    def cold_start(self, command, env, event, cwd=None, timeout_s=120, log=None):
        """Spawns `command`, serves it `event`, kills it; returns the measurements."""
        inv = Invocation(event, timeout_s)
        self.current = inv
        out = open(log, "ab") if log else subprocess.DEVNULL
        inv.spawned = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=out,
                                   start_new_session=True)
        deadline = time.monotonic() + timeout_s
        usage = None
        while not inv.done.wait(0.02):
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break  # it ended by itself (a failed init that never called the API)
            usage = None
            if time.monotonic() > deadline:
                break
        finished = inv.done.is_set()
        # The high-water mark of the running program, read before it is killed. (The
        # rusage of the reaped child would not do: its ru_maxrss also counts the pages the
        # forked child shared with this host before exec.)
        peak_rss_kb = _status_kb(process.pid, "VmHWM") if finished else None
        anon_rss_kb = _status_kb(process.pid, "RssAnon") if finished else None
        ended_by_itself = usage is not None
        if not ended_by_itself:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, usage = os.wait4(process.pid, 0)
        process.returncode = status
        inv.killed.set()
        if log:
            out.close()
        self.current = None
        result = {
            "init_ms": _ms(inv.spawned, inv.first_poll),
            "first_invoke_ms": _ms(inv.spawned, inv.responded),
            "handler_ms": _ms(inv.first_poll, inv.responded),
            "peak_rss_mb": round(peak_rss_kb / 1024, 1) if peak_rss_kb else None,
            "anon_rss_mb": round(anon_rss_kb / 1024, 1) if anon_rss_kb else None,
            "error": inv.error,
            "response": json.loads(inv.response) if inv.response else None,
        }
        if not finished:
            result["error"] = f"no response within {timeout_s}s" + (
                f" (the process exited with status {status})" if ended_by_itself else "")
        return result


def _status_kb(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _ms(start, end):
    return None if start is None or end is None else round((end - start) * 1000, 2)
