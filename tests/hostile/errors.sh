#!/usr/bin/env bash
# Hostile lane: bad input to `sandbox exec` gets a clear message that names
# what is wrong (the flag, the path, the program) and a non-zero exit:
# 1 for usage and setup errors, 127 for a program not found in the sandbox,
# 126 for one that cannot be executed.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
ws="$scratch/ws"
mkdir -m 0777 "$ws"
: >"$scratch/a-file"

# expect_error NAME WANT_RC NEEDLE CMD...
#   WANT_RC: an exit status, or "nonzero".  NEEDLE must appear in the output.
expect_error() {
  local name="$1" want="$2" needle="$3" out rc
  shift 3
  out=$(cd "$scratch" && "$@" 2>&1 </dev/null); rc=$?
  if [ "$want" = nonzero ] && [ "$rc" = 0 ]; then
    fail "$name" "exit 0, want non-zero: $(echo "$out" | head -2 | tr '\n' ' ')"
  elif [ "$want" != nonzero ] && [ "$rc" != "$want" ]; then
    fail "$name" "exit $rc, want $want: $(echo "$out" | head -2 | tr '\n' ' ')"
  elif [[ "$out" != *"$needle"* ]]; then
    fail "$name" "the message does not mention '$needle': $(echo "$out" | head -2 | tr '\n' ' ')"
  else
    pass "$name"
  fi
}

x=("$TR" sandbox exec)

# ---- flags -------------------------------------------------------------------
expect_error "errors: bad --memory names the flag" nonzero "--memory" "${x[@]}" --memory abc -- /bin/true
expect_error "errors: bad --memory suffix names the flag" nonzero "--memory" "${x[@]}" --memory 10q -- /bin/true
expect_error "errors: bad --pids names the flag" nonzero "--pids" "${x[@]}" --pids many -- /bin/true
expect_error "errors: bad --nofile names the flag" nonzero "--nofile" "${x[@]}" --nofile -5 -- /bin/true
expect_error "errors: bad --cpus names the flag" nonzero "--cpus" "${x[@]}" --cpus half -- /bin/true
expect_error "errors: negative --timeout names the flag" nonzero "--timeout" "${x[@]}" --timeout -1 -- /bin/true
expect_error "errors: bad --tmp-size names the flag" nonzero "--tmp-size" "${x[@]}" --tmp-size big -- /bin/true
expect_error "errors: bad --workspace-mode names the flag" nonzero "--workspace-mode" "${x[@]}" --workspace-mode rwx -- /bin/true
expect_error "errors: --bind without a target names the flag" nonzero "--bind" "${x[@]}" --bind /usr -- /bin/true
expect_error "errors: --ro-bind with a relative target names the flag" nonzero "--ro-bind" "${x[@]}" --ro-bind /usr:usr -- /bin/true
expect_error "errors: unknown flag is named" nonzero "--frobnicate" "${x[@]}" --frobnicate -- /bin/true
expect_error "errors: flag missing its value is named" nonzero "--timeout" "${x[@]}" --timeout
expect_error "errors: missing program (no --)" nonzero "no program" "${x[@]}"
expect_error "errors: missing program (after --)" nonzero "no program" "${x[@]}" --
expect_error "errors: unknown sandbox subcommand is named" nonzero "frobnicate" "$TR" sandbox frobnicate

# ---- workspace -----------------------------------------------------------------
expect_error "errors: nonexistent workspace is named" nonzero "$scratch/missing" \
  "${x[@]}" --workspace "$scratch/missing" -- /bin/true
expect_error "errors: workspace that is a file is named" nonzero "$scratch/a-file" \
  "${x[@]}" --workspace "$scratch/a-file" -- /bin/true
expect_error "errors: nonexistent workspace is named (as nobody)" nonzero "$scratch/missing" \
  as_nobody "${x[@]}" --workspace "$scratch/missing" -- /bin/true

# ---- the program -----------------------------------------------------------------
expect_error "errors: program not found by path exits 127" 127 "/no/such/program" \
  "${x[@]}" --workspace "$ws" -- /no/such/program
expect_error "errors: program not found on PATH exits 127" 127 "no-such-command-tr" \
  "${x[@]}" --workspace "$ws" -- no-such-command-tr
expect_error "errors: program not found exits 127 (as nobody)" 127 "/no/such/program" \
  as_nobody "${x[@]}" --workspace "$ws" -- /no/such/program
# A host path that the sandbox does not have (/root is not bound).
expect_error "errors: host-only program is not found in the sandbox (127)" 127 "/root" \
  "${x[@]}" --workspace "$ws" -- /root/anything
expect_error "errors: program that is a directory exits 126" 126 "/usr" \
  "${x[@]}" --workspace "$ws" -- /usr
# The program's own status passes through unchanged.
expect_error "errors: the program's exit status passes through" 3 "" \
  "${x[@]}" --workspace "$ws" -- /bin/sh -c 'exit 3'

# ---- nothing is left behind by failed runs ------------------------------------------
# A run cgroup is named tactus-run-PID-...; one whose launcher is gone was
# leaked (a read-only look at cgroup2 only).
left=""
while read -r d; do
  pid=${d##*/tactus-run-}
  [ -d "/proc/${pid%%-*}" ] || left+=" $d"
done < <(find /sys/fs/cgroup/unified -maxdepth 3 -type d -name 'tactus-run-*' 2>/dev/null)
if [ -z "$left" ]; then
  pass "errors: failed runs leave no run cgroup"
else
  fail "errors: failed runs leave no run cgroup" "$(echo $left | head -c 300)"
fi
