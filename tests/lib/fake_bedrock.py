#!/usr/bin/env python3
"""A fake Amazon Bedrock runtime for the tests, as AWS's API reference
defines it: POST /model/MODEL_ID/converse and /converse-stream, signed
with Signature Version 4 (checked here independently, with the canonical
URI's segments encoded once more as AWS does for every service but S3:
model IDs hold a ':'), the Converse request shape (messages alternating
user/assistant with text, toolUse and toolResult blocks; toolConfig
whenever tool blocks appear; system; inferenceConfig), the answer as JSON
or, for converse-stream, as AWS's binary event stream
(application/vnd.amazon.eventstream: prelude, CRC-32s, typed headers
:event-type / :message-type / :exception-type) with messageStart,
contentBlockStart/Delta/Stop, messageStop, metadata and exceptions;
errors as {"message"} with x-amzn-ErrorType.  Script fields:
fake_common.py.

usage: fake_bedrock.py PORTFILE SCRIPT.json LOG ACCESS_KEY_ID SECRET REGION [SESSION_TOKEN]
"""
import binascii
import datetime
import hashlib
import hmac
import json
import re
import struct
import sys
import urllib.parse

import fake_common as fc

ERRORS = {400: "ValidationException", 401: "UnrecognizedClientException",
          403: "AccessDeniedException", 404: "ResourceNotFoundException",
          408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
          500: "InternalServerException", 503: "ServiceUnavailableException"}
ACCESS = SECRET = REGION = TOKEN = None


def sign_check(method, raw_path, headers, body):
    """None when the SigV4 signature is right, else why not."""
    auth = headers.get("authorization") or ""
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
    if not m:
        return "no AWS4-HMAC-SHA256 Authorization header"
    akid, date, region, service, signed, signature = m.groups()
    if akid != ACCESS:
        return "unknown access key id %s" % akid
    if region != REGION or service != "bedrock":
        return "credential scope %s/%s, want %s/bedrock" % (region, service, REGION)
    amz_date = headers.get("x-amz-date") or ""
    if not amz_date.startswith(date):
        return "x-amz-date %r does not match the credential date %s" % (amz_date, date)
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return "bad x-amz-date %r" % amz_date
    if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900:
        return "signature expired (x-amz-date %s)" % amz_date
    names = signed.split(";")
    for need in ("host", "x-amz-date"):
        if need not in names:
            return "%s is not signed" % need
    if TOKEN is not None:
        if headers.get("x-amz-security-token") != TOKEN:
            return "the security token included in the request is invalid"
        if "x-amz-security-token" not in names:
            return "x-amz-security-token is not signed"
    path, _, query = raw_path.partition("?")
    canon_uri = urllib.parse.quote(path, safe="/~")
    canon_query = "&".join(sorted(query.split("&"))) if query else ""
    canon_headers = "".join("%s:%s\n" % (n, " ".join((headers.get(n) or "").split())) for n in names)
    creq = "\n".join([method, canon_uri, canon_query, canon_headers, signed,
                      hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/bedrock/aws4_request" % (date, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SECRET).encode()
    for part in (date, region, "bedrock", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature):
        return ("The request signature we calculated does not match the signature you provided "
                "(canonical request: %r)" % creq)
    return None


def check(body):
    p = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return ["messages: at least one message is required"]
    uses_tools = False
    pending = set()
    for i, m in enumerate(msgs):
        role, content = m.get("role"), m.get("content")
        want = "user" if i % 2 == 0 else "assistant"
        if role != want:
            p.append("A conversation must alternate between user and assistant roles "
                     "(messages.%d is %r)" % (i, role))
        if not isinstance(content, list) or not content:
            p.append("messages.%d.content: must be a non-empty list" % i)
            continue
        results = set()
        for b in content:
            if len(b) != 1:
                p.append("messages.%d: a ContentBlock holds exactly one member" % i)
                continue
            (k, v), = b.items()
            if k == "text":
                if not isinstance(v, str) or not v.strip():
                    p.append("The text field in the ContentBlock object at messages.%d is blank" % i)
            elif k == "toolUse":
                uses_tools = True
                if role != "assistant" or not isinstance(v.get("input"), dict) \
                        or not v.get("toolUseId") or not v.get("name"):
                    p.append("messages.%d: toolUse {toolUseId, name, input} only for assistant" % i)
            elif k == "toolResult":
                uses_tools = True
                results.add(v.get("toolUseId"))
                c = v.get("content")
                if role != "user" or not isinstance(c, list) or not c \
                        or any(len(x) != 1 or next(iter(x)) not in ("text", "json") for x in c):
                    p.append("messages.%d: toolResult {toolUseId, content: [{text}|{json}]} only "
                             "for user" % i)
            else:
                p.append("messages.%d: unknown ContentBlock member %r" % (i, k))
        if role == "user":
            if pending != results:
                p.append("messages.%d: the toolResult blocks must answer the toolUse blocks of "
                         "the turn before (%s vs %s)" % (i, sorted(results), sorted(pending)))
            pending = set()
        else:
            pending = {b["toolUse"].get("toolUseId") for b in content if "toolUse" in b}
    tc = body.get("toolConfig")
    if uses_tools and not tc:
        p.append("The toolConfig field must be defined when using toolUse and toolResult "
                 "content blocks")
    if tc:
        for t in tc.get("tools", []):
            spec = t.get("toolSpec") or {}
            if not spec.get("name") or not spec.get("description") \
                    or not isinstance((spec.get("inputSchema") or {}).get("json"), dict):
                p.append("toolConfig.tools: toolSpec {name, description, inputSchema: {json}}")
        ch = tc.get("toolChoice")
        if ch is not None and (len(ch) != 1 or next(iter(ch)) not in ("auto", "any", "tool")):
            p.append("toolConfig.toolChoice: one of auto, any, tool")
    for k in (body.get("inferenceConfig") or {}):
        if k not in ("maxTokens", "temperature", "topP", "stopSequences"):
            p.append("inferenceConfig: unknown field %s" % k)
    if "system" in body and not all("text" in s for s in body["system"]):
        p.append("system: a list of {text}")
    return p


def header(name, value):
    n, v = name.encode(), value.encode()
    return struct.pack("B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v


def frame(headers, payload):
    h = b"".join(header(k, v) for k, v in headers)
    p = json.dumps(payload).encode()
    total = 12 + len(h) + len(p) + 4
    prelude = struct.pack(">II", total, len(h))
    msg = prelude + struct.pack(">I", binascii.crc32(prelude)) + h + p
    return msg + struct.pack(">I", binascii.crc32(msg))


def event(kind, payload):
    payload = dict(payload, p="abcdefghijklmnopqrstuvwxyzABCDEF"[: 8 + len(kind) % 16])
    return frame([(":event-type", kind), (":content-type", "application/json"),
                  (":message-type", "event")], payload)


class Handler(fc.Handler):
    content_type_stream = "application/vnd.amazon.eventstream"

    def route(self, path, body):
        m = re.fullmatch(r"/model/([^/]+)/(converse|converse-stream)", path)
        if not m:
            return None, []
        return ("stream" if m.group(2) == "converse-stream" else "json"), check(body)

    def auth_header(self):
        return self.headers.get("authorization")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        why = sign_check("POST", self.path, headers, raw)
        if why:
            with self.log_lock, open(self.log_file, "a") as f:
                f.write(json.dumps({"path": self.path, "sigv4": why}) + "\n")
            return self.send_json(403, {"message": why},
                                  [("x-amzn-ErrorType", "InvalidSignatureException")])
        # Hand the body to the common code as if unread.
        import io
        self.rfile = io.BytesIO(raw)
        return super().do_POST()

    def send_error_body(self, status, message):
        kind = ERRORS.get(status, "InternalServerException")
        self.send_json(status, {"message": message}, [("x-amzn-ErrorType", kind)])

    def content(self, e):
        out = [{"text": e["text"]}] if e.get("text") else []
        for i, c in enumerate(e.get("tool_calls", [])):
            out.append({"toolUse": {"toolUseId": "tooluse_%02d" % i, "name": c["name"],
                                    "input": c.get("arguments", {})}})
        return out

    def usage(self, e):
        inp, out = fc.usage_of(e)
        return {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out}

    def answer_json(self, e, body):
        self.send_json(200, {"output": {"message": {"role": "assistant", "content": self.content(e)}},
                             "stopReason": "tool_use" if e.get("tool_calls") else "end_turn",
                             "usage": self.usage(e), "metrics": {"latencyMs": 1}})

    def stream_events(self, e, body):
        ev = [event("messageStart", {"role": "assistant"})]
        index = 0
        if e.get("text"):
            for w in fc.words(e["text"]):
                ev.append(event("contentBlockDelta", {"contentBlockIndex": index,
                                                      "delta": {"text": w}}))
            ev.append(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for i, c in enumerate(e.get("tool_calls", [])):
            args = json.dumps(c.get("arguments", {}))
            ev.append(event("contentBlockStart", {"contentBlockIndex": index, "start": {
                "toolUse": {"toolUseId": "tooluse_%02d" % i, "name": c["name"]}}}))
            for piece in (args[: len(args) // 2], args[len(args) // 2:]):
                ev.append(event("contentBlockDelta", {"contentBlockIndex": index,
                                                      "delta": {"toolUse": {"input": piece}}}))
            ev.append(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        ev.append(event("messageStop", {"stopReason": "tool_use" if e.get("tool_calls") else "end_turn"}))
        ev.append(event("metadata", {"usage": self.usage(e), "metrics": {"latencyMs": 1}}))
        return ev

    def stream_error_event(self, e):
        kind = e["stream_error"]
        kind = "serviceUnavailableException" if kind == "overloaded" else kind
        return frame([(":exception-type", kind), (":content-type", "application/json"),
                      (":message-type", "exception")], {"message": "stream exception: " + kind})


if __name__ == "__main__":
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    ACCESS, SECRET, REGION = sys.argv[4:7]
    TOKEN = sys.argv[7] if len(sys.argv) > 7 else None
    fc.main(Handler)
