#!/usr/bin/env bash
# OCI lane: linux.resources and update on this host's cgroup v2 hierarchy.
# Where the hierarchy lacks a controller (hybrid hosts: /sys/fs/cgroup/unified
# has no memory/pids/cpu), a limit is refused with a message naming the
# controller — never silently dropped, and never put in cgroup v1.  Where
# the controllers exist, the files get the converted values.  The real
# limits are exercised in the VM lane (tests/vm/oci.sh).
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

CG=$CG2
ctl=" $(cat "$CG/cgroup.controllers" 2>/dev/null) "
# The cgroup v1 hierarchies (found by filesystem type; only ever read here,
# to prove nothing of ours appeared in them).
v1_mounts=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup") print $5; break } }' /proc/self/mountinfo)
v1_count() { [ -n "$v1_mounts" ] && find $v1_mounts -maxdepth 3 -name "*tactus*" 2>/dev/null | wc -l || echo 0; }
v1_before=$(v1_count)

make_bundle "$SCRATCH/m" 'c["process"]["args"] = ["sleep", "30"]; c["linux"]["resources"]["memory"] = {"limit": 67108864, "swap": 134217728}; c["linux"]["resources"]["pids"] = {"limit": 64}; c["linux"]["resources"]["cpu"] = {"quota": 50000, "period": 100000, "shares": 512}'
if [[ "$ctl" == *" memory "* && "$ctl" == *" pids "* && "$ctl" == *" cpu "* ]]; then
  rc run -d -b "$SCRATCH/m" lim >/dev/null 2>&1 </dev/null
  d=$CG/$OCI_CG_PARENT/m
  got="$(cat $d/memory.max) $(cat $d/memory.swap.max) $(cat $d/pids.max) $(cat $d/cpu.max) $(cat $d/cpu.weight)"
  WHY="$got"; check "oci resources: memory.max, memory.swap.max (swap - limit), pids.max, cpu.max, cpu.weight" \
    test "$got" = "67108864 67108864 64 50000 100000 20"
  printf '{"memory": {"limit": 33554432}, "pids": {"limit": 32}}' | rc update --resources - lim
  got="$(cat $d/memory.max) $(cat $d/pids.max)"
  WHY="$got"; check "oci resources: update --resources - (stdin)" test "$got" = "33554432 32"
  rc update --memory 16m --pids-limit 16 --cpu-quota 20000 lim
  got="$(cat $d/memory.max) $(cat $d/pids.max) $(cat $d/cpu.max)"
  WHY="$got"; check "oci resources: update with flags" test "$got" = "16777216 16 20000 100000"
  rc delete --force lim
else
  expect_out "oci resources: a memory limit without the memory controller in cgroup v2 is refused, naming it" 1 \
    "controller is not available in cgroup v2" rc run -b "$SCRATCH/m" lim
  check "oci resources: nothing left after the refused limit" test ! -e "$STATE/lim" -a ! -e "$CG/$OCI_CG_PARENT/m"
  make_bundle "$SCRATCH/u" 'c["process"]["args"] = ["sleep", "30"]'
  rc run -d -b "$SCRATCH/u" upd >/dev/null 2>&1 </dev/null
  expect_out "oci resources: update --memory without the memory controller is refused, naming it" 1 \
    "memory controller is not available" rc update --memory 16m upd
  expect_out "oci resources: update --pids-limit without the pids controller is refused, naming it" 1 \
    "pids controller is not available" rc update --pids-limit 10 upd
  expect_out "oci resources: update --resources - with an empty object" 0 "" bash -c "echo '{}' | '$RUNC' --root '$STATE' update --resources - upd"
  expect_out "oci resources: update --resources - (stdin): a memory limit without the controller is refused, naming it" 1 \
    "memory controller is not available" bash -c "echo '{\"memory\": {\"limit\": 16777216}}' | '$RUNC' --root '$STATE' update --resources - upd"
  expect_out "oci resources: update -r - (stdin): a pids limit without the controller is refused, naming it" 1 \
    "pids controller is not available" bash -c "echo '{\"pids\": {\"limit\": 10}}' | '$RUNC' --root '$STATE' update -r - upd"
  expect_out "oci resources: update --resources - (stdin) with an out-of-range value names the field" 1 "blockIO.weight" \
    bash -c "echo '{\"blockIO\": {\"weight\": 5}}' | '$RUNC' --root '$STATE' update --resources - upd"
  expect_out "oci resources: update --resources - (stdin) that is not an object" 1 "must be an object" \
    bash -c "echo '[1]' | '$RUNC' --root '$STATE' update --resources - upd"
  expect_out "oci resources: update --resources FILE that does not exist" 1 "$SCRATCH/nope.json" \
    rc update --resources "$SCRATCH/nope.json" upd
  check "oci resources: the refused updates left the container running" wait_status upd running
  expect_out "oci resources: update --resources with invalid JSON" 1 "invalid JSON" bash -c "echo '{' | '$RUNC' --root '$STATE' update --resources - upd"
  expect_out "oci resources: update --resources with a bad field names it" 1 "memory.limit" bash -c "echo '{\"memory\":{\"limit\":\"x\"}}' | '$RUNC' --root '$STATE' update --resources - upd"
  expect_out "oci resources: update of kernel memory (v1 only) is refused" 1 "cgroup v2" rc update --kernel-memory 1m upd
  rc delete --force upd
fi
v1_after=$(v1_count)
check "oci resources: no cgroup v1 hierarchy was touched" test "$v1_before" = "$v1_after"
exit 0
