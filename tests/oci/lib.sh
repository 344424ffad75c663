# Helpers for the OCI lane (tests/oci/*.sh).  Source after tests/lib.sh.
#
#   RUNC              the runtime: build/tactus-runc (a link to tactus-run)
#   oci_setup         a scratch dir with a busybox rootfs ($ROOTFS) and a
#                     state root ($STATE); removed on exit
#   make_bundle DIR [PY]   config.json from `tactus-runc spec`, terminal off,
#                     rootfs linked in, cgroupsPath under tactus-oci-test-PID/;
#                     PY is Python run with `c` bound to the config dict
#   rc ...            run tactus-runc with --root $STATE
#   wait_status ID STATUS [TRIES]
#   cleanup_all       delete --force every container under $STATE
: "${TR:?}"
RUNC=${RUNC:-$(dirname "$TR")/tactus-runc}
BUSYBOX=${BUSYBOX:-/bin/busybox}
# One parent cgroup per script (removed by cleanup_all): two suites on one
# machine never share a container's cgroup.
OCI_CG_PARENT=tactus-oci-test-$$
# Where cgroup2 is mounted (by type: /sys/fs/cgroup/unified on hybrid hosts).
CG2=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -1)

oci_setup() {
  [ -x "$RUNC" ] || { fail "oci: $RUNC is missing" "run make"; exit 1; }
  if [ "$(id -u)" != 0 ]; then skip "oci lane" "needs root"; exit 0; fi
  if [ ! -x "$BUSYBOX" ] || ! "$BUSYBOX" --list >/dev/null 2>&1; then
    skip "oci lane" "busybox is not installed (apt-get install busybox-static)"; exit 0
  fi
  if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' && ldd "$BUSYBOX" >/dev/null 2>&1; then
    skip "oci lane" "$BUSYBOX is not static (apt-get install busybox-static)"; exit 0
  fi
  SCRATCH=$(mktemp -d /tmp/tactus-oci.XXXXXX)
  chmod 0755 "$SCRATCH"
  STATE=$SCRATCH/state
  ROOTFS=$SCRATCH/rootfs
  make_rootfs "$ROOTFS"
  trap 'cleanup_all; rm -rf "$SCRATCH"' EXIT
}

make_rootfs() {
  local r=$1 a
  mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,home/user}
  cp "$BUSYBOX" "$r/bin/busybox"
  for a in $("$BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -s busybox "$r/bin/$a" 2>/dev/null
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\ntty:x:5:\nnogroup:x:65534:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp"
}

# make_bundle DIR [PYTHON]: the runtime's own default spec, edited.
make_bundle() {
  local b=$1 py=${2:-}
  rm -rf "$b" && mkdir -p "$b" && ln -s "$ROOTFS" "$b/rootfs" || return 1
  ( cd "$b" && "$RUNC" spec ) || return 1
  python3 - "$b/config.json" "$(basename "$b")" "$OCI_CG_PARENT" <<PYEOF || return 1
import json, sys
path, name, parent = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(path))
c["process"]["terminal"] = False
c["root"]["path"] = "rootfs"
c["linux"]["cgroupsPath"] = "/%s/%s" % (parent, name)
# spec adds a cgroup namespace only on cgroup v2 unified hosts (as runc);
# the lane's bundles have one everywhere, so their results do not depend
# on the host's cgroup layout.
if not any(n["type"] == "cgroup" for n in c["linux"]["namespaces"]):
    c["linux"]["namespaces"].append({"type": "cgroup"})
$py
json.dump(c, open(path, "w"), indent=1)
PYEOF
}

rc() { "$RUNC" --root "$STATE" "$@"; }

status_of() { rc state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }

wait_status() {
  local id=$1 want=$2 tries=${3:-100} s
  for ((i = 0; i < tries; i++)); do
    s=$(status_of "$id")
    [ "$s" = "$want" ] && return 0
    sleep 0.05
  done
  return 1
}

cleanup_all() {
  local d
  [ -d "${STATE:-/nonexistent}" ] || return 0
  for d in "$STATE"/*; do
    [ -d "$d" ] && "$RUNC" --root "$STATE" delete --force "$(basename "$d")" >/dev/null 2>&1
  done
  rmdir "$CG2/$OCI_CG_PARENT" 2>/dev/null
  return 0
}

# check NAME CONDITION-COMMAND... : pass when the command succeeds.
check() {
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name" "${WHY:-condition failed: $*}"; fi
  WHY=""
}

# expect_out NAME WANT_RC NEEDLE CMD...: exit status and a substring of stdout+stderr.
expect_out() {
  local name=$1 want=$2 needle=$3 out code
  shift 3
  out=$("$@" 2>&1 </dev/null); code=$?
  if [ "$want" = nonzero ] && [ "$code" = 0 ]; then
    fail "$name" "exit 0, want non-zero: $(echo "$out" | head -3 | tr '\n' ' ')"
  elif [ "$want" != nonzero ] && [ "$code" != "$want" ]; then
    fail "$name" "exit $code, want $want: $(echo "$out" | tail -3 | tr '\n' ' ')"
  elif [[ "$out" != *"$needle"* ]]; then
    fail "$name" "output lacks '$needle': $(echo "$out" | tail -3 | tr '\n' ' ')"
  else
    pass "$name"
  fi
}

json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
