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

# ---- mount targets through a symlink in the workspace ---------------------------------
# The workspace is the payload's to write: a symlink planted in it must never
# redirect a bind or a volume (sandbox/mounts.c resolves targets with
# RESOLVE_NO_SYMLINKS).  Each attempt must be refused, name the target, and
# leave nothing anywhere: no directory created through the link (in /etc,
# or in a host directory the link points at), the workspace unchanged.
evil_ws="$scratch/evil-ws"
evil_src="$scratch/evil-src"
evil_out="$scratch/evil-outside"
evil_name="tr-evil-bind-$$"
mkdir -m 0777 "$evil_ws" "$evil_src" "$evil_out"
echo secret-source >"$evil_src/f"
ln -s /etc "$evil_ws/evil"
ln -s "$evil_out" "$evil_ws/evil-host"
ln -s /etc "$evil_ws/evil-leaf"
cp "$TESTS_DIR/../examples/hello.tac" "$evil_ws/hello.tac"
ws_listing() { (cd "$evil_ws" && find . -printf '%p %y %l\n' | sort); }
evil_before=$(ws_listing)

# nothing_left NAME: the attempt named NAME left no trace.
nothing_left() {
  local name="$1" left=""
  [ -e "/etc/$evil_name" ] && left+=" /etc/$evil_name"
  [ -n "$(ls -A "$evil_out")" ] && left+=" $evil_out/$(ls -A "$evil_out" | head -1)"
  [ "$(ws_listing)" != "$evil_before" ] && left+=" workspace changed: $(diff <(echo "$evil_before") <(ws_listing) | grep '^>' | head -2 | tr '\n' ' ')"
  grep -q "$evil_name" /proc/self/mountinfo && left+=" a host mount"
  if [ -z "$left" ]; then
    pass "$name: nothing left behind"
  else
    fail "$name: nothing left behind" "found:$left"
    # Undo only what this test could have made: empty directories of its
    # own unique name.
    rmdir "/etc/$evil_name" "$evil_out/$evil_name" 2>/dev/null
  fi
}

# The control: through a real directory the same binds work, so the
# refusals below are about the symlink.
ctl_ws="$scratch/ctl-ws"
mkdir -m 0777 "$ctl_ws" "$ctl_ws/real"
for flag in --ro-bind --bind; do
  out=$(cd "$scratch" && "${x[@]}" --workspace "$ctl_ws" "$flag" "$evil_src:/workspace/real/$evil_name" -- \
          /bin/cat "/workspace/real/$evil_name/f" 2>&1 </dev/null); rc=$?
  if [ "$rc" = 0 ] && [ "$out" = secret-source ]; then
    pass "errors: control: $flag to a target under a real workspace directory works"
  else
    fail "errors: control: $flag to a target under a real workspace directory works" "exit $rc: $(head -2 <<<"$out" | tr '\n' ' ')"
  fi
done

for who in root nobody; do
  runner=()
  [ "$who" = nobody ] && runner=(as_nobody)
  for flag in --ro-bind --bind; do
    for target in "/workspace/evil/$evil_name" "/workspace/evil-host/$evil_name" /workspace/evil-leaf; do
      name="errors: $flag to $target through a workspace symlink is refused (as $who)"
      expect_error "$name" 1 "$target" \
        "${runner[@]}" "${x[@]}" --workspace "$evil_ws" "$flag" "$evil_src:$target" -- /bin/true
      nothing_left "$name"
    done
  done
done

# A volume of `tactus-run run` (sandbox.volumes in the sidecar): the same.
for target in "/workspace/evil/$evil_name" "/workspace/evil-host/$evil_name"; do
  for mode in ro rw; do
    name="errors: a $mode volume at $target through a workspace symlink is refused"
    printf 'sandbox:\n  volumes:\n    - %s:%s:%s\n' "$evil_src" "$target" "$mode" >"$evil_ws/hello.tac.yml"
    # Trusted (the user means the volume): the symlink is what must stop it.
    trust "$evil_ws/hello.tac.yml" || fail "$name" "tactus-run trust refused the sidecar"
    evil_before=$(ws_listing)
    out=$(cd "$evil_ws" && OPENAI_BASE_URL=http://127.0.0.1:9/v1 setsid -w "$TR" run hello.tac 2>&1 </dev/null); rc=$?
    if [ "$rc" = 0 ]; then
      fail "$name" "exit 0: the run went ahead"
    elif [[ "$out" != *"$target"* || "$out" != *symlink* ]]; then
      fail "$name" "exit $rc; the message does not name the target as a symlink: $(head -2 <<<"$out" | tr '\n' ' ')"
    else
      pass "$name (exit $rc)"
    fi
    nothing_left "$name"
  done
done
rm -f "$evil_ws/hello.tac.yml"

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
