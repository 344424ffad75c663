#!/usr/bin/env bash
# OCI run of a busybox /bin/true bundle: tactus-runc vs runc, hyperfine,
# same session.  Target (design.md): tactus-runc run <= 0.3 x runc run.
#
#   bench/oci.sh            BENCH_RUNS=N (default 100)
#
# Safety: runc as root on a host whose cgroup v1 hierarchies are mounted
# (hybrid, as the build hosts are) creates cgroups in them, which is never
# allowed here.  So where any v1 hierarchy is mounted, BOTH runtimes run as
# an unprivileged user (uid 65534, setpriv) with a rootless config (user
# namespace): runc then cannot write cgroup v1 at all.  On a pure cgroup v2
# host both run as root.  Installs hyperfine, runc, busybox-static when
# missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNC_TR=$PWD/$BUILD/tactus-runc
RUNS=${BENCH_RUNS:-100}
[ -x "$RUNC_TR" ] || { echo "bench/oci: $RUNC_TR is not built (make)"; exit 1; }

need=()
for t in hyperfine:hyperfine runc:runc busybox:busybox-static setpriv:util-linux; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  else echo "bench/oci: missing ${need[*]} (run as root to install)"; exit 1; fi
fi

v1=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { print $(i+1); break } }' /proc/self/mountinfo | grep -cx cgroup || true)
if [ "$(id -u)" != 0 ] || [ "$v1" -gt 0 ]; then
  mode=rootless
  as() { setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- "$@"; }
  [ "$(id -u)" = 0 ] || as() { "$@"; }
else
  mode=root
  as() { "$@"; }
fi

W=$(mktemp -d /tmp/tactus-bench-oci.XXXXXX)
chmod 0755 "$W"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/b/rootfs/bin" "$W/state-tr" "$W/state-runc"
cp "$(readlink -f "$(command -v busybox)")" "$W/b/rootfs/bin/busybox"
ln -s busybox "$W/b/rootfs/bin/true"
ln -s busybox "$W/b/rootfs/bin/sh"
if [ "$mode" = rootless ] && [ "$(id -u)" = 0 ]; then chown -R 65534:65534 "$W"; fi
if [ "$mode" = rootless ]; then (cd "$W/b" && as runc spec --rootless); else (cd "$W/b" && runc spec); fi
python3 - "$W/b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
chmod -R a+rX "$W/b"

echo "bench/oci: mode $mode (cgroup v1 hierarchies mounted: $v1), $RUNS runs each"
as "$RUNC_TR" --root "$W/state-tr" run --bundle "$W/b" check-tr
as runc --root "$W/state-runc" run --bundle "$W/b" check-runc
cd "$W"
as hyperfine -N -w 10 -r "$RUNS" --export-json "$W/oci.json" \
  "$RUNC_TR --root $W/state-tr run --bundle $W/b bench-tr" \
  "runc --root $W/state-runc run --bundle $W/b bench-runc"
python3 - "$W/oci.json" "$mode" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
tr, rc = r[0]["median"] * 1000, r[1]["median"] * 1000
ratio = tr / rc
print("\nOCI run of busybox /bin/true (%s): tactus-runc %.2f ms, runc %.2f ms: ratio %.2f (target <= 0.30: %s)"
      % (sys.argv[2], tr, rc, ratio, "met" if ratio <= 0.30 else "NOT met"))
PY
