#!/usr/bin/env bash
# Faults lane: the broker (the tactus-run process) killed with SIGKILL
# mid-run.
#
# A VM spinning in Lua (`tactus-run run`) and a native program
# (`tactus-run sandbox exec -- sleep`): once the cage's PID 1 runs (a child
# of the tactus-run we started, as the run's own uid), the launcher gets
# SIGKILL.  The cage must die with it (PR_SET_PDEATHSIG): no orphan.  A
# launcher killed this way cannot remove its run cgroup; the next start of
# tactus-run removes run cgroups whose launcher is gone (sandbox/cgroup.c,
# remove_stale).  Only what our own launchers made is looked at.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

FAULT_UID=64980
scratch=$(scratch_dir)
# Whatever happens, nothing we started outlives the test.
cleanup() {
  kill_all_own "$scratch/own"
  rm -rf "$scratch"
}
trap cleanup EXIT
ws="$scratch/ws"
mkdir -m 0700 "$ws"
chown "$FAULT_UID:$FAULT_UID" "$ws"
cat >"$scratch/spin.tac" <<'EOF'
local x = 0
while true do x = x + 1 end
EOF
: >"$scratch/own"

# kill_case NAME CMD...: start CMD (a launcher) in the workspace, SIGKILL it
# once its sandbox runs, check the sandbox dies; leaves LAUNCHER, CG set.
kill_case() {
  local name="$1" c cst
  shift
  (cd "$ws" && exec "$@" >"$scratch/out" 2>"$scratch/err" </dev/null) &
  LAUNCHER=$!
  record_pid "$LAUNCHER" "$scratch/own"
  c=$(sandbox_pid1 "$LAUNCHER" "$FAULT_UID")
  if [ -z "$c" ]; then
    fail "faults: $name: the sandbox started" "no child of $LAUNCHER runs as uid $FAULT_UID: $(tail -2 "$scratch/err" | tr '\n' ' ')"
    kill -KILL "$LAUNCHER" 2>/dev/null
    wait "$LAUNCHER" 2>/dev/null
    CG=""
    return
  fi
  cst=$(starttime_of "$c")
  record_pid "$c" "$scratch/own"
  CG=$(run_cgroups_of "$LAUNCHER")
  sleep 0.2
  kill -KILL "$LAUNCHER"
  wait "$LAUNCHER" 2>/dev/null
  if proc_gone "$c" "$cst" 3; then
    pass "faults: $name: broker SIGKILLed mid-run, the sandbox's PID 1 ($c) died with it"
  else
    fail "faults: $name: broker SIGKILLed mid-run, the sandbox's PID 1 died with it" \
      "PID 1 ($c, uid $(uid_of "$c"), parent now $(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$c/stat")) still runs 3 s after the launcher was killed: an orphan sandbox (PR_SET_PDEATHSIG is cleared when the child changes its uid/gid: it must be armed again after setresuid in sandbox/child.c)"
    kill_own "$c" "$cst"
    proc_gone "$c" "$cst" 3
  fi
  local others
  others=$(uid_procs "$FAULT_UID")
  if [ -z "$others" ]; then
    pass "faults: $name: no process of the run's uid $FAULT_UID is left"
  else
    fail "faults: $name: no process of the run's uid $FAULT_UID is left" "$(echo $others | cut -c1-200)"
    for c in $(pgrep -U "$FAULT_UID"); do grep -q "^$c " "$scratch/own" && kill -KILL "$c"; done
  fi
}

# What a killed launcher leaves, and that the next start removes it.
stale_case() {
  local name="$1" left state
  [ -n "$CG" ] || { skip "faults: $name: stale cgroup" "no run cgroup was made (no writable cgroup2 here)"; return; }
  left=$(run_cgroups_of "$LAUNCHER")
  state=$(cat "$CG/cgroup.events" 2>/dev/null | tr '\n' ' ')
  echo "faults: $name: left behind by the SIGKILLed launcher: ${left:-nothing}${left:+ ($state)}"
  (cd "$ws" && "$TR" run "$TESTS_DIR/../bench/trivial.tac" >/dev/null 2>&1 </dev/null)
  left=$(run_cgroups_of "$LAUNCHER")
  if [ -z "$left" ]; then
    pass "faults: $name: the next tactus-run start removed the dead launcher's run cgroup"
  else
    fail "faults: $name: the next tactus-run start removed the dead launcher's run cgroup" \
      "$left is still there ($(cat "$left/cgroup.events" 2>/dev/null | tr '\n' ' '))"
  fi
}

kill_case "VM run" "$TR" run "$scratch/spin.tac" --timeout 120
stale_case "VM run"
kill_case "native program" "$TR" sandbox exec --workspace "$ws" --host-uid "$FAULT_UID" \
  --host-gid "$FAULT_UID" --timeout 120 -- /bin/sleep 120
stale_case "native program"
