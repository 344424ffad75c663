#!/usr/bin/env bash
# Integration lane: human in the loop (Human.approve / input / review).
#
# --approve all / none answer without asking; with no TTY and no --approve
# the run pauses ("Paused", exit 0); with --storage file a paused run is
# answered with `tactus-run answer` and resumed by running it again, one
# request at a time, until it completes with the answers; a TTY (script(1)
# gives the run a pseudo-terminal, the answers typed ahead) answers at the
# prompt; `answer` with nothing paused is a clear error.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
work="$scratch/work"
mkdir -p "$work" "$scratch/home"
export HOME="$scratch/home"
unset OPENAI_API_KEY OPENAI_BASE_URL
trap 'rm -rf "$scratch"' EXIT

# run ARGS...: `tactus-run run` in $work, in a new session (no TTY).
run() {
  (cd "$work" && setsid -w "$TR" run "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}
# answer ARGS...: `tactus-run answer` in $work.
answer() {
  aout=$(cd "$work" && "$TR" answer "$@" 2>&1 </dev/null)
  arc=$?
}
# result EXPR: a Python expression on the --json result line r.
result() {
  printf '%s\n' "$out" | python3 -c '
import json, sys
r = {}
for line in sys.stdin:
    line = line.strip()
    if "\"event_type\":\"result\"" in line.replace(" ", ""):
        r = json.loads(line)
try:
    v = eval(sys.argv[1])
except Exception as e:
    v = "ERROR: %s: %s" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$1"
}
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3${4:+ ($4)}"; fi
}
short() { printf '%s' "$1" | tail -3 | tr '\n' ' ' | cut -c1-400; }

cat >"$work/gate.tac" <<'EOF'
Procedure { function(input)
  local ok = Human.approve({ message = "Ship it?" })
  local name = Human.input({ message = "Release name?", default = "unnamed" })
  local rev = Human.review({ message = "Review the notes", artifact = "notes v1" })
  return { shipped = ok, name = name, decision = rev.decision, feedback = rev.feedback or "" }
end }
EOF

# ---- unattended --------------------------------------------------------------------
run gate.tac --approve all --json
check "hitl: --approve all approves, inputs take their default, reviews approve" \
  "$rc $(result '[r["status"], r["result"]]')" \
  '0 ["success", {"decision": "approve", "feedback": "", "name": "unnamed", "shipped": true}]' "$(short "$err")"
run gate.tac --approve none --json
check "hitl: --approve none refuses, inputs take their default, reviews reject" \
  "$rc $(result '[r["status"], r["result"]]')" \
  '0 ["success", {"decision": "reject", "feedback": "", "name": "unnamed", "shipped": false}]' "$(short "$err")"

# ---- nobody to ask ----------------------------------------------------------------------
run gate.tac
if [ "$rc" = 75 ] && [[ "$out" == *"Paused"*"Ship it?"* ]] && [[ "$out" == *"--storage file"* ]]; then
  pass "hitl: no TTY and no --approve: Paused, exit 75 (neither success nor failure)"
else
  fail "hitl: no TTY and no --approve: Paused, exit 75 (neither success nor failure)" "exit $rc: $(short "$out") $(short "$err")"
fi
run gate.tac --json
check "hitl: paused run in --json: status paused, exit 75" "$rc $(result '[r["status"], r["exit_code"], r["message"]]')" \
  '75 ["paused", 75, "waiting for a human to answer: Ship it? (approval)"]'

# ---- pause, answer, resume (--storage file) ----------------------------------------------
# The records live in the state directory, named after the procedure and
# the hash of its real path (broker/checkpoint_store.h).
store="$XDG_STATE_HOME/tactus-run/storage"
record() { compgen -G "$store/gate-*.json" | head -1; }
run gate.tac --storage file
if [ "$rc" = 75 ] && [[ "$out" == *"Paused"*"tactus-run answer gate.tac VALUE"* ]] && [ -s "$(record)" ]; then
  pass "hitl: --storage file: pauses at the approval and says how to answer"
else
  fail "hitl: --storage file: pauses at the approval and says how to answer" "exit $rc, $(ls "$store" 2>&1): $(short "$out")"
fi
answer gate.tac yes
if [ "$arc" = 0 ] && [[ "$aout" == *'Answered "Ship it?" with yes.'* ]]; then
  pass "hitl: answer gate.tac yes"
else
  fail "hitl: answer gate.tac yes" "exit $arc: $(short "$aout")"
fi
answer gate.tac no
if [ "$arc" = 1 ] && [[ "$aout" == *"not waiting for an answer"* ]]; then
  pass "hitl: a second answer before the re-run is refused (not waiting), exit 1"
else
  fail "hitl: a second answer before the re-run is refused" "exit $arc: $(short "$aout")"
fi
run gate.tac --storage file --json
check "hitl: re-run replays the approval and pauses at the input" \
  "$rc $(result '[r["status"], r["message"]]')" '75 ["paused", "waiting for a human to answer: Release name? (input)"]' \
  "$(short "$err")"
answer gate.tac v2.0
run gate.tac --storage file --json
check "hitl: re-run replays two answers and pauses at the review" \
  "$rc $(result '[r["status"], r["message"]]')" '75 ["paused", "waiting for a human to answer: Review the notes (review)"]' \
  "$(short "$err")"
answer gate.tac '{"decision": "approve", "feedback": "lgtm"}'
run gate.tac --storage file --json
check "hitl: the last re-run continues and completes with the answers" \
  "$rc $(result '[r["status"], r["result"]]')" \
  '0 ["success", {"decision": "approve", "feedback": "lgtm", "name": "v2.0", "shipped": true}]' "$(short "$err")"
if [[ "$out" == *"replaying 3 checkpoint"* ]] && [ -z "$(record)" ]; then
  pass "hitl: the completed run replayed 3 answers and cleared its storage"
else
  fail "hitl: the completed run replayed 3 answers and cleared its storage" "$(ls "$store" 2>&1)"
fi

# A "no" answer resumes as a refusal.
run gate.tac --storage file
answer gate.tac no
run gate.tac --storage file --approve all --json
check "hitl: answered no, resumed: not shipped (later requests by --approve all)" \
  "$rc $(result '[r["status"], r["result"]["shipped"], r["result"]["name"]]')" '0 ["success", false, "unnamed"]'

# storage_path from the config: `answer` looks where `run` wrote.
printf 'storage_path: %s\n' "$scratch/elsewhere" >"$work/gate.tac.yml"
trust "$work/gate.tac.yml" || fail "hitl: tactus-run trust gate.tac.yml" "refused"
run gate.tac --storage file
answer gate.tac yes
if [ "$arc" = 0 ] && [ -s "$scratch/elsewhere/gate.json" ]; then
  pass "hitl: answer finds a paused run under the config's storage_path"
else
  fail "hitl: answer finds a paused run under the config's storage_path" "exit $arc: $(short "$aout")"
fi
rm -f "$work/gate.tac.yml"
rm -rf "$scratch/elsewhere"

# ---- the pause cannot be caught -------------------------------------------------------------
# pcall / xpcall / coroutine.resume in user code catch errors, but not the
# pause: the run still ends "paused", and resumes after the answer.
cat >"$work/caught.tac" <<'EOF2'
Procedure { function(input)
  local ok, v = pcall(Human.approve, { message = "Deploy?" })
  local xok, xv = xpcall(function() return Human.input({ message = "Tag?" }) end,
    function(e) return "handler saw: " .. tostring(e) end)
  local co = coroutine.create(function() return Human.approve({ message = "Announce?" }) end)
  local cok, cv = coroutine.resume(co)
  local rok, rv = pcall(Retry.with_backoff, function() return Human.approve({ message = "Retry?" }) end,
    { max_attempts = 3, initial_delay = 0 })
  return { ok = ok, v = v, xok = xok, xv = xv, cok = cok, cv = cv, rok = rok, rv = rv }
end }
EOF2
run caught.tac --json
check "hitl: pcall(Human.approve, ...) does not catch the pause: status paused, exit 75" \
  "$rc $(result '[r["status"], r["exit_code"], r["message"]]')" \
  '75 ["paused", 75, "waiting for a human to answer: Deploy? (approval)"]' "$(short "$err")"
run caught.tac --storage file --json
answer caught.tac yes
run caught.tac --storage file --json
check "hitl: the pcall-wrapped approve resumes after answer; xpcall's handler never sees the pause" \
  "$rc $(result '[r["status"], r["message"]]')" '75 ["paused", "waiting for a human to answer: Tag? (input)"]' \
  "$(short "$err")"
answer caught.tac v9
run caught.tac --storage file --json
check "hitl: coroutine.resume does not catch the pause either" \
  "$rc $(result '[r["status"], r["message"]]')" '75 ["paused", "waiting for a human to answer: Announce? (approval)"]' \
  "$(short "$err")"
answer caught.tac no
run caught.tac --storage file --json
check "hitl: Retry.with_backoff does not retry a pause" \
  "$rc $(result '[r["status"], r["message"]]') $(printf '%s' "$out$err" | grep -c 'Retry: attempt')" \
  '75 ["paused", "waiting for a human to answer: Retry? (approval)"] 0' "$(short "$err")"
answer caught.tac yes
run caught.tac --storage file --json
check "hitl: resumed four times: the caught calls return the answers" \
  "$rc $(result '[r["status"], r["result"]]')" \
  '0 ["success", {"cok": true, "cv": false, "ok": true, "rok": true, "rv": true, "v": true, "xok": true, "xv": "v9"}]' \
  "$(short "$err")"
rm -f "$work/caught.tac"

# An ordinary error is still caught by pcall and xpcall, and an error raised
# with a level names the user's line, not the wrappers'.
cat >"$work/plain.tac" <<'EOF2'
Procedure { function(input)
  local ok, e = pcall(error, "boom", 0)
  local xok, xe = xpcall(function() error({ code = 7 }) end, function(err) return err.code end)
  local _, lvl = pcall(error, "blamed", 2)
  local _, xlvl = xpcall(error, function(m) return "handled " .. m end, "x-blamed", 2)
  return { ok = ok, e = e, xok = xok, xe = xe, lvl = lvl, xlvl = xlvl }
end }
EOF2
run plain.tac --json
check "hitl: pcall and xpcall still catch ordinary errors (positions at the user's line)" \
  "$rc $(result '[r["status"], r["result"]]')" \
  '0 ["success", {"e": "boom", "lvl": "plain.tac:4: blamed", "ok": false, "xe": 7, "xlvl": "handled plain.tac:5: x-blamed", "xok": false}]' \
  "$(short "$err")"
rm -f "$work/plain.tac"

# ---- nothing paused ------------------------------------------------------------------------
answer gate.tac yes
if [ "$arc" = 1 ] && [[ "$aout" == *"no paused run of gate"* ]]; then
  pass "hitl: answer with no paused run: clear error, exit 1"
else
  fail "hitl: answer with no paused run: clear error, exit 1" "exit $arc: $(short "$aout")"
fi
answer gate.tac
if [ "$arc" = 1 ] && [[ "$aout" == *"usage: tactus-run answer FILE.tac VALUE"* ]]; then
  pass "hitl: answer without a value: usage, exit 1"
else
  fail "hitl: answer without a value: usage, exit 1" "exit $arc: $(short "$aout")"
fi

# ---- a terminal ----------------------------------------------------------------------------
# script(1) runs the procedure on a pseudo-terminal; the answers are typed
# ahead and read by the broker's prompt, one line per question.
tty_run() {
  out=$(cd "$work" && printf "$1" | script -qec "$TR run gate.tac --json" /dev/null 2>&1 | tr -d '\r')
  rc=$?
}
tty_run 'y\nv3\napprove\n'
check "hitl: TTY prompt: y, a name and approve are the answers" \
  "$(result '[r["status"], r["result"]]')" \
  '["success", {"decision": "approve", "feedback": "", "name": "v3", "shipped": true}]' "$(short "$out")"
if [[ "$out" == *"Ship it? [y/N]"* ]] && [[ "$out" == *"Release name?"* ]]; then
  pass "hitl: TTY prompt shows the questions"
else
  fail "hitl: TTY prompt shows the questions" "$(short "$out")"
fi
tty_run 'n\n\n\n'
check "hitl: TTY prompt: n refuses; Enter takes the input's default" \
  "$(result '[r["status"], r["result"]["shipped"], r["result"]["name"]]')" '["success", false, "unnamed"]' "$(short "$out")"
