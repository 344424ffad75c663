#!/bin/bash
# The systemd lane's guest tests (tests/vm/systemd.sh): run as a oneshot
# unit (tactus-vm-tests.service) once systemd, PID 1, is up on a cgroup v2
# only kernel.  Prints PASS:/FAIL:/SKIP: lines on the serial console and
# powers the VM off.
#   1. tactus-runc --systemd-cgroup: a slice:prefix:name cgroupsPath is a
#      transient scope (Delegate=yes, MemoryMax/TasksMax/CPUQuota as unit
#      properties and in the cgroup files), update, exec, delete.
#   2. containerd's CRI plugin, runtime handler "tactus", through the CRI
#      v1 gRPC API (cri.py): a pod's lifecycle on the systemd driver
#      (SystemdCgroup = true), then on cgroupfs.
set -u
read -r up _ </proc/uptime
echo "TACTUS-VM-BEGIN uptime=${up}s kernel=$(uname -r) cpus=$(nproc) pid1=$(cat /proc/1/comm)"
finish() {
  read -r up _ </proc/uptime
  echo "TACTUS-VM-END rc=$1 uptime=${up}s"
  sync
  systemctl poweroff --force --force
  exit "$1"
}
[ -f /.stage2 ] && [ "$(cat /proc/1/comm)" = systemd ] \
  || { echo "FAIL: vm systemd: guest tests: refusing to run outside the lane's VM"; finish 1; }
. "$TESTS_DIR/lib.sh"
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUNC=/usr/local/bin/tactus-runc
CG=/sys/fs/cgroup
W=/oci
OUTER=180
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
expect() { # expect NAME WANT-RC NEEDLE CMD...
  local name=$1 want=$2 needle=$3 out code t0
  shift 3
  t0=$(now_ms)
  out=$(timeout "$OUTER" "$@" 2>&1 </dev/null); code=$?
  if [ "$code" = "$want" ] && [[ "$out" == *"$needle"* ]]; then
    pass "$name ($(( $(now_ms) - t0 )) ms)"
  else
    fail "$name" "exit $code (want $want), want '$needle' in: $(echo "$out" | tail -4 | tr '\n' '|')"
  fi
}
is() { # is NAME GOT WANT
  [ "$2" = "$3" ] && pass "$1 ($2)" || fail "$1" "got '$2', want '$3'"
}

st=$(systemctl is-system-running 2>&1)
echo "vm systemd: $(systemctl --version | head -1); system $st"
[ "$(stat -f -c %T $CG)" = cgroup2fs ] && pass "vm systemd: /sys/fs/cgroup is cgroup2 only" \
  || fail "vm systemd: /sys/fs/cgroup is cgroup2 only" "$(stat -f -c %T $CG)"

# ---------------------------------------------------------------- rootfs
mkdir -p $W/rootfs/{bin,etc,proc,sys,dev,tmp,root}
cp "$(readlink -f /usr/bin/busybox)" $W/rootfs/bin/busybox
for a in $(/usr/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$W/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >$W/rootfs/etc/passwd
printf 'root:x:0:\n' >$W/rootfs/etc/group
chmod 1777 $W/rootfs/tmp

# ---------------------------------------------------------------- 1. tactus-runc --systemd-cgroup
bundle() { # bundle DIR ARGS-JSON CGROUPS-PATH RESOURCES-JSON
  mkdir -p "$1" && ln -sfn $W/rootfs "$1/rootfs"
  cat >"$1/config.json" <<CONF
{"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}, "hostname": "vm-sd",
 "process": {"terminal": false, "cwd": "/", "args": $2, "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
   "noNewPrivileges": true},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
   {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}, {"type": "cgroup"}],
   "cgroupsPath": "$3", "resources": $4}}
CONF
}
bundle $W/sd1 '["sleep", "600"]' "tactus-test.slice:tactus:sd1" \
  '{"memory": {"limit": 67108864}, "pids": {"limit": 32}, "cpu": {"quota": 20000, "period": 100000, "shares": 1024}}'
expect "vm systemd: tactus-runc --systemd-cgroup run -d (slice:prefix:name)" 0 "" \
  sh -c "$RUNC --systemd-cgroup run -d -b $W/sd1 sd1 >/dev/null 2>&1"
d=$CG/tactus.slice/tactus-test.slice/tactus-sd1.scope
is "vm systemd: the scope is active" "$(systemctl is-active tactus-sd1.scope 2>&1)" active
is "vm systemd: the scope's unit properties" \
  "$(systemctl show -p Slice -p Delegate -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec tactus-sd1.scope | sort | tr '\n' ' ')" \
  "CPUQuotaPerSecUSec=200ms Delegate=yes MemoryMax=67108864 Slice=tactus-test.slice TasksMax=32 "
is "vm systemd: the scope's cgroup files (memory.max pids.max cpu.max cpu.weight)" \
  "$(cat $d/memory.max $d/pids.max $d/cpu.max $d/cpu.weight 2>&1 | tr '\n' ' ')" "67108864 32 20000 100000 39 "
pid=$($RUNC state sd1 | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
is "vm systemd: the init is in the scope" "$(grep '^0::' /proc/$pid/cgroup 2>&1)" "0::/tactus.slice/tactus-test.slice/tactus-sd1.scope"
is "vm systemd: only the init is in the scope (the placeholder is gone)" "$(cat $d/cgroup.procs | tr '\n' ' ')" "$pid "
expect "vm systemd: exec into a scoped container (at the root of its cgroup namespace: the scope)" 0 "0::/" $RUNC exec sd1 cat /proc/self/cgroup
expect "vm systemd: update --memory --pids-limit" 0 "" $RUNC update --memory 128m --pids-limit 64 sd1
is "vm systemd: update wrote the cgroup files" "$(cat $d/memory.max $d/pids.max | tr '\n' ' ')" "134217728 64 "
is "vm systemd: update set the unit's properties too (kept across daemon-reload)" \
  "$(systemctl daemon-reload; systemctl show -p MemoryMax -p TasksMax tactus-sd1.scope | sort | tr '\n' ' ') $(cat $d/memory.max)" \
  "MemoryMax=134217728 TasksMax=64  134217728"
expect "vm systemd: delete --force" 0 "" $RUNC delete --force sd1
sleep 0.3
is "vm systemd: the scope is gone after delete" "$(systemctl is-active tactus-sd1.scope 2>&1; [ -e $d ] && echo dir-left)" inactive
bundle $W/sd2 '["sh", "-c", "grep ^0:: /proc/self/cgroup; exit 3"]' ":tactus:sd2" '{"pids": {"limit": 16}}'
expect "vm systemd: run in system.slice (empty slice) returns the exit code (3)" 3 "0::/" \
  $RUNC --systemd-cgroup run -b $W/sd2 sd2
is "vm systemd: the scope of a container that exited is gone" \
  "$(systemctl is-active tactus-sd2.scope 2>&1; [ -e $CG/system.slice/tactus-sd2.scope ] && echo dir-left)" inactive
bundle $W/sd3 '["true"]' "tactus-test.slice:tactus:sd3" '{}'
expect "vm systemd: without --systemd-cgroup a slice:prefix:name path is refused, naming the flag" 1 "--systemd-cgroup" \
  $RUNC run -b $W/sd3 sd3
bundle $W/sd4 '["true"]' "no-such-suffix:tactus:sd4" '{}'
expect "vm systemd: a cgroupsPath whose slice is not NAME.slice is refused" 1 "is not a slice name" \
  $RUNC --systemd-cgroup run -b $W/sd4 sd4
is "vm systemd: no tactus scope is left" "$(systemctl list-units --all --no-legend 'tactus-*.scope' | wc -l)" 0

# ---------------------------------------------------------------- 2. CRI
cat >$W/seccomp.json <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
JSON
python3 /tests/mkimage.py $W/rootfs localhost/tactus-busybox:1 $W/busybox-image.tar '["/bin/sh"]'
python3 /tests/mkimage.py $W/rootfs localhost/tactus-pause:1 $W/pause-image.tar '["/bin/sleep", "2147483647"]'
containerd_config() { # SYSTEMD-CGROUP (true|false)
  cat >/etc/containerd/config.toml <<TOML
version = 2
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/tactus-pause:1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
  # The default handler stays runc (not in the guest: never used here);
  # pods select tactus by runtime_handler.
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tactus]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tactus.options]
      BinaryName = "/usr/local/bin/tactus-runc"
      Root = "/run/containerd/tactus-runc"
      SystemdCgroup = $1
TOML
}
imported=""
for driver in systemd cgroupfs; do
  if [ $driver = systemd ]; then containerd_config true; parent=kubepods-besteffort-podtest1.slice
  else containerd_config false; parent=/kubepods/besteffort/podtest2; fi
  t0=$(now_ms)
  systemctl restart containerd
  for ((i = 0; i < 600; i++)); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
  if ! ctr version >/dev/null 2>&1; then
    fail "vm cri ($driver driver): containerd starts" "$(journalctl -u containerd --no-pager | tail -5 | tr '\n' '|')"
    continue
  fi
  pass "vm cri ($driver driver): containerd $(containerd --version | awk '{print $3}') with the CRI plugin is up ($(( $(now_ms) - t0 )) ms)"
  if [ -z "$imported" ]; then
    expect "vm cri: import the pause and workload images into k8s.io (native snapshotter)" 0 "" \
      sh -c "ctr -n k8s.io images import --snapshotter native $W/pause-image.tar && ctr -n k8s.io images import --snapshotter native $W/busybox-image.tar"
    imported=1
  fi
  timeout 300 python3 /tests/cri.py /run/containerd/containerd.sock lifecycle tactus $driver \
    localhost/tactus-busybox:1 $parent $W/seccomp.json
  rc=$?
  [ $rc = 0 ] || [ $rc = 1 ] || fail "vm cri ($driver driver): cri.py" "exited $rc"
  [ $rc = 0 ] || journalctl -u containerd --no-pager | grep -E 'level=error|StopContainer|kill' | grep -v 'load cni' | tail -8 | cut -c1-900 | sed 's/^/  containerd| /'
done
if [ $driver = cgroupfs ]; then
  is "vm cri: no scope of a CRI container is left" "$(systemctl list-units --all --no-legend 'cri-containerd-*.scope' | wc -l)" 0
fi
systemctl stop containerd
finish 0
