#!/bin/bash
# The VM lane's tests, run by the guest's /init as root on a real cgroup2
# hierarchy (mounted at /sys/fs/cgroup with memory, pids and cpu available
# at the root).  Prints PASS:/FAIL:/SKIP: lines on the serial console;
# tests/vm/run.sh forwards them.  Not meant to run on a host: it creates
# cgroups at the root of the cgroup2 hierarchy.
set -u
[ -f /.stage2 ] || { echo "FAIL: vm: guest tests: refusing to run outside the lane's VM"; exit 1; }
. "$TESTS_DIR/lib.sh"
TR_ASAN=0
. "$TESTS_DIR/build.env"

PROBE=/usr/local/bin/vm-probe
CG=/sys/fs/cgroup
# Every limit run gets a hard outer bound so that one hung run cannot eat the
# lane's whole time budget (the host's timeout would lose every result).
OUTER=60
WORK=$(scratch_dir)
cd "$WORK" || exit 1
# The runs below do not test the workspace, so it is off: as root, a
# root-owned workspace on tmpfs needs idmapped mounts, which tmpfs has only
# since Linux 6.3 (this kernel is 6.1).
EXEC=("$TR" sandbox exec --workspace-mode off)

now_us() { echo "${EPOCHREALTIME/./}"; }

run_cgroups() { find "$CG" -mindepth 1 -maxdepth 1 -name 'tactus-run-*' 2>/dev/null; }

# wait_cgroup: print the first run cgroup that appears (up to ~5 s).
wait_cgroup() {
  local i d
  for ((i = 0; i < 250; i++)); do
    d=$(run_cgroups | head -1)
    if [ -n "$d" ]; then echo "$d"; return 0; fi
    sleep 0.02
  done
  return 1
}

stat_key() { awk -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null; }

# no_leftovers NAME: the run's cgroup and every payload process are gone.
no_leftovers() {
  local left procs
  left=$(run_cgroups | tr '\n' ' ')
  procs=$(pidof vm-probe tr-probe)
  if [ -z "$left" ] && [ -z "$procs" ]; then
    pass "$1"
  else
    fail "$1" "left behind: cgroups [${left}] processes [${procs}]"
  fi
}

oom_reports() { dmesg 2>/dev/null | grep -c 'Memory cgroup out of memory'; }

# ---------------------------------------------------------------- the kernel
ctl=$(cat "$CG/cgroup.controllers")
if [[ " $ctl " == *" memory "* && " $ctl " == *" pids "* && " $ctl " == *" cpu "* ]]; then
  pass "vm: guest cgroup2 root offers memory, pids, cpu ($ctl)"
else
  fail "vm: guest cgroup2 root offers memory, pids, cpu" "controllers: $ctl"
fi

# ---------------------------------------------------------------- status
out=$("$TR" sandbox status 2>&1); rc=$?
cgline=$(echo "$out" | grep '^cgroup v2 ')
limline=$(echo "$out" | grep '^limits ')
if [ "$rc" = 0 ] && [[ "$cgline" == *yes*"under $CG "*controllers:* ]] \
  && [[ " ${cgline##*controllers: } " == *" memory "* && " ${cgline##*controllers: } " == *" pids "* \
        && " ${cgline##*controllers: } " == *" cpu "* ]] \
  && [[ "$limline" == *"cgroup v2 memory.max, pids.max, cpu.max"* ]]; then
  pass "vm: sandbox status reports cgroup v2 with memory, pids, cpu limits"
else
  fail "vm: sandbox status reports cgroup v2 with memory, pids, cpu limits" \
    "rc=$rc; $(echo "$out" | grep -E '^(cgroup v2|limits|sandbox) ' | tr '\n' '|')"
fi

# ---------------------------------------------------------------- plain run
expect_rc "vm: sandbox exec /bin/true as root" 0 timeout $OUTER "${EXEC[@]}" -- /bin/true
no_leftovers "vm: no cgroup or process left after a normal exit"

# ---------------------------------------------------------------- limits written
"${EXEC[@]}" --memory 64m --pids 32 --cpus 0.5 --require-cgroup -- /bin/sleep 2 >/dev/null 2>&1 &
bg=$!
if d=$(wait_cgroup); then
  got="memory.max=$(cat "$d/memory.max") memory.swap.max=$(cat "$d/memory.swap.max")"
  got+=" memory.oom.group=$(cat "$d/memory.oom.group") pids.max=$(cat "$d/pids.max")"
  got+=" cpu.max=$(cat "$d/cpu.max") procs=$(wc -l <"$d/cgroup.procs")"
  want="memory.max=67108864 memory.swap.max=0 memory.oom.group=1 pids.max=32 cpu.max=50000 100000"
  if [[ "$got" == "$want procs="* && "${got##*procs=}" -ge 1 ]]; then
    pass "vm: the run's cgroup holds the run and has memory.max, pids.max, cpu.max set"
  else
    fail "vm: the run's cgroup holds the run and has memory.max, pids.max, cpu.max set" "got: $got; want: $want procs>=1"
  fi
else
  fail "vm: the run's cgroup holds the run and has memory.max, pids.max, cpu.max set" "no tactus-run-* cgroup appeared under $CG"
fi
wait "$bg"; rc=$?
[ "$rc" = 0 ] && pass "vm: a limited run of sleep 2 exits 0" || fail "vm: a limited run of sleep 2 exits 0" "exit $rc"

# ---------------------------------------------------------------- memory.max
before=$(oom_reports)
t0=$(now_us)
out=$(timeout $OUTER "${EXEC[@]}" --memory 64m --require-cgroup -- "$PROBE" membomb 256 2>&1); rc=$?
ms=$((($(now_us) - t0) / 1000))
after=$(oom_reports)
if [ "$rc" = 137 ] && [[ "$out" == *"hit its memory limit"* ]] && [[ "$out" != *membomb:* ]]; then
  pass "vm: memory.max 64m kills a memory bomb: exit 137, memory-limit message (${ms} ms)"
else
  fail "vm: memory.max 64m kills a memory bomb" "exit $rc (want 137): $(echo "$out" | tail -3 | tr '\n' ' ')"
fi
if [ "$after" -gt "$before" ]; then
  pass "vm: the kernel logged a memory cgroup OOM kill (not a global OOM)"
else
  fail "vm: the kernel logged a memory cgroup OOM kill (not a global OOM)" \
    "no new 'Memory cgroup out of memory' in dmesg: $(dmesg | grep -iE 'oom|killed' | tail -2 | tr '\n' ' ')"
fi
no_leftovers "vm: no cgroup or process left after an OOM kill"

# ---------------------------------------------------------------- pids.max
"${EXEC[@]}" --pids 32 --require-cgroup -- "$PROBE" forkbomb 3 >"$WORK/fork.out" 2>&1 &
bg=$!
held=""
if d=$(wait_cgroup); then
  # The bomb holds its children for 3 s once fork fails: sample meanwhile.
  for ((i = 0; i < 150; i++)); do
    grep -q 'forkbomb:' "$WORK/fork.out" 2>/dev/null && break
    sleep 0.02
  done
  held="pids.current=$(cat "$d/pids.current" 2>/dev/null) pids.events.max=$(stat_key "$d/pids.events" max)"
  # With pids.max in force, RLIMIT_NPROC is only a backstop above it
  # (sandbox/rlimits.c: 64 here), so it must be pids.max that refused the
  # bomb's fork: pids.events max > 0.  Without the cgroup limit the bomb
  # would get past 32 children, or NPROC would refuse it with events max 0.
  # Also a root process (exempt from RLIMIT_NPROC) that joins the full
  # cgroup cannot fork.
  live=$( (echo "$BASHPID" >"$d/cgroup.procs" && exec "$PROBE" forkbomb 0 4) 2>&1); live_rc=$?
  live_max=$(stat_key "$d/pids.events" max)
fi
wait "$bg"; rc=$?
out=$(cat "$WORK/fork.out")
n=$(echo "$out" | sed -n 's/^forkbomb: \([0-9]*\) children, then fork: EAGAIN.*/\1/p')
cur=${held#pids.current=}; cur=${cur%% *}
held_max=${held##*pids.events.max=}
if [ "$rc" = 0 ] && [ -n "$n" ] && [ "$n" -ge 16 ] && [ "$n" -le 32 ] && [ -n "$cur" ] && [ "$cur" -le 32 ] \
  && [[ "$held_max" =~ ^[0-9]+$ ]] && [ "$held_max" -ge 1 ]; then
  pass "vm: pids.max 32 stops a fork bomb (pids.events max > 0, not RLIMIT_NPROC): $n children then EAGAIN; $held"
else
  fail "vm: pids.max 32 stops a fork bomb (pids.events max > 0, not RLIMIT_NPROC)" "exit $rc; [$held]; $(echo "$out" | tail -3 | tr '\n' ' ')"
fi
if [ "${live_rc:-}" = 0 ] && [[ "$live" == "forkbomb: 0 children, then fork: EAGAIN"* ]] && [ "${live_max:-0}" -ge 1 ]; then
  pass "vm: pids.max 32 refuses a fork in the full run cgroup even to root (pids.events max=$live_max)"
else
  fail "vm: pids.max 32 refuses a fork in the full run cgroup even to root" "exit ${live_rc:-?}: ${live:-no sample}; pids.events max=${live_max:-?}"
fi
no_leftovers "vm: no cgroup or process left after a fork bomb"

# ---------------------------------------------------------------- cpu.max
# cpu_share OPTS...: run cpuloop under OPTS, sample the run's cpu.stat over
# ~1.5 s of wall time; sets SHARE (percent of one CPU) and RC.
cpu_share() {
  local d u0 u1 t0 t1 bg
  SHARE="" RC=""
  "${EXEC[@]}" "$@" -- "$PROBE" cpuloop >"$WORK/cpu.out" 2>&1 &
  bg=$!
  if d=$(wait_cgroup); then
    sleep 0.3
    u0=$(stat_key "$d/cpu.stat" usage_usec); t0=$(now_us)
    sleep 1.5
    u1=$(stat_key "$d/cpu.stat" usage_usec); t1=$(now_us)
    [ -n "$u0" ] && [ -n "$u1" ] && SHARE=$(((u1 - u0) * 100 / (t1 - t0)))
  fi
  wait "$bg"; RC=$?
}

cpu_share --timeout 2.5
if [ -n "$SHARE" ] && [ "$SHARE" -ge 60 ]; then
  pass "vm: without --cpus a busy loop gets a full CPU (${SHARE}% measured from cpu.stat)"
else
  fail "vm: without --cpus a busy loop gets a full CPU" "measured ${SHARE:-nothing}% (want >= 60); $(grep '^cpuloop:' "$WORK/cpu.out" | tail -1)"
fi
[ "$RC" = 124 ] && pass "vm: --timeout 2.5 ends a busy loop with exit 124" || fail "vm: --timeout 2.5 ends a busy loop with exit 124" "exit $RC"
no_leftovers "vm: no cgroup or process left after a timeout"

cpu_share --cpus 0.2 --timeout 3 --require-cgroup
self=$(grep '^cpuloop:' "$WORK/cpu.out" | tail -1)
if [ -n "$SHARE" ] && [ "$SHARE" -lt 40 ] && [ "$SHARE" -gt 2 ]; then
  pass "vm: cpu.max --cpus 0.2 throttles a busy loop to ${SHARE}% of a CPU (cpu.stat; probe says: ${self#cpuloop: })"
else
  fail "vm: cpu.max --cpus 0.2 throttles a busy loop" "measured ${SHARE:-nothing}% (want < 40); probe: $self"
fi
[ "$RC" = 124 ] && pass "vm: a throttled busy loop ends at --timeout 3 with exit 124" || fail "vm: a throttled busy loop ends at --timeout 3 with exit 124" "exit $RC"
no_leftovers "vm: no cgroup or process left after a throttled timeout"

# ---------------------------------------------------------------- tr-probe
# The project's own probe (tests/probe), when built: the same limits through
# its bombs, judged by exit status only.
if [ -x /usr/local/bin/tr-probe ]; then
  TP=/usr/local/bin/tr-probe
  out=$(timeout $OUTER "${EXEC[@]}" --memory 64m --require-cgroup -- $TP membomb 256 2>&1); rc=$?
  if [ "$rc" = 137 ] && [[ "$out" == *"hit its memory limit"* ]]; then
    pass "vm: tr-probe membomb under --memory 64m is OOM-killed (exit 137)"
  else
    fail "vm: tr-probe membomb under --memory 64m is OOM-killed" "exit $rc (want 137): $(echo "$out" | tail -2 | tr '\n' ' ')"
  fi
  out=$(timeout $OUTER "${EXEC[@]}" --pids 32 --require-cgroup --timeout 20 -- $TP forkbomb 2>&1); rc=$?
  if [ "$rc" = 0 ] && [[ "$out" == *"fork failed after"*EAGAIN* ]]; then
    pass "vm: tr-probe forkbomb under --pids 32 gets EAGAIN (${out##*forkbomb: })"
  else
    fail "vm: tr-probe forkbomb under --pids 32 gets EAGAIN" "exit $rc (want 0): $(echo "$out" | tail -2 | tr '\n' ' ')"
  fi
  expect_rc "vm: tr-probe cpuloop under --cpus 0.2 --timeout 2 exits 124" 124 \
    timeout $OUTER "${EXEC[@]}" --cpus 0.2 --timeout 2 --require-cgroup -- $TP cpuloop
  no_leftovers "vm: no cgroup or process left after the tr-probe runs"
else
  skip "vm: tr-probe bombs" "build/tests/tr-probe was not built; the lane's own vm-probe covered the limits"
fi

# ---------------------------------------------------------------- unprivileged
if command -v setpriv >/dev/null; then
  out=$(as_nobody "$TR" sandbox status 2>&1)
  if echo "$out" | grep -q '^cgroup v2 .*NO .*not writable' && echo "$out" | grep -q '^limits .*rlimits only'; then
    pass "vm: unprivileged status: cgroup v2 not writable, rlimits only"
  else
    fail "vm: unprivileged status: cgroup v2 not writable, rlimits only" "$(echo "$out" | grep -E '^(cgroup v2|limits) ' | tr '\n' '|')"
  fi
  # With the default workspace (the current directory, on tmpfs).
  expect_rc "vm: unprivileged sandbox exec /bin/true (no writable cgroup: falls back)" 0 \
    as_nobody timeout $OUTER "$TR" sandbox exec -- /bin/true
  out=$(as_nobody timeout $OUTER "${EXEC[@]}" --memory 64m --require-cgroup -- /bin/true 2>&1); rc=$?
  if [ "$rc" != 0 ] && [[ "$out" == *cgroup* ]]; then
    pass "vm: unprivileged --require-cgroup refuses to run (exit $rc)"
  else
    fail "vm: unprivileged --require-cgroup refuses to run" "exit $rc: $out"
  fi
  if [ "$TR_ASAN" = 1 ]; then
    # sandbox/rlimits.c: an ASan build never sets RLIMIT_AS (its shadow
    # memory would not fit).
    skip "vm: unprivileged --memory 64m falls back to RLIMIT_AS" "an ASan build sets no RLIMIT_AS"
  else
    out=$(as_nobody timeout $OUTER "${EXEC[@]}" --memory 64m -- "$PROBE" membomb 256 2>&1); rc=$?
    if [ "$rc" = 3 ] && [[ "$out" == *"membomb: mmap failed"* ]]; then
      pass "vm: unprivileged --memory 64m falls back to RLIMIT_AS (${out##*membomb: })"
    else
      fail "vm: unprivileged --memory 64m falls back to RLIMIT_AS" "exit $rc (want 3): $(echo "$out" | tail -2 | tr '\n' ' ')"
    fi
  fi
  no_leftovers "vm: no cgroup or process left after the unprivileged runs"
else
  skip "vm: unprivileged runs" "setpriv is not in the initramfs"
fi

rm -rf "$WORK"
exit 0
