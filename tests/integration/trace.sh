#!/usr/bin/env bash
# Integration lane: the event stream.  --json is JSON Lines on stdout
# (events with ISO 8601 timestamps, then one result line); --trace FILE
# gets the same events; the human output shows logs and tool calls on
# stderr and the result on stdout.  Every run's last event is
# execution_summary (status, exit code, duration, iterations, tools used).
source "$TESTS_DIR/integration/common.bash"

ws="$TMPD/ws"
mkdir -p "$ws" "$TMPD/home"
export HOME="$TMPD/home"

cat >"$ws/traced.tac" <<'EOF'
add = Tool { description = "add", input = { a = field.number {}, b = field.number {} },
  function(args) return args.a + args.b end }
Procedure { function()
  Log.info("starting", { step = 1 })
  Log.debug("a debug detail")
  Log.warn("careful")
  print("printed", 42)
  local sum = add({ a = 2, b = 3 })
  local v = Step.checkpoint(function() return sum * 2 end)
  System.alert({ message = "an alert", level = "warning" })
  return { sum = sum, v = v }
end }
EOF
cat >"$ws/failing.tac" <<'EOF'
Log.info("before the failure")
error("it broke")
EOF

iso='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'

for mode in sandbox no-sandbox; do
  extra=()
  [ "$mode" = no-sandbox ] && extra=(--no-sandbox)
  rm -f "$TMPD/trace.jsonl"
  tr_json "$ws" traced.tac --trace "$TMPD/trace.jsonl" "${extra[@]}"
  json_out="$out"
  expect "trace ($mode): the run succeeds" "$rc" 0
  expect "trace ($mode): every stdout line is a JSON object" \
    "$(json_get 'all(isinstance(json.loads(l), dict) for l in lines)')" true
  expect "trace ($mode): the last line is the result" \
    "$(json_get '[r["event_type"], r["status"], r["exit_code"], r["result"]]')" '["result", "success", 0, {"sum": 5, "v": 10}]'
  expect "trace ($mode): exactly one result line" \
    "$(json_get 'sum(1 for l in lines if json.loads(l)["event_type"] == "result")')" 1
  expect "trace ($mode): every event has an ISO 8601 timestamp" \
    "$(json_get "[json.loads(l)['event_type'] for l in lines[:-1] if not __import__('re').match(r'$iso', json.loads(l).get('timestamp', ''))]")" '[]'
  expect "trace ($mode): log events (level, message, context, logger)" \
    "$(json_get '[(e["level"], e["message"], e.get("context"), e["logger_name"]) for e in map(json.loads, lines) if e["event_type"] == "log"]')" \
    '[["INFO", "starting", {"step": 1}, "procedure"], ["DEBUG", "a debug detail", null, "procedure"], ["WARNING", "careful", null, "procedure"], ["INFO", "printed\t42", null, "print"]]'
  expect "trace ($mode): a tool_call event (name, args, result, duration)" \
    "$(json_get '[(e["tool_name"], e["tool_args"], e["tool_result"], e["duration_ms"] >= 0) for e in map(json.loads, lines) if e["event_type"] == "tool_call"]')" \
    '[["add", {"a": 2, "b": 3}, 5, true]]'
  expect "trace ($mode): a checkpoint_created event (position, type, duration)" \
    "$(json_get '[(e["checkpoint_position"], e["checkpoint_type"], e["duration_ms"] >= 0) for e in map(json.loads, lines) if e["event_type"] == "checkpoint_created"]')" \
    '[[1, "explicit", true]]'
  expect "trace ($mode): the checkpoint's source location is the user's line" \
    "$(json_get '[e.get("source_location") for e in map(json.loads, lines) if e["event_type"] == "checkpoint_created"]')" \
    '["traced.tac:9"]'
  expect "trace ($mode): a system_alert event" \
    "$(json_get '[(e["level"], e["message"]) for e in map(json.loads, lines) if e["event_type"] == "system_alert"]')" \
    '[["warning", "an alert"]]'
  expect "trace ($mode): events keep their order" \
    "$(json_get '[json.loads(l)["event_type"] for l in lines]')" \
    '["log", "log", "log", "log", "tool_call", "checkpoint_created", "system_alert", "execution_summary", "result"]'
  expect "trace ($mode): the execution_summary event (status, exit code, iterations, tools used, requests)" \
    "$(json_get '[(e["status"], e["exit_code"], e["iterations"], e["tools_used"], e["requests"] > 0, "usage" in e, "message" in e) for e in map(json.loads, lines) if e["event_type"] == "execution_summary"]')" \
    '[["success", 0, 0, ["add"], true, false, false]]'
  expect "trace ($mode): execution_summary's duration_ms is a whole number, at most the run's" \
    "$(json_get '[isinstance(e["duration_ms"], int) and 0 <= e["duration_ms"] < 60000 for e in map(json.loads, lines) if e["event_type"] == "execution_summary"]')" \
    '[true]'

  # --trace FILE: the same events, byte for byte, without the result line.
  if [ -s "$TMPD/trace.jsonl" ] && [ "$(cat "$TMPD/trace.jsonl")" = "$(printf '%s\n' "$json_out" | sed '$d')" ]; then
    pass "trace ($mode): --trace FILE has the same events as --json"
  else
    fail "trace ($mode): --trace FILE has the same events as --json" \
      "$(diff <(cat "$TMPD/trace.jsonl") <(printf '%s\n' "$json_out" | sed '$d') | head -4 | tr '\n' ' ')"
  fi

  # Human output: logs and tools on stderr, the result on stdout.
  rm -f "$TMPD/trace2.jsonl"
  tr_human "$ws" traced.tac --trace "$TMPD/trace2.jsonl" "${extra[@]}"
  expect_in "trace ($mode): human output: log lines on stderr" "$err" "INFO    starting {\"step\":1}" "WARNING careful" "printed	42"
  expect_in "trace ($mode): human output: the tool call on stderr" "$err" "tool    add {" '"b":3' "} -> 5"
  if [[ "$err" == *"a debug detail"* ]]; then
    fail "trace ($mode): human output: DEBUG logs only with --verbose" "shown without it"
  else
    pass "trace ($mode): human output: DEBUG logs only with --verbose"
  fi
  expect_in "trace ($mode): human output: the result on stdout" "$out" "✓ Procedure completed successfully" '"sum": 5'
  if [[ "$out" == *INFO* ]]; then fail "trace ($mode): human output: no log lines on stdout" "$(short "$out")"; else pass "trace ($mode): human output: no log lines on stdout"; fi
  expect "trace ($mode): --trace without --json still writes JSON Lines" \
    "$(out=$(cat "$TMPD/trace2.jsonl"); json_get '[json.loads(l)["event_type"] for l in lines]')" \
    '["log", "log", "log", "log", "tool_call", "checkpoint_created", "system_alert", "execution_summary"]'
  expect_in "trace ($mode): human output: the summary line on stderr" "$err" "summary success (exit 0) in " ', tools ["add"]'
  tr_human "$ws" traced.tac --verbose "${extra[@]}"
  expect_in "trace ($mode): --verbose shows DEBUG logs" "$err" "DEBUG   a debug detail"

  # A failure: the result line says so, and the human output on stderr.
  tr_json "$ws" failing.tac "${extra[@]}"
  expect "trace ($mode): a failed run's result line" "$rc $(json_get '[r["event_type"], r["status"], r["exit_code"], r["message"]]')" \
    '1 ["result", "error", 1, "RuntimeError: failing.tac:2: it broke"]'
  expect "trace ($mode): a failed run's execution_summary (status, exit code, message)" \
    "$(json_get '[(e["status"], e["exit_code"], e["message"]) for e in map(json.loads, lines) if e["event_type"] == "execution_summary"]')" \
    '[["error", 1, "RuntimeError: failing.tac:2: it broke"]]'
  expect "trace ($mode): execution_summary is the last event before the result" \
    "$(json_get '[json.loads(l)["event_type"] for l in lines[-2:]]')" '["execution_summary", "result"]'
  tr_human "$ws" failing.tac "${extra[@]}"
  expect_in "trace ($mode): a failed run on stderr" "$rc $err" "1 " "INFO    before the failure" "✗ Procedure failed: RuntimeError: failing.tac:2: it broke"
done

tr_human "$ws" traced.tac --trace "$TMPD/no/such/dir/t.jsonl"
expect_in "trace: an unwritable --trace path is an error (exit 1)" "$rc $err" "1 " "--trace $TMPD/no/such/dir/t.jsonl"

# Iterations come from the VM's run.finish; a timed-out run still gets its summary.
cat >"$ws/iters.tac" <<'EOF'
Procedure { function()
  for _ = 1, 3 do Iterations.increment() end
  return Iterations.current()
end }
EOF
tr_json "$ws" iters.tac
expect "trace: execution_summary counts the procedure's iterations" \
  "$(json_get '[(e["status"], e["iterations"]) for e in map(json.loads, lines) if e["event_type"] == "execution_summary"]')" \
  '[["success", 3]]' "$(short "$out$err")"
cat >"$ws/slow.tac" <<'EOF'
Sleep(5)
EOF
rm -f "$TMPD/slow.jsonl"
tr_json "$ws" slow.tac --timeout 0.5 --trace "$TMPD/slow.jsonl"
expect "trace: a timed-out run's execution_summary (status, exit code, duration) in --json and --trace" \
  "$rc $(json_get '[(e["status"], e["exit_code"], 400 <= e["duration_ms"] < 5000) for e in map(json.loads, lines) if e["event_type"] == "execution_summary"]') $(out=$(cat "$TMPD/slow.jsonl"); json_get '[e["event_type"] for e in map(json.loads, lines)][-1]')" \
  '124 [["timeout", 124, true]] "execution_summary"'
