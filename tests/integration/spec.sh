#!/usr/bin/env bash
# Integration lane: `tactus-run test` and `tactus-run eval`, the
# Specifications (Gherkin) and Evaluations .tac files carry.
#
# The spec files are in tests/spec/: every built-in step form (steps.tac),
# the Gherkin forms (gherkin.tac), custom steps (custom.tac), script mode
# (script.tac), failures on purpose, each checked for its reason
# (broken.tac), flakiness (flaky.tac), isolation between scenarios
# (isolation.tac), parallel workers (workers.tac), parse errors
# (badspec.tac), no specification (nospec.tac), evaluations (eval.tac,
# eval_fail.tac).  Then every example in examples/ must pass with --mock.
# Everything runs from a scratch working directory (the workspace), in a
# new session without a TTY, with model calls pointed at a closed port.
source "$TESTS_DIR/lib.sh"

repo=$(cd "$TESTS_DIR/.." && pwd)
spec="$repo/tests/spec"
scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home"
mkdir -p "$HOME" "$scratch/ws"
export OPENAI_BASE_URL=http://127.0.0.1:9/v1
unset OPENAI_API_KEY

# t ARGS...: tactus-run ARGS in the scratch workspace; sets out, err, rc, secs.
t() {
  local start end
  start=$(date +%s.%N)
  (cd "$scratch/ws" && setsid -w "$TR" "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc)
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}

# check NAME PYTHON-EXPR: EXPR over r (the JSON on stdout) must be true.
check() {
  local name="$1" expr="$2" got
  got=$(printf '%s' "$out" | python3 -c '
import json, sys
expr = sys.argv[1]
try:
    r = json.loads(sys.stdin.read())
except Exception as e:
    print("not JSON: %s" % e); sys.exit(0)
def sc(name):
    return next(s for s in r["scenarios"] if s["name"] == name)
def msg(name):
    return sc(name).get("failure", {}).get("message", "")
def steps(name, run=0):
    return sc(name)["runs"][run]["result"]["steps"]
try:
    ok = eval(expr)
except Exception as e:
    print("error: %s: %s" % (type(e).__name__, e)); sys.exit(0)
print("ok" if ok else "false")
' "$expr")
  if [ "$got" = ok ]; then pass "$name"; else fail "$name" "$got: $expr ($(printf '%s' "$out$err" | head -c 300 | tr '\n' ' '))"; fi
}

# has NAME NEEDLE...: every NEEDLE is in stdout+stderr.
has() {
  local name="$1" n all="$out
$err"
  shift
  for n in "$@"; do
    if [[ "$all" != *"$n"* ]]; then
      fail "$name" "no '$n' in: $(printf '%s' "$all" | tail -4 | tr '\n' ' ' | cut -c1-400)"
      return
    fi
  done
  pass "$name"
}

rc_is() { if [ "$rc" = "$2" ]; then pass "$1"; else fail "$1" "exit $rc, want $2: $(printf '%s' "$out$err" | tail -3 | tr '\n' ' ' | cut -c1-300)"; fi; }

# ---- passing spec files ---------------------------------------------------------

t test "$spec/steps.tac" --mock
rc_is "spec: every built-in step form passes (--mock)" 0
has "spec: the summary line counts the scenarios" "19 passed, 0 failed"

t test "$spec/steps.tac" --mock --json
rc_is "spec: --json exits 0 when all pass" 0
check "spec: --json counts and statuses" 'r["passed"] == 19 and r["failed"] == 0 and r["exit_code"] == 0 and all(s["status"] == "passed" for s in r["scenarios"])'
check "spec: --json lists every step with its status" 'all(st["status"] == "passed" for st in steps("a scripted agent turn")) and len(steps("a scripted agent turn")) == 6'

t test "$spec/gherkin.tac" --mock
rc_is "spec: Background, Outline with two Examples tables, doc strings, data tables" 0
has "spec: outline examples are named from their row" "1 plus 2 (example 1)" "100 plus 250 (example 3)" "5 passed, 0 failed"

t test "$spec/custom.tac"
rc_is "spec: custom steps (exact phrase and Lua pattern captures)" 0

t test "$spec/script.tac"
rc_is "spec: script mode: Given inputs reach the file's body" 0

# ---- failures, each for its reason ------------------------------------------------

t test "$spec/broken.tac" --mock --timeout 3 --json
rc_is "spec: failing scenarios exit 1" 1
check "spec: all broken scenarios fail" 'r["failed"] == 16 and r["passed"] == 0'
check "spec: expected vs actual" 'msg("wrong value") == "expected output x to be 2, got 1"'
check "spec: the steps after a failure are skipped" '[s["status"] for s in steps("wrong value")] == ["passed", "failed", "skipped"]'
check "spec: an unknown step is undefined, with the 3 closest known steps" 'steps("undefined step")[1]["status"] == "undefined" and "the moon should be made of cheese" in msg("undefined step") and msg("undefined step").count("\", \"") == 2 and "closest known steps" in msg("undefined step")'
check "spec: the procedure's error is shown" '"deliberate failure in the procedure" in msg("procedure error") and "broken.tac:" in msg("procedure error")'
check "spec: should fail, but it succeeded" '"completed successfully, but it should have failed" in msg("should fail but succeeds")'
check "spec: tool call count" 'msg("tool count") == "the add tool was called 1 time, expected exactly 2 times"'
check "spec: tool arguments" '"never with a=5" in msg("tool never called with") and "{\"a\":1,\"b\":0}" in msg("tool never called with")'
check "spec: an undeclared tool is named" '"no tool named ghost is declared; the tools are: add" in msg("unknown tool")'
check "spec: a bad regex is reported as such" '"bad pattern" in msg("bad regex") and "missing ]" in msg("bad regex")'
check "spec: regex mismatch" '"does not match pattern" in msg("regex mismatch")'
check "spec: fuzzy match gives the similarity" '"% similar to" in msg("fuzzy too different") and "expected at least 80%" in msg("fuzzy too different")'
check "spec: state mismatch" 'msg("state mismatch") == "expected state level to be \"high\", got \"low\""'
check "spec: no output from a failed procedure" '"the procedure failed, so it has no output" in msg("output of a failed procedure")'
check "spec: a custom step's assert message" '"x is not 99" in msg("custom step asserts")'
check "spec: iterations" '"between 3 and 5" in msg("iterations")'
check "spec: a bad Given fails in the Given" '"not a JSON object" in msg("bad json in a given") and sc("bad json in a given")["failure"]["step"].startswith("Given")'
check "spec: a scenario past its --timeout fails alone, and the others still run" '"deadline" in msg("timeout") and sc("timeout")["runs"][0]["code"] == 124'

t test "$spec/broken.tac" --mock --timeout 3 --scenario "wrong value" --scenario "undefined step"
rc_is "spec: human output exits 1" 1
has "spec: human output names the failing step and why" "FAIL  wrong value" "Then the output x should be 2" \
  "expected output x to be 2, got 1" "FAIL  undefined step" "0 passed, 2 failed"

t test "$spec/badspec.tac"
rc_is "spec: unparsable Gherkin exits 1" 1
has "spec: the parse error names the file's line" "badspec.tac:9: Specification:" "expected a step"

t test "$spec/badspec.tac" --json
check "spec: --json reports an unreadable Specification as a JSON error" 'r["exit_code"] == 1 and "badspec.tac:9: Specification:" in r["error"]'

t test "$spec/nospec.tac"
rc_is "spec: a file without a Specification exits 1" 1
has "spec: ... and says so" "has no scenarios"

# ---- tool call counts with arguments, fuzzy output, --param ---------------------------------

t test "$spec/counts.tac" --scenario "counts with arguments" --scenario "fuzzy match on the whole output" --json
rc_is "spec: counts with arguments, fuzzy match / any of on the whole output pass" 0
check "spec: ... every step of both scenarios passed" 'r["passed"] == 2 and all(st["status"] == "passed" for st in steps("counts with arguments") + steps("fuzzy match on the whole output")) and len(steps("counts with arguments")) == 8'

t test "$spec/counts.tac" --scenario "from --param" --param name=Zed
rc_is "spec: tactus-run test FILE --param name=Zed: the input reaches the procedure" 0
has "spec: ... the scenario passes" "PASS  from --param" "1 passed, 0 failed"
t test "$spec/counts.tac" --scenario "from --param" --json
check "spec: ... and without --param the same scenario fails on the default input" 'msg("from --param") == "expected output greeting to be \"Hello, Zed!\", got \"Hello, world!\""'

t test "$spec/counts_broken.tac" --json
rc_is "spec: failing counts with arguments and fuzzy matches exit 1" 1
check "spec: exactly N times with arguments: the count of matching calls, and all the calls" 'msg("exactly with arguments") == "the add tool was called 2 times with a=1, expected exactly 1 time (all its calls: {\"a\":1,\"b\":1}, {\"a\":1,\"b\":2}, {\"a\":2,\"b\":2})"'
check "spec: at least N times with a quoted argument" 'msg("at least with arguments") == "the add tool was called 1 time with a=\"2\", expected at least 2 times (all its calls: {\"a\":1,\"b\":1}, {\"a\":1,\"b\":2}, {\"a\":2,\"b\":2})"'
check "spec: at most N times with arguments" 'msg("at most with arguments").startswith("the add tool was called 2 times with a=1, expected at most 1 time (")'
check "spec: a count with arguments on a tool never called" 'msg("never called, with arguments") == "the unused tool was called 0 times with x=1, expected exactly 1 time (it was not called)"'
check "spec: the whole output fuzzy match gives the similarity" 'msg("fuzzy whole output") == "the output is \"Hello, world!\", 26% similar to \"Goodbye, moon\"; expected at least 80%"'
check "spec: fuzzy any of names the closest candidate with its score" 'msg("fuzzy any of") == "the output is \"Hello, world!\", not 80% similar to any of 3 texts; the closest is \"Hello, there\", 64% similar"'

# ---- selecting, listing, options --------------------------------------------------------

t test "$spec/steps.tac" --mock --scenario "the message"
rc_is "spec: --scenario runs one scenario" 0
has "spec: --scenario: only that one" "1 passed, 0 failed"

t test "$spec/gherkin.tac" --scenario "<a> plus <b>"
has "spec: --scenario with an outline's name runs all its examples" "3 passed, 0 failed"

t test "$spec/steps.tac" --scenario "no such scenario"
rc_is "spec: an unknown --scenario exits 1" 1
has "spec: ... and lists the scenarios" 'no scenario named "no such scenario"' "the message"

t test "$spec/gherkin.tac" --list
rc_is "spec: --list" 0
if [ "$(printf '%s\n' "$out" | wc -l)" = 5 ]; then pass "spec: --list prints one line per scenario"; else fail "spec: --list prints one line per scenario" "$out"; fi

t test "$spec/steps.tac" --frobnicate
rc_is "spec: an unknown option exits 1" 1
has "spec: ... and names it" "--frobnicate"

t test "$spec/steps.tac" --runs 0
rc_is "spec: --runs 0 is refused" 1

# ---- --runs: consistency and flakiness -----------------------------------------------

t test "$spec/steps.tac" --mock --scenario "the message" --runs 3 --json
check "spec: --runs repeats each scenario" 'sc("the message")["passed_runs"] == 3 and len(sc("the message")["runs"]) == 3'

t test "$spec/flaky.tac" --runs 16 --json
rc_is "spec: a flaky scenario fails the run" 1
check "spec: a math.random outcome is reported as flaky, by name" 'sc("a coin flip")["status"] == "flaky" and r["flaky"] == ["a coin flip"] and 0 < sc("a coin flip")["passed_runs"] < 16'
check "spec: a stable scenario is not flaky" 'sc("always the same")["status"] == "passed" and sc("always the same")["passed_runs"] == 16'

t test "$spec/flaky.tac" --runs 16
has "spec: flaky in the human output" "flaky: " "runs do not agree" 'flaky (the runs did not agree): "a coin flip"'

# ---- --workers ------------------------------------------------------------------------

t test "$spec/workers.tac" --workers 4
rc_is "spec: --workers 4 passes" 0
if (($(echo "$secs < 3.5" | bc))); then pass "spec: --workers 4 runs four 1 s scenarios at once (${secs}s)"; else fail "spec: --workers 4 runs four 1 s scenarios at once" "${secs}s"; fi
has "spec: results print in order whatever finishes first" "sleeper 1 (example 1)
  PASS  sleeper 2 (example 2)
  PASS  sleeper 3 (example 3)
  PASS  sleeper 4 (example 4)"

t test "$spec/workers.tac" --workers 1
if (($(echo "$secs >= 3.9" | bc))); then pass "spec: --workers 1 runs them one after the other (${secs}s)"; else fail "spec: --workers 1 runs them one after the other" "${secs}s"; fi

# ---- isolation ---------------------------------------------------------------------------

rm -f "$scratch/ws/isolation-mark.txt"
t test "$spec/isolation.tac" --workers 1 --json
rc_is "spec: globals, state, tool calls, mocks and workspace files do not carry over to the next scenario" 0
check "spec: isolation: both scenarios ran" 'r["passed"] == 2'
if [ ! -e "$scratch/ws/isolation-mark.txt" ]; then
  pass "spec: a file a scenario writes in /workspace never reaches the host directory"
else
  fail "spec: a file a scenario writes in /workspace never reaches the host directory" "isolation-mark.txt is there"
fi
# The same with every scenario at once: no run sees another's file.
t test "$spec/isolation.tac" --workers 2 --runs 3 --scenario "sees none of them" --json
rc_is "spec: isolation holds for parallel repeated runs" 0
rm -f "$scratch/ws/isolation-mark.txt"

# ---- eval ------------------------------------------------------------------------------------

t eval "$spec/eval.tac" --mock
rc_is "eval: every evaluator passes (--mock)" 0
has "eval: the table, the thresholds and a JSON summary" "Evaluation: greetings  (2 cases x 2 runs)" \
  "equals_expected(greeting)  4/4" "success rate 100% (4/4 runs)" "✓ min_success_rate" "PASS" 'summary: {"file":'

t eval "$spec/eval.tac" --mock --json
check "eval: --json report" 'r["passed"] and r["evaluations"][0]["total_runs"] == 4 and r["evaluations"][0]["success_rate"] == 1'
check "eval: llm_judge is skipped in mock mode (no judge model), not passed" 'any(e["name"] == "llm_judge" and e["skipped"] == 4 and e["passed"] == 0 and e["failed"] == 0 for e in r["evaluations"][0]["evaluators"])'

t eval "$spec/eval.tac" --json
rc_is "eval: without --mock, a judge model that cannot be reached fails the evaluation" 1
check "eval: ... llm_judge fails (never a silent pass), saying why" 'any(e["name"] == "llm_judge" and e["failed"] == 4 and e["passed"] == 0 for e in r["evaluations"][0]["evaluators"]) and r["evaluations"][0]["cases"][0]["runs"][0]["evaluators"][11]["reason"].startswith("llm_judge: the judge model call failed: cannot complete the model call to http://127.0.0.1:9/v1")'

t eval "$spec/eval.tac" --mock --runs 3 --json
check "eval: --runs overrides the Evaluation's runs" 'r["evaluations"][0]["total_runs"] == 6'

t eval "$spec/eval_fail.tac"
rc_is "eval: a missed threshold exits 1" 1
has "eval: ... and shows why" "✗ min_success_rate" 'expected "Hello, Carol!", got "Hi Carol"' "the procedure failed" "FAIL"

t eval "$spec/nospec.tac"
rc_is "eval: a file without an Evaluation exits 1" 1

# ---- eval: the evaluators beyond the output, usage, the judge, dataset_file --------------------

t eval "$spec/eval_checks.tac" --mock --json
ev_ok() { # ev_ok NAME EXPR: EXPR over E(name) (an evaluation), S(eval, evaluator) (its stats), R(eval, evaluator) (first run's result)
  local name="$1" expr="$2" got
  got=$(printf '%s' "$out" | python3 -c '
import json, sys
try:
    r = json.loads(sys.stdin.read())
except Exception as e:
    print("not JSON: %s" % e); sys.exit(0)
def E(n): return next(e for e in r["evaluations"] if e["name"] == n)
def S(n, v): return next(s for s in E(n)["evaluators"] if s["name"] == v)
def R(n, v): return next(x for x in E(n)["cases"][0]["runs"][0]["evaluators"] if x["name"] == v)
def T(n, t): return next(x for x in E(n)["thresholds"] if x["name"] == t)
try:
    v = eval(sys.argv[1])
except Exception as e:
    v = "error: %s: %s" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$expr")
  if [ "$got" = "$3" ]; then pass "$name"; else fail "$name" "got $got, want $3"; fi
}
for v in "contains_all(greeting)" "length(greeting)" tool_called "state_check(name)" max_iterations max_tokens; do
  ev_ok "eval: $v passes when it should" "[S(\"passing\", \"$v\")[\"passed\"], S(\"passing\", \"$v\")[\"failed\"]]" '[1, 0]'
done
ev_ok "eval: contains_all fails naming the missing text" 'R("failing", "contains_all(greeting)")' '{"name": "contains_all(greeting)", "passed": false, "reason": "does not contain \"Bob\""}'
ev_ok "eval: length fails with the length" 'R("failing", "length(greeting)")["reason"]' 'length 11, expected 5'
ev_ok "eval: tool_called fails with the count" 'R("failing", "tool_called")["reason"]' 'ping was called 2 time(s)'
ev_ok "eval: state_check fails with the state's value" 'R("failing", "state_check(name)")["reason"]' 'state name is "Ada", expected "Bob"'
ev_ok "eval: max_iterations fails with the iterations" 'R("failing", "max_iterations")["reason"]' '2 iterations, more than 1'
ev_ok "eval: max_tokens without a limit fails (not a silent pass)" '[R("failing", "max_tokens")["passed"], R("failing", "max_tokens")["reason"]]' '[false, "no limit (give value = N)"]'
ev_ok "eval: --mock: mock agent turns use 0 tokens and cost 0" \
  '[R("usage", "tokens within 10")["passed"], R("usage", "cost within 1")["passed"], E("usage")["cases"][0]["runs"][0]["usage"]]' \
  '[true, true, {"completion_tokens": 0, "cost": 0, "model_calls": 1, "prompt_tokens": 0, "total_tokens": 0}]'
ev_ok "eval: --mock: llm_judge is skipped (not a pass), with the reason" \
  '[S("usage", "judge: friendly")["passed"], S("usage", "judge: friendly")["skipped"], S("usage", "judge: friendly")["skip_reason"]]' \
  '[0, 1, "--mock calls no model, and llm_judge needs one"]'
t eval "$spec/eval_checks.tac" --mock
has "eval: the table shows a skipped evaluator and why" "judge: friendly   0/0  (1 skipped: --mock calls no model, and llm_judge needs one)"

# Against the fake model server: the agent's reply reports 15 tokens and a
# cost; then the judge answers twice (a pass, then a fenced failing score).
source "$TESTS_DIR/lib/fake_server.bash"
trap 'stop_fake; rm -rf "$scratch"' EXIT
# The runs find the server through the environment.
serve_model() { start_fake "$1"; export OPENAI_BASE_URL="$URL" OPENAI_API_KEY=sk-test-spec-$$; }
serve_model '[{"text": "Hi there, Ada!", "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.002}},
             {"text": "{\"passed\": true, \"score\": 0.9, \"reason\": \"warm\"}"},
             {"text": "```json\n{\"passed\": false, \"score\": 0.2, \"reason\": \"casual\"}\n```"}]'
t eval "$spec/eval_checks.tac" --json
ev_ok "eval: max_tokens uses the run's real usage (15 tokens from the server)" \
  '[R("usage", "tokens within 20"), R("usage", "tokens within 10")]' \
  '[{"name": "tokens within 20", "passed": true, "reason": "15 tokens"}, {"name": "tokens within 10", "passed": false, "reason": "the run used 15 tokens, more than 10"}]'
ev_ok "eval: max_cost uses the cost the server reported" 'R("usage", "cost within 1")' '{"name": "cost within 1", "passed": true, "reason": "cost 0.002"}'
ev_ok "eval: the usage thresholds measure the run" \
  '[[T("usage", t)["actual"], T("usage", t)["passed"]] for t in ("max_tokens_per_run", "max_cost_per_run")]' '[[15, true], [0.002, true]]'
ev_ok "eval: llm_judge asks the judge model: a pass, and a score below the threshold" \
  '[R("usage", "judge: friendly"), R("usage", "judge: formal")]' \
  '[{"name": "judge: friendly", "passed": true, "reason": "score 0.90: warm"}, {"name": "judge: formal", "passed": false, "reason": "score 0.20, below 0.50: casual"}]'
got=$(python3 -c '
import json, sys
b = [json.loads(l)["body"] for l in open(sys.argv[1])]
u = b[1]["messages"][1]["content"]
print(json.dumps([len(b), b[1]["stream"], b[1]["temperature"], u.split("\n")[:2], "\"greeting\": \"Hi there, Ada!\"" in u]))' "$LOG")
if [ "$got" = '[3, false, 0, ["RUBRIC:", "Is the greeting friendly?"], true]' ]; then
  pass "eval: the judge model got the rubric and the run's output (not streamed, temperature 0)"
else
  fail "eval: the judge model got the rubric and the run's output (not streamed, temperature 0)" "$got"
fi
# No cost in the reply, and more tokens than the thresholds allow.
serve_model '[{"text": "Hi Ada", "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}},
             {"text": "I think it is fine."}]'
t eval "$spec/eval_checks.tac" --json
rc_is "eval: a usage threshold missed exits 1" 1
ev_ok "eval: max_cost fails when the model reports no cost" 'R("usage", "cost within 1")' \
  '{"name": "cost within 1", "passed": false, "reason": "cost not reported by the model (its replies carry no usage.cost), so max_cost cannot be checked"}'
ev_ok "eval: max_tokens_per_run fails over the limit; max_cost_per_run is unknown and fails" \
  '[[T("usage", t).get("actual"), T("usage", t)["passed"], T("usage", t).get("note")] for t in ("max_tokens_per_run", "max_cost_per_run")]' \
  '[[25, false, null], [null, false, "unknown: cost not reported by the model"]]'
ev_ok "eval: a judge answer without a verdict fails the evaluator" 'R("usage", "judge: friendly")["reason"]' \
  'llm_judge: the judge'"'"'s answer is not {"passed", "score"}: "I think it is fine."'
serve_model '[{"text": "Hi Ada", "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}},
             {"text": "I think it is fine."}]'
t eval "$spec/eval_checks.tac"
has "eval: the table shows an unknown cost" "✗ max_cost_per_run: unknown, limit 1  (unknown: cost not reported by the model)" "✗ max_tokens_per_run: 25, limit 20"
stop_fake
export OPENAI_BASE_URL=http://127.0.0.1:9/v1
unset OPENAI_API_KEY

# dataset_file: JSON Lines in the workspace; missing; a bad line.
printf '%s\n' '{"name": "zoe", "inputs": {"name": "Zoe"}, "expected_output": {"greeting": "Hello, Zoe!"}}' '' \
  '{"name": "yan", "inputs": {"name": "Yan"}, "expected_output": {"greeting": "Hello, Yan!"}}' >"$scratch/ws/cases.jsonl"
t eval "$spec/eval_dataset.tac" --json
rc_is "eval: dataset_file: cases from a JSON Lines file pass" 0
ev_ok "eval: dataset_file: the inline case, then the file's" '[[c["name"], c["passed"]] for c in E("from a file")["cases"]]' '[["inline", 1], ["zoe", 1], ["yan", 1]]'
printf '%s\n' '{"name": "zoe", "inputs": {"name": "Zoe"}, "expected_output": {"greeting": "Hi, Zoe!"}}' >"$scratch/ws/cases.jsonl"
t eval "$spec/eval_dataset.tac" --json
rc_is "eval: dataset_file: a case from the file that fails exits 1" 1
ev_ok "eval: dataset_file: ... with the evaluator's reason" 'E("from a file")["cases"][1]["runs"][0]["evaluators"][0]["reason"]' 'expected "Hi, Zoe!", got "Hello, Zoe!"'
printf '%s\n' '{"name": "zoe", "inputs": {"name": "Zoe"}}' 'not json' >"$scratch/ws/cases.jsonl"
t eval "$spec/eval_dataset.tac"
rc_is "eval: dataset_file with a bad line exits 1" 1
has "eval: ... naming the file and the line" "dataset_file cases.jsonl, line 2: not a JSON object"
rm -f "$scratch/ws/cases.jsonl"
t eval "$spec/eval_dataset.tac"
rc_is "eval: a missing dataset_file exits 1" 1
has "eval: ... naming the file" "dataset_file cases.jsonl: " "(paths are relative to the workspace, the current directory (the procedure lies outside it))"

# ---- without the sandbox, and unprivileged ------------------------------------------------

t test "$spec/custom.tac" --no-sandbox
rc_is "spec: --no-sandbox runs the same scenarios" 0
has "spec: --no-sandbox warns" "WITHOUT the sandbox"

ncopy="$scratch/nobody"
mkdir -p "$ncopy"
cp "$spec/custom.tac" "$ncopy/"
chown -R 65534:65534 "$ncopy"
(cd "$ncopy" && setsid -w setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- \
  "$TR" test custom.tac >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
out=$(cat "$scratch/out"); err=$(cat "$scratch/err")
rc_is "spec: runs as an unprivileged user (uid 65534)" 0

# ---- every example carries a passing Specification ---------------------------------------------

# The examples' sidecars grant host tools: trusted here as a user would, so
# this part does not depend on another script having trusted them first.
for y in "$repo"/examples/*.tac.yml; do
  trust "$y" || fail "spec: tactus-run trust examples/$(basename "$y")" "refused"
done
for f in "$repo"/examples/*.tac; do
  name=$(basename "$f" .tac)
  if ! grep -q 'Specification' "$f"; then
    fail "spec: examples/$name.tac has a Specification" "none"
    continue
  fi
  t test "$f" --mock
  if [ "$rc" = 0 ]; then
    pass "spec: examples/$name.tac passes its Specification (--mock)"
  else
    fail "spec: examples/$name.tac passes its Specification (--mock)" \
      "exit $rc: $(printf '%s' "$out$err" | grep -A2 'FAIL' | head -6 | tr '\n' ' ' | cut -c1-400)"
  fi
done
if [ -n "$(ls -A "$scratch/ws" 2>/dev/null)" ]; then
  fail "spec: the examples' tests leave the workspace as they found it" "$(ls -A "$scratch/ws" | tr '\n' ' ')"
else
  pass "spec: the examples' tests leave the workspace as they found it"
fi
