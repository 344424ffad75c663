#!/usr/bin/env bash
# Integration lane: the per-run token budget (policy.max_tokens) holds
# even when the model server reports no usage.
#
# Every model call goes to tests/lib/fake_openai.py (a scripted
# OpenAI-compatible server on 127.0.0.1, a fresh one per case) through the
# broker's llm.chat.  A reply whose usage is null (or has no total) is
# charged the max_tokens the request was sent with; each request's
# max_tokens is capped to what is left of the budget; once nothing is left
# the call is refused (TokenBudgetExceeded, naming policy.max_tokens) and
# no request reaches the server.  Streaming and non-streaming alike.  The
# run's execution_summary carries the usage the server did report.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
work="$scratch/work"
mkdir -p "$work" "$scratch/home"
export HOME="$scratch/home"
unset OPENAI_API_KEY OPENAI_BASE_URL
KEY=sk-test-tokens-$$

trap 'stop_fake; rm -rf "$scratch"' EXIT

# run FILE ARGS...: `tactus-run run --json` in $work, no TTY; sets rc.
run() {
  (cd "$work" && OPENAI_API_KEY="$KEY" OPENAI_BASE_URL="$URL" \
    setsid -w "$TR" run "$@" --json >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
}

# q FILE EXPR: tests/lib/jsonl_query.py over FILE: ev (all),
# r (the last), of(t) (the events of type t).  Strings print raw.
q() { python3 "$TESTS_DIR/lib/jsonl_query.py" "$1" "$2"; }
qo() { q "$scratch/out" "$1"; }
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3${4:+ ($4)}"; fi
}
short() { tail -3 "$scratch/err" | tr '\n' ' ' | cut -c1-400; }

# Four calls of at most 40 tokens each against a budget of 100.
for mode in plain stream; do
  nostream=true
  [ "$mode" = stream ] && nostream=false
  cat >"$work/$mode.tac" <<EOF
a = Agent { model = "openai/gpt-4o-mini", max_tokens = 40, disable_streaming = $nostream }
Procedure { function()
  local r = {}
  for i = 1, 4 do
    local ok, e = pcall(a, { message = "call " .. i })
    r[#r + 1] = ok and "ok" or (type(e) == "table" and (tostring(e.type) .. ": " .. tostring(e.message)) or tostring(e))
  end
  return r
end }
EOF
  printf 'policy: { max_tokens: 100 }\n' >"$work/$mode.tac.yml"
done

for mode in plain stream; do
  # usage: null -- the server says nothing about tokens.
  start_fake '[{"text": "hello there", "usage": null}]'
  run "$mode.tac"
  check "policy_tokens ($mode): usage null: 3 requests reach the server, each max_tokens capped to what is left" \
    "$rc $(q "$LOG" '[e["body"].get("max_tokens") for e in ev]')" "0 [40, 40, 20]" "$(short)"
  check "policy_tokens ($mode): usage null: the 4th call is refused, naming policy.max_tokens" \
    "$(qo 'r["result"]')" \
    '["ok", "ok", "ok", "TokenBudgetExceeded: the run used its 100 tokens (policy.max_tokens; a call whose server reports no usage is charged its max_tokens)"]' \
    "$(short)"
  check "policy_tokens ($mode): usage null: each uncounted call is logged as charged" \
    "$(qo '[e["message"] for e in of("log") if "reported no token usage" in e.get("message", "")]')" \
    '["the model server reported no token usage: 40 tokens (the request'"'"'s max_tokens) are charged to policy.max_tokens", "the model server reported no token usage: 40 tokens (the request'"'"'s max_tokens) are charged to policy.max_tokens", "the model server reported no token usage: 20 tokens (the request'"'"'s max_tokens) are charged to policy.max_tokens"]'
  check "policy_tokens ($mode): execution_summary counts 3 model calls and no reported tokens" \
    "$(qo '[e.get("usage") for e in of("execution_summary")]')" \
    '[{"completion_tokens": 0, "model_calls": 3, "prompt_tokens": 0, "total_tokens": 0}]'

  # usage without total_tokens (and without its parts): charged the same way.
  start_fake '[{"text": "hello there", "usage": {}}]'
  run "$mode.tac"
  check "policy_tokens ($mode): usage {} (no total): charged max_tokens, the 4th call refused" \
    "$rc $(q "$LOG" '[e["body"].get("max_tokens") for e in ev]') $(qo '[x.split(":")[0] for x in r["result"]]')" \
    '0 [40, 40, 20] ["ok", "ok", "ok", "TokenBudgetExceeded"]' "$(short)"

  # Reported usage is what counts: 30 + 30 + 30, then 10 are left.
  start_fake '[{"text": "hi", "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}}]'
  run "$mode.tac"
  check "policy_tokens ($mode): reported usage is counted: max_tokens 40, 40, 40, then the 10 left" \
    "$rc $(q "$LOG" '[e["body"].get("max_tokens") for e in ev]') $(qo 'r["result"]')" \
    '0 [40, 40, 40, 10] ["ok", "ok", "ok", "ok"]' "$(short)"
  check "policy_tokens ($mode): execution_summary has the reported usage totals" \
    "$(qo '[e.get("usage") for e in of("execution_summary")]')" \
    '[{"completion_tokens": 40, "model_calls": 4, "prompt_tokens": 80, "total_tokens": 120}]'
done

# Prompt and completion without a total: their sum is counted.
start_fake '[{"text": "hi", "usage": {"prompt_tokens": 50, "completion_tokens": 10}}]'
run plain.tac
check "policy_tokens: usage without total_tokens: prompt + completion are counted (60, then 40 left)" \
  "$rc $(q "$LOG" '[e["body"].get("max_tokens") for e in ev]') $(qo '[x.split(":")[0] for x in r["result"]]')" \
  '0 [40, 40] ["ok", "ok", "TokenBudgetExceeded", "TokenBudgetExceeded"]' "$(short)"

# Without a budget nothing is charged or capped: the request keeps its own max_tokens.
rm -f "$work/plain.tac.yml"
start_fake '[{"text": "hi", "usage": null}]'
run plain.tac
check "policy_tokens: without policy.max_tokens, usage null is fine and max_tokens is the agent's" \
  "$rc $(q "$LOG" '[e["body"].get("max_tokens") for e in ev]') $(qo 'r["result"]')" \
  '0 [40, 40, 40, 40] ["ok", "ok", "ok", "ok"]' "$(short)"
stop_fake
