#!/usr/bin/env bash
# Integration lane: what real Tactus procedures rely on (docs/compat.md),
# proved without the example corpus (tests/compat/ runs that).
#
#   tests/spec/classify.tac        Classify llm / fuzzy, mocks, retries
#   tests/spec/tactus_compat.tac   fuzzy step, Python literals, mocked Humans,
#                                  done, data, MessageHistory, stages, ...
#   tests/spec/compat_broken.tac   the same steps failing, for their messages
#   tests/spec/paths/              the path rule: the procedure in WS/sub,
#                                  run from WS as Tactus's CI runs the corpus
# then `run` (main = Procedure, older syntax and unsupported globals,
# MessageHistory reaching the model), and the CLI a Tactus user types:
# validate, info, run --mock/--real/--real-all/-i/--log-level, test
# --mock-config, trace list/show/export, exact options.
source "$TESTS_DIR/lib.sh"

repo=$(cd "$TESTS_DIR/.." && pwd)
spec="$repo/tests/spec"
scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
trap 'stop_fake; rm -rf "$scratch"' EXIT
export HOME="$scratch/home"
ws="$scratch/ws"
mkdir -p "$HOME" "$ws"
export OPENAI_BASE_URL=http://127.0.0.1:9/v1
unset OPENAI_API_KEY

# t ARGS...: tactus-run ARGS in $ws, in a new session without a TTY.
t() {
  (cd "$ws" && setsid -w "$TR" "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}
has() {
  local name="$1" n all="$out
$err"
  shift
  for n in "$@"; do
    if [[ "$all" != *"$n"* ]]; then
      fail "$name" "no '$n' in: $(printf '%s' "$all" | tail -5 | tr '\n' ' ' | cut -c1-500)"
      return
    fi
  done
  pass "$name"
}
hasnt() {
  local name="$1" all="$out
$err"
  if [[ "$all" == *"$2"* ]]; then fail "$name" "'$2' in: $(printf '%s' "$all" | tail -3 | tr '\n' ' ')"; else pass "$name"; fi
}
rc_is() { if [ "$rc" = "$2" ]; then pass "$1"; else fail "$1" "exit $rc, want $2: $(printf '%s' "$out$err" | tail -4 | tr '\n' ' ' | cut -c1-400)"; fi; }
# jq_is NAME PYTHON-EXPR: EXPR over r (stdout's last JSON line) is true.
jq_is() {
  local got
  got=$(printf '%s' "$out" | tail -1 | python3 -c '
import json, sys
try:
    r = json.loads(sys.stdin.read())
    print("ok" if eval(sys.argv[1]) else "false")
except Exception as e:
    print("error: %s" % e)' "$2")
  if [ "$got" = ok ]; then pass "$1"; else fail "$1" "$got: $2 ($(printf '%s' "$out$err" | tail -c 400 | tr '\n' ' '))"; fi
}

# ---- the spec-bearing files ----------------------------------------------------------
t test "$spec/classify.tac" --mock
rc_is "compat: Classify: every scenario passes (--mock)" 0
has "compat: ... all of them" "10 passed, 0 failed"

t test "$spec/tactus_compat.tac" --mock
rc_is "compat: Tactus's steps and primitives: every scenario passes (--mock)" 0
has "compat: ... all of them" "10 passed, 0 failed"

t test "$spec/compat_broken.tac" --mock --json
rc_is "compat: the broken ones fail" 1
msg() { printf '%s' "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(next(s for s in r["scenarios"] if s["name"] == sys.argv[1]).get("failure", {}).get("message", ""))' "$1"; }
m=$(msg "fuzzy below threshold")
if [ "$m" = 'the output text is "Hello! How can I assist you today?", 51% similar to "Hello! I'"'"'m World, nice to meet you!"; expected at least 52%' ]; then
  pass "compat: fuzzy: difflib's ratio (51%, as Tactus), not containment"; else fail "compat: fuzzy: difflib's ratio" "$m"; fi
m=$(msg "an empty output matches nothing")
case "$m" in *'0% similar'*) pass "compat: fuzzy: an empty output is not 'contained' in every text" ;; *) fail "compat: fuzzy: empty output" "$m" ;; esac
m=$(msg "malformed Python args")
case "$m" in *"are not a JSON object or a Python dict"*) pass "compat: malformed tool arguments are named" ;; *) fail "compat: malformed args" "$m" ;; esac
m=$(msg "similar to is rapidfuzz's ratio")
case "$m" in *"expected at least 95%"*) pass "compat: 'should be similar to' is scored as rapidfuzz's ratio" ;; *) fail "compat: similar to" "$m" ;; esac
m=$(msg "a stage transition that did not happen")
case "$m" in *'never went from "ship" to "plan"'*'plan -> build, build -> ship'*) pass "compat: a missing stage transition lists the ones made" ;; *) fail "compat: stage transition" "$m" ;; esac

# ---- paths: the procedure in WS/sub, run from WS -------------------------------------
cp -r "$spec/paths" "$ws/sub"
printf 'return { where = "working directory" }\n' >"$ws/helper.tac"
t test sub/paths.tac --mock
rc_is "compat: paths: File / tactus.io relative to the procedure, Procedure.run the working directory first" 0
has "compat: ... every scenario" "4 passed, 0 failed"
if [ ! -e "$ws/sub/output" ] && [ ! -e "$ws/output" ]; then pass "compat: paths: test's writes stay in its overlay"
else fail "compat: paths: test's writes stay in its overlay" "$(ls "$ws" "$ws/sub")"; fi
t run sub/paths.tac --json
rc_is "compat: paths: run" 0
if [ -f "$ws/sub/output/nested/rows.csv" ] && [ -f "$ws/sub/output/a/b/c.txt" ] && [ -f "$ws/sub/more/notes.txt" ] \
   && [ ! -e "$ws/output" ] && [ ! -e "$ws/more" ]; then
  pass "compat: paths: run writes beside the procedure, making the parent directories"
else fail "compat: paths: run writes beside the procedure" "$(cd "$ws" && find . | head -30 | tr '\n' ' ')"; fi
# The procedure outside the workspace: its directory is not in the cage, so
# relative paths are the workspace's.
mkdir -p "$ws/data" "$ws/lib"
cp "$spec/paths/data/rows.csv" "$ws/data/"
cp "$spec/paths/lib/util.tac" "$ws/lib/"
t run "$spec/paths/paths.tac" --json
rc_is "compat: paths: a procedure outside the workspace reads relative to the workspace" 0
if [ -f "$ws/output/summary.json" ]; then pass "compat: ... and writes there"; else fail "compat: ... and writes there" "$(ls "$ws")"; fi
t run "$spec/paths/paths.tac" --param mode=escape
has "compat: ... '..' names the workspace as the base" "paths stay inside the workspace, the current directory (the procedure lies outside it)"

# ---- run: entry forms, older syntax, unsupported globals -------------------------------
cat >"$ws/main_form.tac" <<'EOF'
main = Procedure { function(input) return { ok = true } end }
EOF
t run main_form.tac --json
jq_is "compat: main = Procedure { } is the main procedure (not a sub-procedure named main)" 'r["result"] == {"ok": True}'
cat >"$ws/curried.tac" <<'EOF'
Procedure "main" { input = { n = field.number { default = 2 } }, function(input) return { n = input.n * 2 } end }
EOF
t run curried.tac --json
jq_is "compat: Procedure \"main\" { } (the curried form) runs as main" 'r["result"] == {"n": 4}'

older() {
  printf '%s\n' "$2" >"$ws/older.tac"
  t run older.tac
  if [ "$rc" = 1 ]; then has "$1" "${@:3}"; else fail "$1" "exit $rc"; fi
}
older "compat: agent(...) names the current spelling" 'agent("worker", { model = "openai/gpt-4o-mini" })' \
  "older.tac:1: unknown global 'agent'" 'x = Agent { model = ..., system_prompt = ... }'
older "compat: procedure(...) names the current spelling" 'procedure("main", {}, function() end)' \
  "unknown global 'procedure'" "Procedure { input = {...}, output = {...}, function(input) ... end }"
older "compat: params.x names input" 'return params.x' "params is the older Tactus syntax"
older "compat: stages(...) names the policy" 'stages({"a", "b"})' "policy.stages"
older "compat: Worker.turn() names the agent's name" 'worker = Agent { model = "openai/gpt-4o-mini" }
Worker.turn()' "the agent is named worker"
older "compat: a typo gets a suggestion" 'return Clasify { method = "fuzzy", classes = {"a"} }' \
  "unknown global 'Clasify' (did you mean 'Classify'?)"
older "compat: an unsupported Tactus global says why" 'local c = Corpus { }' "'Corpus' is not available in tactus-run" "no Python"
older "compat: python.eval is not a silent nil" 'return python.eval("1+1")' "python.eval" "does not exist: tactus-run has no Python"
older "compat: Procedure.spawn is not a silent nil" 'return Procedure.spawn("x")' "Procedure.spawn is not available in tactus-run" "asynchronous"
older "compat: a misspelt primitive function is named, with a suggestion" 'Log.inf("x")' \
  "Log.inf does not exist (did you mean Log.info?)"

# MessageHistory reaches the model: what the procedure injects is in the
# agent's next request.
cat >"$ws/history.tac" <<'EOF'
chatbot = Agent { model = "openai/gpt-4o-mini", system_prompt = "You chat." }
Procedure { function()
  MessageHistory.inject_system("Be brief")
  MessageHistory.append({ role = "user", content = "Hello there" })
  local r = chatbot()
  local second = chatbot({ message = "And?" })
  return { n = #MessageHistory.get(), text = r.output }
end }
EOF
start_fake '[{"text": "Hi!"}, {"text": "That is all."}]'
(cd "$ws" && OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL" setsid -w "$TR" run history.tac --json \
  >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
out=$(cat "$scratch/out")
got=$(python3 -c '
import json, sys
reqs = [json.loads(l)["body"] for l in open(sys.argv[1])]
print(json.dumps([[(m["role"], m.get("content")) for m in b["messages"]] for b in reqs]))' "$LOG")
want='[[["system", "You chat."], ["system", "Be brief"], ["user", "Hello there"]], [["system", "You chat."], ["system", "Be brief"], ["user", "Hello there"], ["assistant", "Hi!"], ["user", "And?"]]]'
if [ "$got" = "$want" ]; then pass "compat: MessageHistory: injected messages reach the agent's next turn, once"
else fail "compat: MessageHistory reaches the model" "got $got"; fi
jq_is "compat: MessageHistory: the turns are recorded" 'r["result"]["n"] == 5 and r["result"]["text"] == "Hi!"'
stop_fake

# ---- validate / info ---------------------------------------------------------------
t validate "$spec/tactus_compat.tac"
rc_is "compat: validate: a valid file exits 0" 0
has "compat: validate: ... says so" "is valid" "3 agents" "10 scenarios"
cat >"$ws/bad.tac" <<'EOF'
helper = Agent { model = "openai/gpt-4o-mini", tools = { "ad" } }
add = Tool { description = "add", function(a) return 1 end }
Procedure {
  input = { n = field.number { default = "three" }, kind = field.string { enum = { "a", "b" }, default = "c" } },
  function(input) return {} end,
}
Specification([[
Feature: F
  Scenario: S
    When the procedure runs
    Then the outptu x should be 1
]])
EOF
t validate bad.tac
rc_is "compat: validate: errors exit 1" 1
has "compat: validate: ... each named" "4 errors" "agent helper: unknown tool 'ad' (did you mean 'add'?)" \
  "input 'n': the default expected a number, got string" "input 'kind': the default must be one of: a, b" \
  'line 4: undefined step "the outptu x should be 1"'
printf 'Procedure { function( return 1 end }\n' >"$ws/syntax.tac"
t validate syntax.tac
rc_is "compat: validate: a syntax error exits 1" 1
has "compat: validate: ... naming the line" "syntax.tac:1:"
# validate runs no effects: a script whose top level writes a file.
printf 'File.write("touched.txt", "x")\nreturn 1\n' >"$ws/effect.tac"
t validate effect.tac
rc_is "compat: validate: a script with an effect at its top level is valid" 0
if [ ! -e "$ws/touched.txt" ]; then pass "compat: validate: ... and the effect did not happen"; else fail "compat: validate: no effect" "touched.txt was written"; fi
has "compat: validate: ... says where it stopped" "stopped at File.write"
t validate bad.tac --json
jq_is "compat: validate --json" 'r["valid"] is False and r["errors"] == 4 and len(r["problems"]) >= 4'
t info "$spec/classify.tac"
rc_is "compat: info exits 0" 0
has "compat: info lists inputs, outputs, scenarios" "Inputs:" "message" "default \"I was double charged" \
  "Outputs:" "label" "required" "Specifications: 10 scenarios"
t info "$spec/tactus_compat.tac" --json
jq_is "compat: info --json: agents, toolsets, inline tools" \
  '[a["name"] for a in r["agents"]] == ["extractor", "greeter", "reviewer"] and r["toolsets"][0]["tools"] == ["desk_ask"]'
t validate bad.tac --jsn
rc_is "compat: validate: an unknown option exits 1" 1
has "compat: ... with a suggestion" "unknown option '--jsn' (did you mean --json?)"

# ---- run flags -----------------------------------------------------------------------
cat >"$ws/flags.tac" <<'EOF'
add = Tool { description = "add", input = { a = field.number {} }, function(args) return { sum = args.a + 1 } end }
Mocks { add = { returns = { sum = 100 } } }
Procedure {
  input = { who = field.string { required = true }, n = field.number { default = 1 } },
  function(input)
    Log.info("info line")
    Log.warn("warn line")
    local r = add({ a = input.n })
    return { who = input.who, sum = r.sum, mocked = r.mocked, message = r.message }
  end,
}
EOF
t run flags.tac --param who=x --json
jq_is "compat: run: no mock by default" 'r["result"]["sum"] == 2'
t run flags.tac --param who=x --mock add --json
jq_is "compat: run --mock NAME: the Mocks entry answers" 'r["result"]["sum"] == 100'
t run flags.tac --param who=x --mock-all --real add --json
jq_is "compat: run --mock-all --real NAME: that one is real" 'r["result"]["sum"] == 2'
sed -i 's/^Mocks.*$//' "$ws/flags.tac"
t run flags.tac --param who=x --mock add --json
jq_is "compat: run --mock NAME without a Mocks entry: Tactus's placeholder" \
  '"sum" not in r["result"] and r["result"]["mocked"] is True and r["result"]["message"] == "Mock response for add"'
t run flags.tac --param who=x --mock add --real add
has "compat: run: --mock and --real of the same name are refused" "'add' is given to both --mock and --real"
t run flags.tac --param who=x --real-all --mock-all
has "compat: run: --real-all refuses --mock-all" "--real-all mocks nothing"
t run flags.tac --mock
rc_is "compat: run: --mock alone is not --mock-all" 1
has "compat: ... it needs a name" "--mock needs a tool, agent or model name"
t run flags.tac --mock-al
has "compat: run: abbreviations are refused, with a suggestion" "unknown option '--mock-al' (did you mean --mock-all?)"
t run flags.tac --param who=x --verb
has "compat: run: --verb is not --verbose" "unknown option '--verb' (did you mean --verbose?)"
t run flags.tac --param who=x --log-level warning
has "compat: run --log-level warning shows warnings" "warn line"
hasnt "compat: ... and hides info" "info line"
t run flags.tac --param who=x --log-level loud
has "compat: run --log-level: a bad level is named" "--log-level 'loud'"
t run flags.tac
has "compat: run: a missing required input without a terminal is an error" "missing required field 'who'"

# -i and the missing-input prompt, on a pseudo-terminal.
pty_run() {
  (cd "$ws" && python3 - "$TR" "$@" <<'EOF'
import os, pty, select, sys, time
answers = [a.encode() + b"\n" for a in os.environ.get("ANSWERS", "").split("|") if a != "<none>"]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["tactus-run"] + sys.argv[2:])
out = b""
deadline = time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
        if out.rstrip().endswith(b":") and answers:
            os.write(fd, answers.pop(0))
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
  ) >"$scratch/out" 2>&1
  rc=$?
  out=$(cat "$scratch/out")
  err=""
}
ANSWERS="Ada" pty_run run flags.tac
rc_is "compat: run on a terminal asks for a missing required input" 0
has "compat: ... and uses the answer" "who (string, required):" '"who": "Ada"'
ANSWERS="Bo|5" pty_run run flags.tac -i
rc_is "compat: run -i asks for every input" 0
has "compat: ... required first, then the others with their defaults" "who (string, required):" "n (number, default 1):" '"sum": 6'

# test --mock-config
printf '{"add": {"sum": 7}}\n' >"$ws/mocks.json"
cat >"$ws/mockcfg.tac" <<'EOF'
add = Tool { description = "add", input = { a = field.number {} }, function(args) return { sum = args.a + 1 } end }
Procedure { function() return { sum = add({ a = 1 }).sum } end }
Specification([[
Feature: mock config
  Scenario: the config answers
    When the procedure runs
    Then the output sum should be 7
]])
EOF
t test mockcfg.tac --mock-config mocks.json
rc_is "compat: test --mock-config FILE.json answers the named tools" 0
printf '[1, 2]\n' >"$ws/mocks.json"
t test mockcfg.tac --mock-config mocks.json
has "compat: test --mock-config: not an object is refused" "expected a JSON object"

# ---- traces ---------------------------------------------------------------------------
t run flags.tac --param who=a --storage file
t run flags.tac --param who=b --storage file
has "compat: run --storage file keeps the trace" "trace kept: tactus-run trace show flags-"
t trace list --json
jq_is "compat: trace list: both runs, finished" 'len(r) == 2 and all(x["status"] == "success" and x["events"] >= 3 for x in r)'
run1=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
t trace show "$run1"
has "compat: trace show RUN: the events, readable" "INFO    info line" "summary success"
t trace-show "${run1:0:10}"
has "compat: trace-show (Tactus's spelling): a prefix of one run is ambiguous" "more than one run starts so"
t trace export "$run1" "$scratch/export.json"
if python3 -c 'import json,sys; e = json.load(open(sys.argv[1])); sys.exit(0 if e[-1]["event_type"] == "execution_summary" else 1)' "$scratch/export.json"; then
  pass "compat: trace export: a JSON array of the events"; else fail "compat: trace export" "$(head -c 300 "$scratch/export.json")"; fi
t run flags.tac --param who=c --trace "$scratch/t.jsonl"
t trace show "$scratch/t.jsonl" --json
jq_is "compat: trace show FILE: a --trace file" 'r["event_type"] == "execution_summary"'
t trace show no-such-run
rc_is "compat: trace show: an unknown run exits 1" 1

# ---- the standard modules ---------------------------------------------------------------
older "compat: an unsupported standard module says why" 'require("tactus.io.parquet")' \
  "require: 'tactus.io.parquet' is not available in tactus-run: Parquet files need pyarrow" "(available: tactus.classify"
printf 'local s = require("tactus.classify.similarity")\nreturn { r = s.calculate_similarity("Hello", "hello!", "ratio"), t = s.calculate_similarity("b a", "a b", "token_sort_ratio") }\n' >"$ws/sim.tac"
t run sim.tac --json
jq_is "compat: tactus.classify.similarity: rapidfuzz's scores, lower-cased" 'abs(r["result"]["r"] - 10/11) < 1e-9 and r["result"]["t"] == 1'
printf 'local log = require("tactus.tools.log")\nreturn log({ message = "from the tool", level = "warn" })\n' >"$ws/logtool.tac"
t run logtool.tac --json
jq_is "compat: tactus.tools.log logs through Log" 'r["result"] == {"logged": True, "level": "warn", "message": "from the tool"}'
