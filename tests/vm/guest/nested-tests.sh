#!/bin/bash
# The nested lane's guest tests (tests/vm/nested.sh): tactus-run in a podman
# container (runc outside), as root in the VM.
set -u
[ -f /.stage2 ] || { echo "FAIL: vm nested: guest tests: refusing to run outside the lane's VM"; exit 1; }
. "$TESTS_DIR/lib.sh"
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export XDG_RUNTIME_DIR=/run
mkdir -p /var/lib/containers /run/containers /var/tmp /nested/work
P=(podman --runtime /usr/bin/runc --cgroup-manager cgroupfs)
tar -C /nested/rootfs -cf /var/tmp/nested.tar .
out=$("${P[@]}" import /var/tmp/nested.tar localhost/tactus-nested:1 2>&1) \
  && pass "vm nested: podman import of a tactus-run image" || fail "vm nested: podman import" "$out"
cp /nested/hello.tac /nested/work/
chmod 0777 /nested/work
RUN=("${P[@]}" run --rm --network none -v /nested/work:/work -w /work)
# 1. What refuses the cage, each with its fix in `sandbox status`:
#    the defaults (masked /proc and the default seccomp profile), then each
#    fix alone.
status_case() { # NAME NEEDLE... -- PODMAN-OPTIONS...
  local name=$1 out code ok=1 n
  shift
  local needles=()
  while [ "$1" != -- ]; do needles+=("$1"); shift; done
  shift
  out=$(timeout 120 "${RUN[@]}" "$@" localhost/tactus-nested:1 /usr/local/bin/tactus-run sandbox status 2>&1); code=$?
  for n in "${needles[@]}"; do [[ "$out" == *"$n"* ]] || ok=0; done
  if [ "$code" = 1 ] && [[ "$out" == *"CANNOT be built"* ]] && [ $ok = 1 ]; then
    pass "vm nested: $name: sandbox status refuses and names the fix (${needles[*]})"
  else
    fail "vm nested: $name: sandbox status refuses and names the fix (${needles[*]})" "exit $code: $(echo "$out" | grep ' NO ' | tail -2 | cut -c1-400 | tr '\n' '|')"
  fi
}
status_case "the container defaults" "unmask=/proc/*" "deploy/seccomp/tactus-run.json" --
status_case "/proc unmasked, the default seccomp profile" "deploy/seccomp/tactus-run.json" -- --security-opt 'unmask=/proc/*'
status_case "the shipped profile, /proc masked" "unmask=/proc/*" -- --security-opt seccomp=/tests/tactus-run.json
# 2. The shipped profile (and /proc unmasked): a full cage, a procedure runs.
SEC=(--security-opt seccomp=/tests/tactus-run.json --security-opt unmask=/proc/*)
out=$(timeout 120 "${RUN[@]}" "${SEC[@]}" localhost/tactus-nested:1 /usr/local/bin/tactus-run sandbox status 2>&1); code=$?
echo "$out" | grep -E ' NO ' | cut -c1-300 | sed 's/^/  status| /'
[ "$code" = 0 ] && [[ "$out" == *"a full cage was built"* ]] \
  && pass "vm nested: with deploy/seccomp/tactus-run.json, sandbox status builds a full cage" \
  || fail "vm nested: with deploy/seccomp/tactus-run.json, sandbox status builds a full cage" "exit $code: $(echo "$out" | tail -3 | tr '\n' '|')"
out=$(timeout 120 "${RUN[@]}" "${SEC[@]}" localhost/tactus-nested:1 /usr/local/bin/tactus-run run hello.tac 2>&1); code=$?
[ "$code" = 0 ] && [[ "$out" == *"hello from a cage in a container"* ]] \
  && pass "vm nested: tactus-run run hello.tac, sandboxed inside the container" \
  || fail "vm nested: tactus-run run hello.tac inside the container" "exit $code: $(echo "$out" | tail -4 | tr '\n' '|')"
exit 0
