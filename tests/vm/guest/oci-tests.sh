#!/bin/bash
# The OCI lane's guest tests (tests/vm/oci.sh): run by the guest's /init as
# root, on a kernel whose only cgroup hierarchy is cgroup2 with every
# controller.  Prints PASS:/FAIL:/SKIP: lines on the serial console.
#   1. tactus-runc itself: linux.resources -> memory.max / pids.max /
#      cpu.max, a memory bomb OOM-killed by memory.max, update, pause.
#   2. containerd 1.6: ctr run --runtime io.containerd.runc.v2 --runc-binary
#      tactus-runc --rootfs DIR: exit codes, -d, task exec, ps, pause,
#      resume, kill, delete, -t with a terminal, --memory-limit.
#   3. podman 4.3 (conmon, vfs storage, cgroupfs): run, -d, exec, logs,
#      stop, rm, of an image imported from a busybox rootfs.
set -u
[ -f /.stage2 ] || { echo "FAIL: vm oci: guest tests: refusing to run outside the lane's VM"; exit 1; }
. "$TESTS_DIR/lib.sh"
RUNC=/usr/local/bin/tactus-runc
PROBE=/usr/local/bin/vm-probe
CG=/sys/fs/cgroup
OUTER=180
W=/oci
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export XDG_RUNTIME_DIR=/run

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
T() { timeout "$OUTER" "$@"; }
# expect NAME WANT-RC NEEDLE CMD...
expect() {
  local name=$1 want=$2 needle=$3 out code t0
  shift 3
  t0=$(now_ms)
  out=$(T "$@" 2>&1 </dev/null); code=$?
  if [ "$code" = "$want" ] && [[ "$out" == *"$needle"* ]]; then
    pass "$name ($(( $(now_ms) - t0 )) ms)"
  else
    fail "$name" "exit $code (want $want), want '$needle' in: $(echo "$out" | tail -4 | tr '\n' '|')"
  fi
}

# A pty for ctr -t: the guest's devpts is a new instance; /dev/ptmx must be its.
ln -sf pts/ptmx /dev/ptmx 2>/dev/null || mount --bind /dev/pts/ptmx /dev/ptmx

# ---------------------------------------------------------------- rootfs
mkdir -p $W/rootfs/{bin,etc,proc,sys,dev,tmp,root}
cp "$(readlink -f /bin/busybox)" $W/rootfs/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$W/rootfs/bin/$a"; done
cp "$PROBE" $W/rootfs/bin/vm-probe
printf 'root:x:0:0:root:/root:/bin/sh\n' >$W/rootfs/etc/passwd
printf 'root:x:0:\ntty:x:5:\n' >$W/rootfs/etc/group
chmod 1777 $W/rootfs/tmp

# ---------------------------------------------------------------- 1. tactus-runc
bundle() { # bundle DIR ARGS-JSON RESOURCES-JSON
  mkdir -p "$1" && ln -sfn $W/rootfs "$1/rootfs"
  cat >"$1/config.json" <<CONF
{"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}, "hostname": "vm-oci",
 "process": {"terminal": false, "cwd": "/", "args": $2, "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
   "noNewPrivileges": true},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
   {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
   {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}, {"type": "cgroup"}],
   "cgroupsPath": "/oci-test/$(basename "$1")", "resources": $3}}
CONF
}
bundle $W/lim '["sleep", "60"]' '{"memory": {"limit": 67108864, "swap": 67108864}, "pids": {"limit": 32}, "cpu": {"quota": 20000, "period": 100000, "shares": 1024}}'
# Detached containers keep our stdio: never a pipe we wait on.
expect "vm oci: tactus-runc run -d with memory, pids and cpu limits" 0 "" sh -c "$RUNC run -d -b $W/lim lim >/dev/null 2>&1"
d=$CG/oci-test/lim
got="$(cat $d/memory.max 2>&1) $(cat $d/memory.swap.max 2>&1) $(cat $d/pids.max 2>&1) $(cat $d/cpu.max 2>&1) $(cat $d/cpu.weight 2>&1)"
[ "$got" = "67108864 0 32 20000 100000 39" ] && pass "vm oci: linux.resources -> memory.max, memory.swap.max, pids.max, cpu.max, cpu.weight ($got)" \
  || fail "vm oci: linux.resources -> memory.max, memory.swap.max, pids.max, cpu.max, cpu.weight" "got: $got"
pid=$($RUNC state lim | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
grep -q "^0::/oci-test/lim$" /proc/$pid/cgroup && pass "vm oci: the init is in its cgroup (CLONE_INTO_CGROUP)" || fail "vm oci: the init is in its cgroup" "$(cat /proc/$pid/cgroup)"
expect "vm oci: update --memory --pids-limit --cpu-quota" 0 "" $RUNC update --memory 32m --pids-limit 16 --cpu-quota 50000 lim
got="$(cat $d/memory.max) $(cat $d/pids.max) $(cat $d/cpu.max)"
[ "$got" = "33554432 16 50000 100000" ] && pass "vm oci: update wrote memory.max, pids.max, cpu.max" || fail "vm oci: update wrote the limits" "got: $got"
echo '{"memory": {"limit": 50331648}}' >$W/res.json
expect "vm oci: update --resources FILE" 0 "" $RUNC update --resources $W/res.json lim
[ "$(cat $d/memory.max)" = 50331648 ] && pass "vm oci: update --resources FILE wrote memory.max" || fail "vm oci: update --resources FILE" "$(cat $d/memory.max)"
expect "vm oci: pause" 0 "" $RUNC pause lim
grep -q "frozen 1" $d/cgroup.events && pass "vm oci: paused: cgroup.events frozen 1" || fail "vm oci: paused: cgroup.events frozen 1" "$(cat $d/cgroup.events)"
expect "vm oci: resume" 0 "" $RUNC resume lim
expect "vm oci: delete --force" 0 "" $RUNC delete --force lim
[ ! -e $d ] && pass "vm oci: the cgroup is removed" || fail "vm oci: the cgroup is removed" "$d is still there"
bundle $W/bomb '["vm-probe", "membomb", "256"]' '{"memory": {"limit": 67108864, "swap": 67108864}}'
expect "vm oci: a memory bomb under memory.limit 64 MiB is OOM-killed (exit 137)" 137 "" $RUNC run -b $W/bomb bomb
bundle $W/fork '["vm-probe", "forkbomb", "0", "64"]' '{"pids": {"limit": 16}}'
expect "vm oci: pids.limit 16 stops a fork bomb (EAGAIN)" 0 "EAGAIN" $RUNC run -b $W/fork fork
rmdir $CG/oci-test 2>/dev/null

# ---------------------------------------------------------------- 2. containerd
mkdir -p /var/lib/containerd /run/containerd
t0=$(now_ms)
containerd --config /etc/containerd/config.toml >/tmp/containerd.log 2>&1 &
for ((i = 0; i < 600; i++)); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && break; sleep 0.1; done
if ! ctr version >/dev/null 2>&1; then
  fail "vm oci: containerd starts" "$(tail -5 /tmp/containerd.log | tr '\n' '|')"
else
  pass "vm oci: containerd $(containerd --version | awk '{print $3}') is up ($(( $(now_ms) - t0 )) ms)"
  # ctr's --rootfs is a flag: the directory is the first positional, then the id.
  CR="ctr run --runtime io.containerd.runc.v2 --runc-binary $RUNC"
  expect "vm oci: ctr run --rm returns the container's exit code (3)" 3 "hello-ctr" $CR --rm --rootfs $W/rootfs c1 sh -c 'echo hello-ctr; exit 3'
  expect "vm oci: ctr run -d" 0 "" $CR -d --rootfs $W/rootfs c2 sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done'
  expect "vm oci: ctr task ls shows it RUNNING" 0 "RUNNING" sh -c 'ctr task ls | grep c2'
  expect "vm oci: ctr task exec (exit code and output)" 7 "in-exec" ctr task exec --exec-id e1 c2 sh -c 'echo in-exec; exit 7'
  # ctr task ls: TASK PID STATUS; ctr task ps: PID INFO.  The init's pid must be listed.
  c2pid=$(T ctr task ls 2>/dev/null | awk '$1 == "c2" { print $2 }')
  if [[ "$c2pid" =~ ^[0-9]+$ ]] && T ctr task ps c2 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qx "$c2pid"; then
    pass "vm oci: ctr task ps lists the init's pid ($c2pid)"
  else
    fail "vm oci: ctr task ps lists the init's pid" "pid '$c2pid': $(T ctr task ps c2 2>&1 | tr '\n' '|')"
  fi
  expect "vm oci: ctr task pause" 0 "" ctr task pause c2
  expect "vm oci: ctr task ls shows it PAUSED" 0 "PAUSED" sh -c 'ctr task ls | grep c2'
  expect "vm oci: ctr task resume" 0 "" ctr task resume c2
  expect "vm oci: ctr task ls shows it RUNNING again" 0 "RUNNING" sh -c 'ctr task ls | grep c2'
  expect "vm oci: ctr task kill (SIGTERM)" 0 "" ctr task kill c2
  for ((i = 0; i < 100; i++)); do ctr task ls | grep c2 | grep -q STOPPED && break; sleep 0.1; done
  expect "vm oci: the task stops on SIGTERM" 0 "STOPPED" sh -c 'ctr task ls | grep c2'
  expect "vm oci: ctr task delete" 0 "" ctr task delete c2
  expect "vm oci: ctr container rm" 0 "" ctr container rm c2
  expect "vm oci: no tactus-runc state or cgroup is left for c2" 1 "" test -e /run/containerd/runc/default/c2 -o -e $CG/default/c2
  expect "vm oci: ctr run -t (a terminal through --console-socket)" 5 "/dev/pts/" \
    script -qec "$CR -t --rm --rootfs $W/rootfs c3 sh -c 'tty; exit 5'" /dev/null
  # ctr's spec mounts no /sys/fs/cgroup: look from the host, at /<namespace>/<id>.
  expect "vm oci: ctr run --memory-limit sets memory.max of /default/<id>" 0 "67108864" \
    sh -c "$CR -d --memory-limit 67108864 --rootfs $W/rootfs c4 sleep 100 && cat $CG/default/c4/memory.max; ctr task kill -s KILL c4; sleep 0.5; ctr task delete c4 >/dev/null; ctr container rm c4"
  expect "vm oci: ctr run -d, ctr task kill -s KILL, delete" 0 "" sh -c "$CR -d --rootfs $W/rootfs c5 sleep 100 && ctr task kill -s KILL c5 && sleep 0.5 && ctr task delete c5 && ctr container rm c5"
  kill %1 2>/dev/null
  wait 2>/dev/null
fi

# ---------------------------------------------------------------- 3. podman
mkdir -p /var/lib/containers /run/containers /var/tmp
P=(podman --runtime $RUNC --cgroup-manager cgroupfs)
tar -C $W/rootfs -cf /var/tmp/busybox.tar .
expect "vm oci: podman import of a busybox rootfs" 0 "" "${P[@]}" import /var/tmp/busybox.tar localhost/busybox:test
expect "vm oci: podman run --rm returns the container's exit code (4)" 4 "hello-podman" "${P[@]}" run --rm --network none localhost/busybox:test sh -c 'echo hello-podman; exit 4'
expect "vm oci: podman run -d" 0 "" "${P[@]}" run -d --name p1 --network none localhost/busybox:test sh -c 'echo logged-line; trap "exit 0" TERM; while :; do sleep 0.2; done'
expect "vm oci: podman ps shows it Up" 0 "Up" sh -c "$(printf '%q ' "${P[@]}") ps | grep p1"
expect "vm oci: podman exec" 0 "in-podman-exec" "${P[@]}" exec p1 sh -c 'echo in-podman-exec'
expect "vm oci: podman exec returns the exit code (6)" 6 "" "${P[@]}" exec p1 sh -c 'exit 6'
expect "vm oci: podman logs" 0 "logged-line" "${P[@]}" logs p1
expect "vm oci: podman stop" 0 "p1" "${P[@]}" stop -t 5 p1
expect "vm oci: podman ps -a shows it Exited (0)" 0 "Exited (0)" sh -c "$(printf '%q ' "${P[@]}") ps -a | grep p1"
expect "vm oci: podman rm" 0 "" "${P[@]}" rm p1
expect "vm oci: podman run -d + rm -f of a running container" 0 "" sh -c "$(printf '%q ' "${P[@]}") run -d --name p2 --network none localhost/busybox:test sleep 100 && $(printf '%q ' "${P[@]}") rm -f -t 0 p2"
expect "vm oci: podman run --memory sets memory.max" 0 "67108864" "${P[@]}" run --rm --network none --memory 64m localhost/busybox:test cat /sys/fs/cgroup/memory.max
expect "vm oci: podman run -t" 0 "/dev/pts/0" script -qec "$(printf '%q ' "${P[@]}") run --rm -t --network none localhost/busybox:test tty" /dev/null
left=$(ls /run/tactus-runc 2>/dev/null | wc -l)
[ "$left" = 0 ] && pass "vm oci: no tactus-runc state left after podman" || fail "vm oci: no tactus-runc state left after podman" "$(ls /run/tactus-runc)"
exit 0
