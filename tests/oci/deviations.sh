#!/usr/bin/env bash
# OCI lane: behaviours where the runtime follows the runtime spec and runc
# (issue 16's remaining deviations).  Each has a positive control.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

# ---- create without "process": accepted at create, an error at start
# (the spec: "process ... REQUIRED when start is called"; "If the process
# property was not set, an error MUST be generated").
make_bundle "$SCRATCH/np" 'del c["process"]'
# (The parked init keeps create's stdio: to files, not a pipe.)
rc create -b "$SCRATCH/np" np1 >"$SCRATCH/np1.out" 2>&1 </dev/null; code=$?
WHY="exit $code: $(cat "$SCRATCH/np1.out")"; check "oci deviations: create without process is accepted" test "$code" = 0
check "oci deviations: a container without process is created" wait_status np1 created
expect_out "oci deviations: start without process is an error naming the field" 1 "process: is required" rc start np1
check "oci deviations: after the refused start the container is still created" wait_status np1 created
expect_out "oci deviations: exec without --process into it is refused clearly" 255 "use exec --process" rc exec np1 true
expect_out "oci deviations: delete of the never-started container" 0 "" rc delete --force np1
check "oci deviations: nothing left after deleting it" test ! -e "$STATE/np1"
expect_out "oci deviations: run without process fails at start" 1 "process: is required" rc run -b "$SCRATCH/np" np2
check "oci deviations: nothing left after the failed run" test ! -e "$STATE/np2"
make_bundle "$SCRATCH/wp" 'c["process"]["args"] = ["true"]'
rc create -b "$SCRATCH/wp" wp1 >"$SCRATCH/wp1.out" 2>&1 </dev/null
expect_out "oci deviations: (control) start with a process" 0 "" rc start wp1
check "oci deviations: (control) the started container stops" wait_status wp1 stopped
rc delete --force wp1 >/dev/null 2>&1

# ---- exec --cgroup (a sub-cgroup of the container's, which must exist;
# the v1 CONTROLLERS:PATH form is refused) and exec --ignore-paused
# (refused on a paused container, nothing on a running one).
make_bundle "$SCRATCH/ex" 'c["process"]["args"] = ["sleep", "60"]'
rc run -d -b "$SCRATCH/ex" ex1 >"$SCRATCH/ex1.out" 2>&1 </dev/null
CGX=$CG2/$OCI_CG_PARENT/ex
expect_out "oci deviations: exec --cgroup cpu:/sub (a cgroup v1 form) is refused" 255 "CONTROLLERS:PATH" rc exec --cgroup cpu:/sub ex1 true
expect_out "oci deviations: exec --cgroup twice is refused" 255 "given 2 times" rc exec --cgroup a --cgroup b ex1 true
if [ -d "$CGX" ]; then
  mkdir -p "$CGX/sub"
  expect_out "oci deviations: (control) exec without --cgroup is in the container's cgroup" 0 "0::/" rc exec ex1 cat /proc/self/cgroup
  out=$(rc exec --cgroup sub ex1 grep '^0::' /proc/self/cgroup 2>&1 </dev/null); code=$?
  WHY="exit $code: $out"; check "oci deviations: exec --cgroup sub runs in the sub-cgroup" test "$code" = 0 -a "$out" = "0::/sub"
  out=$(rc exec --cgroup /sub ex1 grep '^0::' /proc/self/cgroup 2>&1 </dev/null)
  WHY="$out"; check "oci deviations: exec --cgroup /sub is relative to the container's cgroup" test "$out" = "0::/sub"
  expect_out "oci deviations: exec --cgroup of a missing sub-cgroup fails" 255 "it must exist" rc exec --cgroup nope ex1 true
  expect_out "oci deviations: exec --cgroup cannot leave the container's cgroup" 255 "below the container's" rc exec --cgroup ../.. ex1 true
  rmdir "$CGX/sub"
  rc pause ex1
  expect_out "oci deviations: exec --ignore-paused into a paused container is refused clearly" 255 "resume the container first" rc exec --ignore-paused ex1 true
  expect_out "oci deviations: exec into a paused container is refused" 255 "paused" rc exec ex1 true
  rc resume ex1
  expect_out "oci deviations: (control) exec --ignore-paused into a running container" 0 "" rc exec --ignore-paused ex1 true
else
  skip "oci deviations: exec --cgroup and --ignore-paused on a container's cgroup" "no cgroup at $CGX on this host"
  expect_out "oci deviations: exec --cgroup without a container cgroup fails" 255 "has no cgroup" rc exec --cgroup sub ex1 true
fi
rc delete --force ex1 >/dev/null 2>&1
# ---- events: --stats is one runc types.Stats event from the cgroup v2
# files; without it one every --interval until the container stops.
expect_out "oci deviations: events of an unknown container" 1 "container does not exist" rc events --stats nope
expect_out "oci deviations: events --interval without a unit is refused" 1 "with a unit" rc events --interval 5 nope
make_bundle "$SCRATCH/ev" 'c["process"]["args"] = ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 2"]'
rc run -d -b "$SCRATCH/ev" ev1 >"$SCRATCH/ev1.out" 2>&1 </dev/null
if [ -d "$CG2/$OCI_CG_PARENT/ev" ]; then
  sleep 0.5
  out=$(rc events --stats ev1 2>&1 </dev/null); code=$?
  WHY="exit $code: $out"; check "oci deviations: events --stats prints one stats object with the cgroup's cpu usage" \
    python3 -c '
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 1, lines
e = json.loads(lines[0])
assert e["type"] == "stats" and e["id"] == "ev1", e
d = e["data"]
assert d["cpu"]["usage"]["total"] > 0, d["cpu"]
assert d["cpu"]["usage"]["total"] >= d["cpu"]["usage"]["user"], d["cpu"]
for k in ("memory", "pids", "blkio", "hugetlb"):
    assert k in d, k
assert "usage" in d["memory"] and "limit" in d["memory"]["usage"], d["memory"]
' "$out"
  out=$(timeout 20 "$RUNC" --root "$STATE" events --interval 300ms ev1 2>&1 </dev/null); code=$?
  WHY="exit $code: $(echo "$out" | head -2)"; check "oci deviations: events streams at --interval and ends when the container stops" \
    python3 -c '
import json, sys
lines = sys.argv[1].splitlines()
assert sys.argv[2] == "0", "exit " + sys.argv[2]
assert len(lines) >= 2, lines
assert all(json.loads(l)["type"] == "stats" for l in lines)
' "$out" "$code"
  expect_out "oci deviations: events of a stopped container" 1 "not running" rc events --stats ev1
else
  skip "oci deviations: events from the cgroup" "no cgroup at $CG2/$OCI_CG_PARENT/ev on this host"
fi
rc delete --force ev1 >/dev/null 2>&1
# ---- createContainer hooks run with cwd = the container's root (runc);
# prestart (control) keeps the runtime's cwd.
cat >"$SCRATCH/cwdhook.sh" <<HOOK
#!/bin/sh
pwd -P >"$SCRATCH/cwd.\$1"
HOOK
chmod +x "$SCRATCH/cwdhook.sh"
make_bundle "$SCRATCH/hc" "c['process']['args'] = ['true']; c['hooks'] = {'createContainer': [{'path': '$SCRATCH/cwdhook.sh', 'args': ['h', 'cc']}], 'prestart': [{'path': '$SCRATCH/cwdhook.sh', 'args': ['h', 'ps']}]}"
rm -f "$SCRATCH"/cwd.*
rc create -b "$SCRATCH/hc" hc1 >"$SCRATCH/hc1.out" 2>&1 </dev/null
WHY="$(cat "$SCRATCH/cwd.cc" "$SCRATCH/hc1.out" 2>&1)"; check "oci deviations: createContainer hooks run in the container's root" \
  test "$(cat "$SCRATCH/cwd.cc" 2>/dev/null)" = "$(readlink -f "$ROOTFS")"
WHY="$(cat "$SCRATCH/cwd.ps" 2>&1)"; check "oci deviations: (control) prestart hooks run elsewhere (the runtime's cwd)" \
  test -s "$SCRATCH/cwd.ps" -a "$(cat "$SCRATCH/cwd.ps" 2>/dev/null)" != "$(readlink -f "$ROOTFS")"
rc delete --force hc1 >/dev/null 2>&1
# ---- spec: a cgroup namespace only on a cgroup v2 unified host, as runc's
# specconv.Example (the other namespaces always: control).
mkdir -p "$SCRATCH/sp1" "$SCRATCH/sp2"
"$RUNC" spec --bundle "$SCRATCH/sp1" && "$RUNC" spec --rootless --bundle "$SCRATCH/sp2"
want=0; [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && want=1
for f in sp1 sp2; do
  WHY="$(grep -A8 '"namespaces"' "$SCRATCH/$f/config.json")"; check "oci deviations: spec ($f) has a cgroup namespace only on a unified cgroup v2 host (here: $want)" \
    python3 -c 'import json,sys; t=[n["type"] for n in json.load(open(sys.argv[1]))["linux"]["namespaces"]]; assert t.count("cgroup") == int(sys.argv[2]) and "pid" in t and "mount" in t, t' "$SCRATCH/$f/config.json" "$want"
done
# ---- ps with ps(1) options (after the id, with or without "--"): ps's
# header and only the container's lines, as runc; a command line from the
# container is shown with its control bytes as '?'.
make_bundle "$SCRATCH/pss" 'c["process"]["args"] = ["sh", "-c", "sleep 60; true", "evil\x1b]0;x\x07"]'
rc run -d -b "$SCRATCH/pss" ps1 >"$SCRATCH/ps1.out" 2>&1 </dev/null
ppid=$(rc state ps1 | json_get 'd["pid"]')
out=$(rc ps ps1 -- -o pid,args 2>&1); code=$?
WHY="exit $code: $out"; check "oci deviations: ps ID -- -o pid,args is ps(1)'s table for the container's pids" \
  python3 -c '
import sys
out, pid = sys.argv[1].splitlines(), sys.argv[2]
assert out[0].split()[0] == "PID", out
assert len(out) == 3 and pid in [l.split()[0] for l in out[1:]], out
assert "evil" in sys.argv[1] and "\x1b" not in sys.argv[1] and "\x07" not in sys.argv[1], repr(sys.argv[1])
' "$out" "$ppid"
out=$(rc ps ps1 -ef 2>&1)
WHY="$out"; check "oci deviations: ps ID -ef (no --) has the UID/PID header and the init's line" \
  bash -c '[[ "$(head -1 <<<"$0")" == UID*PID* ]] && [ "$(wc -l <<<"$0")" = 3 ] && awk -v p="$1" "NR>1 && \$2 == p { f = 1 } END { exit !f }" <<<"$0"' "$out" "$ppid"
expect_out "oci deviations: ps options without a PID column are an error" 1 "PID field" rc ps ps1 -- -o comm
out=$(rc ps ps1 2>&1)
WHY="$out"; check "oci deviations: (control) ps without options keeps the PID/CMD table" bash -c '[[ "$(head -1 <<<"$0")" == PID*CMD ]]' "$out"
WHY="$(printf %q "$out")"; check "oci deviations (hostile): ps's own table shows a command line's control bytes as '?'" \
  python3 -c 'import sys; o = sys.argv[1]; assert "evil?]0;x?" in o and "\x1b" not in o and "\x07" not in o' "$out"
rc delete --force ps1 >/dev/null 2>&1
# ---- a cgroupsPath that already holds processes: a warning (runc), the
# container runs, and delete leaves that cgroup and its processes alone.
if [ -d "$CG2" ] && mkdir -p "$CG2/$OCI_CG_PARENT/shared" 2>/dev/null; then
  sleep 60 &
  other=$!
  echo "$other" >"$CG2/$OCI_CG_PARENT/shared/cgroup.procs"
  make_bundle "$SCRATCH/sh" "c['process']['args'] = ['sleep', '30']; c['linux']['cgroupsPath'] = '/$OCI_CG_PARENT/shared'"
  rc run -d -b "$SCRATCH/sh" sh1 >"$SCRATCH/sh1.out" 2>&1 </dev/null; code=$?
  WHY="exit $code: $(cat "$SCRATCH/sh1.out")"; check "oci deviations: a cgroupsPath holding processes is a warning, not a refusal" \
    bash -c '[ "$0" = 0 ] && grep -q "already holds processes" "$1"' "$code" "$SCRATCH/sh1.out"
  check "oci deviations: the container runs there" wait_status sh1 running
  expect_out "oci deviations: delete --force of that container" 0 "" rc delete --force sh1
  check "oci deviations: delete spares the cgroup's other process" kill -0 "$other"
  check "oci deviations: delete leaves a cgroup it did not make" test -d "$CG2/$OCI_CG_PARENT/shared"
  check "oci deviations: the container's state is gone" test ! -e "$STATE/sh1"
  kill "$other"; wait "$other" 2>/dev/null
  rmdir "$CG2/$OCI_CG_PARENT/shared" 2>/dev/null
else
  skip "oci deviations: a cgroupsPath holding processes" "no writable cgroup2 at '$CG2'"
fi

# ---- rootless: a cgroupsPath the user cannot create fails clearly (runc);
# without one the container runs without a cgroup (control).
if command -v setpriv >/dev/null; then
  for b in rlc rln; do
    mkdir -p "$SCRATCH/$b" && chmod 0777 "$SCRATCH/$b" && ln -sf "$ROOTFS" "$SCRATCH/$b/rootfs"
    (cd "$SCRATCH/$b" && as_nobody "$RUNC" spec --rootless)
  done
  python3 - "$SCRATCH/rlc/config.json" "$SCRATCH/rln/config.json" <<'PY'
import json, sys
for i, p in enumerate(sys.argv[1:]):
    c = json.load(open(p))
    c["process"]["terminal"] = False
    c["process"]["args"] = ["true"]
    if i == 0:
        c["linux"]["cgroupsPath"] = "/tactus-oci-test/rootless-nope"
    json.dump(c, open(p, "w"))
PY
  OUT=$(cd "$SCRATCH/rlc" && XDG_RUNTIME_DIR=$SCRATCH/rlc as_nobody "$RUNC" run rlc1 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci deviations: rootless with an uncreatable cgroupsPath fails naming it" \
    bash -c '[ "$0" != 0 ] && [[ "$1" == *"linux.cgroupsPath /tactus-oci-test/rootless-nope cannot be created"* ]]' "$CODE" "$OUT"
  check "oci deviations: nothing left after it" test ! -e "$SCRATCH/rlc/tactus-runc/rlc1"
  OUT=$(cd "$SCRATCH/rln" && XDG_RUNTIME_DIR=$SCRATCH/rln as_nobody "$RUNC" run rln1 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci deviations: (control) rootless without a cgroupsPath runs without a cgroup" test "$CODE" = 0
else
  skip "oci deviations: rootless cgroupsPath" "setpriv is missing"
fi
exit 0
