#!/usr/bin/env bash
# The real-kernel lane: cgroup v2 limits (memory.max, pids.max, cpu.max) in a
# qemu VM, because the build hosts' own cgroups are hybrid (see README.md).
#
#   tests/vm/run.sh            (or: tests/run vm)
#
# 1. fetch Debian's cloud kernel (apt-get download + dpkg -x), cached in
#    .cache/vm/ (delete that directory to refetch);
# 2. build an initramfs: busybox-static, bash, setpriv, build/tactus-run,
#    the lane's vm-probe (and build/tests/tr-probe when built), each with
#    its shared libraries at their host paths;
# 3. boot it with qemu (software emulation) and forward the guest's
#    PASS:/FAIL:/SKIP: lines.
#
# Needs: qemu-system-x86 (--no-install-recommends is enough), busybox-static,
# gcc with the static libc (libc6-dev), apt-get/dpkg, gzip.
# Environment: TR, TR_PROBE, BUILD as in tests/run; VM_TIMEOUT (seconds,
# default 300); VM_ACCEL (qemu -accel, default tcg,thread=multi);
# VM_KEEP=1 keeps the initramfs tree in .cache/vm/root; VM_GUEST_SCRIPT=FILE
# runs FILE (bash, as root, in the guest) instead of guest/vm-tests.sh, for
# experiments: the guest's serial output is in .cache/vm/serial.log.
# VM_MEM (MiB, default 1024); VM_EXTRA=FILE is sourced while the initramfs
# is built, to add more to it (tests/vm/oci.sh uses both).  VM_BASE=TAR is
# a root tree the initramfs starts from (tests/vm/systemd.sh: a Debian
# system whose /init hands over to systemd); VM_APPEND adds to the kernel
# command line.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
TR=${TR:-$ROOT/$BUILD/tactus-run}
TR_PROBE=${TR_PROBE:-$ROOT/$BUILD/tests/tr-probe}
CACHE=$ROOT/.cache/vm
VM_TIMEOUT=${VM_TIMEOUT:-300}
CC=${CC:-gcc}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
lane_t0=$(now)

skip_lane() { echo "SKIP: vm lane: $*"; exit 0; }
fail_lane() { echo "FAIL: vm lane: $*"; exit 1; }

# ------------------------------------------------------------------ tools
command -v qemu-system-x86_64 >/dev/null \
  || skip_lane "qemu-system-x86_64 is not installed (apt-get install --no-install-recommends qemu-system-x86)"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
  [ -x "$b" ] && { BUSYBOX=$b; break; }
done
[ -n "$BUSYBOX" ] || skip_lane "busybox is not installed (apt-get install busybox-static)"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || skip_lane "no apt-get/dpkg to fetch the kernel with"
command -v gzip >/dev/null || skip_lane "gzip is not installed"
[ -x "$TR" ] || fail_lane "$TR is not built (run make)"

mkdir -p "$CACHE" || fail_lane "cannot create $CACHE"

# ------------------------------------------------------------------ kernel
# The cloud kernel boots with no module at all for what the lane uses:
# ttyS0 console (8250), initramfs (gzip), devtmpfs, tmpfs, cgroup2 with the
# memory/pids/cpu controllers, user/pid/net/ipc/uts/cgroup namespaces and
# seccomp are all built in (CONFIG_...=y).  Only its vmlinuz is kept.
fetch_kernel() {
  local dl="$CACHE/download" dep
  rm -rf "$dl" && mkdir -p "$dl" || return 1
  # apt-get download runs as the _apt user when it can write the directory.
  chmod 0777 "$dl" 2>/dev/null
  ( cd "$dl" && apt-get download -q linux-image-cloud-amd64 ) >"$dl/log" 2>&1 \
    || { apt-get update -q >>"$dl/log" 2>&1 \
         && ( cd "$dl" && apt-get download -q linux-image-cloud-amd64 ) >>"$dl/log" 2>&1; } \
    || { KERNEL_WHY="apt-get download linux-image-cloud-amd64 failed: $(grep -E '^(E|W):' "$dl/log" | head -2 | tr '\n' ' ')"; return 1; }
  # The metapackage depends on exactly one versioned image package.
  dep=$(dpkg-deb -f "$dl"/linux-image-cloud-amd64_*.deb Depends | tr ',' '\n' \
        | sed -n 's/^ *\(linux-image-[0-9][^ ]*-cloud-amd64\).*/\1/p' | head -1)
  [ -n "$dep" ] || { KERNEL_WHY="linux-image-cloud-amd64 names no versioned kernel package"; return 1; }
  ( cd "$dl" && apt-get download -q "$dep" ) >>"$dl/log" 2>&1 \
    || { KERNEL_WHY="apt-get download $dep failed: $(grep -E '^(E|W):' "$dl/log" | tail -2 | tr '\n' ' ')"; return 1; }
  mkdir -p "$dl/x" && dpkg -x "$dl/$dep"_*.deb "$dl/x" \
    || { KERNEL_WHY="dpkg -x $dep failed"; return 1; }
  cp "$dl"/x/boot/vmlinuz-* "$CACHE/vmlinuz.new" \
    || { KERNEL_WHY="$dep has no /boot/vmlinuz-*"; return 1; }
  basename "$dl"/x/boot/vmlinuz-* | sed 's/^vmlinuz-//' >"$CACHE/vmlinuz.version"
  mv "$CACHE/vmlinuz.new" "$CACHE/vmlinuz"
  rm -rf "$dl"
}

t=$(now)
KERNEL_WHY=""
if [ ! -s "$CACHE/vmlinuz" ]; then
  fetch_kernel || skip_lane "cannot fetch the kernel: $KERNEL_WHY"
  echo "vm lane: fetched kernel $(cat "$CACHE/vmlinuz.version") in $(since "$t") s"
else
  echo "vm lane: kernel $(cat "$CACHE/vmlinuz.version" 2>/dev/null) (cached in .cache/vm)"
fi

# ------------------------------------------------------------------ initramfs
t=$(now)
R=$CACHE/root
rm -rf "$R" && mkdir -p "$R" || fail_lane "cannot create $R"

# The host's top-level layout, usrmerge links included, so every library
# path ldd prints resolves the same way in the guest.
for d in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then
    target=$(readlink "/$d")
    ln -s "$target" "$R/$d"
    case "$target" in /*) mkdir -p "$R$target" ;; *) mkdir -p "$R/$target" ;; esac
  elif [ -d "/$d" ]; then mkdir -p "$R/$d"; fi
done
mkdir -p "$R"/{usr/bin,usr/sbin,usr/local/bin,etc,dev,proc,sys,tmp,run,root,newroot,tests,var/cache}
if [ -n "${VM_BASE:-}" ]; then
  tar -C "$R" -xf "$VM_BASE" --exclude='./dev/*' || fail_lane "cannot unpack $VM_BASE"
fi

# add_file SRC [DEST]: copy SRC (symlinks followed) to DEST in the guest
# (default: SRC's real path); a symlinked SRC gets the same link there.
add_file() {
  local src=$1 real dest
  real=$(readlink -f "$src") || return 1
  dest=${2:-$real}
  if [ ! -e "$R$dest" ]; then
    mkdir -p "$(dirname "$R$dest")" && cp -p "$real" "$R$dest" || return 1
  fi
  if [ -z "${2:-}" ] && [ "$src" != "$real" ] && [ ! -e "$R$src" ] && [ ! -L "$R$src" ]; then
    mkdir -p "$(dirname "$R$src")" && ln -s "$real" "$R$src"
  fi
}

# add_elf SRC [DEST]: the program and every shared library ldd finds.
add_elf() {
  local lib
  add_file "$@" || return 1
  while read -r lib; do
    add_file "$lib" || return 1
  done < <(ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}

build_initramfs() {
  add_elf "$BUSYBOX" || return 1
  add_elf /bin/bash || return 1
  command -v setpriv >/dev/null && { add_elf "$(command -v setpriv)" || return 1; }
  add_elf "$TR" /usr/local/bin/tactus-run || return 1
  [ -x "$TR_PROBE" ] && { add_elf "$TR_PROBE" /usr/local/bin/tr-probe || return 1; }
  # The lane's own payloads (static when the static libc is there).
  "$CC" -std=gnu11 -O1 -Wall -Wextra -static -o "$CACHE/vm-probe" tests/vm/vm-probe.c 2>"$CACHE/cc.log" \
    || "$CC" -std=gnu11 -O1 -Wall -Wextra -o "$CACHE/vm-probe" tests/vm/vm-probe.c 2>"$CACHE/cc.log" \
    || { echo "vm lane: $CC failed on tests/vm/vm-probe.c: $(tail -2 "$CACHE/cc.log")" >&2; return 1; }
  add_elf "$CACHE/vm-probe" /usr/local/bin/vm-probe || return 1
  # busybox applets for whatever is not there yet (bash stays bash).
  local bb applet
  bb=$(readlink -f "$BUSYBOX")
  while read -r applet; do
    [ -e "$R/$applet" ] || [ -L "$R/$applet" ] || ln -s "$bb" "$R/$applet" 2>/dev/null
  done < <("$BUSYBOX" --list-full)
  if [ -z "${VM_BASE:-}" ]; then
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
    # A loader cache for the guest's own libraries (needs root for chroot;
    # without it the loader's default paths find them as well).
    [ "$(id -u)" = 0 ] && : >"$R/etc/ld.so.conf" && ldconfig -r "$R" 2>/dev/null
    rm -f "$R/etc/ld.so.conf"
  elif [ "$(id -u)" = 0 ]; then
    ldconfig -r "$R" 2>/dev/null
  fi
  cp tests/vm/guest/init "$R/init" && chmod 0755 "$R/init" || return 1
  # What the guest tests must know about the build.
  if ldd "$TR" 2>/dev/null | grep -q libasan; then echo "TR_ASAN=1"; else echo "TR_ASAN=0"; fi >"$R/tests/build.env"
  cp tests/lib.sh "$R/tests/" && cp "${VM_GUEST_SCRIPT:-tests/vm/guest/vm-tests.sh}" "$R/tests/vm-tests.sh" || return 1
  # VM_EXTRA=FILE: sourced here to add more to the guest (add_elf, add_file, $R).
  if [ -n "${VM_EXTRA:-}" ]; then . "$VM_EXTRA" || return 1; fi
  ( cd "$R" && find . | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null ) | gzip -1 >"$CACHE/initramfs.gz" \
    && [ -s "$CACHE/initramfs.gz" ]
}
build_initramfs || fail_lane "could not build the initramfs (see above)"
[ "${VM_KEEP:-}" = 1 ] || rm -rf "$R"
echo "vm lane: initramfs $(du -k "$CACHE/initramfs.gz" | cut -f1) KiB built in $(since "$t") s"

# ------------------------------------------------------------------ boot
# No KVM on the build hosts: TCG, multi-threaded.  No NIC, no disk.
serial=$CACHE/serial.log
: >"$serial"
boot_t0=$(now)
booted="" finished="" guest_rc=""
shopt -s extglob
while IFS= read -r line; do
  # CRs and the firmware's terminal escapes (ESC c, ESC [ ... letter) off.
  line=${line//$'\r'/}
  line=${line//$'\e'\[*([0-9;?])[A-Za-z]/}
  line=${line//$'\e'[A-Za-z]/}
  printf '%s\n' "$line" >>"$serial"
  case "$line" in
    TACTUS-VM-BEGIN*)
      booted=$(since "$boot_t0")
      echo "vm lane: guest up after ${booted} s (${line#TACTUS-VM-BEGIN })" ;;
    TACTUS-VM-END*)
      finished=1
      guest_rc=${line#*rc=}; guest_rc=${guest_rc%% *} ;;
    TACTUS-VM-ERROR*) echo "vm lane: guest: $line" ;;
    PASS:* | FAIL:* | SKIP:*) printf '%s\n' "$line" ;;
  esac
done < <(timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 \
           -accel "${VM_ACCEL:-tcg,thread=multi}" -cpu max -m "${VM_MEM:-1024}" -smp 2 \
           -nographic -no-reboot -nic none -vga none \
           -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initramfs.gz" \
           -append "console=ttyS0 panic=-1 quiet ${VM_APPEND:-}" </dev/null 2>&1)
vm_s=$(since "$boot_t0")

if [ -z "$finished" ]; then
  if [ -z "$booted" ]; then
    echo "FAIL: vm lane: the VM did not finish: the guest never started its tests within ${VM_TIMEOUT} s"
  else
    echo "FAIL: vm lane: the VM did not finish within ${VM_TIMEOUT} s (guest up after ${booted} s)"
  fi
  echo "vm lane: last serial lines (full log: $serial):"
  tail -15 "$serial" | sed 's/^/  | /'
elif [ "$guest_rc" != 0 ]; then
  echo "FAIL: vm lane: the guest's test script exited $guest_rc"
fi
echo "vm lane: VM ran ${vm_s} s (boot ${booted:-?} s); whole lane $(since "$lane_t0") s"
grep -q '^FAIL: ' <(grep -E '^(PASS|FAIL|SKIP):' "$serial") && exit 1
[ -n "$finished" ] && [ "$guest_rc" = 0 ] || exit 1
exit 0
