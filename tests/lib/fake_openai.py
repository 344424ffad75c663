#!/usr/bin/env python3
"""A fake OpenAI-compatible chat completions server for the tests.

Listens on 127.0.0.1 only.  Replies come from a script (a JSON list), one
entry per request, in order; the last entry repeats.  Entry fields:
  text          assistant text (streamed word by word when the request streams)
  tool_calls    [{"name": ..., "arguments": {...}}]
  status        HTTP status to answer with (e.g. 401, 404, 429, 500)
  error         error message for non-200 answers
  echo_auth     append the request's Authorization header to the error
                message (a server that echoes the key back)
  delay         seconds to wait before answering
  stall         seconds to wait between stream chunks
  garbage       send this raw body instead of a completion
  reset         close the connection without answering
  hang          never answer (until the client gives up)
  flood         stream this many bytes of junk text
  usage         {"prompt_tokens", "completion_tokens", "total_tokens"} to report
                (default 10 + 5 = 15)
Every request is appended to LOG as one JSON line:
  {"path", "authorization", "body"}.

usage: fake_openai.py PORTFILE SCRIPT.json LOG
It writes the port it listens on to PORTFILE.
"""
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, script_file, log_file = sys.argv[1:4]
script = json.load(open(script_file))
counter = {"n": 0}
lock = threading.Lock()


def next_entry():
    with lock:
        i = counter["n"]
        counter["n"] += 1
    return script[min(i, len(script) - 1)]


def usage(e):
    return e.get("usage", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with lock, open(log_file, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "authorization": self.headers.get("Authorization"),
                                "body": body}) + "\n")
        e = next_entry()
        if e.get("delay"):
            time.sleep(e["delay"])
        if e.get("hang"):
            time.sleep(3600)
            return
        if e.get("reset"):
            # SO_LINGER 0 then close: the peer sees a TCP RST.  rfile holds
            # a reference to the socket, so close the descriptor itself.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            os.close(self.connection.detach())
            return
        if not self.path.endswith("/chat/completions"):
            return self.answer(404, {"error": {"message": "no such route"}})
        status = e.get("status", 200)
        if status != 200:
            message = e.get("error", "error %d" % status)
            if e.get("echo_auth"):
                message += " (you sent: %s)" % self.headers.get("Authorization")
            return self.answer(status, {"error": {"message": message}})
        if e.get("garbage") is not None:
            data = e["garbage"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        model = (body or {}).get("model", "fake")
        if (body or {}).get("stream"):
            return self.stream(e, model)
        msg = {"role": "assistant", "content": e.get("text", "")}
        if e.get("tool_calls"):
            msg["tool_calls"] = [
                {"id": "call_%d" % i, "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}}
                for i, c in enumerate(e["tool_calls"])]
        self.answer(200, {"id": "x", "object": "chat.completion", "model": model,
                          "choices": [{"index": 0, "message": msg,
                                       "finish_reason": "tool_calls" if e.get("tool_calls") else "stop"}],
                          "usage": usage(e)})

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, obj):
        data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self, e, model):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "x", "object": "chat.completion.chunk", "model": model}
        words = e.get("text", "").split(" ") if e.get("text") else []
        if e.get("flood"):
            words = ["x" * 1000] * (e["flood"] // 1000)
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            self.chunk(dict(base, choices=[{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
            if e.get("stall"):
                time.sleep(e["stall"])
        for i, c in enumerate(e.get("tool_calls", [])):
            args = json.dumps(c.get("arguments", {}))
            half = len(args) // 2
            self.chunk(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                {"index": i, "id": "call_%d" % i, "type": "function",
                 "function": {"name": c["name"], "arguments": args[:half]}}]}, "finish_reason": None}]))
            self.chunk(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"arguments": args[half:]}}]}, "finish_reason": None}]))
        self.chunk(dict(base, choices=[{"index": 0, "delta": {},
                                        "finish_reason": "tool_calls" if e.get("tool_calls") else "stop"}]))
        self.chunk(dict(base, choices=[], usage=usage(e)))
        self.chunk("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
