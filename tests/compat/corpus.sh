#!/usr/bin/env bash
# Compatibility lane: the Tactus example corpus (AnthusAI/Tactus-examples),
# as Tactus's own CI runs it (its scripts/test-all.sh: from the corpus
# root, `test FILE --mock` for every `find . -name "*.tac" -not -path
# "*/.*"`), then `run` for every file as tests/compat/run.list says.
#
#   TACTUS_EXAMPLES=/path/to/Tactus-examples tests/run compat
#
# The corpus has no licence, so it is not part of this repository: without
# TACTUS_EXAMPLES the lane says SKIP.  The corpus is copied to a scratch
# directory first: `run` writes files (03-standard-library/02-file-io.tac
# writes output/), and the checkout stays as it is.  One line per file,
# then the totals.
source "$TESTS_DIR/lib.sh"

if [ -z "${TACTUS_EXAMPLES:-}" ] || [ ! -d "$TACTUS_EXAMPLES" ]; then
  skip "compat: the Tactus example corpus" \
    "TACTUS_EXAMPLES is not set to a checkout of AnthusAI/Tactus-examples"
  exit 0
fi

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home"
mkdir -p "$HOME"
# No real model: the files that need one run with --mock (as Tactus's CI).
export OPENAI_BASE_URL=http://127.0.0.1:9/v1
unset OPENAI_API_KEY
corpus="$scratch/corpus"
cp -r "$TACTUS_EXAMPLES" "$corpus"
rev=$(git -C "$TACTUS_EXAMPLES" rev-parse --short HEAD 2>/dev/null || echo "?")

tested=0 passed=0
while IFS= read -r file; do
  tested=$((tested + 1))
  out=$(cd "$corpus" && setsid -w timeout -k 5 600 "$TR" test "$file" --mock 2>&1 </dev/null)
  rc=$?
  summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    pass "compat: test --mock $file ($summary)"
  else
    fail "compat: test --mock $file" "exit $rc: $(printf '%s\n' "$out" | grep -A2 -E 'FAIL|Error|error' | head -4 | tr '\n' ' ' | cut -c1-400)"
  fi
done < <(cd "$corpus" && find . -name "*.tac" -not -path "*/.*" | sort)
echo "corpus $rev: test --mock: $passed of $tested files pass"

ran=0 ok=0
while IFS= read -r line; do
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  mapfile -d '' words < <(python3 -c 'import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.argv[1])))' "$line")
  kind=${words[0]} file=${words[1]}
  ran=$((ran + 1))
  if [ ! -f "$corpus/$file" ]; then
    fail "compat: run $file" "not in the corpus at $rev (tests/compat/run.list is out of date)"
    continue
  fi
  if [ "$kind" = run ]; then
    out=$(cd "$corpus" && setsid -w timeout -k 5 600 "$TR" run "$file" "${words[@]:2}" 2>&1 </dev/null)
    rc=$?
    if [ "$rc" = 0 ] && [[ "$out" == *"completed successfully"* ]]; then
      ok=$((ok + 1))
      pass "compat: run $file ${words[*]:2}"
    else
      fail "compat: run $file ${words[*]:2}" "exit $rc: $(printf '%s\n' "$out" | tail -3 | tr '\n' ' ' | cut -c1-400)"
    fi
  else
    flags=() why=""
    for ((i = 2; i < ${#words[@]}; i++)); do
      if [ "${words[i]}" = -- ]; then why="${words[*]:i+1}"; break; fi
      flags+=("${words[i]}")
    done
    out=$(cd "$corpus" && setsid -w timeout -k 5 600 "$TR" run "$file" "${flags[@]}" 2>&1 </dev/null)
    rc=$?
    if [ "$rc" != 0 ] && [[ "$out" == *"$why"* ]]; then
      pass "compat: run $file is refused as $kind ($why)"
    else
      fail "compat: run $file is refused as $kind" "exit $rc, no '$why' in: $(printf '%s\n' "$out" | tail -2 | tr '\n' ' ')"
    fi
  fi
done <"$TESTS_DIR/compat/run.list"
echo "corpus $rev: run: $ok of $(grep -c '^run ' "$TESTS_DIR/compat/run.list") files succeed; $((ran - $(grep -c '^run ' "$TESTS_DIR/compat/run.list"))) unsupported or failing, as listed"
