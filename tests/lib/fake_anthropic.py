#!/usr/bin/env python3
"""A fake Anthropic Messages API server for the tests (POST /v1/messages),
as Anthropic's API reference defines it: x-api-key and anthropic-version
headers; a body with model, max_tokens, messages of text / tool_use /
tool_result blocks, system, tools with input_schema, tool_choice; the
answer as a Message, or as server-sent events (message_start,
content_block_start / delta / stop, message_delta, message_stop, ping,
error); errors as {"type": "error", "error": {"type", "message"}}, HTTP
529 for overloaded_error.  Script fields: fake_common.py.

usage: fake_anthropic.py PORTFILE SCRIPT.json LOG
"""
import json

import fake_common as fc

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


def check(body, headers):
    p = []
    if headers.get("anthropic-version") != "2023-06-01":
        p.append("anthropic-version header missing or unknown")
    if not isinstance(body, dict):
        return p + ["body is not a JSON object"]
    if not isinstance(body.get("model"), str):
        p.append("model: field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        p.append("max_tokens: field required (an integer >= 1)")
    if "system" in body and not isinstance(body["system"], (str, list)):
        p.append("system: must be a string or text blocks")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return p + ["messages: at least one message is required"]
    if msgs[0].get("role") != "user":
        p.append("messages: the first message must use the user role")
    pending = set()  # tool_use ids waiting for their tool_result
    for i, m in enumerate(msgs):
        role, content = m.get("role"), m.get("content")
        if role not in ("user", "assistant"):
            p.append("messages.%d.role: must be user or assistant" % i)
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            p.append("messages.%d.content: must be a string or a non-empty list" % i)
            continue
        results = set()
        for b in blocks:
            t = b.get("type")
            if t == "text":
                if not b.get("text"):
                    p.append("messages.%d: text content blocks must be non-empty" % i)
            elif t == "tool_use":
                if role != "assistant":
                    p.append("messages.%d: tool_use only in assistant turns" % i)
                if not (isinstance(b.get("id"), str) and isinstance(b.get("name"), str)
                        and isinstance(b.get("input"), dict)):
                    p.append("messages.%d: tool_use needs id, name and an input object" % i)
            elif t == "tool_result":
                if role != "user":
                    p.append("messages.%d: tool_result only in user turns" % i)
                results.add(b.get("tool_use_id"))
            else:
                p.append("messages.%d: unknown block type %r" % (i, t))
        if role == "user":
            if pending - results:
                p.append("messages.%d: tool_use ids were found without tool_result blocks "
                         "immediately after: %s" % (i, sorted(pending - results)))
            if results - pending:
                p.append("messages.%d: unexpected tool_use_id found in tool_result blocks: %s"
                         % (i, sorted(x for x in results - pending if x)))
            pending = set()
        else:
            pending = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    for t in body.get("tools", []):
        if not isinstance(t.get("name"), str) or not isinstance(t.get("input_schema"), dict) \
                or t["input_schema"].get("type") != "object":
            p.append("tools: each needs a name and an input_schema of type object")
    tc = body.get("tool_choice")
    if tc is not None and tc.get("type") not in ("auto", "any", "tool", "none"):
        p.append("tool_choice.type: must be auto, any, tool or none")
    return p


class Handler(fc.Handler):
    def route(self, path, body):
        if path != "/v1/messages":
            return None, []
        return ("stream" if (body or {}).get("stream") else "json"), check(body, self.headers)

    def auth_header(self):
        return self.headers.get("x-api-key")

    def send_error_body(self, status, message):
        self.send_json(status, {"type": "error", "error": {
            "type": ERROR_TYPES.get(status, "api_error"), "message": message}})

    def blocks(self, e):
        out = []
        if e.get("text"):
            out.append({"type": "text", "text": e["text"]})
        for i, c in enumerate(e.get("tool_calls", [])):
            out.append({"type": "tool_use", "id": "toolu_%02d" % i, "name": c["name"],
                        "input": c.get("arguments", {})})
        return out

    def do_POST(self):
        if not self.headers.get("x-api-key"):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            return self.send_error_body(401, "x-api-key header is required")
        return super().do_POST()

    def answer_json(self, e, body):
        inp, out = fc.usage_of(e)
        self.send_json(200, {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": self.blocks(e),
            "stop_reason": "tool_use" if e.get("tool_calls") else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": out}})

    def stream_events(self, e, body):
        inp, out = fc.usage_of(e)
        ev = [fc.sse({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": 1}}}, "message_start"),
              fc.sse({"type": "ping"}, "ping")]
        index = 0
        if e.get("text"):
            ev.append(fc.sse({"type": "content_block_start", "index": index,
                              "content_block": {"type": "text", "text": ""}}, "content_block_start"))
            for w in fc.words(e["text"]):
                ev.append(fc.sse({"type": "content_block_delta", "index": index,
                                  "delta": {"type": "text_delta", "text": w}}, "content_block_delta"))
            ev.append(fc.sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        for i, c in enumerate(e.get("tool_calls", [])):
            args = json.dumps(c.get("arguments", {}))
            ev.append(fc.sse({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": "toolu_%02d" % i, "name": c["name"], "input": {}}},
                "content_block_start"))
            for piece in (args[: len(args) // 2], args[len(args) // 2:]):
                ev.append(fc.sse({"type": "content_block_delta", "index": index, "delta": {
                    "type": "input_json_delta", "partial_json": piece}}, "content_block_delta"))
            ev.append(fc.sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        ev.append(fc.sse({"type": "message_delta", "delta": {
            "stop_reason": "tool_use" if e.get("tool_calls") else "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": out}}, "message_delta"))
        ev.append(fc.sse({"type": "message_stop"}, "message_stop"))
        return ev

    def stream_error_event(self, e):
        kind = e["stream_error"]
        return fc.sse({"type": "error", "error": {
            "type": "overloaded_error" if kind == "overloaded" else kind,
            "message": "Overloaded" if kind == "overloaded" else kind}}, "error")


if __name__ == "__main__":
    fc.main(Handler)
