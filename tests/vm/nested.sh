#!/usr/bin/env bash
# The real-kernel lane for tactus-run inside a container: podman 4.3 with
# runc (Debian's) as the outer runtime runs tactus-run in an unprivileged
# container.  With deploy/seccomp/tactus-run.json (and /proc unmasked) the
# cage is built and a procedure runs; with the container defaults,
# `sandbox status` names what refuses it and the fix.
#
#   tests/vm/nested.sh        (also run by: tests/run vm)
#
# Needs what tests/vm/oci.sh needs, plus runc (Debian's; installed, never
# run on the host).  Missing: SKIP.
set -u
cd "$(dirname "$0")/../.." || exit 1
missing=""
for b in podman conmon runc; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/bin/$b" ] || [ -x "/usr/sbin/$b" ] || [ -x "/usr/libexec/podman/$b" ] || missing+=" $b"
done
if [ -n "$missing" ]; then
  echo "SKIP: vm nested lane: not installed:$missing (apt-get install --no-install-recommends podman conmon runc)"
  exit 0
fi
export VM_GUEST_SCRIPT=tests/vm/guest/nested-tests.sh
export VM_EXTRA=tests/vm/nested-initramfs.inc
export VM_MEM=${VM_MEM:-3072}
export VM_TIMEOUT=${VM_TIMEOUT:-600}
exec tests/vm/run.sh
