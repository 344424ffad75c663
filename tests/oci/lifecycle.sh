#!/usr/bin/env bash
# OCI lane: the lifecycle through tactus-runc on this host, with a busybox
# rootfs: create/start/state/kill/delete, run, exec (attached and
# detached), ps, pause/resume (cgroup v2 freezer), list, spec, features,
# --version/--help, both option spellings, --no-pivot and --no-new-keyring
# (create and run) by what they change.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

B=$SCRATCH/b1
make_bundle "$B" 'c["process"]["args"] = ["sh", "-c", "trap \"echo got-term; exit 7\" TERM; echo started; while :; do sleep 0.05; done"]'

# ---- create
# The container keeps the caller's stdio: files here, never a pipe we read.
(cd "$B" && rc create --pid-file "$SCRATCH/b1.pid" c1 >"$SCRATCH/c1.out" 2>"$SCRATCH/c1.err" </dev/null); code=$?
WHY="exit $code: $(cat "$SCRATCH/c1.err")"; check "oci: create exits 0 and prints nothing" test "$code" = 0 -a ! -s "$SCRATCH/c1.err"
pid=$(cat "$SCRATCH/b1.pid" 2>/dev/null)
WHY="pid file: '$pid'"; check "oci: create writes the init's host pid to --pid-file" test -n "$pid" -a -d "/proc/$pid"
# not_ours PID: a live process that is not the runtime (not our binary, a
# read-only bind or a sealed memfd copy of it, or named after it).
not_ours() {
  local p=$1 exe comm
  [ -n "$p" ] && [ "$p" -gt 0 ] && [ -d "/proc/$p" ] || return 1
  exe=$(readlink "/proc/$p/exe" 2>/dev/null)
  comm=$(cat "/proc/$p/comm" 2>/dev/null)
  [[ "$exe" != "$(readlink -f "$TR")"* && "$exe" != *memfd:tactus* && "$exe" != */tactus-run* && "$comm" != tactus-run* ]]
}
parent_of() { awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
ppid=$(parent_of "$pid")
WHY="ppid $ppid: $(cat /proc/$ppid/comm 2>/dev/null) $(readlink /proc/$ppid/exe 2>/dev/null)"
check "oci: no runtime process stays as the init's parent after create" not_ours "$ppid"
WHY="status $(status_of c1)"; check "oci: state after create is created" test "$(status_of c1)" = created
st=$(rc state c1)
WHY="$st"; check "oci: state has runc's fields (ociVersion id pid status bundle rootfs created owner)" \
  python3 -c 'import json,sys,re; d=json.loads(sys.argv[1]); assert set(["ociVersion","id","pid","status","bundle","rootfs","created","owner"]) <= set(d); assert d["pid"] == int(sys.argv[2]); assert d["bundle"] == sys.argv[3]; assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", d["created"])' "$st" "$pid" "$B"
check "oci: the init is parked (no 'started' yet)" test ! -s "$SCRATCH/c1.out"
check "oci: exec.fifo exists while created" test -p "$STATE/c1/exec.fifo"
check "oci: state directory is 0700" test "$(stat -c %a "$STATE/c1")" = 700

# ---- start
expect_out "oci: start exits 0" 0 "" rc start c1
WHY="status $(status_of c1)"; check "oci: state after start is running" wait_status c1 running
for i in $(seq 50); do grep -q started "$SCRATCH/c1.out" && break; sleep 0.05; done
check "oci: the container writes to the caller's stdout (fds passed through)" grep -q started "$SCRATCH/c1.out"
check "oci: exec.fifo is gone after start" test ! -e "$STATE/c1/exec.fifo"
expect_out "oci: start of a running container fails" 1 "cannot start an already running container" rc start c1

# ---- ps
ps=$(rc ps --format json c1)
WHY="$ps"; check "oci: ps --format json is a JSON array holding the init's pid" \
  python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert isinstance(a,list) and int(sys.argv[2]) in a' "$ps" "$pid"
expect_out "oci: ps --format=json (= form)" 0 "[$pid" rc ps --format=json c1
expect_out "oci: ps table" 0 "PID" rc ps c1

# ---- exec
expect_out "oci: exec runs in the container and returns its exit code" 5 "in-exec" rc exec c1 sh -c 'echo in-exec; exit 5'
expect_out "oci: exec sees the container's pid namespace (init is pid 1)" 0 "1" rc exec c1 sh -c 'cat /proc/1/comm >/dev/null && echo $(($(cut -d" " -f1 /proc/self/stat) > 1))'
expect_out "oci: exec --env and --cwd" 0 "X=42 /tmp" rc exec --env X=42 --cwd /tmp c1 sh -c 'echo X=$X $(pwd)'
expect_out "oci: exec --user 1000:1000" 0 "uid=1000 gid=1000" rc exec --user 1000:1000 c1 sh -c 'echo uid=$(id -u) gid=$(id -g)'
expect_out "oci: exec -e K=V -u N (short flags)" 0 "Y=1 uid=65534" rc exec -e Y=1 -u 65534 c1 sh -c 'echo Y=$Y uid=$(id -u)'
expect_out "oci: exec --user with trailing garbage is refused" 255 "--user" rc exec --user 1000x c1 true
cat >"$SCRATCH/proc.json" <<'J'
{"args": ["sh", "-c", "echo from-process-file; sleep 30"], "cwd": "/", "env": ["PATH=/bin"],
 "user": {"uid": 0, "gid": 0}, "terminal": false}
J
rc exec --process "$SCRATCH/proc.json" --detach --pid-file "$SCRATCH/exec.pid" c1 >"$SCRATCH/exec.out" 2>&1; code=$?
epid=$(cat "$SCRATCH/exec.pid" 2>/dev/null)
WHY="exit $code, pid '$epid'"; check "oci: exec --process --detach --pid-file returns with the process running" test "$code" = 0 -a -n "$epid" -a -d "/proc/$epid"
eppid=$(parent_of "$epid")
WHY="ppid $eppid: $(cat /proc/$eppid/comm 2>/dev/null) $(readlink /proc/$eppid/exe 2>/dev/null)"
check "oci: a detached exec'd process is not a child of the runtime" not_ours "$eppid"
ps=$(rc ps --format json c1)
WHY="$ps"; check "oci: ps lists the exec'd process" python3 -c 'import json,sys; assert int(sys.argv[2]) in json.loads(sys.argv[1])' "$ps" "$epid"
check "oci: the exec'd process is in the container's cgroup" grep -q "/$OCI_CG_PARENT/b1" "/proc/$epid/cgroup"
for i in $(seq 50); do grep -q from-process-file "$SCRATCH/exec.out" && break; sleep 0.05; done
check "oci: a detached exec'd process writes to the caller's stdout" grep -q from-process-file "$SCRATCH/exec.out"
kill -9 "$epid" 2>/dev/null

# ---- pause / resume
expect_out "oci: pause" 0 "" rc pause c1
WHY="status $(status_of c1)"; check "oci: state after pause is paused" test "$(status_of c1)" = paused
check "oci: the cgroup is frozen" grep -q 'frozen 1' "$CG2/$OCI_CG_PARENT/b1/cgroup.events"
expect_out "oci: exec into a paused container is refused" 255 "paused" rc exec c1 true
expect_out "oci: pause of a paused container fails" 1 "paused" rc pause c1
expect_out "oci: resume" 0 "" rc resume c1
WHY="status $(status_of c1)"; check "oci: state after resume is running" test "$(status_of c1)" = running
expect_out "oci: resume of a running container fails" 1 "not paused" rc resume c1

# ---- list
expect_out "oci: list shows the container" 0 "c1" rc list
lj=$(rc list --format json)
WHY="$lj"; check "oci: list --format json is an array of states" python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a[0]["id"]=="c1" and a[0]["status"]=="running"' "$lj"
expect_out "oci: list -q prints ids" 0 "c1" rc list -q

# ---- kill / delete
expect_out "oci: delete of a running container without --force fails" 1 "not stopped" rc delete c1
expect_out "oci: kill with signal 0 checks a running container (as kill(2) and runc)" 0 "" rc kill c1 0
check "oci: ...and signal 0 leaves it running" test "$(status_of c1)" = running
expect_out "oci: kill with a signal name (TERM)" 0 "" rc kill c1 TERM
check "oci: the container stops on TERM" wait_status c1 stopped
check "oci: the init saw SIGTERM" grep -q got-term "$SCRATCH/c1.out"
st=$(rc state c1)
WHY="$st"; check "oci: a stopped container's state has pid 0" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["pid"]==0 and d["status"]=="stopped"' "$st"
expect_out "oci: kill of a stopped container says 'container not running'" 1 "container not running" rc kill c1 KILL
expect_out "oci: kill 0 of a stopped container says 'container not running'" 1 "container not running" rc kill c1 0
expect_out "oci: kill --all of a stopped container succeeds (what is left in its cgroup, as runc)" 0 "" rc kill --all c1 KILL
# systemd removes an empty scope as soon as the container stops: --all then
# finds no cgroup, and says what containerd's shim reads as "done".
if rmdir "$CG2/$OCI_CG_PARENT/b1" 2>/dev/null; then
  expect_out "oci: kill --all of a stopped container whose cgroup is gone says 'container not running'" 1 \
    "container not running" rc kill --all c1 KILL
  mkdir -p "$CG2/$OCI_CG_PARENT/b1"
fi
expect_out "oci: exec into a stopped container fails (255, as runc)" 255 "stopped" rc exec c1 true
expect_out "oci: delete of a stopped container" 0 "" rc delete c1
check "oci: delete removes the state directory" test ! -e "$STATE/c1"
check "oci: delete removes the cgroup" test ! -e "$CG2/$OCI_CG_PARENT/b1"
expect_out "oci: state of a deleted container: container does not exist" 1 "container does not exist" rc state c1

# ---- signals by number and SIG name; kill --all
for sig in 15 SIGTERM; do
  (cd "$B" && rc create "k-$sig" >"$SCRATCH/k.out" 2>&1 </dev/null) && rc start "k-$sig"
  sleep 0.2
  expect_out "oci: kill with signal '$sig'" 0 "" rc kill "k-$sig" "$sig"
  check "oci: signal '$sig' reaches the init" wait_status "k-$sig" stopped
  rc delete "k-$sig"
done
(cd "$B" && rc create kall >/dev/null 2>&1 </dev/null) && rc start kall
rc exec --detach kall sleep 100 >/dev/null 2>&1
sleep 0.2
expect_out "oci: kill --all KILL" 0 "" rc kill --all kall KILL
check "oci: kill --all stops the container" wait_status kall stopped
n=$(cat $CG2/$OCI_CG_PARENT/b1/cgroup.procs 2>/dev/null | wc -l)
WHY="$n left"; check "oci: kill --all leaves no process in the cgroup" test "$n" = 0
rc delete kall

# ---- run
make_bundle "$SCRATCH/b2" 'c["process"]["args"] = ["sh", "-c", "echo hello; exit 3"]'
expect_out "oci: run (attached) prints output and returns 3" 3 "hello" rc run --bundle "$SCRATCH/b2" r2
check "oci: run removes the container afterwards" test ! -e "$STATE/r2"
expect_out "oci: run -b (short) and --bundle= form" 3 "hello" rc run --bundle="$SCRATCH/b2" r3
expect_out "oci: run --no-pivot (MS_MOVE + chroot) works" 3 "hello" rc run --no-pivot -b "$SCRATCH/b2" r3b

# --no-pivot by create: the host's mounts stay in the container's mount
# namespace under the chroot (listmount sees them; the container does not),
# where pivot_root leaves only the container's.
ns_mounts() { # the number of mounts in PID's mount namespace (listmount, Linux 6.8+)
  python3 - "$1" <<'PY'
import ctypes, fcntl, os, struct, sys
fd = os.open("/proc/%s/ns/mnt" % sys.argv[1], os.O_RDONLY)
b = bytearray(8)
fcntl.ioctl(fd, (2 << 30) | (8 << 16) | (0xb7 << 8) | 5, b)  # NS_GET_MNTNS_ID
req = struct.pack("IIQQQ", 32, 0, 2**64 - 1, 0, struct.unpack("Q", b)[0])  # LSMT_ROOT
ids = (ctypes.c_uint64 * 65536)()
n = ctypes.CDLL(None, use_errno=True).syscall(458, ctypes.c_char_p(req), ids, 65536, 0)  # listmount
print(n if n >= 0 else "error")
PY
}
make_bundle "$SCRATCH/np" 'c["process"]["args"] = ["sh", "-c", "echo no-pivot-ran"]'
make_bundle "$SCRATCH/pv" 'c["process"]["args"] = ["sh", "-c", "echo pivot-ran"]'
rc create --no-pivot -b "$SCRATCH/np" np >"$SCRATCH/np.out" 2>&1 </dev/null; code=$?
rc create -b "$SCRATCH/pv" pv >"$SCRATCH/pv.out" 2>&1 </dev/null
npid=$(rc state np 2>/dev/null | json_get 'd["pid"]'); ppid2=$(rc state pv 2>/dev/null | json_get 'd["pid"]')
n_np=$(ns_mounts "${npid:-0}" 2>/dev/null); n_pv=$(ns_mounts "${ppid2:-0}" 2>/dev/null)
seen_np=$(wc -l <"/proc/${npid:-0}/mountinfo" 2>/dev/null); seen_pv=$(wc -l <"/proc/${ppid2:-0}/mountinfo" 2>/dev/null)
if [[ "$n_pv" =~ ^[0-9]+$ ]]; then
  WHY="exit $code; in the namespace $n_np, seen $seen_np"; check "oci: create --no-pivot: the old root stays under the chroot" test "$code" = 0 -a "${n_np:-0}" -gt "${seen_np:-0}"
  WHY="in the namespace $n_pv, seen $seen_pv"; check "oci: create without --no-pivot: pivot_root leaves only the container's mounts" test "$n_pv" = "$seen_pv"
else
  skip "oci: create --no-pivot: the old root stays under the chroot" "no listmount(2) here ($n_pv)"
fi
rc start np; rc start pv
wait_status np stopped; wait_status pv stopped
check "oci: create --no-pivot then start runs the process" grep -q no-pivot-ran "$SCRATCH/np.out"
rc delete np; rc delete pv

# Session keyrings: the caller joins one of its own ("tactus-oci-ks-PID");
# the container runs as uid 1000, so /proc/keys shows it only the keyrings
# it possesses: its own "_ses.ID" by default, the caller's with
# --no-new-keyring.
make_bundle "$SCRATCH/kr" 'c["process"]["args"] = ["sh", "-c", "grep -o \"keyring *[^:]*\" /proc/keys | tr -s \" \" | tr \"\\n\" \";\""]; c["process"]["user"] = {"uid": 1000, "gid": 1000}; c["linux"]["maskedPaths"] = [p for p in c["linux"]["maskedPaths"] if p != "/proc/keys"]'
keyring_run() { # keyring_run ARGS...: rc ARGS... from a new session keyring of ours
  python3 -c 'import ctypes, os, sys
if ctypes.CDLL(None).syscall(250, 1, sys.argv[1].encode()) < 0: sys.exit("keyctl join failed")
os.execvp(sys.argv[2], sys.argv[2:])' "tactus-oci-ks-$$" "$RUNC" --root "$STATE" "$@"
}
(cd "$SCRATCH/kr" && keyring_run create --no-new-keyring kr1 >"$SCRATCH/kr1.out" 2>&1 </dev/null) && rc start kr1
wait_status kr1 stopped
WHY="$(cat "$SCRATCH/kr1.out")"; check "oci: create --no-new-keyring: the container keeps the caller's session keyring" \
  bash -c 'grep -q "keyring tactus-oci-ks-$1;" "$0" && ! grep -q "_ses.kr1" "$0"' "$SCRATCH/kr1.out" "$$"
rc delete kr1
(cd "$SCRATCH/kr" && keyring_run create kr2 >"$SCRATCH/kr2.out" 2>&1 </dev/null) && rc start kr2
wait_status kr2 stopped
WHY="$(cat "$SCRATCH/kr2.out")"; check "oci: create without --no-new-keyring: a new session keyring _ses.ID, not the caller's" \
  bash -c 'grep -q "keyring _ses.kr2;" "$0" && ! grep -q "tactus-oci-ks" "$0"' "$SCRATCH/kr2.out"
rc delete kr2
out=$(keyring_run run --no-new-keyring -b "$SCRATCH/kr" kr3 2>&1 </dev/null)
WHY="$out"; check "oci: run --no-new-keyring: the container keeps the caller's session keyring" \
  bash -c '[[ "$0" == *"keyring tactus-oci-ks-$1;"* && "$0" != *_ses.kr3* ]]' "$out" "$$"
make_bundle "$SCRATCH/b3" 'c["process"]["args"] = ["sleep", "30"]'
rc run -b "$SCRATCH/b3" --pid-file "$SCRATCH/r4.pid" r4 >/dev/null 2>&1 </dev/null &
bg=$!
for i in $(seq 100); do [ -s "$SCRATCH/r4.pid" ] && break; sleep 0.05; done
kill -9 "$(cat "$SCRATCH/r4.pid")" 2>/dev/null
wait "$bg"; code=$?
WHY="exit $code"; check "oci: run of a container whose init is killed by SIGKILL returns 137" test "$code" = 137
make_bundle "$SCRATCH/b4" 'c["process"]["args"] = ["sleep", "30"]'
rc run -d -b "$SCRATCH/b4" r5 >"$SCRATCH/r5.out" 2>&1 </dev/null; code=$?
WHY="exit $code: $(cat "$SCRATCH/r5.out")"; check "oci: run --detach returns at once" test "$code" = 0
check "oci: a detached run is running" wait_status r5 running
expect_out "oci: delete --force of a running container" 0 "" rc delete --force r5
check "oci: delete --force removes it" test ! -e "$STATE/r5"
make_bundle "$SCRATCH/b5" 'c["process"]["args"] = ["true"]'
expect_out "oci: run --keep keeps the stopped container" 0 "" rc run --keep -b "$SCRATCH/b5" r6
WHY="status $(status_of r6)"; check "oci: a kept container is stopped" test "$(status_of r6)" = stopped
rc delete r6

# ---- create with the default root and the bundle as cwd (as the shim runs us)
make_bundle "$SCRATCH/b6" 'c["process"]["args"] = ["true"]'
(cd "$SCRATCH/b6" && "$RUNC" create defroot-$$ </dev/null >/dev/null 2>&1); code=$?
check "oci: create with the default --root (/run/tactus-runc) and the bundle as cwd" test "$code" = 0 -a -d "/run/tactus-runc/defroot-$$"
"$RUNC" delete --force "defroot-$$" >/dev/null 2>&1
check "oci: delete --force with the default root" test ! -e "/run/tactus-runc/defroot-$$"

# ---- spec, features, version, help
mkdir -p "$SCRATCH/spec"
expect_out "oci: spec writes config.json" 0 "" bash -c "cd '$SCRATCH/spec' && '$RUNC' spec"
check "oci: spec's config.json is valid JSON with process/root/mounts/linux" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["root"]["path"]=="rootfs" and c["process"]["args"]==["sh"] and any(m["destination"]=="/proc" for m in c["mounts"])' "$SCRATCH/spec/config.json"
expect_out "oci: spec refuses to overwrite config.json" 1 "exists" bash -c "cd '$SCRATCH/spec' && '$RUNC' spec"
mkdir -p "$SCRATCH/spec2"
expect_out "oci: spec --rootless --bundle DIR" 0 "" "$RUNC" spec --rootless --bundle "$SCRATCH/spec2"
check "oci: spec --rootless has a user namespace with mappings and no network namespace" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); t=[n["type"] for n in c["linux"]["namespaces"]]; assert "user" in t and "network" not in t and c["linux"]["uidMappings"]' "$SCRATCH/spec2/config.json"
f=$("$RUNC" features)
WHY="$f"; check "oci: features is JSON with ociVersionMin/Max, hooks, namespaces, seccomp" \
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ociVersionMin"] and d["ociVersionMax"] and "poststop" in d["hooks"] and "user" in d["linux"]["namespaces"] and d["linux"]["seccomp"]["enabled"] and d["linux"]["cgroup"]["v2"] and not d["linux"]["cgroup"]["v1"]' "$f"
expect_out "oci: --version" 0 "spec: 1.0" "$RUNC" --version
expect_out "oci: -v" 0 "tactus-runc version" "$RUNC" -v
expect_out "oci: --help lists the commands" 0 "delete" "$RUNC" --help
expect_out "oci: unknown command" 1 "no such command" "$RUNC" frobnicate
expect_out "oci: unknown flag" 1 "flag provided but not defined" "$RUNC" --root "$STATE" kill --frob x
expect_out "oci: global flags as --opt=value and --log-format=json" 1 '"level":"error"' \
  "$RUNC" --root="$STATE" --log-format=json state nope
exit 0
