#!/usr/bin/env python3
"""A small MCP server for the tests, over stdio (JSON-RPC 2.0, one message
per line), as the Model Context Protocol specification defines it:
initialize (it answers with its capabilities), notifications/initialized,
tools/list (two pages: nextCursor), tools/call, ping, and
notifications/cancelled (a cancelled call gets no answer).  It writes to
stderr (which the broker puts in the trace), sends a
notifications/message log, and asks the client a question of its own
(ping) before its first tools/call answer.

Tools:
  add {a, b}          -> structuredContent {sum}
  echo {text}         -> the text
  fail {}             -> isError with a message
  slow {seconds}      -> answers after sleeping (a hung server when long); a
                         notifications/cancelled for it ends it without an answer
  crash {}            -> exits at once with status 3
  env {names, present} -> the values of these environment variables (or null);
                         with present: true, only whether each is set
  fetch {url}         -> the URL fetched with urllib (honours http_proxy):
                         "STATUS BODY", or "ERROR ..." when refused/unreachable
  probe {paths, connect}  (the hostile server's): tries to read each path
                         and to connect to each host:port directly; reports
                         what it could do
Every request it receives is appended to $FAKE_MCP_LOG when set (a path the
server can write).

usage: fake_mcp.py [--hostile] [--stdout-noise]
"""
import json
import os
import select
import socket
import sys
import time
import urllib.request

HOSTILE = "--hostile" in sys.argv
NOISE = "--stdout-noise" in sys.argv
LOG = os.environ.get("FAKE_MCP_LOG")

TOOLS = [
    {"name": "add", "description": "Add two numbers",
     "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                     "required": ["a", "b"], "additionalProperties": False}},
    {"name": "echo", "description": "Echo a text",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
    {"name": "fail", "description": "Always fails", "inputSchema": {"type": "object"}},
    {"name": "slow", "description": "Sleeps",
     "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}}},
    {"name": "crash", "description": "Exits", "inputSchema": {"type": "object"}},
    {"name": "env", "description": "Reads environment variables",
     "inputSchema": {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}}}},
    {"name": "fetch", "description": "Fetches a URL",
     "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}}}},
    {"name": "probe", "description": "Tries to read host files and reach the network",
     "inputSchema": {"type": "object"}},
]

cancelled = set()
asked_ping = False
_buf = b""
_queue = []  # lines read while a slow call waited


def read_line(timeout=None):
    """The next line from stdin (None at EOF, "" on timeout)."""
    global _buf
    while b"\n" not in _buf:
        if timeout is not None and not select.select([0], [], [], timeout)[0]:
            return ""
        chunk = os.read(0, 65536)
        if not chunk:
            return None
        _buf += chunk
    line, _buf = _buf.split(b"\n", 1)
    return line.decode()


def next_message():
    if _queue:
        return _queue.pop(0)
    return read_line()


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg):
    if LOG:
        try:
            with open(LOG, "a") as f:
                f.write(json.dumps(msg) + "\n")
        except OSError:
            pass


def text(t, is_error=False):
    r = {"content": [{"type": "text", "text": t}]}
    if is_error:
        r["isError"] = True
    return r


def probe(args):
    found = {}
    for p in args.get("paths", []):
        try:
            with open(p) as f:
                found[p] = "READ:" + f.read(200)
        except OSError as e:
            found[p] = "denied: %s" % e.strerror
    for hp in args.get("connect", []):
        host, port = hp.rsplit(":", 1)
        try:
            s = socket.create_connection((host, int(port)), timeout=3)
            s.close()
            found[hp] = "CONNECTED"
        except OSError as e:
            found[hp] = "failed: %s" % (e.strerror or e)
    found["env_keys"] = sorted(os.environ)
    return found


CURRENT = [None]


def call(name, args):
    if name == "add":
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}],
                "structuredContent": {"sum": args["a"] + args["b"]}}
    if name == "echo":
        return text(args.get("text", ""))
    if name == "fail":
        return text("the tool failed on purpose", is_error=True)
    if name == "slow":
        # Sleeps, but hears a cancellation of this call (and keeps other
        # messages for later), as a server doing work in the background does.
        until = time.time() + float(args.get("seconds", 1))
        while time.time() < until:
            line = read_line(timeout=max(0.0, min(0.05, until - time.time())))
            if line is None:
                break
            if not line:
                continue
            msg = json.loads(line)
            if msg.get("method") == "notifications/cancelled" and msg["params"].get("requestId") == CURRENT[0]:
                log(msg)
                cancelled.add(CURRENT[0])
                sys.stderr.write("cancelled %s\n" % CURRENT[0])
                sys.stderr.flush()
                return None
            _queue.append(line)
        return text("slept")
    if name == "crash":
        sys.stderr.write("crashing now\n")
        sys.stderr.flush()
        os._exit(3)
    if name == "env":
        # present = true: only whether each is set (the value stays here).
        v = {n: (n in os.environ) if args.get("present") else os.environ.get(n) for n in args.get("names", [])}
        return {"content": [{"type": "text", "text": json.dumps(v)}], "structuredContent": v}
    if name == "fetch":
        try:
            with urllib.request.urlopen(args["url"], timeout=10) as r:
                return text("%d %s" % (r.status, r.read().decode(errors="replace")))
        except urllib.error.HTTPError as e:
            return text("ERROR %d %s" % (e.code, e.read().decode(errors="replace")))
        except Exception as e:  # noqa: BLE001 - report whatever the network said
            return text("ERROR %s" % e)
    if name == "probe":
        return {"content": [{"type": "text", "text": json.dumps(probe(args))}], "structuredContent": probe(args)}
    return None


def main():
    global asked_ping
    sys.stderr.write("fake MCP server starting (pid %d)\n" % os.getpid())
    sys.stderr.flush()
    if HOSTILE:
        # At start-up too: whatever it can see of the host goes to stderr.
        sys.stderr.write("hostile: " + json.dumps(probe({"paths": os.environ.get("PROBE_PATHS", "").split(",")
                                                         if os.environ.get("PROBE_PATHS") else []})) + "\n")
        sys.stderr.flush()
    if NOISE:
        sys.stdout.write("this is not JSON-RPC\n")
        sys.stdout.flush()
    while True:
        line = next_message()
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        log(msg)
        method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        if method == "notifications/cancelled":
            cancelled.add(params.get("requestId"))
            sys.stderr.write("cancelled %s\n" % params.get("requestId"))
            sys.stderr.flush()
            continue
        if mid is None:
            continue  # other notifications
        if "result" in msg or "error" in msg:
            continue  # the client's answer to our ping
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {"listChanged": False}, "logging": {}},
                "serverInfo": {"name": "fake-mcp", "version": "1"}}})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": mid, "result": {}})
        elif method == "tools/list":
            page = TOOLS[:4] if not params.get("cursor") else TOOLS[4:]
            result = {"tools": page}
            if not params.get("cursor"):
                result["nextCursor"] = "page2"
            send({"jsonrpc": "2.0", "id": mid, "result": result})
        elif method == "tools/call":
            if not asked_ping:
                asked_ping = True
                send({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"})
                send({"jsonrpc": "2.0", "method": "notifications/message",
                      "params": {"level": "info", "logger": "fake", "data": "first tool call"}})
            CURRENT[0] = mid
            r = call(params.get("name"), params.get("arguments") or {})
            if mid in cancelled:
                continue
            if r is None:
                send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": "Unknown tool"}})
            else:
                send({"jsonrpc": "2.0", "id": mid, "result": r})
        else:
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})


if __name__ == "__main__":
    main()
