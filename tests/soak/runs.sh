#!/usr/bin/env bash
# Soak lane: 10 000 sandboxed runs in a row, then 1 000 runs 16 at a time.
#
# Every run is `tactus-run run tiny.tac --json --param i=N` and must exit 0
# with its own result ({ok = true, i = N}).  Afterwards nothing the runs
# could have made is left: no launcher (the pids we started), no descendant
# of this test, no process, network or pid namespace of the runs' uid, no
# run cgroup of our launchers, no host mount where a cage's would show, no
# file in the workspace, in TMPDIR or of the runs' uid in /tmp, /dev/shm,
# /var/tmp.  And no file descriptor (tests/soak/soak_fds.py):
#   - the driver that started the runs (tests/lib/many_runs.py, run inside
#     soak_fds.py drive) holds no fd it did not hold before them, nor does
#     this test's shell;
#   - no process we started is left (each run's environment carries
#     TR_SOAK_TAG, inherited by whatever it forks; each run starts its own
#     session; the sandbox runs as SOAK_UID), so no tactus-run process
#     either, and none holds an nsfs fd, a pidfd or a socket;
#   - no process on the host holds an nsfs fd to a namespace that is new
#     since the runs started and has no process in it (a leaked namespace
#     fd), and no nsfs bind mount appeared.
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

FDS="$TESTS_DIR/soak/soak_fds.py"
tag="soak-$$-$(date +%s%N)"
shell_fds_before=$(python3 "$FDS" fds $$)
python3 "$FDS" snapshot "$scratch/ns.before"
mount_snapshot "$scratch/mounts.before"
netns_before=$(uid_namespaces net "$SOAK_UID")
pidns_before=$(uid_namespaces pid "$SOAK_UID")
marker="$scratch/started"
touch "$marker"

# batch NAME RUNS PARALLEL: the runs, then a PASS/FAIL line with the figures.
batch() {
  local name="$1" n="$2" par="$3" out rc
  rm -f "$scratch/driver.json"
  out=$(cd "$ws" && TR_SOAK_TAG="$tag" python3 "$FDS" drive "$scratch/driver.json" \
          "$TESTS_DIR/lib/many_runs.py" "$TR" "$scratch/tiny.tac" "$n" "$par" "$pids")
  rc=$?
  local figures
  figures=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%d/%d ok in %.1f s, %.1f runs/s" % (r["ok"], r["runs"], r["seconds"], r["runs_per_s"]))' "$out" 2>/dev/null)
  if [ "$rc" = 0 ]; then
    pass "soak: $name: $figures"
  else
    fail "soak: $name" "${figures:-no summary}; first failures: $(echo "$out" | python3 -c 'import json,sys; print(" | ".join(json.load(sys.stdin)["first_failures"]))' 2>/dev/null | cut -c1-600)"
  fi
  local drv
  drv=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d %d %s" % (r["before"], r["after"], " | ".join(r["extra"])))' \
          "$scratch/driver.json" 2>/dev/null)
  local before after extra
  read -r before after extra <<<"$drv"
  if [ -n "$drv" ] && [ -z "$extra" ]; then
    pass "soak: $name: the driver holds no new fd afterwards ($before before, $after after)"
  else
    fail "soak: $name: the driver holds no new fd afterwards" \
      "${drv:+$before before, $after after, new: $extra}${drv:-no report from soak_fds.py drive}"
  fi
}

batch "$RUNS runs in a row" "$RUNS" 1
batch "$PAR_RUNS runs, $PARALLEL in parallel" "$PAR_RUNS" "$PARALLEL"

# Teardown is synchronous, but give the kernel a moment to drop the last
# namespace references.
new_ns() { comm -13 <(echo "$1") <(uid_namespaces "$2" "$SOAK_UID"); }
fd_check() { python3 "$FDS" check "$scratch/ns.before" "$tag" "$pids" "$SOAK_UID" "$TR" $$; }
for _ in $(seq 30); do
  [ -z "$(new_ns "$netns_before" net)$(new_ns "$pidns_before" pid)$(uid_procs "$SOAK_UID")$(fd_check)" ] && break
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

# File descriptors: none held by what we started, no tactus-run process
# left, no namespace kept alive by an fd alone, nothing new in this shell.
# (A finding must hold in two looks a second apart: the host-wide scan
# must not catch another sandbox of the host in the middle of its set-up.)
l_fdcheck=$(fd_check)
if [ -n "$l_fdcheck" ]; then
  sleep 1
  l_fdcheck=$(comm -12 <(echo "$l_fdcheck" | sort) <(fd_check | sort))
fi
shell_fds_after=$(python3 "$FDS" fds $$)
l_shell=$(diff <(echo "$shell_fds_before") <(echo "$shell_fds_after") | grep '^[<>]')
n_tr=$(echo "$l_fdcheck" | grep -c '^tactus-run process:')
n_proc=$(echo "$l_fdcheck" | grep -c '^process:')
n_fd=$(echo "$l_fdcheck" | grep -c '^fd:')
n_orphan=$(echo "$l_fdcheck" | grep -c '^orphan-ns:')
n_nsmnt=$(echo "$l_fdcheck" | grep -c '^nsfs-mount:')
fd_summary="tactus-run processes $n_tr, other processes of ours $n_proc, their nsfs/pidfd/socket fds $n_fd,"
fd_summary+=" namespaces held only by an fd $n_orphan, nsfs mounts $n_nsmnt, this shell's new fds $(count "$l_shell")"
if [ -z "$l_fdcheck$l_shell" ]; then
  pass "soak: no fd left after $launchers runs: $fd_summary"
else
  fail "soak: no fd left after $launchers runs" "$fd_summary: $(printf '%s\n' "$l_fdcheck" "$l_shell" | grep . | tr '\n' ';' | cut -c1-600)"
fi
