#!/usr/bin/env bash
# A sandbox step the kernel refuses inside the child is reported with the
# step, the errno and what to do about it; exit 1, nothing left behind.
set -u
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
source "$TESTS_DIR/lib.sh"

# The runs' workspace: a scratch directory (not /tmp itself, which may
# hold tactus-run's state: a read-write workspace never may).
ws=$(scratch_dir)
trap 'rm -rf "$ws"' EXIT
before=$(leftovers)
out=$(cd "$ws" && "$TR" sandbox exec --ro-bind /etc:/proc/foo -- /bin/true 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"mount target /proc/foo"*"No such file or directory (the path is not in the sandbox"*"--bind SRC:DST or --ro-bind SRC:DST"* ]]; then
  pass "a refused mount step names the target, the errno and the fix"
else
  fail "refused mount step" "rc=$rc $out"
fi
out=$(cd "$ws" && as_nobody "$TR" sandbox exec --ro-bind /etc:/proc/foo -- /bin/true 2>&1); rc=$?
[ $rc = 1 ] && [[ "$out" == *"(the path is not in the sandbox"* ]] && pass "the same as an unprivileged user" \
  || fail "refused mount step as nobody" "rc=$rc $out"
out=$(cd "$ws" && "$TR" sandbox exec --no-system -- /bin/true 2>&1); rc=$?
[ $rc = 127 ] && [[ "$out" != *"the path is not in the sandbox"* ]] && pass "exec failures keep their own message and 127" \
  || fail "exec failure" "rc=$rc $out"
sleep 0.2
[ "$(leftovers)" = "$before" ] && pass "nothing left behind after failed setups" || fail "leftovers" "$(leftovers) vs $before"
