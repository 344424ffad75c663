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
has "spec: the parse error names the Specification and the line" "Specification 1, line 4" "expected a step"

t test "$spec/badspec.tac" --json
check "spec: --json reports an unreadable Specification as a JSON error" 'r["exit_code"] == 1 and "Specification 1, line 4" in r["error"]'

t test "$spec/nospec.tac"
rc_is "spec: a file without a Specification exits 1" 1
has "spec: ... and says so" "has no scenarios"

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
rc_is "spec: globals, state, tool calls and mocks do not carry over to the next scenario" 0
check "spec: isolation: both scenarios ran" 'r["passed"] == 2'
if [ -f "$scratch/ws/isolation-mark.txt" ]; then
  pass "spec: the workspace is the current directory: a file written there stays (by design)"
else
  fail "spec: the workspace is the current directory: a file written there stays (by design)" "no isolation-mark.txt"
fi
rm -f "$scratch/ws/isolation-mark.txt"

# ---- eval ------------------------------------------------------------------------------------

t eval "$spec/eval.tac" --mock
rc_is "eval: every evaluator passes (--mock)" 0
has "eval: the table, the thresholds and a JSON summary" "Evaluation: greetings  (2 cases x 2 runs)" \
  "equals_expected(greeting)  4/4" "success rate 100% (4/4 runs)" "✓ min_success_rate" "PASS" 'summary: {"file":'

t eval "$spec/eval.tac" --mock --json
check "eval: --json report" 'r["passed"] and r["evaluations"][0]["total_runs"] == 4 and r["evaluations"][0]["success_rate"] == 1'
check "eval: llm_judge passes in mock mode" 'any(e["name"] == "llm_judge" and e["passed"] == 4 for e in r["evaluations"][0]["evaluators"])'

t eval "$spec/eval.tac" --json
check "eval: llm_judge is skipped without --mock" 'any(e["name"] == "llm_judge" and e["skipped"] == 4 and e["passed"] == 0 for e in r["evaluations"][0]["evaluators"])'

t eval "$spec/eval.tac" --mock --runs 3 --json
check "eval: --runs overrides the Evaluation's runs" 'r["evaluations"][0]["total_runs"] == 6'

t eval "$spec/eval_fail.tac"
rc_is "eval: a missed threshold exits 1" 1
has "eval: ... and shows why" "✗ min_success_rate" 'expected "Hello, Carol!", got "Hi Carol"' "the procedure failed" "FAIL"

t eval "$spec/nospec.tac"
rc_is "eval: a file without an Evaluation exits 1" 1

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
