#!/usr/bin/env bash
# OCI lane: bad bundles and bad requests.  Every error is worded as runc's
# where callers match the text, names the JSON path for config errors,
# exits non-zero, and leaves nothing behind (no state directory, no
# cgroup).  With --log FILE --log-format json the last line is
# {"level":"error","msg":...,"time":RFC 3339} (what containerd's shim reads).
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

B=$SCRATCH/b
make_bundle "$B" 'c["process"]["args"] = ["sleep", "30"]'

nothing_left() {
  local id=$1
  [ ! -e "$STATE/$id" ] && [ ! -e "$CG2/$OCI_CG_PARENT/$(basename "${2:-$B}")" ]
}

# ---- bundles
mkdir -p "$SCRATCH/empty"
expect_out "oci errors: a bundle without config.json" 1 "config.json not found" rc create -b "$SCRATCH/empty" e1
check "oci errors: nothing left after a missing config.json" nothing_left e1
expect_out "oci errors: a bundle that does not exist" 1 "bundle" rc create -b "$SCRATCH/nope" e1

bad() { # bad NAME NEEDLE PYTHON
  make_bundle "$SCRATCH/bad" "$3"
  expect_out "oci errors: $1" 1 "$2" rc create -b "$SCRATCH/bad" bad1
  check "oci errors: nothing left after: $1" nothing_left bad1 "$SCRATCH/bad"
}
mkdir -p "$SCRATCH/bad"
make_bundle "$SCRATCH/inv" ''
echo '{"ociVersion": "1.0.2", "process": {' >"$SCRATCH/inv/config.json"
expect_out "oci errors: invalid JSON is reported with a line" 1 "invalid JSON near line" rc create -b "$SCRATCH/inv" e2
check "oci errors: nothing left after invalid JSON" nothing_left e2
bad "process.args must be an array" "process.args: must be an array" 'c["process"]["args"] = "sh"'
bad "an unknown capability (the spec: MUST cause an error), with a suggestion" \
  'process.capabilities.bounding[1]: unknown capability "CAP_CHWON" (did you mean CAP_CHOWN?)' \
  'c["process"]["capabilities"]["bounding"] = ["CAP_KILL", "CAP_CHWON"]'
bad "ociVersion not SemVer" 'ociVersion: "invalid" is not a SemVer 2.0.0 version' 'c["ociVersion"] = "invalid"'
bad "ociVersion with a leading zero" 'ociVersion: "1.01.0" is not a SemVer' 'c["ociVersion"] = "1.01.0"'
bad "ociVersion missing" 'ociVersion: is required' 'del c["ociVersion"]'
make_bundle "$SCRATCH/semver" 'c["ociVersion"] = "1.2.0-rc.1+build.05"; c["process"]["args"] = ["true"]'
expect_out "oci errors: (control) a SemVer ociVersion with pre-release and build parts is accepted" 0 "" rc run -b "$SCRATCH/semver" semver1
bad "an empty process.args" "process.args: must be a non-empty array" 'c["process"]["args"] = []'
bad "process.args[1] not a string" "process.args[1]: must be a string" 'c["process"]["args"] = ["sh", 1]'
bad "a relative process.cwd" "process.cwd: must be an absolute path" 'c["process"]["cwd"] = "tmp"'
bad "process.env entry without '='" "process.env[0]" 'c["process"]["env"] = ["NOEQUALS"]'
bad "process.user.uid negative" "process.user.uid" 'c["process"]["user"]["uid"] = -1'
bad "unknown rlimit" "process.rlimits[0].type: unknown rlimit" 'c["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]'
bad "rlimit soft > hard" "process.rlimits[0].soft" 'c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]'
bad "oomScoreAdj out of range" "process.oomScoreAdj" 'c["process"]["oomScoreAdj"] = 5000'
bad "root.path missing" "root.path: is required" 'del c["root"]["path"]'
bad "root.path not a directory" "root.path" 'c["root"]["path"] = "/nonexistent-rootfs"'
bad "mounts[i].destination missing" "mounts[1].destination: is required" 'del c["mounts"][1]["destination"]'
bad "mounts[i].options not strings" "mounts[0].options[0]" 'c["mounts"][0]["options"] = [7]'
bad "a bind mount without a source" "mounts[0].source" 'c["mounts"][0] = {"destination": "/x", "type": "bind", "options": ["rbind"]}'
bad "a non-proc mount on /proc (CVE-2019-16884)" "/proc can only be a proc mount" 'c["mounts"].append({"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["bind"]})'
for d in /proc/ /./proc //proc /proc/self/.. /sys/../proc; do
  bad "a bind over /proc spelled '$d' (CVE-2019-16884)" "/proc can only be a proc mount" "c['mounts'].append({'destination': '$d', 'type': 'bind', 'source': '/tmp', 'options': ['bind']})"
done
bad "a tmpfs over /proc/sys (with a sysctl: refused, not written through it)" "/proc/sys is inside /proc" \
  'c["mounts"].append({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}); c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}'
bad "a bind under /proc/sys" "/proc/sys/kernel is inside /proc" "c['mounts'].append({'destination': '/proc/./sys//kernel/', 'type': 'bind', 'source': '$SCRATCH', 'options': ['rbind']})"
echo 0 >"$SCRATCH/zero"
bad "a bind over /proc/sys/kernel/cap_last_cap" "/proc/sys/kernel/cap_last_cap is inside /proc" "c['mounts'].append({'destination': '/proc/sys/kernel/cap_last_cap', 'type': 'bind', 'source': '$SCRATCH/zero', 'options': ['bind']})"
bad "a proc mount under /proc" "/proc/1 is inside /proc" 'c["mounts"].append({"destination": "/proc/1", "type": "proc", "source": "proc"})'
bad "a tmpfs over /proc/cpuinfo (only binds there)" "only a bind of a regular file" 'c["mounts"].append({"destination": "/proc/cpuinfo", "type": "tmpfs", "source": "tmpfs"})'
bad "a directory bound over /proc/meminfo" "only a regular file can be bound over /proc/meminfo" "c['mounts'].append({'destination': '/proc/meminfo', 'type': 'bind', 'source': '$SCRATCH', 'options': ['bind']})"
bad "idmapped mounts" "idmapped" 'c["mounts"][0]["options"] = ["idmap"]'
bad "unknown namespace type" "linux.namespaces[0].type: unknown namespace type" 'c["linux"]["namespaces"][0]["type"] = "bogus"'
bad "a namespace listed twice" "listed twice" 'c["linux"]["namespaces"].append({"type": "pid"})'
bad "a namespace path that does not exist" "/nonexistent/ns" 'c["linux"]["namespaces"][1]["path"] = "/nonexistent/ns"'
bad "a namespace path of the wrong type" "not a namespace of the type" 'c["linux"]["namespaces"][1]["path"] = "/proc/self/ns/ipc"'
bad "no mount namespace" "a mount namespace is required" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]'
bad "uidMappings without a user namespace" "linux.uidMappings" 'c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1}]'
bad "a device outside /dev" "linux.devices[0].path" 'c["linux"]["devices"] = [{"type": "c", "path": "/etc/x", "major": 1, "minor": 3}]'
bad "a device of unknown type" "linux.devices[0].type" 'c["linux"]["devices"] = [{"type": "x", "path": "/dev/x", "major": 1, "minor": 3}]'
bad "a non-namespaced sysctl" "linux.sysctl.kernel.core_pattern: not a namespaced sysctl" 'c["linux"]["sysctl"] = {"kernel.core_pattern": "|/bin/evil"}'
bad "a net sysctl without a network namespace" "needs a network namespace" 'c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}; c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]'
bad "a sysctl value with a newline" "control character" 'c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1\nkernel.x=1"}'
bad "a bad rootfsPropagation" "linux.rootfsPropagation" 'c["linux"]["rootfsPropagation"] = "sideways"'
bad "a bad device cgroup rule" "linux.resources.devices[0].access" 'c["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwx"}]'
bad "a memory limit that is not a number" "linux.resources.memory.limit" 'c["linux"]["resources"]["memory"] = {"limit": "lots"}'
bad "an unknown seccomp action" "linux.seccomp.syscalls[0].action: unknown action" 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]}'
bad "an unknown seccomp operator" "linux.seccomp.syscalls[0].args[0].op" 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}'
bad "an unknown seccomp architecture" "linux.seccomp.architectures[0]" 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}'
bad "a seccomp notify action" "SCMP_ACT_NOTIFY" 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_NOTIFY"}'
bad "a hook with a relative path" "hooks.prestart[0].path" 'c["hooks"] = {"prestart": [{"path": "true"}]}'
bad "a hook with timeout 0" "hooks.poststart[0].timeout" 'c["hooks"] = {"poststart": [{"path": "/bin/true", "timeout": 0}]}'
bad "a systemd cgroupsPath" "systemd" 'c["linux"]["cgroupsPath"] = "system.slice:tactus:x"'
bad "a cgroupsPath with .." "'..' is not allowed" 'c["linux"]["cgroupsPath"] = "/a/../../b"'
bad "a terminal without a console socket (create)" "console socket" 'c["process"]["terminal"] = True'
bad "an executable that does not exist" 'executable file not found' 'c["process"]["args"] = ["no-such-program"]'
bad "a cwd that does not exist" "process.cwd /nonexistent" 'c["process"]["cwd"] = "/nonexistent"'
bad "a failing prestart hook" "error running prestart hook" 'c["hooks"] = {"prestart": [{"path": "/bin/false"}]}'
bad "a failing createContainer hook" "error running createContainer hook" 'c["hooks"] = {"createContainer": [{"path": "/bin/false"}]}'
bad "a hook timeout" "timeout after 1 seconds" 'c["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]}'
make_bundle "$SCRATCH/ok" 'c["process"]["args"] = ["true"]; c["someFutureField"] = {"x": 1}; c["process"]["futureKey"] = 3'
expect_out "oci errors: unknown fields are ignored" 0 "" rc run -b "$SCRATCH/ok" unk
# (The driver itself needs systemd as PID 1 on a cgroup v2 host: tests/vm/systemd.sh.)
make_bundle "$SCRATCH/sd" 'c["process"]["args"] = ["true"]; c["linux"]["cgroupsPath"] = "system.slice:tactus:a/b"'
expect_out "oci errors: --systemd-cgroup with a bad slice:prefix:name is refused clearly" 1 "prefix and name may hold only" \
  "$RUNC" --root "$STATE" --systemd-cgroup run -b "$SCRATCH/sd" sd1
make_bundle "$SCRATCH/sd2" 'c["process"]["args"] = ["true"]'
expect_out "oci errors: --systemd-cgroup with a cgroupfs path is accepted" 0 "" \
  "$RUNC" --root "$STATE" --systemd-cgroup run -b "$SCRATCH/sd2" sd2

# ---- a frozen cgroupsPath fails clearly (it hung: the init froze on joining)
if [ -n "$CG2" ] && mkdir -p "$CG2/$OCI_CG_PARENT/frozen" 2>/dev/null && [ -e "$CG2/$OCI_CG_PARENT/frozen/cgroup.freeze" ]; then
  echo 1 >"$CG2/$OCI_CG_PARENT/frozen/cgroup.freeze"
  make_bundle "$SCRATCH/frz" "c['process']['args'] = ['true']; c['linux']['cgroupsPath'] = '/$OCI_CG_PARENT/frozen'"
  # Output to a file, not a pipe: a frozen init would hold a pipe open.
  frozen_create() { # frozen_create NAME BUNDLE ID
    timeout 20 "$RUNC" --root "$STATE" create -b "$2" "$3" >"$SCRATCH/frz.out" 2>&1 </dev/null; local code=$?
    WHY="exit $code: $(cat "$SCRATCH/frz.out")"
    check "$1" bash -c '[ "$0" = 1 ] && grep -q "is frozen" "$1"' "$code" "$SCRATCH/frz.out"
  }
  frozen_create "oci errors: create into a frozen cgroup fails (no hang)" "$SCRATCH/frz" frz1
  check "oci errors: nothing left after a frozen cgroup (and the cgroup, not ours, stays)" \
    bash -c '[ ! -e "$0/frz1" ] && [ -d "$1" ]' "$STATE" "$CG2/$OCI_CG_PARENT/frozen"
  make_bundle "$SCRATCH/frz2" "c['process']['args'] = ['true']; c['linux']['cgroupsPath'] = '/$OCI_CG_PARENT/frozen/child'"
  frozen_create "oci errors: create under a frozen parent cgroup fails (no hang)" "$SCRATCH/frz2" frz2
  echo 0 >"$CG2/$OCI_CG_PARENT/frozen/cgroup.freeze"
  make_bundle "$SCRATCH/frz3" "c['process']['args'] = ['true']; c['linux']['cgroupsPath'] = '/$OCI_CG_PARENT/frozen'"
  expect_out "oci errors: (control) the same cgroup, thawed, runs the container" 0 "" timeout 20 "$RUNC" --root "$STATE" run -b "$SCRATCH/frz3" frz3
  rmdir "$CG2/$OCI_CG_PARENT/frozen/child" "$CG2/$OCI_CG_PARENT/frozen" 2>/dev/null
else
  skip "oci errors: a frozen cgroupsPath" "no cgroup v2 freezer here"
fi

# ---- ids
for cmd in state start "kill" delete pause resume ps; do
  expect_out "oci errors: $cmd of a missing id: container does not exist" 1 "container does not exist" rc $cmd nope
done
expect_out "oci errors: exec into a missing id (exec's own failures exit 255, as runc)" 255 "container does not exist" rc exec nope true
expect_out "oci errors: update of a missing id" 1 "container does not exist" rc update --memory 1m nope
expect_out "oci errors: an invalid id is refused" 1 "invalid container id" rc create -b "$B" 'a/b'
expect_out "oci errors: '..' as an id is refused" 1 "invalid container id" rc create -b "$B" '..'
expect_out "oci errors: create without an id" 1 "container id" rc create -b "$B"
expect_out "oci errors: an unknown signal" 1 "unknown signal" rc kill nope SIGBOGUS

# ---- double create
rc create -b "$B" dup >/dev/null 2>&1 </dev/null
expect_out "oci errors: creating an id twice fails" 1 "container with id exists: dup" rc create -b "$B" dup
WHY="status $(status_of dup)"; check "oci errors: the first container is untouched by the failed second create" test "$(status_of dup)" = created

# ---- delete and kill semantics
expect_out "oci errors: kill of a created container is allowed" 0 "" rc kill dup KILL
check "oci errors: the killed created container is stopped" wait_status dup stopped
expect_out "oci errors: kill of a stopped container: container not running" 1 "container not running" rc kill dup TERM
expect_out "oci errors: start of a stopped container fails" 1 "cannot start a container that has stopped" rc start dup
expect_out "oci errors: delete --force of a stopped container" 0 "" rc delete --force dup
rc create -b "$B" dc >/dev/null 2>&1 </dev/null
pid=$(rc state dc | json_get 'd["pid"]')
expect_out "oci errors: delete of a created container succeeds (kills the parked init)" 0 "" rc delete dc
check "oci errors: the created container's init is gone" bash -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"
rc create -b "$B" dfc >/dev/null 2>&1 </dev/null
expect_out "oci errors: delete --force of a created container" 0 "" rc delete --force dfc
rc run -d -b "$B" dfr >/dev/null 2>&1 </dev/null
expect_out "oci errors: delete --force of a running container" 0 "" rc delete --force dfr
check "oci errors: nothing left after delete --force of a running container" nothing_left dfr
rc run -d -b "$B" dfp >/dev/null 2>&1 </dev/null
rc pause dfp
expect_out "oci errors: delete --force of a paused container" 0 "" rc delete --force dfp
check "oci errors: nothing left after delete --force of a paused container" nothing_left dfp
expect_out "oci errors: delete --force of an unknown id succeeds" 0 "" rc delete --force never-existed
expect_out "oci errors: delete of an unknown id: container does not exist" 1 "container does not exist" rc delete never-existed
mkdir -p "$STATE/half-created"
expect_out "oci errors: delete --force removes a half-created state directory" 0 "" rc delete --force half-created
check "oci errors: the half-created directory is gone" test ! -e "$STATE/half-created"

# ---- JSON error log
log=$SCRATCH/log.json
"$RUNC" --root "$STATE" --log "$log" --log-format json kill nope 9 >/dev/null 2>&1
WHY="$(cat "$log" 2>/dev/null)"; check "oci errors: --log-format json writes {level, msg, time} with an RFC 3339 time" \
  python3 -c '
import json, sys, re
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
last = [l for l in lines if l["level"] == "error"][-1]
assert set(last) == {"level", "msg", "time"}, last
assert "container does not exist" in last["msg"], last
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", last["time"]), last
' "$log"
make_bundle "$SCRATCH/lj" 'c["process"]["args"] = ["sh", 1]'
"$RUNC" --root "$STATE" --log "$log" --log-format=json create -b "$SCRATCH/lj" lj >/dev/null 2>&1
WHY="$(tail -1 "$log")"; check "oci errors: a config error in the JSON log names the path" \
  python3 -c 'import json,sys; l=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert l["level"]=="error" and "process.args[1]" in l["msg"]' "$log"
"$RUNC" --root "$STATE" --log "$SCRATCH/log.txt" state nope >/dev/null 2>&1
WHY="$(cat "$SCRATCH/log.txt")"; check "oci errors: the text log format is logrus's (time= level=error msg=)" \
  grep -qE '^time="[0-9T:.-]+Z" level=error msg="container does not exist"$' "$SCRATCH/log.txt"
expect_out "oci errors: --log-format bogus is refused" 1 "log-format" "$RUNC" --log-format bogus list
exit 0
