# Shared by the benchmark scripts: a busybox /bin/true bundle and how to run
# runc safely.  Source it after setting BUILD.
#
# Safety: runc as root on a host whose cgroup v1 hierarchies are mounted
# (hybrid, as the build hosts are) creates cgroups in them, which is never
# allowed here.  So where any v1 hierarchy is mounted, OCI runtimes run as an
# unprivileged user (uid 65534, setpriv) with a rootless config (a user
# namespace): runc then cannot write cgroup v1 at all.  On a pure cgroup v2
# host they run as root.

bench_oci_mode() {
  local v1
  v1=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { print $(i+1); break } }' /proc/self/mountinfo | grep -cx cgroup || true)
  if [ "$(id -u)" != 0 ] || [ "$v1" -gt 0 ]; then
    BENCH_OCI_MODE=rootless
    if [ "$(id -u)" = 0 ]; then
      as_oci() { setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- "$@"; }
    else
      as_oci() { "$@"; }
    fi
  else
    BENCH_OCI_MODE=root
    as_oci() { "$@"; }
  fi
}

# bench_bundle DIR: DIR/b is a busybox bundle running /bin/true, readable by
# the user as_oci runs as; DIR/state-* are state roots for the runtimes.
bench_bundle() {
  local W=$1
  mkdir -p "$W/b/rootfs/bin" "$W/state-tr" "$W/state-runc"
  chmod 0755 "$W"
  cp "$(readlink -f "$(command -v busybox)")" "$W/b/rootfs/bin/busybox"
  ln -sf busybox "$W/b/rootfs/bin/true"
  ln -sf busybox "$W/b/rootfs/bin/sh"
  if [ "$BENCH_OCI_MODE" = rootless ] && [ "$(id -u)" = 0 ]; then chown -R 65534:65534 "$W"; fi
  rm -f "$W/b/config.json"
  if [ "$BENCH_OCI_MODE" = rootless ]; then (cd "$W/b" && as_oci runc spec --rootless); else (cd "$W/b" && runc spec); fi
  python3 - "$W/b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
  chmod -R a+rX "$W/b"
}
