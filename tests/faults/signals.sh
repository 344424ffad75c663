#!/usr/bin/env bash
# Faults lane: SIGINT, SIGTERM and SIGHUP to tactus-run mid-run.
#
# Two procedures: one calling the broker in a loop (it hears the stop at
# once) and one spinning in JIT-compiled Lua (no hook runs: the broker
# SIGKILLs it after its 2 s grace).  Each signal must end the run with
# exit 130 (SIGINT) or 143 (SIGTERM, and SIGHUP), the cage's PID 1 gone,
# the run cgroup removed, no process of the run's uid and no new host
# mount left.  A second SIGINT skips the grace period.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

FAULT_UID=64985
scratch=$(scratch_dir)
cleanup() {
  kill_all_own "$scratch/own"
  rm -rf "$scratch"
}
trap cleanup EXIT
ws="$scratch/ws"
mkdir -m 0700 "$ws"
chown "$FAULT_UID:$FAULT_UID" "$ws"
: >"$scratch/own"
cat >"$scratch/spin.tac" <<'EOF'
local x = 0
while true do x = x + 1 end
EOF
cat >"$scratch/calls.tac" <<'EOF'
local i = 0
while true do i = i + 1; Host.call("host.echo", { i = i }) end
EOF
printf 'policy:\n  tools:\n    host.echo: {}\n' >"$scratch/calls.tac.yml"
trust "$scratch/calls.tac" || fail "faults: tactus-run trust calls.tac" "refused"
mount_snapshot "$scratch/mounts.before"

# one_case PROCEDURE SIGNAL WANT-RC MAX-MS [SECOND-SIGNAL]
one_case() {
  local proc="$1" sig="$2" want="$3" max_ms="$4" again="${5:-}" launcher c cst t0 rc ms msg left
  (cd "$ws" && exec "$TR" run "$scratch/$proc.tac" --timeout 60 >"$scratch/out" 2>"$scratch/err" </dev/null) &
  launcher=$!
  record_pid "$launcher" "$scratch/own"
  c=$(sandbox_pid1 "$launcher" "$FAULT_UID")
  if [ -z "$c" ]; then
    fail "faults: SIG$sig to a run of $proc.tac" "the sandbox did not start: $(tail -2 "$scratch/err" | tr '\n' ' ')"
    kill -KILL "$launcher"; wait "$launcher" 2>/dev/null
    return
  fi
  cst=$(starttime_of "$c")
  record_pid "$c" "$scratch/own"
  sleep 0.3
  t0=$(date +%s%N)
  kill -"$sig" "$launcher"
  if [ -n "$again" ]; then
    sleep 0.2
    kill -"$again" "$launcher"
  fi
  wait "$launcher"
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  msg=$(grep -a '✗' "$scratch/err" | tail -1)
  # Right after the launcher exits: its teardown is synchronous.
  left=""
  [ "$(starttime_of "$c")" = "$cst" ] && [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$c/stat" 2>/dev/null)" != Z ] \
    && left+=" PID 1 ($c) still running;"
  [ -n "$(run_cgroups_of "$launcher")" ] && left+=" run cgroup $(run_cgroups_of "$launcher");"
  [ -n "$(uid_procs "$FAULT_UID")" ] && left+=" processes: $(uid_procs "$FAULT_UID" | tr '\n' ' ');"
  [ -n "$(new_cage_mounts "$scratch/mounts.before" "$scratch")" ] && left+=" mounts: $(new_cage_mounts "$scratch/mounts.before" "$scratch" | tr '\n' ' ');"
  local name="SIG$sig${again:+ twice} to a run of $proc.tac"
  if [ "$rc" = "$want" ] && [ "$ms" -le "$max_ms" ] && [ -z "$left" ]; then
    pass "faults: $name: exit $rc in $ms ms, sandbox gone, cgroup and mounts clean: ${msg#✗ }"
  else
    fail "faults: $name" "exit $rc (want $want) in $ms ms (limit $max_ms);${left:- nothing left;} $msg"
  fi
  kill_own "$c" "$cst"
}

for sig in INT TERM HUP; do
  want=143
  [ "$sig" = INT ] && want=130
  one_case calls "$sig" "$want" 1000
  one_case spin "$sig" "$want" 4000
done
one_case spin INT 130 1500 INT
