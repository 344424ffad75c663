# Shared helpers for the shell test lanes.  Source it; then use
#   pass NAME / fail NAME WHY / skip NAME WHY
#   expect_rc NAME WANT CMD...      run CMD, compare its exit status
#   as_nobody CMD...                 run CMD as uid/gid 65534 (unprivileged)
set -u
: "${TR:?TR must point at the tactus-run binary}"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; }
skip() { echo "SKIP: $1: ${2:-}"; }

expect_rc() {
  local name="$1" want="$2"; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$want" ]; then pass "$name"; else fail "$name" "exit $rc, want $want: $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}

# A scratch directory readable by the unprivileged test user.
scratch_dir() {
  local d
  d=$(mktemp -d /tmp/tactus-test.XXXXXX)
  chmod 0777 "$d"
  echo "$d"
}

# probe_workspace DIR OWNER [NAME]: a new workspace under DIR holding the
# containment probe ($TR_PROBE) as NAME (default tr-probe), owned by the
# user the run is for (root or nobody); prints its path.  A native program
# may execute files from /workspace.
probe_workspace() {
  local ws owner="$2" name="${3:-tr-probe}"
  ws=$(mktemp -d "$1/ws.XXXXXX")
  cp "$TR_PROBE" "$ws/$name"
  chmod 0755 "$ws/$name"
  if [ "$owner" = nobody ]; then chown -R 65534:65534 "$ws"; chmod 0700 "$ws"; else chmod 0777 "$ws"; fi
  echo "$ws"
}

# trust FILE...: `tactus-run trust` the test's own sidecars and project
# configs (a run honours a project-local layer that grants anything only
# after that); a failure is the caller's FAIL.
trust() {
  "$TR" trust "$@" >/dev/null
}

as_nobody() {
  setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- "$@"
}

# Count what a run could leave behind, for before/after comparisons.
# What this script's runs may have left: processes that carry its mark
# (LEFTOVER_MARK, exported by the script: the launcher and the broker keep
# the environment), mounts in this mount namespace, and run cgroups
# (tactus-run-PID-...) whose launcher is gone.  Scoped so that other
# suites running on the same machine do not count.
export LEFTOVER_MARK="tactus-test-$$"
leftovers() {
  local procs=0 mounts cgroups=0 p d
  for p in $(pgrep -f 'tactus-run' 2>/dev/null); do
    tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "LEFTOVER_MARK=$LEFTOVER_MARK" && procs=$((procs + 1))
  done
  mounts=$(wc -l </proc/self/mountinfo)
  while read -r d; do
    p=${d##*/tactus-run-}
    [ -d "/proc/${p%%-*}" ] || cgroups=$((cgroups + 1))
  done < <(find /sys/fs/cgroup/unified -maxdepth 2 -name 'tactus-run-*' 2>/dev/null)
  echo "procs=$procs mounts=$mounts cgroups=$cgroups"
}
