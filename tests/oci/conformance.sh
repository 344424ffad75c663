#!/usr/bin/env bash
# OCI lane: opencontainers/runtime-tools validation against tactus-runc.
#
# The programs come from the suites folder beside the checkout
# (TR_OCI_SUITES, default "$repo/../shared/suites"), are built once with
# its offline build script and cached in $BUILD/runtime-tools, and run as
# root with RUNTIME=tactus-runc.  A visible SKIP when the folder, Go or
# root is missing.
#
# Strict scoring: a program passes only when its TAP plan is complete
# (a "1..N" line and N test points), no test point is "not ok", it exits
# 0 within its time limit, and its log holds no error: no YAML diagnostic
# with an "error" key outside a test point (the hook programs report only
# that way, under an empty plan "1..0"), no "signal: broken pipe",
# "level=error" or Go panic.
#
# 58 programs: 44 general ones (the score is out of these) and 14
# cgroups_*/linux_cgroups_* ones, not run on the host (their checks know
# only cgroup v1; the VM lane is the place for cgroups).  Of the 44,
# delete_only_create_resources is not run either (it writes the v1 pids
# hierarchy itself) and counts as not passed.
# The programs build configs for root without a user namespace: none of
# them can run rootless.
#
# tests/oci/conformance-known.txt lists programs that fail through a bug
# of their own, with the line of their source that is wrong; a failure
# there is a SKIP naming it.  tests/oci/conformance-todo.txt lists the
# runtime's remaining deviations: a failure there is a SKIP naming it; a
# failure of any other program is a FAIL (the score never goes back).
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"

repo=$(cd "$TESTS_DIR/.." && pwd)
SUITES=${TR_OCI_SUITES:-$repo/../shared/suites}
TARBALL=$SUITES/runtime-tools-260e151b.tar.gz
TOTAL=44
PER_PROGRAM_TIMEOUT=${TR_OCI_CONFORMANCE_TIMEOUT:-90}

if [ ! -f "$TARBALL" ] || [ ! -x "$SUITES/build-runtime-tools.sh" ]; then
  skip "oci conformance" "no runtime-tools in $SUITES (set TR_OCI_SUITES to the suites folder)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then skip "oci conformance" "needs root"; exit 0; fi
[ -x "$RUNC" ] || { fail "oci conformance: $RUNC is missing" "run make"; exit 1; }
if ! command -v go >/dev/null 2>&1; then
  skip "oci conformance" "Go is not installed (make deps-oci installs golang-go)"
  exit 0
fi

# ---- build (cached: rebuilt when the tarball or the build script changes)
CACHE=$repo/$BUILD/runtime-tools
key=$(cat "$TARBALL" "$SUITES/build-runtime-tools.sh" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$CACHE/.tactus-stamp" 2>/dev/null)" != "$key" ]; then
  rm -rf "$CACHE"
  start=$SECONDS
  if ! "$SUITES/build-runtime-tools.sh" "$CACHE" >"$repo/$BUILD/runtime-tools.log" 2>&1; then
    fail "oci conformance: build runtime-tools" "see $BUILD/runtime-tools.log: $(tail -3 "$repo/$BUILD/runtime-tools.log" | tr '\n' ' ')"
    exit 1
  fi
  echo "$key" >"$CACHE/.tactus-stamp"
  echo "# built runtime-tools in $((SECONDS - start))s (cached in $BUILD/runtime-tools)"
fi

# listed FILE NAME: the rest of NAME's line in FILE (empty when absent).
listed() { awk -v n="$2" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }' "$1" 2>/dev/null; }
KNOWN=$TESTS_DIR/oci/conformance-known.txt
TODO=$TESTS_DIR/oci/conformance-todo.txt

# score OUT ERR RC: prints "pass" or the first reason it does not pass.
score() {
  local out=$1 errf=$2 code=$3
  if [ "$code" = 124 ]; then echo "timed out after ${PER_PROGRAM_TIMEOUT}s"; return; fi
  awk -v code="$code" -v errf="$errf" '
    /^1\.\.[0-9]+/ { if (plan == "") plan = substr($1, 4) + 0 }
    /^ok / { points++; attached = 1 }
    /^not ok / { points++; attached = 1; if (notok == "") notok = $0 }
    /^  ---/ { inyaml = 1; yattached = attached; next }
    /^  \.\.\./ { inyaml = 0; attached = 0; next }
    inyaml && !yattached && /"error"/ { if (diag == "") { diag = $0; getline rest; } }
    /signal: broken pipe|level=error|^panic:/ { if (logerr == "") logerr = $0 }
    END {
      while ((getline line < errf) > 0)
        if (line ~ /signal: broken pipe|level=error|^panic:/ && logerr == "") logerr = line
      if (notok != "") { print notok; exit }
      if (plan == "") { print "no TAP plan (exit " code ")"; exit }
      if (points != plan) { print "plan 1.." plan " but " points + 0 " test points"; exit }
      if (diag != "") { gsub(/^ +/, "", diag); print "diagnostic " diag; exit }
      if (logerr != "") { print "log: " logerr; exit }
      if (code != 0) { print "exit " code; exit }
      print "pass"
    }' "$out"
}

# host_limit NAME: succeeds (printing why) when this host, not the runtime,
# keeps NAME from passing.
host_limit() {
  case "$1" in
    process_capabilities)
      # It asks for every capability and checks each inside: the runtime
      # cannot grant one its own bounding set lacks (it drops it with a
      # warning, as the spec asks).
      local bnd last want
      bnd=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
      last=$(cat /proc/sys/kernel/cap_last_cap)
      want=$(printf '%x' $(((1 << (last + 1)) - 1)))
      if [ "$((16#$bnd & 16#$want))" != "$((16#$want))" ]; then
        echo "the runtime's bounding set here is $bnd, not every capability up to $last"
        return 0
      fi ;;
  esac
  return 1
}

# Against a sanitized build: LeakSanitizer's exit-time check attaches to
# the process from a helper it clones, which cannot work once the runtime
# has joined a pid namespace by path for its children (linux_ns_path): it
# spins for ever.  The runtime's leaks are checked by the other oci lanes.
if [ -n "${TR_SANITIZED:-}" ]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi

passed=0 known=0 todo=0 notrun=0 hostskip=0
work=$(mktemp -d /tmp/tactus-oci-conf.XXXXXX)
# Traversable: containers with a user namespace open their bundles there.
mkdir -p "$work/tmp" && chmod 0755 "$work" "$work/tmp"
# What a program leaves when it fails or times out (its bundles under
# $TMPDIR, containers in the runtime's default root) goes with the lane.
cleanup_conformance() {
  "$RUNC" list --format json 2>/dev/null | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c.get("bundle", "").startswith(sys.argv[1] + "/"):
        print(c["id"])' "$work" | while read -r id; do "$RUNC" delete --force "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup_conformance EXIT
lane_start=$SECONDS
for t in "$CACHE"/validation/*/*.t; do
  name=$(basename "$t" .t)
  case "$name" in
    cgroups_* | linux_cgroups_*)
      skip "oci conformance: $name" "not run on the host: its cgroup checks know only cgroup v1"
      continue ;;
    delete_only_create_resources)
      notrun=$((notrun + 1))
      skip "oci conformance: $name" "not run on the host: it writes the cgroup v1 pids hierarchy itself"
      continue ;;
  esac
  if why=$(host_limit "$name"); then
    skip "oci conformance: $name" "this host cannot run it: $why"
    hostskip=$((hostskip + 1))
    continue
  fi
  start=$SECONDS
  # The programs find rootfs-amd64.tar.gz and runtimetest in their cwd.
  (cd "$CACHE" && TMPDIR=$work/tmp RUNTIME=$RUNC timeout -k 5 "$PER_PROGRAM_TIMEOUT" "$t" \
    >"$work/$name.out" 2>"$work/$name.err" </dev/null)
  code=$?
  why=$(score "$work/$name.out" "$work/$name.err" "$code")
  secs=$((SECONDS - start))
  if [ "$why" = pass ]; then
    passed=$((passed + 1))
    pass "oci conformance: $name (${secs}s)"
    [ -n "$(listed "$TODO" "$name")" ] && echo "# $name passes now: remove it from tests/oci/conformance-todo.txt"
    [ -n "$(listed "$KNOWN" "$name")" ] && echo "# $name passes now: remove it from tests/oci/conformance-known.txt"
  elif k=$(listed "$KNOWN" "$name") && [ -n "$k" ]; then
    known=$((known + 1))
    skip "oci conformance: $name" "the program's own bug: $k (here: $why)"
  elif k=$(listed "$TODO" "$name") && [ -n "$k" ]; then
    todo=$((todo + 1))
    skip "oci conformance: $name" "not yet conformant: $k (here: $why)"
  else
    fail "oci conformance: $name" "$why; stderr: $(head -c 300 "$work/$name.err" | tr '\n' ' ')"
  fi
  if [ -n "${TR_OCI_CONFORMANCE_KEEP:-}" ]; then
    mkdir -p "$TR_OCI_CONFORMANCE_KEEP" && cp "$work/$name.out" "$work/$name.err" "$TR_OCI_CONFORMANCE_KEEP/"
  fi
done
echo "# oci conformance: $passed of $TOTAL pass strictly; $known the suite's own bugs;" \
  "$todo runtime deviations still listed; $hostskip this host cannot run; $notrun not run here (of 44); $((SECONDS - lane_start))s"
