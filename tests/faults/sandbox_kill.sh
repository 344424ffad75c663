#!/usr/bin/env bash
# Faults lane: the sandbox killed in the middle of a message.
#
# The VM sends 4 MiB Log.info messages, one after another (64 packets
# each).  The broker is paused (SIGSTOP) until the VM is seen blocked in
# sendmsg: the socket queue is full, so the VM is part-way through a
# message (it sends the next only after the broker answered the last).
# Then the cage's PID 1 gets SIGKILL and the broker continues (SIGCONT):
# it must report the partial run -- the events it got, then a clear
# message -- and exit 1 cleanly, with its run cgroup removed.  The same
# without pausing (PID 1 killed while it streams) once more.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

FAULT_UID=64982
scratch=$(scratch_dir)
LAUNCHER=""
cleanup() {
  [ -n "$LAUNCHER" ] && kill -CONT "$LAUNCHER" 2>/dev/null
  kill_all_own "$scratch/own"
  rm -rf "$scratch"
}
trap cleanup EXIT
ws="$scratch/ws"
mkdir -m 0700 "$ws"
chown "$FAULT_UID:$FAULT_UID" "$ws"
: >"$scratch/own"
cat >"$scratch/biglog.tac" <<'EOF'
local big = string.rep("y", 4 * 1024 * 1024)
local i = 0
while true do
  i = i + 1
  Log.info("chunk " .. i .. " " .. big)
end
EOF

syscall_of() { cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null; }

# one_case NAME PAUSE(yes|no)
one_case() {
  local name="$1" pause="$2" c cst i t0 rc ms seen="" last
  (cd "$ws" && exec "$TR" run "$scratch/biglog.tac" --timeout 60 --json >"$scratch/out" 2>"$scratch/err" </dev/null) &
  LAUNCHER=$!
  record_pid "$LAUNCHER" "$scratch/own"
  c=$(sandbox_pid1 "$LAUNCHER" "$FAULT_UID")
  if [ -z "$c" ]; then
    fail "faults: $name" "the sandbox did not start: $(tail -2 "$scratch/err" | tr '\n' ' ')"
    kill -KILL "$LAUNCHER"; wait "$LAUNCHER" 2>/dev/null; LAUNCHER=""
    return
  fi
  cst=$(starttime_of "$c")
  record_pid "$c" "$scratch/own"
  sleep 0.3
  if [ "$pause" = yes ]; then
    # Pause the broker until PID 1 blocks in sendmsg (x86_64: 46).
    for ((i = 0; i < 200; i++)); do
      kill -STOP "$LAUNCHER"
      sleep 0.05
      [ "$(syscall_of "$c")" = 46 ] && { seen="blocked in sendmsg ($(cat "/proc/$c/wchan" 2>/dev/null)), try $((i + 1))"; break; }
      kill -CONT "$LAUNCHER"
      sleep 0.0$((RANDOM % 10))
    done
  fi
  t0=$(date +%s%N)
  kill -KILL "$c"
  kill -CONT "$LAUNCHER" 2>/dev/null
  wait "$LAUNCHER"
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  # The last line, and the log events before it: each a whole message
  # (the partial one is dropped, never reported half).
  last=$(python3 - "$scratch/out" <<'EOF' 2>&1
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = ev[-1]
logs = [e for e in ev if e.get("event_type") == "log" and e.get("message", "").startswith("chunk ")]
whole = all(len(e["message"].split(" ", 2)[2]) == 4 << 20 for e in logs)
print(len(logs) if whole else "PARTIAL", r.get("event_type"), r.get("status"), r.get("exit_code"), "|", r.get("message"))
EOF
)
  local logs=${last%% *}
  last=${last#* }
  LAUNCHER_PID=$LAUNCHER
  LAUNCHER=""
  if [ "$pause" = yes ] && [ -z "$seen" ]; then
    fail "faults: $name" "never caught PID 1 blocked in sendmsg in 200 tries (syscall $(syscall_of "$c"))"
    return
  fi
  [ "$logs" = PARTIAL ] && last="a log event was reported with a partial message: $last"
  case "$rc|$last" in
    "1|result error 1 | the sandbox was killed by SIGKILL before the procedure finished"*)
      pass "faults: $name: ${seen:+PID 1 $seen; }exit 1 in $ms ms, $logs whole log events reported, then: ${last#*| }" ;;
    *)
      fail "faults: $name: exit 1 and a clear message" "exit $rc, last line: $(echo "$last" | cut -c1-300); stderr: $(tail -c 300 "$scratch/err" | tr '\n' ' ')" ;;
  esac
  proc_gone "$c" "$cst" 2
  local left
  left="$(run_cgroups_of "$LAUNCHER_PID")$(uid_procs "$FAULT_UID")"
  if [ -z "$left" ]; then pass "faults: $name: no run cgroup or process left"; else fail "faults: $name: no run cgroup or process left" "$(echo $left | cut -c1-300)"; fi
}

one_case "PID 1 SIGKILLed part-way through a 4 MiB message (broker paused)" yes
one_case "PID 1 SIGKILLed while streaming 4 MiB messages" no
