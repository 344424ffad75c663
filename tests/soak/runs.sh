#!/usr/bin/env bash
# Soak lane: 10 000 sandboxed runs in a row, then 1 000 runs 16 at a time.
#
# Every run is `tactus-run run tiny.tac --json --param i=N` and must exit 0
# with its own result ({ok = true, i = N}).  Afterwards nothing the runs
# could have made is left: no launcher (the pids we started), no descendant
# of this test, no process, network or pid namespace of the runs' uid, no
# run cgroup of our launchers, no host mount where a cage's would show, no
# file in the workspace, in TMPDIR or of the runs' uid in /tmp, /dev/shm,
# /var/tmp.
#
# The runs' workspace belongs to SOAK_UID, so sandbox root is that uid on
# the host: what the runs could leave is told apart from other sandboxes
# running on the host at the same time.  SOAK_RUNS / SOAK_PAR_RUNS /
# SOAK_PARALLEL change the counts (for a quick try).
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

RUNS=${SOAK_RUNS:-10000}
PAR_RUNS=${SOAK_PAR_RUNS:-1000}
# A sanitizer build (make asan) is ~10x slower to start: a tenth of the runs.
if ldd "$TR" 2>/dev/null | grep -q 'libasan'; then
  RUNS=${SOAK_RUNS:-1000}
  PAR_RUNS=${SOAK_PAR_RUNS:-200}
fi
PARALLEL=${SOAK_PARALLEL:-16}
SOAK_UID=64990

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
ws="$scratch/ws"
mkdir -m 0700 "$ws" "$scratch/tmpdir" "$scratch/home"
chown "$SOAK_UID:$SOAK_UID" "$ws"
cat >"$scratch/tiny.tac" <<'EOF'
input { i = field.integer { default = -1 } }
return { ok = true, i = input.i }
EOF
export HOME="$scratch/home" TMPDIR="$scratch/tmpdir"
pids="$scratch/pids"
: >"$pids"

mount_snapshot "$scratch/mounts.before"
netns_before=$(uid_namespaces net "$SOAK_UID")
pidns_before=$(uid_namespaces pid "$SOAK_UID")
marker="$scratch/started"
touch "$marker"

# batch NAME RUNS PARALLEL: the runs, then a PASS/FAIL line with the figures.
batch() {
  local name="$1" n="$2" par="$3" out rc
  out=$(cd "$ws" && python3 "$TESTS_DIR/lib/many_runs.py" "$TR" "$scratch/tiny.tac" "$n" "$par" "$pids")
  rc=$?
  local figures
  figures=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%d/%d ok in %.1f s, %.1f runs/s" % (r["ok"], r["runs"], r["seconds"], r["runs_per_s"]))' "$out" 2>/dev/null)
  if [ "$rc" = 0 ]; then
    pass "soak: $name: $figures"
  else
    fail "soak: $name" "${figures:-no summary}; first failures: $(echo "$out" | python3 -c 'import json,sys; print(" | ".join(json.load(sys.stdin)["first_failures"]))' 2>/dev/null | cut -c1-600)"
  fi
}

batch "$RUNS runs in a row" "$RUNS" 1
batch "$PAR_RUNS runs, $PARALLEL in parallel" "$PAR_RUNS" "$PARALLEL"

# Teardown is synchronous, but give the kernel a moment to drop the last
# namespace references.
new_ns() { comm -13 <(echo "$1") <(uid_namespaces "$2" "$SOAK_UID"); }
for _ in $(seq 30); do
  [ -z "$(new_ns "$netns_before" net)$(new_ns "$pidns_before" pid)$(uid_procs "$SOAK_UID")" ] && break
  sleep 0.1
done

launchers=$(wc -l <"$pids")
l_live=$(own_live "$pids")
l_desc=$(descendants $$)
l_uid=$(uid_procs "$SOAK_UID")
l_net=$(new_ns "$netns_before" net)
l_pid=$(new_ns "$pidns_before" pid)
l_cg=$(own_cgroups "$pids")
l_mnt=$(new_cage_mounts "$scratch/mounts.before" "$scratch")
l_ws=$(find "$ws" -mindepth 1)
l_tmpdir=$(find "$scratch/tmpdir" "$scratch/home" -mindepth 1)
l_tmp=$(find /tmp /dev/shm /var/tmp -maxdepth 2 -newer "$marker" -uid "$SOAK_UID" 2>/dev/null)

count() { [ -z "$1" ] && echo 0 || echo "$1" | grep -c .; }
summary="launchers $(count "$l_live"), descendants $(count "$l_desc"), uid-$SOAK_UID processes $(count "$l_uid"),"
summary+=" netns $(count "$l_net"), pidns $(count "$l_pid"), cgroups $(count "$l_cg"), mounts $(count "$l_mnt"),"
summary+=" workspace files $(count "$l_ws"), TMPDIR/HOME files $(count "$l_tmpdir"), /tmp files $(count "$l_tmp")"
all="$l_live$l_desc$l_uid$l_net$l_pid$l_cg$l_mnt$l_ws$l_tmpdir$l_tmp"
if [ -z "$all" ]; then
  pass "soak: nothing left after $launchers runs: $summary"
else
  fail "soak: nothing left after $launchers runs" "$summary: $(printf '%s ' $l_live $l_desc $l_uid $l_net $l_pid $l_cg $l_mnt $l_ws $l_tmpdir $l_tmp | cut -c1-600)"
fi
