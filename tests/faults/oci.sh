#!/usr/bin/env bash
# OCI faults: delete --force in every state, a container whose init dies
# between create and start, a runtime killed in the middle of create, and
# a state directory with garbage in it.  Nothing may be left behind.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

procs_of() { pgrep -f "$SCRATCH" 2>/dev/null | grep -v "^$$\$" | wc -l; }
no_leftovers() {
  local id=$1
  [ ! -e "$STATE/$id" ] && [ ! -d "$CG2/$OCI_CG_PARENT/$id" ]
}

# delete --force in every state.
for st in created running paused stopped; do
  id=force-$st
  make_bundle "$SCRATCH/$id" 'c["process"]["args"] = ["sleep", "60"]' || { fail "oci faults: bundle" ""; continue; }
  [ "$st" = stopped ] && make_bundle "$SCRATCH/$id" 'c["process"]["args"] = ["true"]'
  rc create --bundle "$SCRATCH/$id" "$id" >/dev/null 2>&1
  case $st in
    running) rc start "$id" >/dev/null 2>&1; wait_status "$id" running ;;
    paused) rc start "$id" >/dev/null 2>&1; wait_status "$id" running; rc pause "$id" >/dev/null 2>&1 ;;
    stopped) rc start "$id" >/dev/null 2>&1; wait_status "$id" stopped ;;
  esac
  got=$(status_of "$id")
  if [ "$got" != "$st" ]; then skip "oci faults: delete --force of a $st container" "could not reach $st (got ${got:-nothing})"; rc delete --force "$id" >/dev/null 2>&1; continue; fi
  rc delete --force "$id" >/dev/null 2>&1; code=$?
  WHY="exit $code"; check "oci faults: delete --force of a $st container" test "$code" = 0
  WHY="state or cgroup left"; check "oci faults: nothing left after deleting a $st container" no_leftovers "$id"
done
expect_out "oci faults: delete --force of an unknown id succeeds" 0 "" rc delete --force no-such-id

# The container's init dies between create and start.
id=dies
make_bundle "$SCRATCH/$id" 'c["process"]["args"] = ["true"]'
rc create --bundle "$SCRATCH/$id" --pid-file "$SCRATCH/$id.pid" "$id" >/dev/null 2>&1
pid=$(cat "$SCRATCH/$id.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -KILL "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  expect_out "oci faults: start after the parked init was killed fails clearly" nonzero "" rc start "$id"
  WHY="status $(status_of "$id")"; check "oci faults: a killed parked init reads as stopped" test "$(status_of "$id")" = stopped
  rc delete "$id" >/dev/null 2>&1
  WHY="state or cgroup left"; check "oci faults: nothing left after deleting it" no_leftovers "$id"
else
  fail "oci faults: create wrote no pid file" ""
fi

# The runtime itself killed in the middle of create (a createRuntime hook
# holds it there).
id=halfway
make_bundle "$SCRATCH/$id" 'c["process"]["args"] = ["true"]; c.setdefault("hooks", {})["createRuntime"] = [{"path": "/bin/sleep", "args": ["sleep", "30"]}]'
"$RUNC" --root "$STATE" create --bundle "$SCRATCH/$id" "$id" >/dev/null 2>&1 &
creator=$!
sleep 1
kill -KILL "$creator"; wait "$creator" 2>/dev/null
expect_out "oci faults: delete --force after the runtime died mid-create" 0 "" rc delete --force "$id"
sleep 0.5
WHY="state or cgroup left"; check "oci faults: nothing left after a runtime killed mid-create" no_leftovers "$id"

# Garbage in the state directory.
id=garbage
mkdir -p "$STATE/$id"
for f in "$STATE/$id"/* "$STATE/$id/state.json"; do printf '\0\377{not json' >"$f" 2>/dev/null; done
expect_out "oci faults: state of a garbage state dir fails clearly" nonzero "" rc state "$id"
out=$(rc list 2>&1); code=$?
WHY="exit $code: $out"; check "oci faults: list survives a garbage state dir" test "$code" = 0
expect_out "oci faults: delete --force removes a garbage state dir" 0 "" rc delete --force "$id"
WHY="left"; check "oci faults: the garbage state dir is gone" test ! -e "$STATE/$id"
