#!/usr/bin/env bash
# --workspace-mode overlay: the run sees the workspace's files and may change
# them, the host directory is never written, and the next run starts from the
# same files.  As root (lower layer idmapped) and as an unprivileged user.
set -u
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
source "$TESTS_DIR/lib.sh"

dirs=()
trap 'rm -rf "${dirs[@]}"' EXIT
change='echo changed > a.txt && echo new > c.txt && echo more >> sub/b && rm sub/gone && mkdir d && cat a.txt c.txt sub/b'

for who in root nobody; do
  ws=$(scratch_dir); dirs+=("$ws")
  echo orig >"$ws/a.txt"; mkdir "$ws/sub"; echo b >"$ws/sub/b"; echo g >"$ws/sub/gone"
  [ "$who" = nobody ] && chown -R 65534:65534 "$ws"
  before=$(cd "$ws" && find . -printf '%p %s %T@\n' | sort | md5sum)
  mounts_before=$(wc -l </proc/self/mountinfo)
  run=(); [ "$who" = nobody ] && run=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)

  out=$(cd "$ws" && "${run[@]}" "$TR" sandbox exec --workspace-mode overlay -- /bin/sh -c "$change" 2>&1); rc=$?
  if [ $rc = 0 ] && [ "$out" = $'changed\nnew\nb\nmore' ]; then
    pass "overlay as $who: the run changes, adds and removes workspace files"
  else
    fail "overlay as $who: changes inside" "rc=$rc $out"
  fi
  after=$(cd "$ws" && find . -printf '%p %s %T@\n' | sort | md5sum)
  [ "$before" = "$after" ] && pass "overlay as $who: the host directory is untouched" \
    || fail "overlay as $who: host directory" "$(cd "$ws" && ls -laR)"
  out=$(cd "$ws" && "${run[@]}" "$TR" sandbox exec --workspace-mode overlay -- /bin/sh -c 'cat a.txt; ls' 2>&1)
  [ "$out" = $'orig\na.txt\nsub' ] && pass "overlay as $who: the next run starts from the same files" \
    || fail "overlay as $who: next run" "$out"
  count='grep -c "" /proc/self/mountinfo; grep " /workspace " /proc/self/mountinfo | grep -c overlay'
  ov=$(cd "$ws" && "${run[@]}" "$TR" sandbox exec --workspace-mode overlay -- /bin/sh -c "$count" 2>&1)
  rw=$(cd "$ws" && "${run[@]}" "$TR" sandbox exec --workspace-mode ro -- /bin/sh -c "$count" 2>&1)
  # Same number of mounts as a plain read-only workspace: the lower layer
  # was detached, only the overlay remains.
  if [ "$(echo "$ov" | tail -1)" = 1 ] && [ "$(echo "$ov" | head -1)" = "$(echo "$rw" | head -1)" ]; then
    pass "overlay as $who: /workspace is the overlay, the lower layer is not mounted anywhere"
  else
    fail "overlay as $who: mounts" "overlay: $ov / ro: $rw"
  fi
  out=$(cd "$ws" && "${run[@]}" "$TR" sandbox exec --workspace-mode overlay -- /bin/sh -c \
    'head -c 100000000 /dev/zero > big 2>&1; echo rc=$?' 2>&1)
  [[ "$out" == *"No space left on device"*"rc=1"* || "$out" == *"rc=1"* ]] && [ ! -e "$ws/big" ] \
    && pass "overlay as $who: writes are bounded by the private tmpfs" \
    || fail "overlay as $who: bounded writes" "$out"
  [ "$(wc -l </proc/self/mountinfo)" = "$mounts_before" ] && pass "overlay as $who: no mount left on the host" \
    || fail "overlay as $who: host mounts" "$(wc -l </proc/self/mountinfo) vs $mounts_before"
done
out=$("$TR" sandbox exec --workspace-mode bogus -- /bin/true 2>&1); rc=$?
[ $rc != 0 ] && [[ "$out" == *"rw, ro, overlay or off"* ]] && pass "a bad --workspace-mode names the choices" \
  || fail "bad --workspace-mode" "rc=$rc $out"
