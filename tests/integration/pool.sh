#!/usr/bin/env bash
# The warm pool: tactus-run serve + tactus-run-client.
source "$TESTS_DIR/lib.sh"
CLIENT="$(dirname "$TR")/tactus-run-client"
[ -x "$CLIENT" ] || { fail "pool: $CLIENT is not built" ""; exit 0; }

scratch=$(scratch_dir)
sock="$scratch/pool.sock"
cgroups_of() { ls -d /sys/fs/cgroup/unified/tactus-run-"$1"-* 2>/dev/null | wc -l; }
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; stop_fake; wait 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT

# The server holds an API key (its brokers read it when a call is made);
# no idle cage may ever show it.
# A fake model server (tests/lib/fake_openai.py) shows that the brokers
# still send it.
source "$TESTS_DIR/lib/fake_server.bash"
start_fake '[{"text": "pooled answer"}]'
canary="sk-pool-canary-$$-$RANDOM"
HOME="$scratch" OPENAI_API_KEY="$canary" OPENAI_BASE_URL="$URL" "$TR" serve --socket "$sock" --size 2 2>"$scratch/serve.log" &
server=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] && pass "pool: serve listens on its socket" || { fail "pool: serve did not start" "$(cat "$scratch/serve.log")"; exit 0; }

# Idle cages: the children of the supervisors (the server's children).
# Read while they wait, several times, from the first moments on.
descendants() { local p c; for p in $(pgrep -P "$1"); do echo "$p"; for c in $(pgrep -P "$p"); do echo "$c"; done; done; }
holds_canary() { tr '\0' '\n' < "/proc/$1/environ" 2>/dev/null | grep -qF "$canary"; }
seen=0 cages=0
for _ in $(seq 20); do
  for p in $(descendants "$server"); do
    cages=$((cages + 1))
    holds_canary "$p" && seen=$((seen + 1))
  done
  sleep 0.05
done
# Positive control: the same reading finds the key in a process that has it.
OPENAI_API_KEY="$canary" sleep 5 & ctl=$!
sleep 0.2
if holds_canary "$ctl" && [ "$cages" -gt 0 ] && [ "$seen" = 0 ]; then
  pass "pool: no idle cage nor supervisor shows the server's OPENAI_API_KEY in /proc/PID/environ ($cages reads)"
else
  fail "pool: secrets in idle cages" "seen in $seen of $cages reads (control found it: $(holds_canary "$ctl" && echo yes || echo no))"
fi
kill "$ctl" 2>/dev/null; wait "$ctl" 2>/dev/null
mode=$(stat -c %a "$sock"); [ "${mode: -2}" = 00 ] && pass "pool: the socket is private (mode $mode)" || fail "pool: socket mode" "$mode"

mkdir -p "$scratch/ws" && cd "$scratch/ws" || exit 1
cat > hello.tac <<'TAC'
Procedure { input = { name = field.string { default = "x" } },
  function(input) File.write("out.txt", "hi " .. input.name); return { greeting = "hello " .. input.name } end }
TAC
out=$("$CLIENT" --socket "$sock" hello.tac --param name=pool 2>"$scratch/err"); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q '"hello pool"' && pass "pool: a procedure runs and its result comes back" \
  || fail "pool: run" "rc=$rc $out $(cat "$scratch/err")"
[ "$(cat out.txt 2>/dev/null)" = "hi pool" ] && pass "pool: the client's directory is the run's /workspace" || fail "pool: workspace" "$(ls)"
grep -q "greeting\|INFO" "$scratch/err" || true

cat > agent.tac <<'TAC'
a = Agent { model = "openai/gpt-4o-mini", system_prompt = "x", disable_streaming = true }
Procedure { function() return { text = a({ message = "hi" }).text } end }
TAC
out=$("$CLIENT" --socket "$sock" agent.tac 2>"$scratch/err")
if echo "$out" | grep -q "pooled answer" && grep -qF "Bearer $canary" "$LOG"; then
  pass "pool: the broker still sends the server's key to the model server (control)"
else
  fail "pool: the key reaches the model server" "$out $(cat "$scratch/err" | tail -3) $(head -c 300 "$LOG")"
fi

out=$("$CLIENT" --socket "$sock" hello.tac --json 2>/dev/null | tail -1)
echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["event_type"]=="result" and r["exit_code"]==0' \
  && pass "pool: --json ends with the result line" || fail "pool: --json" "$out"

mkdir -p lib && echo 'return { twice = function(x) return x * 2 end }' > lib/m.tac
echo 'local m = require("lib.m"); return { v = m.twice(21) }' > mod.tac
out=$("$CLIENT" --socket "$sock" mod.tac 2>&1); echo "$out" | grep -q '"v":[[:space:]]*42' \
  && pass "pool: local modules load from the procedure's directory" || fail "pool: modules" "$out"

echo 'error("boom")' > fail.tac
"$CLIENT" --socket "$sock" fail.tac >/dev/null 2>"$scratch/err"; rc=$?
[ $rc = 1 ] && grep -q boom "$scratch/err" && pass "pool: a failing procedure exits 1 with its error" || fail "pool: failure" "rc=$rc"

echo 'while true do end' > loop.tac
start=$SECONDS; "$CLIENT" --socket "$sock" loop.tac --timeout 1 >/dev/null 2>&1; rc=$?
[ $rc = 124 ] && [ $((SECONDS - start)) -le 5 ] && pass "pool: --timeout kills a runaway run (124)" || fail "pool: timeout" "rc=$rc"

# Isolation: each run has a fresh VM and cage; state set by one run is not seen by the next.
echo 'state.n = (state.n or 0) + 1; _G.leak = (rawget(_G, "leak") or 0) + 1; return { n = state.n, leak = _G.leak }' > iso.tac
a=$("$CLIENT" --socket "$sock" iso.tac --json 2>/dev/null | tail -1)
b=$("$CLIENT" --socket "$sock" iso.tac --json 2>/dev/null | tail -1)
same=$(python3 -c 'import json,sys; a,b=(json.loads(x)["result"] for x in sys.argv[1:]); print(a==b=={"n":1,"leak":1})' "$a" "$b")
[ "$same" = True ] && pass "pool: runs do not share state (fresh cage per run)" || fail "pool: isolation" "$a / $b"

# A client that goes away stops its run.
echo 'Sleep(30) return {}' > sleep.tac
"$CLIENT" --socket "$sock" sleep.tac >/dev/null 2>&1 & c=$!
sleep 1; kill -INT $c 2>/dev/null; wait $c 2>/dev/null
sleep 3
busy=$(pgrep -P "$server" | while read -r p; do pgrep -P "$p"; done | wc -l)
[ "$busy" -le 2 ] && pass "pool: a client that hangs up stops its run" || fail "pool: hangup" "$busy cages under the supervisors"

# The pool protocol spoken directly (bench/pool_direct.py): one connection,
# several procedures, each in a fresh cage; then a second connection.
out=$(python3 "$TESTS_DIR/../bench/pool_direct.py" "$sock" hello.tac 5 2>&1)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["runs"] == 5 and r["failed"] == 0' "$out" 2>/dev/null \
  && pass "pool: a driver runs 5 procedures over one connection (docs/protocol.md)" || fail "pool: direct protocol" "$out"
out=$(python3 "$TESTS_DIR/../bench/pool_direct.py" "$sock" fail.tac 2 2>&1)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["runs"] == 2 and r["failed"] == 2' "$out" 2>/dev/null \
  && pass "pool: over one connection, a failing procedure's status comes back and the next one still runs" \
  || fail "pool: direct protocol, failures" "$out"

# The run's config layers: an untrusted sidecar that grants is refused as
# `tactus-run run` refuses it, and the cage it would have used is gone.
cat > granted.tac <<'TAC'
return { r = Host.call("host.echo", { x = 1 }) }
TAC
printf 'policy:\n  tools:\n    host.echo: {}\n' > granted.tac.yml
"$CLIENT" --socket "$sock" granted.tac >/dev/null 2>"$scratch/err"; rc=$?
"$TR" run granted.tac >/dev/null 2>"$scratch/err_run"; rc_run=$?
if [ $rc != 0 ] && grep -q "tactus-run trust" "$scratch/err" && [ $rc_run = $rc ]; then
  pass "pool: an untrusted sidecar that grants is refused, as run refuses it (exit $rc)"
else
  fail "pool: untrusted sidecar" "pool exit $rc, run exit $rc_run: $(tail -2 "$scratch/err")"
fi
"$TR" trust granted.tac >/dev/null
out=$("$CLIENT" --socket "$sock" granted.tac --json 2>"$scratch/err" | tail -1)
echo "$out" | grep -q '"status":"success"\|"status": "success"' \
  && pass "pool: once trusted, the sidecar's grant applies to the pooled run (control)" \
  || fail "pool: trusted sidecar" "$out $(tail -2 "$scratch/err")"

# Options, as tactus-run run takes them: each result line and exit status
# the same as run's.
echo 'local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end' > bomb.tac
echo 'File.write("ro.txt", "x") return { wrote = true }' > write.tac
differ=""
for args in "bomb.tac --memory 32m" "write.tac --workspace-mode ro" "hello.tac --no-jit" "hello.tac --workspace-mode off"; do
  # shellcheck disable=SC2086
  a=$("$CLIENT" --socket "$sock" $args --json 2>/dev/null | tail -1)
  # shellcheck disable=SC2086
  "$CLIENT" --socket "$sock" $args >/dev/null 2>&1; rc_a=$?
  # shellcheck disable=SC2086
  b=$("$TR" run $args --json 2>/dev/null | tail -1)
  # shellcheck disable=SC2086
  "$TR" run $args >/dev/null 2>&1; rc_b=$?
  same=$(python3 -c 'import json,sys
def k(t):
    r = json.loads(t); return [r.get("status"), r.get("exit_code"), r.get("result")]
print(k(sys.argv[1]) == k(sys.argv[2]))' "$a" "$b" 2>&1)
  [ "$same" = True ] && [ "$rc_a" = "$rc_b" ] || differ+=" [$args: pool $rc_a $a / run $rc_b $b]"
  [[ "$args" != bomb* ]] || [ "$rc_a" = 137 ] || differ+=" [$args: exit $rc_a, not 137]"
done
[ -z "$differ" ] && pass "pool: --memory, --workspace-mode and --no-jit give what tactus-run run gives (137 for the bomb)" \
  || fail "pool: options" "$differ"
rm -f ro.txt
"$CLIENT" --socket "$sock" hello.tac --memory lots >/dev/null 2>"$scratch/err"; rc=$?
[ $rc = 1 ] && grep -q "memory 'lots'" "$scratch/err" && pass "pool: a bad --memory is refused with the option named" \
  || fail "pool: bad --memory" "rc=$rc $(cat "$scratch/err")"

# serve --status: every cage idle again after the runs, with its memory.
sleep 0.5
st=$("$TR" serve --status --json --socket "$sock" 2>&1)
if python3 -c 'import json,sys; s=json.loads(sys.argv[1]); c=s["cages"]
assert s["size"] == 2 and s["idle"] == 2 and len(c) == 2, s
assert all(x["cage"] > 0 and 0 < x["cage_pss_kb"] <= x["cage_rss_kb"] and x["supervisor_pss_kb"] > 0 for x in c), c' "$st" 2>"$scratch/err"; then
  pass "pool: serve --status lists the idle cages and their memory"
else
  fail "pool: serve --status" "$st $(cat "$scratch/err" | tail -1)"
fi
"$TR" serve --status --socket "$scratch/none.sock" >/dev/null 2>"$scratch/err"; rc=$?
[ $rc = 1 ] && grep -q "no pool" "$scratch/err" && pass "pool: serve --status without a server: a clear error, exit 1" \
  || fail "pool: serve --status without a server" "rc=$rc $(cat "$scratch/err")"

"$CLIENT" --socket "$scratch/none.sock" hello.tac >/dev/null 2>"$scratch/err"; rc=$?
[ $rc = 1 ] && grep -q "no pool" "$scratch/err" && pass "pool: no server: a clear error, exit 1" || fail "pool: no server" "rc=$rc"

if [ "$(id -u)" = 0 ]; then
  as_nobody "$CLIENT" --socket "$sock" hello.tac >/dev/null 2>"$scratch/err"; rc=$?
  [ $rc = 1 ] && pass "pool: another user cannot use the pool" || fail "pool: other user" "rc=$rc $(cat "$scratch/err")"
  out=$(as_nobody "$TR" serve --status --json --socket "$sock" 2>&1); rc=$?
  [ $rc != 0 ] && [[ "$out" != *cage_pss_kb* ]] && pass "pool: another user gets no status" \
    || fail "pool: another user gets no status" "rc=$rc $out"
fi

kill -TERM "$server"; wait "$server" 2>/dev/null; left=$(cgroups_of "$server")
for p in $(pgrep -P "$server" 2>/dev/null); do left=$((left + 1)); done
[ ! -e "$sock" ] && pass "pool: stopping the server removes its socket" || fail "pool: socket left" ""
sleep 0.5
n=0; for d in /sys/fs/cgroup/unified/tactus-run-*; do
  [ -d "$d" ] || continue; pid=${d##*/tactus-run-}; pid=${pid%%-*}
  kill -0 "$pid" 2>/dev/null || n=$((n + 1))
done
[ "$n" = 0 ] && pass "pool: stopping the server leaves no cgroup behind" || fail "pool: cgroups left" "$n"
server=
