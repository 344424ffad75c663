"""What the fake model servers (fake_anthropic.py, fake_gemini.py,
fake_bedrock.py, fake_openai.py's /responses) share: the script, the
request log, HTTP plumbing, the error and failure modes.

A server plays a script (a JSON list), one entry per request, in order;
the last entry repeats.  Entry fields every server understands:
  text          assistant text (streamed word by word when the request streams)
  tool_calls    [{"name": ..., "arguments": {...}}]
  status        HTTP status to answer with (400, 401, 429, 500, 529...), with
  error         its message, in the provider's own error shape
  stream_error  stream this error event (the provider's shape) after the
                first event, instead of an answer (e.g. "overloaded")
  disconnect    stream this many events of the answer, then cut the
                connection without ending the stream (a mid-stream failure)
  usage         {"input": N, "output": N} tokens to report (default 10, 5)
  echo_auth     append the request's credential header to the error message
  delay         seconds to wait before answering
Every request is appended to LOG as one JSON line: {"path", "headers"
(lowercase names), "body", "problems"}: "problems" lists what the request
does wrong by the provider's API reference (a real server would answer
400; so does this one, unless the script says otherwise).
"""
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADERS_LOGGED = ("authorization", "x-api-key", "anthropic-version", "x-goog-api-key",
                  "content-type", "accept", "host", "x-amz-date", "x-amz-security-token")


class Script:
    def __init__(self, path):
        self.entries = json.load(open(path))
        self.n = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            i = self.n
            self.n += 1
        return self.entries[min(i, len(self.entries) - 1)]


def usage_of(e):
    u = e.get("usage", {})
    return u.get("input", 10), u.get("output", 5)


def words(text):
    if not text:
        return []
    parts = text.split(" ")
    return [p if i == 0 else " " + p for i, p in enumerate(parts)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script = None
    log_file = None
    log_lock = threading.Lock()

    def log_message(self, *args):
        pass

    # ---- to be provided by each server ----
    def route(self, path, body):
        """Returns (kind, problems): kind 'stream', 'json' or None (404)."""
        raise NotImplementedError

    def auth_header(self):
        return ""

    def send_error_body(self, status, message):
        raise NotImplementedError

    def answer_json(self, e, body):
        raise NotImplementedError

    def stream_events(self, e, body):
        """The answer as a list of raw chunks (bytes), each one event."""
        raise NotImplementedError

    def stream_error_event(self, e):
        raise NotImplementedError

    content_type_stream = "text/event-stream"
    stream_error_at = 1  # events before a stream_error (its first carries no text)

    # ---- plumbing ----
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.raw_body = raw
        kind, problems = self.route(self.path, body)
        with self.log_lock, open(self.log_file, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "headers": {k: self.headers.get(k) for k in HEADERS_LOGGED
                                            if self.headers.get(k) is not None},
                                "body": body, "problems": problems}) + "\n")
        e = self.script.next()
        if e.get("delay"):
            time.sleep(e["delay"])
        if kind is None:
            return self.send_error_body(404, "no such route: " + self.path)
        status = e.get("status", 200)
        if status == 200 and problems and not e.get("accept_problems"):
            return self.send_error_body(400, "invalid request: " + "; ".join(problems))
        if status != 200:
            message = e.get("error", "error %d" % status)
            if e.get("echo_auth"):
                message += " (you sent: %s)" % self.auth_header()
            return self.send_error_body(status, message)
        if kind == "json":
            return self.answer_json(e, body)
        self.send_response(200)
        self.send_header("Content-Type", self.content_type_stream)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = self.stream_events(e, body)
        if e.get("stream_error"):
            events = events[:self.stream_error_at] + [self.stream_error_event(e)]
        cut = e.get("disconnect")
        for i, ev in enumerate(events):
            if cut is not None and i == cut:
                # Half a chunk, then the connection goes: the client sees
                # a body that ends mid-stream.
                self.wfile.write(b"%x\r\n%s" % (len(ev), ev[: max(1, len(ev) // 2)]))
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                os.close(self.connection.detach())
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def sse(obj, event=None):
    data = obj if isinstance(obj, str) else json.dumps(obj)
    head = ("event: %s\n" % event) if event else ""
    return (head + "data: %s\n\n" % data).encode()


def serve(handler_class, port_file, script_file, log_file):
    handler_class.script = Script(script_file)
    handler_class.log_file = log_file
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def main(handler_class):
    if len(sys.argv) < 4:
        sys.exit("usage: %s PORTFILE SCRIPT.json LOG" % sys.argv[0])
    serve(handler_class, *sys.argv[1:4])
