#!/usr/bin/env bash
# The real-kernel lane for the OCI runtime: containerd 1.6 (ctr + the runc
# v2 shim) and podman 4.3 (+ conmon) drive build/tactus-runc inside the
# qemu VM of run.sh — never on the host, whose cgroup v1 hierarchies both
# of them would reach into.  Also the cgroup v2 limits (memory.max,
# pids.max, cpu.max) through linux.resources and update, which the hybrid
# host cannot give.
#
#   tests/vm/oci.sh        (also run by: tests/run vm)
#
# Needs on the host: what run.sh needs, plus the Debian packages containerd,
# podman and conmon (installed, never started here: their binaries and
# libraries are copied into the initramfs).  Missing ones: SKIP.
# VM_TIMEOUT defaults to 900 s here, VM_MEM to 3072 MiB (the initramfs is
# ~150 MB of Go binaries, copied once more into the guest's tmpfs root).
set -u
cd "$(dirname "$0")/../.." || exit 1
missing=""
for b in containerd ctr containerd-shim-runc-v2 podman conmon; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/bin/$b" ] || [ -x "/usr/libexec/podman/$b" ] || missing+=" $b"
done
if [ -n "$missing" ]; then
  echo "SKIP: vm oci lane: not installed:$missing (apt-get install --no-install-recommends containerd podman conmon)"
  exit 0
fi
BUILD=${BUILD:-build}
RUNC_BIN=${RUNC:-$PWD/$BUILD/tactus-runc}
[ -e "$RUNC_BIN" ] || { echo "FAIL: vm oci lane: $RUNC_BIN is not built (run make)"; exit 1; }
export VM_GUEST_SCRIPT=tests/vm/guest/oci-tests.sh
export VM_EXTRA=tests/vm/oci-initramfs.inc
export VM_MEM=${VM_MEM:-3072}
export VM_TIMEOUT=${VM_TIMEOUT:-900}
exec tests/vm/run.sh
