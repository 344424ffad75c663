#!/usr/bin/env bash
# OCI lane: the escapes other runtimes had (research/oci.md, section 5),
# tried against tactus-runc:
#   CVE-2019-5736   the runtime binary cannot be written through /proc/PID/exe
#                   (a read-only bind as root, a sealed memfd rootless)
#   CVE-2024-21626  no fd of the caller or the runtime reaches the container;
#                   process.cwd cannot be a host directory
#   CVE-2019-18837, CVE-2021-30465, CVE-2024-45310
#                   mount destinations through symlinks stay inside the rootfs
#   CVE-2023-27561  a /proc that is a symlink is refused; nothing is mounted
#                   under /proc, even through a symlink, but lxcfs-style files
#   cap_last_cap    the bounding set does not trust the container's /proc/sys
#   CVE-2025-31133  masking uses a verified /dev/null
#   CVE-2022-29162  inheritable capabilities are empty unless asked
#   CVE-2023-25809  /sys/fs/cgroup is read-only without a cgroup namespace
#   device cgroup   (cgroup v2 BPF) only allowed devices can be opened
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

run_in() { # run_in NAME PYTHON-EDITS SCRIPT [ROOTFS]
  local name=$1 py=$2 script=$3 root=${4:-}
  make_bundle "$SCRATCH/$name" "c[\"process\"][\"args\"] = [\"sh\", \"-c\", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$script")]; $py"
  if [ -n "$root" ]; then rm -f "$SCRATCH/$name/rootfs"; ln -s "$root" "$SCRATCH/$name/rootfs"; fi
  OUT=$(rc run -b "$SCRATCH/$name" "$name" 2>&1 </dev/null); CODE=$?
}
has() { [[ "$OUT" == *"$1"* ]]; }

# ---- CVE-2019-5736
sum_before=$(sha256sum "$(readlink -f "$RUNC")" | cut -d' ' -f1)
make_bundle "$SCRATCH/x1" 'c["process"]["args"] = ["sleep", "30"]; c["process"]["capabilities"] = {k: ["CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN"] for k in ["bounding", "effective", "permitted"]}'
rc create -b "$SCRATCH/x1" x1 >/dev/null 2>&1 </dev/null
pid=$(rc state x1 | json_get 'd["pid"]')
ro=$(python3 -c 'import os,sys; print(bool(os.statvfs("/proc/%s/exe" % sys.argv[1]).f_flag & os.ST_RDONLY))' "$pid" 2>&1)
WHY="$ro"; check "oci hardening: the parked init's /proc/PID/exe is on a read-only mount (CVE-2019-5736)" test "$ro" = True
w=$(python3 -c 'import os,sys
try:
    os.open("/proc/%s/exe" % sys.argv[1], os.O_WRONLY); print("opened")
except OSError as e: print(e.strerror)' "$pid")
WHY="$w"; check "oci hardening: the init's exe cannot be opened for writing, even by host root" test "$w" != opened
rc start x1
out=$(rc exec x1 sh -c 'for p in /proc/[0-9]*; do echo x 2>/dev/null >>$p/exe && echo WROTE $p; done; echo tried' 2>&1)
WHY="$out"; check "oci hardening: a privileged container process cannot write any /proc/PID/exe" bash -c '[[ "$0" == *tried* && "$0" != *WROTE* ]]' "$out"
check "oci hardening: the runtime binary is unchanged" test "$(sha256sum "$(readlink -f "$RUNC")" | cut -d' ' -f1)" = "$sum_before"
rc delete --force x1

# Rootless (no CAP_SYS_ADMIN for a read-only bind): the runtime runs from a
# sealed memfd copy, and so does the parked init it forks.
if command -v setpriv >/dev/null; then
  mkdir -p "$SCRATCH/rlx" && chmod 0777 "$SCRATCH/rlx" && ln -s "$ROOTFS" "$SCRATCH/rlx/rootfs"
  (cd "$SCRATCH/rlx" && as_nobody "$RUNC" spec --rootless)
  python3 - "$SCRATCH/rlx/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "30"]
json.dump(c, open(sys.argv[1], "w"))
PY
  (cd "$SCRATCH/rlx" && XDG_RUNTIME_DIR=$SCRATCH/rlx as_nobody "$RUNC" create rlx >/dev/null 2>&1 </dev/null)
  rpid=$(XDG_RUNTIME_DIR=$SCRATCH/rlx as_nobody "$RUNC" state rlx 2>/dev/null | json_get 'd["pid"]' 2>/dev/null)
  seals=$(python3 -c '
import fcntl, os, sys
p = "/proc/%s/exe" % sys.argv[1]
fd = os.open(p, os.O_RDONLY)
s = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
need = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
print("link=%s sealed=%s" % (os.readlink(p), s & need == need))' "${rpid:-0}" 2>&1)
  WHY="pid '$rpid': $seals"; check "oci hardening: rootless: the parked init's /proc/PID/exe is a memfd sealed against writes (CVE-2019-5736)" \
    bash -c '[[ "$0" == *"link=/memfd:"* && "$0" == *"sealed=True"* ]]' "$seals"
  w=$(python3 -c 'import os,sys
try:
    os.open("/proc/%s/exe" % sys.argv[1], os.O_WRONLY); print("opened")
except OSError as e: print(e.strerror)' "${rpid:-0}")
  WHY="$w"; check "oci hardening: rootless: the init's exe cannot be opened for writing" test "$w" != opened
  XDG_RUNTIME_DIR=$SCRATCH/rlx as_nobody "$RUNC" start rlx >/dev/null 2>&1
  out=$(XDG_RUNTIME_DIR=$SCRATCH/rlx as_nobody "$RUNC" exec rlx sh -c 'for p in /proc/[0-9]*; do echo x 2>/dev/null >>$p/exe && echo WROTE $p; done; echo tried' 2>&1)
  WHY="$out"; check "oci hardening: rootless: no process inside the container can write any /proc/PID/exe" bash -c '[[ "$0" == *tried* && "$0" != *WROTE* ]]' "$out"
  XDG_RUNTIME_DIR=$SCRATCH/rlx as_nobody "$RUNC" delete --force rlx >/dev/null 2>&1
  check "oci hardening: rootless: the runtime binary is unchanged" test "$(sha256sum "$(readlink -f "$RUNC")" | cut -d' ' -f1)" = "$sum_before"
else
  skip "oci hardening: rootless CVE-2019-5736" "setpriv is missing"
fi

# ---- CVE-2024-21626
exec 7<"$SCRATCH" 8<>"$SCRATCH/leak-file"
run_in fds '' 'ls /proc/self/fd | tr "\n" " "'
WHY="$OUT"; check "oci hardening: no fd of the caller or the runtime reaches the container (only 0 1 2)" test "$OUT" = "0 1 2 3 "
exec 7<&- 8>&-
echo preserved >"$SCRATCH/pfile"
make_bundle "$SCRATCH/pf" 'c["process"]["args"] = ["sh", "-c", "cat <&3; ls /proc/self/fd | tr \"\\n\" \" \""]'
OUT=$(rc run --preserve-fds 1 -b "$SCRATCH/pf" pf 3<"$SCRATCH/pfile" 2>&1 </dev/null)
WHY="$OUT"; check "oci hardening: --preserve-fds 1 passes fd 3 and nothing else" bash -c '[[ "$0" == *preserved* && "$0" == *"0 1 2 3 4 "* && "$0" != *" 5 "* ]]' "$OUT"
for n in 3 4 5 6 7 8 9; do
  run_in cwd$n "c['process']['cwd'] = '/proc/self/fd/$n'" 'pwd; ls ..'
  if [ "$CODE" = 0 ]; then
    fail "oci hardening: process.cwd /proc/self/fd/$n is refused (CVE-2024-21626)" "it ran: $OUT"
  else
    pass "oci hardening: process.cwd /proc/self/fd/$n is refused (CVE-2024-21626)"
  fi
done
make_bundle "$SCRATCH/ex" 'c["process"]["args"] = ["sleep", "30"]'
rc run -d -b "$SCRATCH/ex" ex >/dev/null 2>&1 </dev/null
bad=0
for n in 3 4 5 6 7 8 9; do
  out=$(rc exec --cwd "/proc/self/fd/$n" ex sh -c 'pwd; ls /..' 2>&1) && { bad=1; echo "  exec --cwd /proc/self/fd/$n: $out"; }
done
check "oci hardening: exec --cwd /proc/self/fd/N never gives a host directory" test "$bad" = 0
out=$(rc exec ex sh -c 'ls /proc/1/fd 2>&1; readlink /proc/1/cwd' 2>&1)
WHY="$out"; check "oci hardening: the init's cwd is the container's /" bash -c '[[ "$0" == *"/"* && "$0" != *tmp* && "$0" != *work* ]]' "$out"
rc delete --force ex

# ---- symlinks out of the rootfs (CVE-2019-18837 / 2021-30465 / 2024-45310)
R2=$SCRATCH/rootfs2
make_rootfs "$R2"
mkdir -p "$SCRATCH/outside"
ln -s "$SCRATCH/outside" "$R2/abs-escape"
ln -s ../../../../../../../../"$SCRATCH/outside" "$R2/rel-escape"
ln -s /does/not/exist "$R2/dangling"
run_in esc "c['mounts'] += [{'destination': '/abs-escape/m1', 'type': 'tmpfs', 'source': 'tmpfs'}, {'destination': '/rel-escape/m2', 'type': 'tmpfs', 'source': 'tmpfs'}, {'destination': '/dangling/m3', 'type': 'tmpfs', 'source': 'tmpfs'}, {'destination': '/abs-escape/file', 'type': 'bind', 'source': '/etc/hostname', 'options': ['bind', 'ro']}]" \
  'grep -c " /.*/m[123] tmpfs" /proc/mounts' "$R2"
WHY="exit $CODE: $OUT; outside: $(ls -A "$SCRATCH/outside")"; check "oci hardening: mounts through absolute, relative and dangling symlinks land inside the rootfs" \
  test "$CODE" = 0 -a -z "$(ls -A "$SCRATCH/outside")"
check "oci hardening: ...where the symlinks point, resolved in the rootfs" \
  test -d "$R2/$SCRATCH/outside/m1" -a -d "$R2/$SCRATCH/outside/m2" -a -d "$R2/does/not/exist/m3"
R3=$SCRATCH/rootfs3
make_rootfs "$R3"
rmdir "$R3/proc" && ln -s /tmp "$R3/proc"
run_in procsym '' 'echo ran' "$R3"
WHY="exit $CODE: $OUT"; check "oci hardening: a /proc that is a symlink in the image is refused (CVE-2023-27561)" \
  bash -c '[ "$1" != 0 ] && [[ "$0" == *"/proc in the rootfs is a symlink"* ]]' "$OUT" "$CODE"
R4=$SCRATCH/rootfs4
make_rootfs "$R4"
rmdir "$R4/dev" && ln -s "$SCRATCH/outside" "$R4/dev"
run_in devsym 'c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/dev")]' 'echo ran' "$R4"
WHY="exit $CODE: $OUT; outside: $(ls -A "$SCRATCH/outside")"; check "oci hardening: a /dev that is a symlink is refused, nothing is created outside" \
  test "$CODE" != 0 -a -z "$(ls -A "$SCRATCH/outside")"

# ---- /proc: nothing under it but lxcfs-style file binds (runc's checkProcMount)
R6=$SCRATCH/rootfs6
make_rootfs "$R6"
ln -s /proc "$R6/abs-proc"
ln -s proc "$R6/rel-proc"
for l in abs-proc rel-proc; do
  run_in "procln-$l" "c['mounts'].append({'destination': '/$l/sys', 'type': 'tmpfs', 'source': 'tmpfs'})" 'echo ran' "$R6"
  WHY="exit $CODE: $OUT"; check "oci hardening: a mount through a symlink into /proc (/$l/sys) is refused" \
    bash -c '[ "$1" != 0 ] && [[ "$0" == *"resolves to a path inside /proc"* ]]' "$OUT" "$CODE"
done
echo "lxcfs-cpuinfo" >"$SCRATCH/cpuinfo"
run_in lxcfs "c['mounts'].append({'destination': '/proc/cpuinfo', 'type': 'bind', 'source': '$SCRATCH/cpuinfo', 'options': ['bind', 'ro']})" 'cat /proc/cpuinfo'
WHY="exit $CODE: $OUT"; check "oci hardening: a regular file bound over /proc/cpuinfo (as lxcfs does) is allowed" test "$OUT" = lxcfs-cpuinfo

# ---- the bounding set never depends on the container's /proc/sys/kernel/cap_last_cap
# A privileged container covers its own cap_last_cap with "0"; an exec'd
# process (which joins the container's mount namespace) must still get
# exactly the configured bounding set, not the whole one.
make_bundle "$SCRATCH/clc" 'c["process"]["args"] = ["sleep", "30"]; c["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN"] for k in ["bounding", "effective", "permitted"]}; c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})'
rc run -d -b "$SCRATCH/clc" clc >/dev/null 2>&1 </dev/null
out=$(rc exec clc sh -c 'echo 0 >/tmp/zero && mount --bind /tmp/zero /proc/sys/kernel/cap_last_cap && cat /proc/sys/kernel/cap_last_cap' 2>&1)
WHY="$out"; check "oci hardening: (setup) the container covered its cap_last_cap with 0" test "$out" = 0
out=$(rc exec clc grep CapBnd /proc/self/status 2>&1)
WHY="$out"; check "oci hardening: an exec'd process's bounding set is the configured one despite a fake cap_last_cap" \
  bash -c '[[ "$0" == *"0000000000200003"* ]]' "$out"
rc delete --force clc

# ---- masked and read-only paths (CVE-2025-31133)
R5=$SCRATCH/rootfs5
make_rootfs "$R5"
rmdir "$R5/dev"; mkdir "$R5/dev"; ln -s /proc/sys/kernel/core_pattern "$R5/dev/null"
run_in mask 'c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev"]; c["linux"]["maskedPaths"] += ["/proc/version", "/proc/self/../cpuinfo"]; c["linux"]["readonlyPaths"] += ["/etc"]' \
  'stat -c "%t:%T" /proc/version; cat /proc/version /proc/cpuinfo | wc -c; ls -A /sys/firmware | wc -l; echo 1 >/proc/sys/kernel/ns_last_pid 2>&1; touch /etc/x 2>&1; stat -c %F /dev/null' "$R5"
WHY="$OUT"; check "oci hardening: masked files are the null device (1:3), masked dirs empty" bash -c '[ "$(head -3 <<<"$0" | tr "\n" " ")" = "1:3 0 0 " ]' "$OUT"
WHY="$OUT"; check "oci hardening: read-only paths refuse writes" bash -c '[ "$(grep -c "Read-only file system" <<<"$0")" = 2 ]' "$OUT"
WHY="$OUT"; check "oci hardening: an image's /dev/null symlink is replaced by the real device" has "character special file"

# ---- capabilities (CVE-2022-29162)
run_in inh 'c["process"]["capabilities"] = {k: ["CAP_NET_RAW", "CAP_CHOWN"] for k in ["bounding", "effective", "permitted"]}' 'grep CapInh /proc/self/status'
WHY="$OUT"; check "oci hardening: inheritable capabilities are empty unless asked" has "0000000000000000"

# ---- cgroup (CVE-2023-25809) and devices
run_in cg 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]' \
  'touch /sys/fs/cgroup/x 2>&1; ls /sys/fs/cgroup | grep -c cgroup.procs'
WHY="$OUT"; check "oci hardening: /sys/fs/cgroup without a cgroup namespace is the container's own, read-only" \
  bash -c '[[ "$0" == *"Read-only file system"* && "$0" == *1 ]]' "$OUT"
run_in cgns '' 'cat /proc/self/cgroup | grep "^0::"; touch /sys/fs/cgroup/x 2>&1'
WHY="$OUT"; check "oci hardening: with a cgroup namespace the container's cgroup is its root (0::/)" has "0::/"
run_in dev 'c["process"]["capabilities"] = {k: ["CAP_MKNOD", "CAP_DAC_OVERRIDE"] for k in ["bounding", "effective", "permitted"]}; c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})' \
  'mknod /tmp/mem c 1 1 && head -c1 /tmp/mem >/dev/null 2>&1 || echo mem-denied; mknod /tmp/null2 c 1 3 && echo ok >/tmp/null2 && echo null-allowed'
WHY="$OUT"; check "oci hardening: the cgroup v2 device filter denies /dev/mem, allows the null device" \
  bash -c '[[ "$0" == *mem-denied* && "$0" == *null-allowed* ]]' "$OUT"
run_in devrule 'c["linux"]["devices"] = [{"type": "c", "path": "/dev/mem", "major": 1, "minor": 1, "fileMode": 416}]; c["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 1, "access": "r"}); c["process"]["capabilities"] = {k: ["CAP_SYS_RAWIO", "CAP_DAC_OVERRIDE"] for k in ["bounding", "effective", "permitted"]}' \
  'stat -c "%a %t:%T" /dev/mem; head -c1 /dev/mem >/dev/null 2>&1 && echo read-allowed; echo x 2>/dev/null >/dev/mem || echo write-denied'
WHY="$OUT"; check "oci hardening: linux.devices creates a node with its mode; a device rule allows exactly its access" \
  bash -c '[[ "$0" == *"640 1:1"* && "$0" == *write-denied* ]]' "$OUT"

# ---- nothing of the host is visible
run_in iso '' 'cat /proc/mounts | cut -d" " -f2 | tr "\n" " "; echo; ls /sys/class/net | tr "\n" " "; echo; ip addr show lo | grep -c "state UNKNOWN\|UP"'
WHY="$OUT"; check "oci hardening: no host path is mounted in the container" bash -c '[[ "$0" != *"/work"* && "$0" != *"tactus-oci"* ]]' "$OUT"
WHY="$OUT"; check "oci hardening: the network namespace has only lo, and it is up" bash -c '[[ "$0" == *$'"'"'\n'"'"'"lo "$'"'"'\n'"'"'* ]]' "$OUT"
# ---- --no-pivot hides the old root's procfs and sysfs
# With --no-pivot the old root stays mounted under the chroot; a fully
# visible procfs there would let a user namespace of the container mount a
# fresh, unmasked one (runc refuses it in both modes).  Control: the same
# user namespace is made (prints inns) and the container keeps its own
# /proc.  The attempt is harmless when it succeeds: a procfs in a
# namespace of the container's own.
make_bundle "$SCRATCH/np" 'c["process"]["args"] = ["sh", "-c", "ls /proc/self/ns >/dev/null && echo own-proc; unshare -mrpf sh -c \"echo inns; mount -t proc none /proc && echo MOUNTED-PROC\""]; c["process"]["capabilities"] = {k: c["process"]["capabilities"][k] + ["CAP_SETFCAP"] for k in ("bounding", "effective", "permitted")}'
for mode in --no-pivot ""; do
  OUT=$(rc run $mode -b "$SCRATCH/np" "np$mode" </dev/null 2>&1)
  WHY="$OUT"; check "oci hardening: run ${mode:-(pivot_root)}: a user namespace of the container cannot mount a fresh procfs" \
    bash -c '[[ "$0" == *own-proc*inns* && "$0" != *MOUNTED-PROC* ]]' "$OUT"
done
exit 0
