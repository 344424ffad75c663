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
  disconnect    stream this many chunks, then cut the connection mid-stream
  stream_error  (/responses) end the stream with response.failed (server_error)
POST /v1/responses speaks OpenAI's Responses API (model_type = "responses"):
input items (messages, function_call, function_call_output answering an
earlier call_id), function tools, the answer as a Response or as typed
server-sent events (response.output_text.delta, function_call_arguments
deltas, response.completed...).  A request that breaks the API's rules is
answered 400 and its "problems" are logged.
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
    u = e.get("usage", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    if isinstance(u, dict) and "input" in u:  # the other fakes' form (fake_common.py)
        return {"prompt_tokens": u["input"], "completion_tokens": u["output"],
                "total_tokens": u["input"] + u["output"]}
    return u


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
        entry = {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
        if self.path.endswith("/responses"):
            entry["problems"] = self.responses_problems(body)
        with lock, open(log_file, "a") as f:
            f.write(json.dumps(entry) + "\n")
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
        if self.path.endswith("/responses"):
            return self.do_responses(e, body)
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

    # ---- the Responses API -------------------------------------------------
    def responses_problems(self, body):
        p = []
        if not isinstance(body, dict):
            return ["body is not a JSON object"]
        if not isinstance(body.get("model"), str):
            p.append("model is required")
        calls = set()
        items = body.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        if not isinstance(items, list) or not items:
            return p + ["input is required"]
        for i, it in enumerate(items):
            t = it.get("type", "message")
            if t == "message":
                if it.get("role") not in ("user", "assistant", "system", "developer") \
                        or not isinstance(it.get("content"), (str, list)):
                    p.append("input[%d]: a message needs a role and content" % i)
            elif t == "function_call":
                if not (it.get("call_id") and it.get("name") and isinstance(it.get("arguments"), str)):
                    p.append("input[%d]: function_call needs call_id, name, arguments (a string)" % i)
                calls.add(it.get("call_id"))
            elif t == "function_call_output":
                if it.get("call_id") not in calls:
                    p.append("No tool call found for function call output with call_id %s."
                             % it.get("call_id"))
                if not isinstance(it.get("output"), str):
                    p.append("input[%d]: output must be a string" % i)
            else:
                p.append("input[%d]: unknown item type %r" % (i, t))
        for t in body.get("tools", []):
            if t.get("type") != "function" or not t.get("name") or "function" in t:
                p.append("tools: {type: function, name, description, parameters} (not the chat "
                         "completions shape)")
        return p

    def do_responses(self, e, body):
        problems = self.responses_problems(body)
        status = e.get("status", 200)
        if status == 200 and problems:
            status, e = 400, {"error": "; ".join(problems)}
        if status != 200:
            message = e.get("error", "error %d" % status)
            if e.get("echo_auth"):
                message += " (you sent: %s)" % self.headers.get("Authorization")
            return self.answer(status, {"error": {"message": message, "type": "invalid_request_error"
                                                  if status == 400 else "server_error", "code": None}})
        us = usage(e)
        u = {"input_tokens": us["prompt_tokens"], "output_tokens": us["completion_tokens"],
             "total_tokens": us["total_tokens"]}
        output = []
        if e.get("text"):
            output.append({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                           "content": [{"type": "output_text", "text": e["text"], "annotations": []}]})
        for i, c in enumerate(e.get("tool_calls", [])):
            output.append({"type": "function_call", "id": "fc_%d" % i, "call_id": "call_%d" % i,
                           "name": c["name"], "arguments": json.dumps(c.get("arguments", {})),
                           "status": "completed"})
        resp = {"id": "resp_1", "object": "response", "status": "completed", "model": body["model"],
                "output": output, "usage": u}
        if not body.get("stream"):
            return self.answer(200, resp)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        seq = [0]

        def ev(obj):
            seq[0] += 1
            obj["sequence_number"] = seq[0]
            data = ("event: %s\ndata: %s\n\n" % (obj["type"], json.dumps(obj))).encode()
            if e.get("disconnect") is not None and seq[0] > e["disconnect"]:
                self.wfile.write(b"%x\r\n%s" % (len(data), data[:len(data) // 2]))
                self.wfile.flush()
                raise ConnectionAbortedError
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        try:
            ev({"type": "response.created", "response": dict(resp, status="in_progress", output=[], usage=None)})
            if e.get("stream_error"):
                ev({"type": "response.failed", "response": dict(resp, status="failed", output=[], error={
                    "code": "server_error", "message": "The server is overloaded"})})
            else:
                for oi, item in enumerate(output):
                    if item["type"] == "message":
                        ev({"type": "response.output_item.added", "output_index": oi,
                            "item": dict(item, content=[], status="in_progress")})
                        for w in (e["text"].split(" ")):
                            piece = w if w == e["text"].split(" ")[0] else " " + w
                            ev({"type": "response.output_text.delta", "item_id": item["id"],
                                "output_index": oi, "content_index": 0, "delta": piece})
                        ev({"type": "response.output_text.done", "item_id": item["id"],
                            "output_index": oi, "content_index": 0, "text": e["text"]})
                        ev({"type": "response.output_item.done", "output_index": oi, "item": item})
                    else:
                        ev({"type": "response.output_item.added", "output_index": oi,
                            "item": dict(item, arguments="", status="in_progress")})
                        a = item["arguments"]
                        for piece in (a[: len(a) // 2], a[len(a) // 2:]):
                            ev({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                                "output_index": oi, "delta": piece})
                        ev({"type": "response.function_call_arguments.done", "item_id": item["id"],
                            "output_index": oi, "arguments": a})
                        ev({"type": "response.output_item.done", "output_index": oi, "item": item})
                ev({"type": "response.completed", "response": resp})
        except ConnectionAbortedError:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            os.close(self.connection.detach())
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

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
            if e.get("disconnect") is not None and i == e["disconnect"]:
                # Half a chunk, then the connection goes (a mid-stream failure).
                self.wfile.write(b"40\r\ndata: {\"choices\": [")
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                os.close(self.connection.detach())
                return
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
