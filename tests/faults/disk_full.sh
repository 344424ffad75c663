#!/usr/bin/env bash
# Faults lane: the workspace's disk fills up.
#
# The workspace is a 1 MiB tmpfs made for the test, mounted in a private
# mount namespace of its own (unshare -m), so the host's mount table never
# sees it and it goes away with the test.  In it: a user file nobody writes
# (keep.txt) and an old target.txt.  A procedure fills the disk with
# File.write, then rewrites target.txt (and writes a new fresh.txt) with
# more than is left.  Wanted: a clear "the disk is full" error, exit 1;
# keep.txt unchanged; target.txt still its old content (writes go to a
# temporary file renamed into place), fresh.txt absent, and no temporary
# file left.  Also with --storage file, its checkpoints kept on the same
# full disk (--storage-path): a clear error, exit 1.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

if [ -z "${TR_FAULTS_PRIVATE_MNT:-}" ]; then
  if ! unshare -m --propagation private true 2>/dev/null; then
    skip "faults: disk full" "cannot make a private mount namespace (unshare -m)"
    exit 0
  fi
  exec unshare -m --propagation private env TR_FAULTS_PRIVATE_MNT=1 "$0" "$@"
fi

FAULT_UID=64984
scratch=$(scratch_dir)
ws="$scratch/ws"
mkdir "$ws"
trap 'umount "$ws" 2>/dev/null; rm -rf "$scratch"' EXIT
if ! mount -t tmpfs -o size=1m,nr_inodes=64,uid=$FAULT_UID,gid=$FAULT_UID,mode=0700 tmpfs "$ws"; then
  skip "faults: disk full" "cannot mount a 1 MiB tmpfs"
  exit 0
fi
cat >"$scratch/fill.tac" <<'EOF'
Procedure {
  input = { what = field.string { default = "rewrite" } },
  function(input)
    local chunk = string.rep("z", 64 * 1024)
    -- 768 KiB of the 1 MiB (pcall: the filler itself may not fit whole)
    pcall(File.write, "fill.bin", string.rep(chunk, 12))
    if input.what == "rewrite" then
      File.write("target.txt", string.rep(chunk, 8))      -- 512 KiB: does not fit
    elseif input.what == "fresh" then
      File.write("fresh.txt", string.rep(chunk, 8))
    else
      checkpoint(function() return string.rep(chunk, 8) end)
    end
    return { unreachable = true }
  end,
}
EOF

fresh_ws() {
  rm -rf "${ws:?}"/* "$ws"/.[!.]*
  echo "precious user data" >"$ws/keep.txt"
  echo "old target" >"$ws/target.txt"
  chown "$FAULT_UID:$FAULT_UID" "$ws/keep.txt" "$ws/target.txt"
  KEEP_SUM=$(stat -c '%s %Y' "$ws/keep.txt")$(sha256sum <"$ws/keep.txt")
}

# case NAME WANT-MESSAGE ARGS...
one_case() {
  local name="$1" want="$2" rc msg state
  shift 2
  fresh_ws
  (cd "$ws" && exec "$TR" run "$scratch/fill.tac" --json "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  msg=$(tail -1 "$scratch/out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("message"))' 2>&1)
  if [ "$rc" = 1 ] && [[ "$msg" == *"$want"* ]]; then
    pass "faults: disk full, $name: exit 1: $msg"
  else
    fail "faults: disk full, $name: exit 1 and '$want'" "exit $rc: $(echo "$msg" | cut -c1-300); $(tail -2 "$scratch/err" | tr '\n' ' ')"
  fi
  state="keep.txt $([ "$(stat -c '%s %Y' "$ws/keep.txt")$(sha256sum <"$ws/keep.txt")" = "$KEEP_SUM" ] && echo unchanged || echo CHANGED)"
  state+=", target.txt $(if [ ! -e "$ws/target.txt" ]; then echo absent; elif [ "$(cat "$ws/target.txt")" = "old target" ]; then echo old; else echo "PARTIAL ($(stat -c %s "$ws/target.txt") bytes)"; fi)"
  state+=", fresh.txt $([ -e "$ws/fresh.txt" ] && echo "PRESENT ($(stat -c %s "$ws/fresh.txt") bytes)" || echo absent)"
  state+=", temporary files $(find "$ws" -name '.*.tmp-*' | wc -l)"
  if [ "$state" = "keep.txt unchanged, target.txt old, fresh.txt absent, temporary files 0" ]; then
    pass "faults: disk full, $name: $state"
  else
    fail "faults: disk full, $name: files intact" "$state; workspace: $(ls -la "$ws" | tail -n +2 | tr '\n' ' ' | cut -c1-300)"
  fi
}

one_case "rewriting a file" "the disk is full"
one_case "writing a new file" "the disk is full" --param what=fresh
one_case "a checkpoint with --storage file" "CheckpointWriteFailed: the checkpoint could not be written to $ws/st: the disk is full" \
  --param what=checkpoint --storage file --storage-path "$ws/st"
# (The run's trace, which --storage file also keeps in st/traces, is a log:
# what it could write of the failed run stays.)
left=$(find "$ws/st" -type f -not -path '*/traces/*' 2>/dev/null)
if [ -z "$left" ]; then pass "faults: disk full, checkpoint: no partial checkpoint file left"; else fail "faults: disk full, checkpoint: no partial checkpoint file left" "$left"; fi
left=$(uid_procs "$FAULT_UID")
if [ -z "$left" ]; then pass "faults: disk full: no process of the runs' uid left"; else fail "faults: disk full: no process left" "$left"; fi
