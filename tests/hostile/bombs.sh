#!/usr/bin/env bash
# Hostile lane: resource bombs in the cage.  Each one must be stopped by the
# limit it targets, the run must end, and the host must not notice:
#   fork bomb   --pids 64 --timeout 20   fork fails (EAGAIN), nothing left over
#   memory bomb --memory 64m             allocation fails (RLIMIT_AS here) or OOM kill
#   CPU loop    --timeout 1              killed, exit 124, within a few seconds
#   CPU loop    --cpu-seconds 1          killed by RLIMIT_CPU (SIGKILL, 137)
#   disk fill   --tmp-size 8m            ENOSPC in the sandbox's own /tmp
#   disk fill   --fsize 4m               EFBIG in /workspace
#   fd bomb     --nofile 64              EMFILE
# Root and unprivileged runs each.  Only the cgroup2 hierarchy is ever
# looked at (by tactus-run itself); nothing here touches cgroup v1.
source "$TESTS_DIR/lib.sh"

if [ ! -x "$TR_PROBE" ]; then
  fail "bombs" "no probe at $TR_PROBE (run make test-bins)"
  exit 1
fi

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT

# A name of our own for the probe, so leftovers are found by exact name
# (comm is at most 15 characters) and never confused with anything else.
bomb_name="trbomb$$"
bomb_name=${bomb_name:0:15}

# bomb WHO [TACTUS FLAGS...] -- PROBE ARGS...
# Sets: out (stdout+stderr), rc, took (seconds, 0.01 resolution), ws.
bomb() {
  local who="$1" start end
  shift
  local -a runner=() flags=()
  [ "$who" = nobody ] && runner=(as_nobody)
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  ws=$(probe_workspace "$scratch" "$who" "$bomb_name")
  start=$(date +%s%N)
  # timeout(1) is only a backstop for the test itself; every run has its
  # own --timeout.
  out=$(cd "$scratch" && "${runner[@]}" timeout -k 5 60 "$TR" sandbox exec --workspace "$ws" \
          "${flags[@]}" -- "/workspace/$bomb_name" "$@" 2>&1 </dev/null)
  rc=$?
  end=$(date +%s%N)
  took=$(( (end - start) / 10000000 ))
  took="$((took / 100)).$(printf '%02d' $((took % 100)))"
}

# A number from the probe's "... after N ..." line.
count_after() {
  sed -n -E 's/.* after ([0-9]+) .*/\1/p' <<<"$out" | head -1
}

# No process of any run is left: the probe's copies all carry our name.
no_leftovers() {
  local name="$1" left
  for _ in $(seq 20); do
    left=$(pgrep -x "$bomb_name" | tr '\n' ' ')
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -z "$left" ]; then pass "$name: no process left"; else fail "$name: no process left" "pids $left"; fi
}

host_can_fork() {
  local name="$1"
  if /bin/true && as_nobody /bin/true; then
    pass "$name: the host can still fork (root and uid 65534)"
  else
    fail "$name: the host can still fork (root and uid 65534)" "fork failed on the host"
  fi
}

forkbomb() {
  local who="$1" n name="fork bomb as $1 (--pids 64)"
  bomb "$who" --pids 64 --timeout 20 -- forkbomb
  n=$(count_after)
  if [ "$rc" = 0 ] && [[ "$out" == *EAGAIN* ]] && [ -n "$n" ] && [ "$n" -lt 64 ]; then
    pass "$name: contained after $n children in ${took}s"
  else
    fail "$name: contained" "exit $rc after ${took}s: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
  no_leftovers "$name"
  host_can_fork "$name"
}

# A sanitizer build sets no RLIMIT_AS (ASan reserves terabytes of shadow
# memory), so there only a cgroup memory controller can stop the bomb.
memory_limit_enforced() {
  [ -z "${TR_SANITIZED:-}" ] \
    || "$TR" sandbox exec --workspace-mode off --require-cgroup --memory 64m -- /bin/true >/dev/null 2>&1
}

membomb() {
  local who="$1" n name="memory bomb as $1 (--memory 64m)"
  if ! memory_limit_enforced; then
    skip "$name" "sanitizer build (no RLIMIT_AS) and no cgroup memory controller on this host"
    return
  fi
  bomb "$who" --memory 64m --timeout 20 -- membomb 1024
  n=$(count_after)
  if [ "$rc" = 0 ] && [[ "$out" == *ENOMEM* ]] && [ -n "$n" ] && [ "$n" -le 64 ]; then
    pass "$name: allocation failed after $n MiB"
  elif [ "$rc" = 137 ] && [[ "$out" == *"memory limit"* ]]; then
    pass "$name: OOM-killed by the cgroup memory limit"
  else
    fail "$name: contained" "exit $rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
  no_leftovers "$name"
}

cpuloop_timeout() {
  local who="$1" name="CPU loop as $1 (--timeout 1)"
  bomb "$who" --timeout 1 -- cpuloop
  if [ "$rc" = 124 ] && [ "${took%.*}" -lt 4 ] && [[ "$out" == *deadline* ]]; then
    pass "$name: killed, exit 124 after ${took}s"
  else
    fail "$name: killed, exit 124 within 4s" "exit $rc after ${took}s: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
  no_leftovers "$name"
}

cpuloop_rlimit() {
  local who="$1" name="CPU loop as $1 (--cpu-seconds 1)"
  bomb "$who" --cpu-seconds 1 --timeout 10 -- cpuloop
  if [ "$rc" = 137 ] && [ "${took%.*}" -lt 5 ]; then
    pass "$name: killed by RLIMIT_CPU (exit 137) after ${took}s"
  else
    fail "$name: killed by RLIMIT_CPU (exit 137)" "exit $rc after ${took}s: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
}

# The sandbox's /tmp is its own size-limited tmpfs: ENOSPC at 8 MiB proves
# the writes never reached the host's /tmp (which has far more room).
diskfill_tmp() {
  local who="$1" n name="disk fill of /tmp as $1 (--tmp-size 8m)" avail_before avail_after
  avail_before=$(df -k --output=avail /tmp | tail -1)
  bomb "$who" --tmp-size 8m --timeout 20 -- diskfill /tmp
  avail_after=$(df -k --output=avail /tmp | tail -1)
  n=$(count_after)
  if [ "$rc" = 0 ] && [[ "$out" == *ENOSPC* ]] && [ -n "$n" ] && [ "$n" -le $((8 << 20)) ]; then
    pass "$name: ENOSPC after $n bytes"
  else
    fail "$name: ENOSPC" "exit $rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
  # Less than the 8 MiB written: other writers on the host add noise.
  if [ ! -e /tmp/tr-probe-fill ] && [ $((avail_before - avail_after)) -lt 8192 ]; then
    pass "$name: the host /tmp is unaffected"
  else
    fail "$name: the host /tmp is unaffected" "avail ${avail_before}k -> ${avail_after}k"
  fi
}

diskfill_workspace() {
  local who="$1" n name="disk fill of /workspace as $1 (--fsize 4m)"
  bomb "$who" --fsize 4m --timeout 20 -- diskfill /workspace
  n=$(count_after)
  if [ "$rc" = 0 ] && [[ "$out" == *EFBIG* ]] && [ -n "$n" ] && [ "$n" -le $((4 << 20)) ]; then
    pass "$name: EFBIG after $n bytes"
  else
    fail "$name: EFBIG" "exit $rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
  if [ ! -e "$ws/tr-probe-fill" ]; then
    pass "$name: nothing left in the host workspace"
  else
    fail "$name: nothing left in the host workspace" "$(stat -c %s "$ws/tr-probe-fill") bytes left"
  fi
}

fdbomb() {
  local who="$1" n name="fd bomb as $1 (--nofile 64)"
  bomb "$who" --nofile 64 --timeout 20 -- fdbomb
  n=$(count_after)
  if [ "$rc" = 0 ] && [[ "$out" == *EMFILE* ]] && [ -n "$n" ] && [ "$n" -le 64 ]; then
    pass "$name: EMFILE after $n new fds"
  else
    fail "$name: EMFILE" "exit $rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
  fi
}

for who in root nobody; do
  forkbomb "$who"
  membomb "$who"
  cpuloop_timeout "$who"
  cpuloop_rlimit "$who"
  diskfill_tmp "$who"
  diskfill_workspace "$who"
  fdbomb "$who"
done
