#!/usr/bin/env python3
"""A fake Gemini API server for the tests, as Google's Generative Language
API reference defines it: POST /v1beta/models/MODEL:generateContent, or
:streamGenerateContent?alt=sse (server-sent events, each a
GenerateContentResponse); the key in x-goog-api-key; contents of role
user/model with text, functionCall and functionResponse parts (a function
response turn must answer the calls of the model turn before it, one part
per call); systemInstruction; tools.functionDeclarations whose parameters
use only the Schema object's fields; toolConfig.functionCallingConfig;
errors as {"error": {"code", "message", "status"}}.  Script fields:
fake_common.py.

usage: fake_gemini.py PORTFILE SCRIPT.json LOG
"""
import json
import re

import fake_common as fc

STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
          504: "DEADLINE_EXCEEDED"}
SCHEMA_KEYS = {"type", "format", "title", "description", "nullable", "enum", "maxItems",
               "minItems", "properties", "required", "minProperties", "maxProperties",
               "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
               "default", "items", "minimum", "maximum"}


def check_schema(s, where, p):
    if not isinstance(s, dict):
        p.append("%s: a schema must be an object" % where)
        return
    for k in s:
        if k not in SCHEMA_KEYS:
            p.append('%s: Invalid JSON payload received. Unknown name "%s"' % (where, k))
    for name, sub in (s.get("properties") or {}).items():
        check_schema(sub, where + ".properties." + name, p)
    if "items" in s:
        check_schema(s["items"], where + ".items", p)


def check(body):
    p = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return ["contents is not specified"]
    calls = []
    for i, c in enumerate(contents):
        role, parts = c.get("role"), c.get("parts")
        if role not in ("user", "model"):
            p.append("contents.%d.role: must be user or model" % i)
        if not isinstance(parts, list) or not parts:
            p.append("contents.%d.parts: must not be empty" % i)
            continue
        responses = []
        for part in parts:
            kinds = [k for k in ("text", "functionCall", "functionResponse") if k in part]
            if len(kinds) != 1:
                p.append("contents.%d: each part has exactly one of text, functionCall, "
                         "functionResponse" % i)
                continue
            if kinds[0] == "functionCall":
                fc_ = part["functionCall"]
                if role != "model" or not isinstance(fc_.get("name"), str) \
                        or not isinstance(fc_.get("args", {}), dict):
                    p.append("contents.%d: functionCall {name, args} only in model turns" % i)
            elif kinds[0] == "functionResponse":
                fr = part["functionResponse"]
                if role != "user" or not isinstance(fr.get("name"), str) \
                        or not isinstance(fr.get("response"), dict):
                    p.append("contents.%d: functionResponse {name, response object} only in "
                             "user turns" % i)
                responses.append(fr.get("name"))
        if responses:
            if sorted(responses) != sorted(calls):
                p.append("Please ensure that the number of function response parts is equal to "
                         "the number of function call parts of the function call turn "
                         "(contents.%d: %s for %s)" % (i, responses, calls))
        calls = [part["functionCall"].get("name") for part in parts
                 if "functionCall" in part] if role == "model" else []
    si = body.get("systemInstruction")
    if si is not None and not (isinstance(si, dict) and isinstance(si.get("parts"), list)):
        p.append("systemInstruction: must be {parts: [...]}")
    for t in body.get("tools", []):
        for d in t.get("functionDeclarations", []):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}", d.get("name", "")):
                p.append("functionDeclarations: invalid name %r" % d.get("name"))
            if "parameters" in d:
                check_schema(d["parameters"], "tools.functionDeclarations.parameters", p)
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    if mode is not None and mode not in ("AUTO", "ANY", "NONE", "VALIDATED"):
        p.append("functionCallingConfig.mode: invalid %r" % mode)
    return p


class Handler(fc.Handler):
    stream_error_at = 0  # every event of a Gemini stream carries text

    def route(self, path, body):
        m = re.fullmatch(r"/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)"
                         r"(\?alt=sse)?", path)
        if not m:
            return None, []
        if m.group(2) == "streamGenerateContent" and not m.group(3):
            return "stream", ["the fake streams only with alt=sse"]
        return ("stream" if m.group(2) == "streamGenerateContent" else "json"), check(body)

    def auth_header(self):
        return self.headers.get("x-goog-api-key")

    def do_POST(self):
        if not self.headers.get("x-goog-api-key"):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            return self.send_error_body(403, "Method doesn't allow unregistered callers")
        return super().do_POST()

    def send_error_body(self, status, message):
        self.send_json(status, {"error": {"code": status, "message": message,
                                          "status": STATUS.get(status, "UNKNOWN")}})

    def parts(self, e):
        out = [{"text": e["text"]}] if e.get("text") else []
        for c in e.get("tool_calls", []):
            out.append({"functionCall": {"name": c["name"], "args": c.get("arguments", {})}})
        return out

    def usage(self, e):
        inp, out = fc.usage_of(e)
        return {"promptTokenCount": inp, "candidatesTokenCount": out, "totalTokenCount": inp + out}

    def answer_json(self, e, body):
        self.send_json(200, {"candidates": [{"content": {"role": "model", "parts": self.parts(e)},
                                             "finishReason": "STOP", "index": 0}],
                             "usageMetadata": self.usage(e), "modelVersion": "fake-gemini"})

    def stream_events(self, e, body):
        ev = []
        for w in fc.words(e.get("text", "")):
            ev.append(b"data: %s\r\n\r\n" % json.dumps({"candidates": [{
                "content": {"role": "model", "parts": [{"text": w}]}, "index": 0}],
                "modelVersion": "fake-gemini"}).encode())
        last = {"content": {"role": "model", "parts": self.parts(dict(e, text=""))},
                "finishReason": "STOP", "index": 0}
        if not last["content"]["parts"]:
            last["content"]["parts"] = [{"text": ""}]
        ev.append(b"data: %s\r\n\r\n" % json.dumps({
            "candidates": [last], "usageMetadata": self.usage(e),
            "modelVersion": "fake-gemini"}).encode())
        return ev

    def stream_error_event(self, e):
        return b"data: %s\r\n\r\n" % json.dumps({"error": {
            "code": 503, "message": "The model is overloaded. Please try again later.",
            "status": "UNAVAILABLE"}}).encode()


if __name__ == "__main__":
    fc.main(Handler)
