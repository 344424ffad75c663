#!/usr/bin/env bash
# OCI lane: behaviours where the runtime follows the runtime spec and runc
# (issue 16's remaining deviations).  Each has a positive control.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

# ---- create without "process": accepted at create, an error at start
# (the spec: "process ... REQUIRED when start is called"; "If the process
# property was not set, an error MUST be generated").
make_bundle "$SCRATCH/np" 'del c["process"]'
# (The parked init keeps create's stdio: to files, not a pipe.)
rc create -b "$SCRATCH/np" np1 >"$SCRATCH/np1.out" 2>&1 </dev/null; code=$?
WHY="exit $code: $(cat "$SCRATCH/np1.out")"; check "oci deviations: create without process is accepted" test "$code" = 0
check "oci deviations: a container without process is created" wait_status np1 created
expect_out "oci deviations: start without process is an error naming the field" 1 "process: is required" rc start np1
check "oci deviations: after the refused start the container is still created" wait_status np1 created
expect_out "oci deviations: exec without --process into it is refused clearly" 255 "use exec --process" rc exec np1 true
expect_out "oci deviations: delete of the never-started container" 0 "" rc delete --force np1
check "oci deviations: nothing left after deleting it" test ! -e "$STATE/np1"
expect_out "oci deviations: run without process fails at start" 1 "process: is required" rc run -b "$SCRATCH/np" np2
check "oci deviations: nothing left after the failed run" test ! -e "$STATE/np2"
make_bundle "$SCRATCH/wp" 'c["process"]["args"] = ["true"]'
rc create -b "$SCRATCH/wp" wp1 >"$SCRATCH/wp1.out" 2>&1 </dev/null
expect_out "oci deviations: (control) start with a process" 0 "" rc start wp1
check "oci deviations: (control) the started container stops" wait_status wp1 stopped
rc delete --force wp1 >/dev/null 2>&1
exit 0
