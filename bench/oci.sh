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

. bench/lib.sh
bench_oci_mode
mode=$BENCH_OCI_MODE
as() { as_oci "$@"; }
W=$(mktemp -d /tmp/tactus-bench-oci.XXXXXX)
trap 'rm -rf "$W"' EXIT
bench_bundle "$W"

echo "bench/oci: mode $mode, $RUNS runs each"
as "$RUNC_TR" --root "$W/state-tr" run --bundle "$W/b" check-tr
as runc --root "$W/state-runc" run --bundle "$W/b" check-runc
# The same binary installed on a read-only mount (no CVE-2019-5736 re-exec:
# see shim/reexec.c), in a private mount namespace when we are root.
ro_cmd=()
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$W/ro"
  cp "$(readlink -f "$RUNC_TR")" "$W/ro/tactus-run"
  ln -s tactus-run "$W/ro/tactus-runc"
  ro_cmd=(unshare -m sh -c "mount --bind -o ro '$W/ro' '$W/ro' && exec \"\$0\" \"\$@\"")
fi
cd "$W"
cmds=("$RUNC_TR --root $W/state-tr run --bundle $W/b bench-tr"
      "runc --root $W/state-runc run --bundle $W/b bench-runc")
[ ${#ro_cmd[@]} -gt 0 ] && cmds+=("$W/ro/tactus-runc --root $W/state-tr run --bundle $W/b bench-tr-ro")
"${ro_cmd[@]}" bash -c "$(declare -f as_oci as); as hyperfine -N -w 10 -r $RUNS --export-json $W/oci.json $(printf '%q ' "${cmds[@]}")"
python3 - "$W/oci.json" "$mode" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
tr, rc = r[0]["median"] * 1000, r[1]["median"] * 1000
ratio = tr / rc
print("\nOCI run of busybox /bin/true (%s): tactus-runc %.2f ms, runc %.2f ms: ratio %.2f (target <= 0.30: %s)"
      % (sys.argv[2], tr, rc, ratio, "met" if ratio <= 0.30 else "NOT met"))
if len(r) > 2:
    ro = r[2]["median"] * 1000
    print("tactus-runc installed on a read-only mount (no re-exec): %.2f ms: ratio %.2f" % (ro, ro / rc))
PY
