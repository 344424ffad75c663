#!/usr/bin/env bash
# Hostile lane: the trace `run --storage file` keeps is written by the host
# into the storage directory.  The default is out of every workspace
# ($XDG_STATE_HOME/tactus-run/storage); a --storage-path inside the
# workspace (.tactus/storage here) is a place the cage can write.  A cage
# that plants a symlink there (.tactus/storage/traces -> a directory of the
# user's) must not make the next run's host write through it, nor `trace
# list` read through it.
#
# The symlink is planted from inside a real cage (sandbox exec), as root
# and as uid 65534.  Positive control: without the symlink the same run
# keeps its trace, so the check can see a write.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
# An empty HOME: no user config layer (and /root is unreadable as uid 65534).
export HOME="$scratch/home"
mkdir -m 0755 "$HOME"

cat >"$scratch/t.tac" <<'EOF'
Procedure { function() Log.info("traced") return { ok = true } end }
EOF
chmod 0644 "$scratch/t.tac"

for who in root nobody; do
  state="$scratch/state-$who"
  mkdir -m 0700 "$state"
  runner=(env XDG_STATE_HOME="$state")
  [ "$who" = nobody ] && chown 65534:65534 "$state" && runner=(as_nobody "${runner[@]}")
  victim=$(mktemp -d "$scratch/victim.XXXXXX")
  chmod 0777 "$victim"
  printf '{"event_type":"log","message":"PLANTED-%s"}\n' "$RANDOM" >"$victim/planted.jsonl"
  chmod 0666 "$victim/planted.jsonl"
  before=$(cd "$victim" && find . -printf '%p %s\n' | sort | sha256sum)

  # Positive control: a clean workspace keeps the trace.
  ws=$(mktemp -d "$scratch/ws.XXXXXX")
  cp "$scratch/t.tac" "$ws/"
  [ "$who" = nobody ] && chown -R 65534:65534 "$ws"
  out=$(cd "$ws" && "${runner[@]}" "$TR" run t.tac --storage file 2>&1 </dev/null)
  if ls "$state/tactus-run/storage/traces/"t-*.jsonl >/dev/null 2>&1 && [ ! -e "$ws/.tactus" ]; then
    pass "trace store ($who): control: a run with --storage file keeps its trace (in the state directory)"
  else
    fail "trace store ($who): control: the trace is kept" "$(printf '%s' "$out" | tail -3 | tr '\n' ' ')"
  fi

  # The cage plants the symlink.  .tactus is a protected path: a cage
  # cannot make it (docs/sandbox.md), so first that, then the plant with
  # the protection lifted (--unprotect), as a cage of an older version or
  # with .tactus unprotected by trusted config could.
  ws=$(mktemp -d "$scratch/ws.XXXXXX")
  cp "$scratch/t.tac" "$ws/"
  [ "$who" = nobody ] && chown -R 65534:65534 "$ws"
  (cd "$scratch" && "${runner[@]}" "$TR" sandbox exec --workspace "$ws" -- /bin/sh -c \
    "mkdir -p .tactus/storage && ln -s '$victim' .tactus/storage/traces" >/dev/null 2>&1 </dev/null)
  if [ ! -e "$ws/.tactus" ]; then
    pass "trace store ($who): a cage cannot make .tactus (a protected path)"
  else
    fail "trace store ($who): a cage cannot make .tactus" "$(ls -la "$ws/.tactus" | tr '\n' ' ')"
  fi
  (cd "$scratch" && "${runner[@]}" "$TR" sandbox exec --unprotect .tactus --workspace "$ws" -- /bin/sh -c \
    "mkdir -p .tactus/storage && ln -s '$victim' .tactus/storage/traces" >/dev/null 2>&1 </dev/null)
  if [ ! -L "$ws/.tactus/storage/traces" ]; then
    fail "trace store ($who): the cage planted the symlink" "no symlink (the test could not set up)"
    continue
  fi
  out=$(cd "$ws" && "${runner[@]}" "$TR" run t.tac --storage file --storage-path .tactus/storage 2>&1 </dev/null)
  rc=$?
  after=$(cd "$victim" && find . -printf '%p %s\n' | sort | sha256sum)
  if [ "$before" = "$after" ]; then
    pass "trace store ($who): a planted symlink is not written through"
  else
    fail "trace store ($who): a planted symlink is not written through" "$(ls -la "$victim" | tr '\n' ' ')"
  fi
  if [ "$rc" = 0 ] && [[ "$out" == *"the trace is not kept"*"symlink"* ]]; then
    pass "trace store ($who): ... the run goes on and says the trace is not kept"
  else
    fail "trace store ($who): ... says the trace is not kept" "exit $rc: $(printf '%s' "$out" | tail -3 | tr '\n' ' ')"
  fi
  out=$(cd "$ws" && "${runner[@]}" "$TR" trace list --storage-path .tactus/storage 2>&1 </dev/null)
  if [[ "$out" != *planted* && "$out" != *PLANTED* ]]; then
    pass "trace store ($who): trace list does not read through the symlink"
  else
    fail "trace store ($who): trace list does not read through the symlink" "$out"
  fi
done
