#!/usr/bin/env bash
# Integration lane: every example in examples/ runs end to end, in the
# sandbox and with --no-sandbox, as root (from the repository root, as the
# docs say) and as uid 65534 (in a scratch copy of examples/ it owns).  All
# four runs of an example must give the same result line (status, exit
# code and result).  Then the multi-run stories: checkpoint replay and the
# approval answers.
source "$TESTS_DIR/integration/common.bash"

repo=$(cd "$TESTS_DIR/.." && pwd)
scratch="$TMPD"
# No personal config may change what the examples do.
export HOME="$scratch/home"
mkdir -p "$HOME"
chmod 0755 "$HOME"

had_dot_tactus=no
[ -e "$repo/.tactus" ] && had_dot_tactus=yes

# The unprivileged user's copy of the examples, laid out like the repo.
ncopy="$scratch/nobody"
mkdir -p "$ncopy"
cp -a "$repo/examples" "$ncopy/examples"
chown -R 65534:65534 "$ncopy"
chmod 0700 "$ncopy"

# The examples' sidecars grant host tools: each user trusts its copies.
for ex in approval host_tool; do
  trust "$repo/examples/$ex.tac" || fail "examples: tactus-run trust examples/$ex.tac" "as root"
  "${NOBODY[@]}" "$TR" trust "$ncopy/examples/$ex.tac" >/dev/null \
    || fail "examples: tactus-run trust examples/$ex.tac" "as uid 65534"
done

# Extra arguments an example needs for its main run.  Agents run on their
# Mocks (--mock-all): no model is ever called from here.
args_for() {
  local a=""
  [ "$1" = approval ] && a+=" --approve all"
  grep -q 'Agent *{' "$repo/examples/$1.tac" && a+=" --mock-all"
  echo "$a"
}

# run_four NAME LABEL ARGS...: the four runs; sets key_<i> and the verdict.
run_four() {
  local name="$1" label="$2"
  shift 2
  local who mode dir keys=() k first="" differ="" failed=""
  for who in root nobody; do
    for mode in sandbox no-sandbox; do
      local -a extra=()
      [ "$mode" = no-sandbox ] && extra=(--no-sandbox)
      if [ "$who" = root ]; then RUNNER=(); dir="$repo"; else RUNNER=("${NOBODY[@]}"); dir="$ncopy"; fi
      tr_json "$dir" "examples/$name.tac" "$@" "${extra[@]}"
      k=$(result_key)
      if [ "$k" = NO-RESULT-LINE ]; then
        failed+=" [$who/$mode: exit $rc, no result line: $(short "$err")]"
        continue
      fi
      [ -z "$first" ] && first="$k"
      [ "$k" != "$first" ] && differ+=" [$who/$mode: $k]"
    done
  done
  RUNNER=()
  if [ -n "$failed" ]; then
    fail "examples: $label runs (sandbox and --no-sandbox, root and uid 65534)" "$failed"
  elif [ -n "$differ" ]; then
    fail "examples: $label gives identical results in all four runs" "first: $first; differs:$differ"
  else
    pass "examples: $label gives identical results in all four runs"
  fi
  last_key="$first"
  out="$first"
  last_status=$(json_get 'r and r["status"]')
}

names=()
declare -A key_of
for f in "$repo"/examples/*.tac; do names+=("$(basename "$f" .tac)"); done
if [ ${#names[@]} -lt 8 ]; then
  fail "examples: at least 8 examples" "only ${#names[@]}"
else
  pass "examples: ${#names[@]} examples"
fi

for name in "${names[@]}"; do
  # A header comment that says what the example shows.
  if head -1 "$repo/examples/$name.tac" | grep -q '^-- '; then
    pass "examples: $name.tac starts with a header comment"
  else
    fail "examples: $name.tac starts with a header comment" "$(head -1 "$repo/examples/$name.tac")"
  fi
  # shellcheck disable=SC2046
  run_four "$name" "$name.tac" $(args_for "$name")
  key_of[$name]=$last_key
  expect "examples: $name.tac succeeds" "$last_status" '"success"' "$last_key"
done

# What some examples must have returned (one run each is enough here: the
# four-way comparison above covers the other three).
RUNNER=()
tr_json "$repo" examples/hello.tac --param name=Ada
expect "examples: hello greets by --param" "$(json_get 'r["result"]["greeting"]')" '"Hello, Ada!"'
tr_json "$repo" examples/files.tac
expect "examples: files.tac CSV round trip keeps quotes, commas and newlines" \
  "$(json_get '[p["note"] for p in r["result"]["people"]]')" '["said \"hi\", then left", "two\nlines"]'
expect "examples: files.tac cleans up after itself" "$(json_get 'r["result"]["cleaned_up"]')" true
tr_json "$repo" examples/host_tool.tac
expect "examples: host_tool.tac: host.ping allowed, host.time denied" \
  "$(json_get '[r["result"]["pong"], r["result"]["denied_type"]]')" '[true, "ToolNotAllowed"]'
tr_json "$repo" examples/mocks.tac --mock-all
expect "examples: mocks.tac --mock-all mocks the host tool" "$(json_get 'r["result"]["host_ping"]')" '"mocked"'
tr_json "$repo" examples/inputs.tac --param level=guru
expect_in "examples: inputs.tac refuses a value outside the enum" "$rc $out" "1 " "level" "beginner, expert"

# Nothing was left in the repository by the runs above.
if [ ! -e "$repo/files-example.tmp" ] && [ ! -e "$repo/.tactus/storage" ]; then
  pass "examples: the runs leave nothing in the repository"
else
  fail "examples: the runs leave nothing in the repository" "$(ls -d "$repo/files-example.tmp" "$repo/.tactus/storage" 2>/dev/null)"
fi

# ---- approval: --approve all / none / nobody to ask ----------------------------
run_four approval "approval.tac --approve none" --approve none
expect "examples: approval.tac --approve none: nothing sent" "$last_key" \
  '{"exit_code": 0, "result": {"sent": false}, "status": "success"}'
run_four approval "approval.tac without a TTY or --approve" 
expect "examples: approval.tac without a TTY pauses (paused, exit 75)" \
  "$(json_get '[r["status"], r["exit_code"]]')" '["paused", 75]' 
tr_json "$repo" examples/approval.tac --approve all
expect "examples: approval.tac --approve all: sent and echoed by the host" \
  "$(json_get '[r["result"]["sent"], r["result"]["echoed"]]')" '[true, "deploy v1.2 to staging"]'
tr_human "$repo" examples/approval.tac
expect_in "examples: approval.tac paused run says so (exit 75)" "$rc $out" "75 " "Paused"

# ---- checkpoint replay: crash after step 1, then resume ------------------------
for who in root nobody; do
  for mode in sandbox no-sandbox; do
    extra=()
    [ "$mode" = no-sandbox ] && extra=(--no-sandbox)
    if [ "$who" = root ]; then RUNNER=(); dir="$repo"; store="$scratch/store-root-$mode"
    else RUNNER=("${NOBODY[@]}"); dir="$ncopy"; store="$ncopy/store-$mode"; fi
    tag="checkpoint.tac ($who, $mode)"
    tr_json "$dir" examples/checkpoint.tac --storage file --storage-path "$store" --param crash=true "${extra[@]}"
    if [ "$rc" = 1 ] && [ -s "$store/checkpoint.json" ]; then
      pass "examples: $tag: the crashing run fails after recording step 1"
    else
      fail "examples: $tag: the crashing run fails after recording step 1" "exit $rc, $(ls "$store" 2>&1)"
    fi
    tr_json "$dir" examples/checkpoint.tac --storage file --storage-path "$store" "${extra[@]}"
    expect "examples: $tag: the second run replays step 1 and completes" \
      "$(json_get '[r["status"], r["result"]["replayed"], r["result"]["answer"]]')" '["success", true, 42]'
    expect_in "examples: $tag: the replay is logged" "$out" "replaying 1 checkpoint"
    if [[ "$out" == *"step 1: running"* ]]; then
      fail "examples: $tag: step 1 did not run again" "its log line is in the second run"
    else
      pass "examples: $tag: step 1 did not run again"
    fi
    if [ ! -e "$store/checkpoint.json" ]; then
      pass "examples: $tag: a completed run clears its checkpoints"
    else
      fail "examples: $tag: a completed run clears its checkpoints" "$store/checkpoint.json is still there"
    fi
  done
done
RUNNER=()

# --storage-path keeps the current directory clean (no ./.tactus made).
if [ "$had_dot_tactus" = yes ] || [ ! -e "$repo/.tactus" ]; then
  pass "examples: --storage file with --storage-path makes no ./.tactus"
else
  fail "examples: --storage file with --storage-path makes no ./.tactus" "$repo/.tactus was created"
fi

# ---- approval resumed with `tactus-run answer` ------------------------------------
store="$scratch/store-answer"
tr_json "$repo" examples/approval.tac --storage file --storage-path "$store"
first=$(json_get 'r["status"]')
answer_out=$(cd "$repo" && "$TR" answer examples/approval.tac yes --storage-path "$store" 2>&1)
answer_rc=$?
tr_json "$repo" examples/approval.tac --storage file --storage-path "$store"
expect "examples: approval.tac paused, answered with 'tactus-run answer', resumed" \
  "$first $answer_rc $(json_get '[r["status"], r["result"]["sent"]]')" '"paused" 0 ["success", true]' \
  "$(short "$answer_out")"

# ---- the pool is run: every example through tactus-run serve + client -----------
# The same config layers (the trusted sidecars included), options and
# result as `tactus-run run`: the result line (status, exit code, result)
# and the client's exit status must match the run's.
CLIENT="$(dirname "$TR")/tactus-run-client"
psock="$scratch/pool.sock"
"$TR" serve --socket "$psock" --size 2 2>"$scratch/serve.log" &
pserver=$!
for _ in $(seq 50); do [ -S "$psock" ] && break; sleep 0.1; done
differ=""
for name in "${names[@]}"; do
  # shellcheck disable=SC2046
  (cd "$repo" && setsid -w "$CLIENT" --socket "$psock" "examples/$name.tac" $(args_for "$name") --json \
    >"$TMPD/out" 2>"$TMPD/err" </dev/null)
  rc=$?
  out=$(cat "$TMPD/out")
  k=$(result_key)
  code=$(json_get 'r and r.get("exit_code")')
  if [ "$k" != "${key_of[$name]}" ] || [ "$rc" != "$code" ]; then
    differ+=" [$name: pool exit $rc, $k; run ${key_of[$name]}: $(short "$(cat "$TMPD/err")")]"
  fi
done
kill "$pserver" 2>/dev/null; wait "$pserver" 2>/dev/null
if [ -z "$differ" ]; then
  pass "examples: all ${#names[@]} give the same result and exit status through the pool as with tactus-run run"
else
  fail "examples: the pool gives what tactus-run run gives" "$differ"
fi
