#!/usr/bin/env bash
# The real-kernel lane with systemd as PID 1: the systemd cgroup driver
# (tactus-runc --systemd-cgroup: transient scopes over D-Bus) and a pod's
# whole lifecycle through containerd's CRI plugin with a `tactus` runtime
# handler, on both cgroup drivers (SystemdCgroup = true and false), driven
# by tests/vm/guest/cri.py through the CRI v1 gRPC API.
#
#   tests/vm/systemd.sh        (also run by: tests/run vm)
#
# The guest is a minimal Debian (the host's release) built by mmdebstrap
# from Debian packages — systemd, dbus, containerd, python3-grpcio,
# python3-protobuf — cached as .cache/vm/systemd-root.tar (rebuilt when the
# package list changes; delete it to refetch), then booted by run.sh with
# build/tactus-run added and its /init handing over to systemd.
# Needs: root (mmdebstrap), mmdebstrap, what run.sh needs.  Otherwise SKIP.
set -u
cd "$(dirname "$0")/../.." || exit 1
CACHE=$PWD/.cache/vm
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || { echo "SKIP: vm systemd lane: needs root (mmdebstrap builds the guest's root as root)"; exit 0; }
command -v mmdebstrap >/dev/null \
  || { echo "SKIP: vm systemd lane: mmdebstrap is not installed (apt-get install --no-install-recommends mmdebstrap)"; exit 0; }
BUILD=${BUILD:-build}
[ -x "$BUILD/tactus-run" ] || { echo "FAIL: vm systemd lane: $BUILD/tactus-run is not built (run make)"; exit 1; }

PKGS=systemd,systemd-sysv,dbus,containerd,python3-grpcio,python3-protobuf,procps
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$SUITE" ] || { echo "SKIP: vm systemd lane: /etc/os-release names no Debian release"; exit 0; }
tarball=$CACHE/systemd-root.tar
stamp="$SUITE minbase $PKGS"
mkdir -p "$CACHE"
if [ ! -s "$tarball" ] || [ "$(cat "$tarball.stamp" 2>/dev/null)" != "$stamp" ]; then
  t=$(now)
  rm -f "$tarball" "$tarball.stamp"
  # Documentation, man pages and locales are left out (~40 MB less to boot).
  if ! mmdebstrap --variant=minbase --include="$PKGS" \
         --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
         --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
         "$SUITE" "$CACHE/systemd-root.new.tar" >"$CACHE/mmdebstrap.log" 2>&1; then
    rm -f "$CACHE/systemd-root.new.tar"
    echo "SKIP: vm systemd lane: mmdebstrap $SUITE failed (offline?): $(grep -E '^E:' "$CACHE/mmdebstrap.log" | head -2 | tr '\n' ' ')"
    exit 0
  fi
  mv "$CACHE/systemd-root.new.tar" "$tarball" && echo "$stamp" >"$tarball.stamp"
  echo "vm systemd lane: built the Debian $SUITE guest root ($(du -m "$tarball" | cut -f1) MB) in $(since "$t") s"
else
  echo "vm systemd lane: Debian $SUITE guest root (cached in .cache/vm)"
fi
export VM_BASE=$tarball
export VM_GUEST_SCRIPT=tests/vm/guest/systemd-tests.sh
export VM_EXTRA=tests/vm/systemd-initramfs.inc
export VM_APPEND="systemd.show_status=0 systemd.unified_cgroup_hierarchy=1"
export VM_MEM=${VM_MEM:-3072}
export VM_TIMEOUT=${VM_TIMEOUT:-900}
exec tests/vm/run.sh
