#!/usr/bin/env bash
# Integration lane: agents and models, end to end in the sandbox.
#
# Every model call goes to tests/lib/fake_openai.py, a scripted
# OpenAI-compatible server on 127.0.0.1 (a fresh one per case, killed by
# pid), through the broker's llm.chat.  Covered: non-streaming and
# streaming replies (live on stderr; the --json events), a tool-using
# agent (the tool result goes back to the model, then done), {input.x} /
# {state.x} templates, max_turns, structured output, mock mode (no request
# reaches the server), every error path (each a clear message and exit 1,
# and the broker keeps serving: the same failure caught with pcall lets
# the procedure go on through the broker), and the model policy (models,
# max_tokens).
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
work="$scratch/work"
mkdir -p "$work" "$scratch/home"
# No personal config may change what runs; no real key or server is used.
export HOME="$scratch/home"
unset OPENAI_API_KEY OPENAI_BASE_URL
KEY=sk-test-agents-$$

trap 'stop_fake; rm -rf "$scratch"' EXIT

# Requests the fake server received.
nreq() { grep -c . "$LOG"; }

# run FILE ARGS...: `tactus-run run` in $work, in a new session (no TTY),
# with the test key and the fake server's URL.  Sets rc, out, err, secs.
run() {
  local t0 t1
  t0=$(date +%s%N)
  (cd "$work" && OPENAI_API_KEY="$KEY" OPENAI_BASE_URL="$URL" \
    setsid -w "$TR" run "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  t1=$(date +%s%N)
  secs=$(((t1 - t0) / 1000000))  # milliseconds, despite the name
  if [ "$(stat -c %s "$scratch/out")" -lt 1000000 ]; then out=$(cat "$scratch/out"); else out="(large)"; fi
  if [ "$(stat -c %s "$scratch/err")" -lt 1000000 ]; then err=$(cat "$scratch/err"); else err="(large)"; fi
}

# q FILE EXPR: tests/lib/jsonl_query.py over FILE (ev, r, types, of(t)).
q() { python3 "$TESTS_DIR/lib/jsonl_query.py" "$1" "$2"; }
qo() { q "$scratch/out" "$1"; }

# check NAME GOT WANT [CONTEXT]
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3${4:+ ($4)}"; fi
}
short() { printf '%s' "$1" | tail -3 | tr '\n' ' ' | cut -c1-400; }

# ---- the procedures -----------------------------------------------------------
cat >"$work/chat.tac" <<'EOF'
streamer = Agent { model = "openai/gpt-4o-mini", system_prompt = "Topic: {input.topic}. Mode: {state.mode}." }
plain = Agent { model = "openai/gpt-4o-mini", system_prompt = "Topic: {input.topic}.", disable_streaming = true }
Procedure {
  input = { topic = field.string { default = "owls" }, which = field.string { default = "streamer" } },
  function(input)
    state.mode = "brief"
    local a = input.which == "plain" and plain or streamer
    local r = a({ message = "Tell me about {input.topic} ({state.mode}); missing: [{input.nothing}]" })
    return { text = r.text, tokens = r.usage.total_tokens }
  end,
}
EOF
cat >"$work/tools.tac" <<'EOF'
local done = require("tactus.tools.done")
add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { required = true } },
  function(args) return { sum = args.a + args.b } end,
}
calc = Agent { model = "openai/gpt-4o-mini", system_prompt = "You add.", tools = { add, done }, max_turns = 5 }
Mocks { calc = { message = "adding now", tool_calls = {
  { tool = "add", args = { a = 2, b = 3 } }, { tool = "done", args = { reason = "5" } } } } }
Procedure { function(input)
  local r = calc({ message = "What is 2+3?" })
  return { text = r.text, done = done.called(), reason = done.called() and done.last_call().args.reason or "",
           sum = add.called() and add.last_result().sum or -1 }
end }
EOF
cat >"$work/loop.tac" <<'EOF'
ping = Tool { description = "ping", input = {}, function(args) return "pong" end }
looper = Agent { model = "openai/gpt-4o-mini", tools = { ping }, max_turns = 3 }
Procedure { function(input)
  local r = looper({ message = "go" })
  return { calls = #r.tool_calls, pings = ping.call_count() }
end }
EOF
cat >"$work/struct.tac" <<'EOF'
extractor = Agent { model = "openai/gpt-4o-mini", disable_streaming = true,
  output = { city = field.string { required = true }, population = field.integer { required = true } } }
Procedure { function(input)
  local a = extractor({ message = "Biggest city?" })
  local b = extractor({ message = "And again, fenced?" })
  return { a = a.output, b = b.output, kind = type(a.output) .. "/" .. type(b.output) }
end }
EOF
cat >"$work/err.tac" <<'EOF'
a = Agent { model = "openai/gpt-4o-mini" }
Procedure {
  input = { catch = field.boolean { default = false } },
  function(input)
    if not input.catch then
      local r = a({ message = "hi" })
      return { text = r.text }
    end
    local ok, e = pcall(a, { message = "hi" })
    local after = checkpoint(function() return "broker still serving" end)
    return { ok = ok, type = type(e) == "table" and e.type or tostring(e), after = after }
  end,
}
EOF
cat >"$work/two.tac" <<'EOF'
a = Agent { model = "openai/gpt-4o-mini" }
Procedure { function(input)
  local r1 = a({ message = "one" })
  local r2 = a({ message = "two" })
  return { t1 = r1.text, t2 = r2.text }
end }
EOF

# ---- replies --------------------------------------------------------------------
start_fake '[{"text": "Owls are nocturnal."}]'
run chat.tac --param which=plain --json
check "agents: non-streaming reply (exit, text)" "$rc $(qo 'r.get("result", {}).get("text")')" "0 Owls are nocturnal." "$(short "$err")"
check "agents: non-streaming request has stream=false and the model id" \
  "$(q "$LOG" '[ev[0]["body"]["stream"], ev[0]["body"]["model"], len(ev)]')" '[false, "gpt-4o-mini", 1]'
check "agents: non-streaming reply counts tokens" "$(qo 'r["result"]["tokens"]')" 15
if [[ "$err" == *"WITHOUT the sandbox"* ]]; then fail "agents: runs in the sandbox" "$(short "$err")"; else pass "agents: runs in the sandbox"; fi

start_fake '[{"text": "Owls hunt at night and see well."}]'
run chat.tac --param topic=lighthouses --json
check "agents: streaming reply (exit, text)" "$rc $(qo 'r.get("result", {}).get("text")')" "0 Owls hunt at night and see well." "$(short "$err")"
check "agents: streaming --json events: agent_turn started/completed, chunks, cost" \
  "$(qo '[[e["stage"] for e in of("agent_turn")], len(of("agent_stream_chunk")), "".join(e["chunk_text"] for e in of("agent_stream_chunk")), [(e["provider"], e["total_tokens"]) for e in of("cost")]]')" \
  '[["started", "completed"], 7, "Owls hunt at night and see well.", [["openai", 15]]]'
check "agents: streaming request asks for a stream with usage" \
  "$(q "$LOG" '[ev[0]["body"]["stream"], ev[0]["body"]["stream_options"], ev[0]["path"]]')" \
  '[true, {"include_usage": true}, "/v1/chat/completions"]'
check "agents: {input.x} and {state.x} rendered in the request (a missing key renders empty)" \
  "$(q "$LOG" '[m["content"] for m in ev[0]["body"]["messages"]]')" \
  '["Topic: lighthouses. Mode: brief.", "Tell me about lighthouses (brief); missing: []"]'
check "agents: the broker adds the host's key" "$(q "$LOG" 'ev[0]["authorization"]')" "Bearer $KEY"

# The streamed text reaches stderr as it arrives, not at the end.
start_fake '[{"text": "one two three four five six", "stall": 0.3}]'
live=$(cd "$work" && OPENAI_API_KEY="$KEY" OPENAI_BASE_URL="$URL" python3 - "$TR" <<'EOF'
import os, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "run", "chat.tac"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
buf, first = b"", None
while True:
    chunk = os.read(p.stderr.fileno(), 4096)
    if not chunk:
        break
    buf += chunk
    if first is None and b"one" in buf:
        first = time.monotonic()
p.wait()
end = time.monotonic()
lead = end - first if first else -1
print("%d %s %s" % (p.returncode, "live" if lead > 0.9 else "late(%.2fs)" % lead,
                    "full" if b"one two three four five six" in buf else "partial"))
EOF
)
check "agents: streamed text appears on stderr live (first word >0.9 s before the end)" "$live" "0 live full"

# ---- tools -------------------------------------------------------------------------
start_fake '[{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
             {"text": "The sum is 5.", "tool_calls": [{"name": "done", "arguments": {"reason": "5"}}]}]'
run tools.tac --json
check "agents: tool-using agent completes (done called, sum from the Lua tool)" \
  "$rc $(qo '[r["result"]["done"], r["result"]["reason"], r["result"]["sum"]]')" '0 [true, "5", 5]' "$(short "$err")"
check "agents: tool_call events with args and results" \
  "$(qo '[(e["tool_name"], e["tool_args"], e["tool_result"]) for e in of("tool_call")]')" \
  '[["add", {"a": 2, "b": 3}, {"sum": 5}], ["done", {"reason": "5"}, {"reason": "5", "status": "completed", "tool": "done"}]]'
check "agents: tool run --json has agent_turn, agent_stream_chunk, tool_call and cost" \
  "$(qo 'sorted(set(types) - NOT_TURN)')" '["agent_stream_chunk", "agent_turn", "cost", "tool_call"]'
check "agents: the model was offered the tools with JSON schemas" \
  "$(q "$LOG" '[(t["function"]["name"], t["function"]["parameters"].get("required")) for t in ev[0]["body"]["tools"]]')" \
  '[["add", ["a", "b"]], ["done", null]]'
check "agents: the second request carries the assistant tool call and the tool message with the result" \
  "$(q "$LOG" '[len(ev)] + [[m["role"], m.get("tool_call_id"), m.get("content"), [c["function"]["name"] for c in m.get("tool_calls") or []]] for m in ev[1]["body"]["messages"][2:]]')" \
  '[2, ["assistant", null, null, ["add"]], ["tool", "call_0", "{\"sum\":5}", []]]'

# Only the tools offered to the agent run: a model that names another Tool
# the file declares (or done, not given) gets an error result instead.
cat >"$work/offered.tac" <<'EOF'
local done = require("tactus.tools.done")
add = Tool { description = "Add", input = { a = field.number { required = true }, b = field.number { required = true } },
  function(args) return { sum = args.a + args.b } end }
wipe = Tool { description = "Delete everything", input = {},
  function(args) state.wiped = true; return { wiped = true } end }
calc = Agent { model = "openai/gpt-4o-mini", disable_streaming = true, tools = { add }, max_turns = 3 }
Mocks { calc = { tool_calls = { { tool = "wipe", args = {} }, { tool = "add", args = { a = 1, b = 1 } } } } }
Procedure { function(input)
  local r = calc({ message = "go" })
  local results = {}
  for _, c in ipairs(r.tool_calls) do results[#results + 1] = { c.tool, c.result } end
  return { wiped = state.wiped == true, wipe_calls = wipe.call_count(), done_called = done.called(),
           add_calls = add.call_count(), results = results, text = r.text }
end }
EOF
start_fake '[{"tool_calls": [{"name": "wipe", "arguments": {}}, {"name": "done", "arguments": {"reason": "x"}}, {"name": "add", "arguments": {"a": 2, "b": 3}}]},
             {"text": "finished"}]'
run offered.tac --json
check "agents: a model calling a declared Tool the agent was not given: it does not run" \
  "$rc $(qo '[r["result"]["wiped"], r["result"]["wipe_calls"], r["result"]["done_called"], r["result"]["add_calls"], r["result"]["text"]]')" \
  '0 [false, 0, false, 1, "finished"]' "$(short "$err")"
check "agents: ... the model gets a tool error result for each tool not offered" \
  "$(q "$LOG" '[(m["tool_call_id"], json.loads(m["content"])) for m in ev[1]["body"]["messages"] if m["role"] == "tool"]')" \
  '[["call_0", {"error": "tool wipe is not available to this agent"}], ["call_1", {"error": "tool done is not available to this agent"}], ["call_2", {"sum": 5}]]'
check "agents: ... only the offered tool was offered, and only it has a tool_call event" \
  "$(q "$LOG" '[t["function"]["name"] for t in ev[0]["body"]["tools"]]') $(qo '[e["tool_name"] for e in of("tool_call")]')" \
  '["add"] ["add"]'
check "agents: ... each refused call is logged" \
  "$(qo '[e["level"] + " " + e["message"] for e in of("log") if "not available" in e.get("message", "")]')" \
  '["WARNING agent calc: the model called tool wipe, which is not available to this agent; it did not run", "WARNING agent calc: the model called tool done, which is not available to this agent; it did not run"]'
run offered.tac --mock-all --json
check "agents: a scripted (Mocks) call to a tool not offered is refused the same way" \
  "$rc $(qo '[r["result"]["wiped"], r["result"]["wipe_calls"], r["result"]["results"]]')" \
  '0 [false, 0, [["wipe", {"error": "tool wipe is not available to this agent"}], ["add", {"sum": 2}]]]' "$(short "$err")"

# max_turns: a model that calls a tool forever is stopped after 3 calls.
start_fake '[{"tool_calls": [{"name": "ping", "arguments": {}}]}]'
run loop.tac --json
check "agents: max_turns = 3 stops a tool loop after 3 model calls" \
  "$rc $(nreq) $(qo '[r["result"]["pings"], r["result"]["calls"]]')" "0 3 [3, 3]" "$(short "$err")"
check "agents: hitting max_turns is logged" \
  "$(qo '[e["message"] for e in of("log") if "max_turns" in e.get("message", "")]')" \
  '["agent looper: stopped after max_turns = 3 model calls; the model was still calling tools"]'

# Structured output: JSON text (plain, then in a ``` fence) parsed by the schema.
start_fake '[{"text": "{\"city\": \"Tokyo\", \"population\": 37000000}"},
             {"text": "```json\n{\"city\": \"Delhi\", \"population\": 33000000}\n```"}]'
run struct.tac --json
check "agents: structured output parsed from JSON text (plain and fenced)" \
  "$rc $(qo 'r["result"]')" \
  '0 {"a": {"city": "Tokyo", "population": 37000000}, "b": {"city": "Delhi", "population": 33000000}, "kind": "table/table"}' \
  "$(short "$err")"

# ---- mock mode: no request leaves -----------------------------------------------------
start_fake '[{"text": "the network was used"}]'
run chat.tac --mock-all --json
check "agents: --mock-all (default mock): no request; the first turn calls done, as in Tactus" \
  "$rc $(nreq) $(qo '[r["result"]["text"], sorted(set(types) - NOT_TURN), [e["provider"] for e in of("cost")]]')" \
  '0 0 ["Mock response from streamer.", ["agent_stream_chunk", "agent_turn", "cost", "tool_call"], ["mock"]]' "$(short "$err")"
run tools.tac --mock-all --json
check "agents: --mock-all with Mocks { calc = { message, tool_calls } }: tools run, done, no request" \
  "$rc $(nreq) $(qo '[r["result"]["text"], r["result"]["sum"], r["result"]["done"], r["result"]["reason"]]')" \
  '0 0 ["adding now", 5, true, "5"]' "$(short "$err")"
check "agents: mock turn has the same event types as a model turn" \
  "$(qo 'sorted(set(types) - NOT_TURN)')" '["agent_stream_chunk", "agent_turn", "cost", "tool_call"]'
check "agents: mock tool_call events" \
  "$(qo '[(e["tool_name"], e["tool_result"]) for e in of("tool_call")]')" \
  '[["add", {"sum": 5}], ["done", {"reason": "5", "status": "completed", "tool": "done"}]]'
# As in Tactus, a Mocks entry alone does not mock the agent: the model is called.
start_fake '[{"text": "real", "tool_calls": [{"name": "done", "arguments": {"reason": "real"}}]}]'
run tools.tac --json
check "agents: without --mock-all a Mocks entry does not stop the model call" \
  "$rc $(nreq) $(qo 'r["result"]["reason"]')" "0 1 real" "$(short "$err")"

# ---- error paths ------------------------------------------------------------------
# error_case NAME SCRIPT TYPE MESSAGE-PART REQUESTS [ARGS...]: the direct
# call fails (exit 1, TYPE and MESSAGE-PART on stderr, REQUESTS made; "-"
# skips the count); the same call under pcall is caught and the procedure
# goes on through the broker.
error_case() {
  local name="$1" script="$2" type="$3" part="$4" want_req="$5"
  shift 5
  start_fake "$script"
  run err.tac "$@"
  local got_req
  got_req=$(nreq)
  [ "$want_req" = - ] && got_req=-
  if [ "$rc" = 1 ] && [[ "$err" == *"Procedure failed: err.tac:"*": $type: "*"$part"* ]] && [ "$got_req" = "$want_req" ]; then
    pass "agents: $name: $type, clear message, exit 1"
  else
    fail "agents: $name: $type, clear message, exit 1" "exit $rc, $got_req requests (want $want_req): $(short "$err")"
  fi
  start_fake "$script"
  run err.tac --param catch=true --json "$@"
  check "agents: $name: caught with pcall, the broker keeps serving" \
    "$rc $(qo '[r["result"]["ok"], r["result"]["type"], r["result"]["after"]]')" \
    "0 [false, \"$type\", \"broker still serving\"]" "$(short "$err")"
}

error_case "401" '[{"status": 401, "error": "Incorrect API key provided"}]' \
  AuthenticationError "refused the API key (HTTP 401; set OPENAI_API_KEY" 1
error_case "404 unknown model" '[{"status": 404, "error": "The model does not exist"}]' \
  UnknownModel "model 'openai/gpt-4o-mini' is not known" 1
error_case "500 x3" '[{"status": 500, "error": "overloaded"}]' \
  ModelError "answered HTTP 500 overloaded" 3
error_case "malformed body (HTML)" '[{"garbage": "<html>502 Bad Gateway</html>"}]' \
  MalformedResponse "not an OpenAI chat completion: <html>502 Bad Gateway" 1
error_case "malformed body (broken JSON)" '[{"garbage": "{\"id\": \"x\", \"choices\": ["}]' \
  MalformedResponse "not an OpenAI chat completion" 1
error_case "empty body" '[{"garbage": ""}]' \
  MalformedResponse "not an OpenAI chat completion" 1
error_case "JSON that is not a completion" '[{"garbage": "{\"id\": \"x\", \"object\": \"chat.completion\"}"}]' \
  MalformedResponse "not an OpenAI chat completion" 1
error_case "connection reset" '[{"reset": true}]' \
  ConnectionError "cannot complete the model call" 3

# 429 then success: retried once.
start_fake '[{"status": 429, "error": "slow down"}, {"text": "recovered"}]'
run err.tac --json
check "agents: 429 then success: retried (2 requests), completes" \
  "$rc $(nreq) $(qo 'r["result"]["text"]')" "0 2 recovered" "$(short "$err")"
check "agents: the retry is logged" \
  "$(qo 'len([e for e in of("log") if "retrying" in e.get("message", "")])')" 1

# Connection refused: nothing listens on the port.
free_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop_fake
saved_url="$URL"
URL="http://127.0.0.1:$free_port/v1"
run err.tac
if [ "$rc" = 1 ] && [[ "$err" == *"Procedure failed: err.tac:"*": ConnectionError: cannot complete the model call to $URL"* ]]; then
  pass "agents: connection refused: ConnectionError, clear message, exit 1"
else
  fail "agents: connection refused: ConnectionError, clear message, exit 1" "exit $rc: $(short "$err")"
fi
run err.tac --param catch=true --json
check "agents: connection refused: caught with pcall, the broker keeps serving" \
  "$rc $(qo '[r["result"]["type"], r["result"]["after"]]')" '0 ["ConnectionError", "broker still serving"]'
URL="$saved_url"

# A server that never answers: --timeout 5 ends the run (124) in time.
start_fake '[{"hang": true}]'
run err.tac --timeout 5
if [ "$rc" = 124 ] && [ "$secs" -lt 7500 ] && [[ "$err" == *"deadline"* ]]; then
  pass "agents: hanging server with --timeout 5: exit 124 in ${secs} ms"
else
  fail "agents: hanging server with --timeout 5: exit 124 within 7.5 s" "exit $rc after $secs ms: $(short "$err")"
fi

# A flood: 20 MB streamed; the call stops at 8 MiB with a clear error.
start_fake '[{"flood": 20000000}]'
run err.tac --json
size=$(($(stat -c %s "$scratch/out") + $(stat -c %s "$scratch/err")))
last=$(tail -1 "$scratch/out" | cut -c1-2000)
printf '%s\n' "$last" >"$scratch/last"
if [ "$rc" = 1 ] && [ "$size" -lt $((9 << 20)) ] && [ "$secs" -lt 15000 ] \
  && [[ "$(q "$scratch/last" 'r.get("message", "")')" == *"ResponseTooLarge: "*"more than 8 MiB"* ]]; then
  pass "agents: flood (20 MB stream): ResponseTooLarge, exit 1, output bounded ($size bytes, ${secs} ms)"
else
  fail "agents: flood: ResponseTooLarge, exit 1, bounded" "exit $rc, $size bytes, $secs ms: $(printf '%s' "$last" | cut -c1-300)"
fi
start_fake '[{"flood": 20000000}]'
run err.tac --param catch=true --json
printf '%s\n' "$(tail -1 "$scratch/out" | cut -c1-2000)" >"$scratch/last"
check "agents: flood: caught with pcall, the broker keeps serving" \
  "$rc $(q "$scratch/last" '[r["result"]["type"], r["result"]["after"]]')" '0 ["ResponseTooLarge", "broker still serving"]'

# ---- the examples: offline with --mock-all, and against the server ----------------
examples="$(cd "$TESTS_DIR/.." && pwd)/examples"
start_fake '[{"text": "The Moon pulls the sea into two bulges."}, {"text": "A harbour at low tide."}]'
run "$examples/agent_chat.tac" --mock-all --json
check "agents: examples/agent_chat.tac --mock-all: two mocked turns, no request" \
  "$rc $(nreq) $(qo '[r["result"]["turns"], r["result"]["answer"][:12], len(of("agent_stream_chunk"))]')" \
  '0 0 [2, "Tides are ca", 2]' "$(short "$err")"
run "$examples/agent_chat.tac" --param topic=tides --json
check "agents: examples/agent_chat.tac against the server: streamed answers" \
  "$rc $(qo '[r["result"], len(of("agent_stream_chunk")) > 2]')" \
  '0 [{"answer": "The Moon pulls the sea into two bulges.", "example": "A harbour at low tide.", "turns": 2}, true]' "$(short "$err")"
check "agents: examples/agent_chat.tac: the second turn carries the conversation" \
  "$(q "$LOG" '[len(ev), [m["role"] for m in ev[1]["body"]["messages"]], ev[1]["body"]["messages"][2]["content"]]')" \
  '[2, ["system", "user", "assistant", "user"], "The Moon pulls the sea into two bulges."]'
start_fake '[{"tool_calls": [{"name": "lookup_price", "arguments": {"item": "coffee"}}, {"name": "lookup_price", "arguments": {"item": "sandwich"}}]},
             {"tool_calls": [{"name": "convert", "arguments": {"amount": 10.75, "currency": "GBP"}}]},
             {"text": "All priced.", "tool_calls": [{"name": "done", "arguments": {"reason": "10.75 USD = 8.49 GBP"}}]}]'
run "$examples/agent_tools.tac" --mock-all --json
check "agents: examples/agent_tools.tac --mock-all: scripted tool calls run the Lua tools, no request" \
  "$rc $(nreq) $(qo 'r["result"]')" \
  '0 0 {"conversions": 1, "prices_looked_up": 2, "summary": "coffee + sandwich = 10.75 USD = 9.89 EUR"}' "$(short "$err")"
run "$examples/agent_tools.tac" --param currency=GBP --json
check "agents: examples/agent_tools.tac against the server: two tools, then done" \
  "$rc $(nreq) $(qo 'r["result"]')" \
  '0 3 {"conversions": 1, "prices_looked_up": 2, "summary": "10.75 USD = 8.49 GBP"}' "$(short "$err")"
check "agents: examples/agent_tools.tac: the tools' results went back to the model" \
  "$(q "$LOG" '[json.loads(m["content"]) for m in ev[2]["body"]["messages"] if m["role"] == "tool"]')" \
  '[{"item": "coffee", "usd": 3.5}, {"item": "sandwich", "usd": 7.25}, {"amount": 8.49, "currency": "GBP"}]'

# ---- policy -------------------------------------------------------------------------
start_fake '[{"text": "x"}]'
printf 'policy: { models: [openai/other] }\n' >"$work/two.tac.yml"
run two.tac
if [ "$rc" = 1 ] && [[ "$err" == *"ModelNotAllowed: model 'openai/gpt-4o-mini' is not allowed by the policy"* ]] && [ "$(nreq)" = 0 ]; then
  pass "agents: policy models: [openai/other] refuses openai/gpt-4o-mini (ModelNotAllowed, no request)"
else
  fail "agents: policy models refuses other models" "exit $rc, $(nreq) requests: $(short "$err")"
fi
printf 'policy: { models: [openai/other, openai/gpt-4o-mini] }\n' >"$work/two.tac.yml"
run two.tac
check "agents: policy models: a listed model is allowed" "$rc $(nreq)" "0 2" "$(short "$err")"

# The first call reports 22 tokens: over the budget of 20, so the second is refused.
start_fake '[{"text": "x", "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22}}]'
printf 'policy: { max_tokens: 20 }\n' >"$work/two.tac.yml"
run two.tac
if [ "$rc" = 1 ] && [[ "$err" == *"TokenBudgetExceeded: the run used its 20 tokens"* ]] && [ "$(nreq)" = 1 ]; then
  pass "agents: policy max_tokens: 20: the second call is refused (TokenBudgetExceeded)"
else
  fail "agents: policy max_tokens: the second call is refused" "exit $rc, $(nreq) requests: $(short "$err")"
fi
check "agents: policy max_tokens caps the request's max_tokens" "$(q "$LOG" 'ev[0]["body"]["max_tokens"]')" 20
rm -f "$work/two.tac.yml"

# ---- event shapes: a mock turn and a model turn carry the same fields -----------------------
# shape.py A B: per event type (agent_turn per stage), the fields only in A's
# events and only in B's; {} when they agree.
cat >"$scratch/shape.py" <<'EOF'
import json, sys
def shapes(path):
    out = {}
    for line in open(path):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        t = e.get("event_type")
        if t in (None, "result", "log", "execution_summary"):
            continue
        if t == "agent_turn":
            t += ":" + e.get("stage", "?")
        out.setdefault(t, set()).update(e.keys())
    return out
a, b = shapes(sys.argv[1]), shapes(sys.argv[2])
skip = set(sys.argv[3:])
diff = {}
for t in sorted(set(a) | set(b)):
    ka, kb = a.get(t, set()), b.get(t, set())
    if t not in a or t not in b:
        diff[t] = "only in one run"
        continue
    d = [sorted(ka - kb - skip), sorted(kb - ka - skip)]
    if d != [[], []]:
        diff[t] = d
print(json.dumps(diff, sort_keys=True))
EOF
start_fake '[{"text": "adding now", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}, {"name": "done", "arguments": {"reason": "5"}}],
              "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.0003}}]'
run tools.tac --json
cp "$scratch/out" "$scratch/model.jsonl"
run tools.tac --mock-all --json
cp "$scratch/out" "$scratch/mock.jsonl"
check "agents: mock and model turns: every event type has the same fields (agent_turn, tool_call, cost, chunks)" \
  "$(python3 "$scratch/shape.py" "$scratch/model.jsonl" "$scratch/mock.jsonl")" '{}'
check "agents: completed turns say status ok; a cost the server reports is the event's total_cost" \
  "$(q "$scratch/model.jsonl" '[[e.get("status") for e in of("agent_turn")], [(e["total_cost"], e["cost_reported"]) for e in of("cost")]]') $(q "$scratch/mock.jsonl" '[[e.get("status") for e in of("agent_turn")], [(e["total_cost"], e["cost_reported"]) for e in of("cost")]]')" \
  '[[null, "ok"], [[0.0003, true]]] [[null, "ok"], [[0, true]]]'
# Streamed chunks come from the broker as the text arrives; the mock's carry
# accumulated_text (the text so far).
acc=$(q "$scratch/model.jsonl" '"absent" if not any("accumulated_text" in e for e in of("agent_stream_chunk")) else all(e.get("accumulated_text") == "".join(x["chunk_text"] for x in of("agent_stream_chunk")[:i + 1]) for i, e in enumerate(of("agent_stream_chunk")))')
check "agents: streamed chunks carry accumulated_text, the text so far" "$acc" true
check "agents: mock chunks carry accumulated_text" \
  "$(q "$scratch/mock.jsonl" '[(e["chunk_text"], e["accumulated_text"]) for e in of("agent_stream_chunk")]')" '[["adding now", "adding now"]]'
# Without a cost in the reply, the price table's (data/model_prices.json)
# for a model it lists: gpt-4o-mini at 0.15 and 0.6 USD per million tokens.
start_fake '[{"text": "Owls.", "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}]'
run chat.tac --json
check "agents: a reply without a cost: the price table's cost (cost_source price_table)" \
  "$rc $(qo '[(round(e["total_cost"] * 1e9), e["cost_reported"], e["cost_source"], e["total_tokens"]) for e in of("cost")]')" \
  '0 [[1650, true, "price_table", 5]]'
# ... and for a model neither the server nor the table prices, unknown, not 0.
sed 's#openai/gpt-4o-mini#openai/unpriced-test-model#' "$work/chat.tac" >"$work/unpriced.tac"
run unpriced.tac --json
check "agents: a reply without a cost for an unpriced model: no total_cost and cost_reported false" \
  "$rc $(qo '[("total_cost" in e, e["cost_reported"], e["cost_source"], e["total_tokens"]) for e in of("cost")]')" \
  '0 [[false, false, "unknown", 5]]'

# A failed model call still completes its turn in the trace, with the error.
start_fake '[{"status": 401, "error": "Incorrect API key provided"}]'
run err.tac --json
check "agents: a failed model call: agent_turn started, then completed with status error and the error" \
  "$rc $(qo '[(e["stage"], e.get("status"), e.get("error_type"), e.get("error", "")[:e.get("error", "").find(" (HTTP 401")], e.get("error", "").endswith("Incorrect API key provided"), "duration_ms" in e) for e in of("agent_turn")]')" \
  "1 [[\"started\", null, null, \"\", false, false], [\"completed\", \"error\", \"AuthenticationError\", \"the model server at $URL refused the API key\", true, true]]" \
  "$(short "$err")"

# ---- what Agent {} sends: initial_message, context, temperature, max_tokens ------------------
cat >"$work/params.tac" <<'EOF'
a = Agent { model = "openai/gpt-4o-mini", system_prompt = "Be brief.", initial_message = "Start with {input.topic}.",
  temperature = 0.25, max_tokens = 77, disable_streaming = true }
Procedure {
  input = { topic = field.string { default = "owls" } },
  function(input)
    local r1 = a()
    local r2 = a({ message = "More.", context = { city = "Oslo", n = 2 } })
    local r3 = a({ message = "Last.", context = "plain text", temperature = 0.9, max_tokens = 5, top_p = 0.5 })
    local r4 = a()
    return { a.turns(), r1.text, r2.text, r4.text, r4.usage.total_tokens }
  end,
}
EOF
start_fake '[{"text": "one"}, {"text": "two"}, {"text": "three"}, {"text": "four"}]'
run params.tac --param topic=bats --json
check "agents: x() with no args runs a turn (the initial_message first), x() again continues" \
  "$rc $(nreq) $(qo 'r["result"]')" '0 4 [4, "one", "two", "four", 15]' "$(short "$err")"
check "agents: temperature and max_tokens from Agent {} reach the request body; a call's own override them" \
  "$(q "$LOG" '[(e["body"]["temperature"], e["body"]["max_tokens"], e["body"].get("top_p")) for e in ev]')" \
  '[[0.25, 77, null], [0.25, 77, null], [0.9, 5, 0.5], [0.25, 77, null]]'
check "agents: the initial_message (templated) is the first user message" \
  "$(q "$LOG" '[(m["role"], m["content"]) for m in ev[0]["body"]["messages"]]')" \
  '[["system", "Be brief."], ["user", "Start with bats."]]'
check "agents: context (a table as JSON, or text) is appended to the message" \
  "$(q "$LOG" '[(lambda t: [t[0], json.loads(t[1]), "\n  \"n\": 2" in t[1]])(ev[1]["body"]["messages"][-1]["content"].split("\n\nContext:\n")), ev[2]["body"]["messages"][-1]["content"]]')" \
  '[["More.", {"city": "Oslo", "n": 2}, true], "Last.\n\nContext: plain text"]'
check "agents: x() after the first turn adds no user message (the model continues the conversation)" \
  "$(q "$LOG" '[m["role"] for m in ev[3]["body"]["messages"]]')" \
  '["system", "user", "assistant", "user", "assistant", "user", "assistant"]'

# ---- tool mocks: temporal and conditional; agent temporal mocks; done.reset() ----------------
cat >"$work/mocks.tac" <<'EOF'
local done = require("tactus.tools.done")
lookup = Tool { description = "Country of a city", input = { city = field.string { required = true } },
  function(args) return "real " .. args.city end }
strict = Tool { description = "No fallback", input = { city = field.string { required = true } },
  function(args) return "real " .. args.city end }
clock = Tool { description = "The time", input = {}, function(args) return "real time" end }
helper = Agent { model = "openai/gpt-4o-mini", tools = { done } }
Mocks {
  lookup = { conditional = { { when = { city = "Paris" }, returns = "FR" }, { when = { city = "Rome" }, returns = "IT" } },
             returns = "unknown" },
  strict = { conditional = { { when = { city = "Paris" }, returns = "FR" } } },
  clock = { temporal = { "09:00", { returns = "10:00" }, "11:00" } },
  helper = { temporal = { { message = "first" }, { message = "second", tool_calls = { { tool = "done", args = { reason = "ok" } } } } } },
}
Procedure { function(input)
  local l = { lookup({ city = "Paris" }), lookup({ city = "Rome" }), lookup({ city = "Oslo" }),
              strict({ city = "Paris" }), strict({ city = "Oslo" }) }
  local c = { clock(), clock(), clock(), clock() }
  local t1, t2 = helper(), helper()
  local before = { done.called(), done.call_count() }
  done.reset()
  local after = { done.called(), done.call_count(), done.last_call() == nil }
  return { lookup = l, clock = c, turns = { t1.text, t2.text }, before = before, after = after }
end }
EOF
run mocks.tac --mock-all --json
check "agents: conditional tool mocks: the first matching when, else returns, else the real tool" \
  "$rc $(qo 'r["result"]["lookup"]')" '0 ["FR", "IT", "unknown", "FR", "real Oslo"]' "$(short "$err")"
check "agents: temporal tool mocks: one answer per call ({ returns = } too), the last repeats" \
  "$(qo 'r["result"]["clock"]')" '["09:00", "10:00", "11:00", "11:00"]'
check "agents: temporal agent mocks: one scripted turn per call" "$(qo 'r["result"]["turns"]')" '["first", "second"]'
check "agents: done.reset() clears the done tool's calls" \
  "$(qo '[r["result"]["before"], r["result"]["after"]]')" '[[true, 1], [false, 0, true]]'
run mocks.tac --json
check "agents: without --mock-all the tool mocks do not apply" \
  "$(qo 'r.get("result", {}).get("lookup")')" '["real Paris", "real Rome", "real Oslo", "real Paris", "real Oslo"]'

stop_fake
