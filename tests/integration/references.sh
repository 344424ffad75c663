#!/usr/bin/env bash
# The references cover the code: every config key tactus-run reads has an
# entry in docs/config.md, every primitive the VM exposes (and each of its
# functions) one in docs/dsl.md, and every example in docs/dsl.md runs.
# The lists come from the code (tests/lib/config_keys.sh; the VM's own
# globals and, at run time, their members), never from a copy.
source "$TESTS_DIR/lib.sh"
ROOT="$(cd "$TESTS_DIR/.." && pwd)"
scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT

# ---- docs/config.md: every key ----
# missing_keys DOC ROOT: the keys the code at ROOT reads that DOC does not
# name as `key` (a `key` cell or mention).
missing_keys() {
  local doc="$1" root="$2" keys k
  keys=$("$TESTS_DIR/lib/config_keys.sh" "$root") || { echo "EXTRACT: $keys"; return; }
  for k in $(echo "$keys" | sort -u); do
    grep -qF "\`$k\`" "$doc" || echo "$k"
  done
}
n=$("$TESTS_DIR/lib/config_keys.sh" "$ROOT" | sort -u | wc -l)
[ "$n" -ge 50 ] && pass "references: $n config keys extracted from the code" || fail "references: config key extraction" "only $n"
missing=$(missing_keys "$ROOT/docs/config.md" "$ROOT")
[ -z "$missing" ] && pass "references: docs/config.md has an entry for every config key" \
  || fail "references: config keys without an entry in docs/config.md" "$(echo $missing)"
# Positive control: a key added to the code is missed.
mkdir -p "$scratch/ctl/policy" "$scratch/ctl/broker"
cp "$ROOT"/broker/*.c "$scratch/ctl/broker/"
sed 's/else if (strcmp (k, "jit") == 0)/else if (strcmp (k, "made_up_key") == 0)\n        r = 0;\n      &/' \
  "$ROOT/policy/config.c" >"$scratch/ctl/policy/config.c"
missing=$(missing_keys "$ROOT/docs/config.md" "$scratch/ctl")
[ "$missing" = sandbox.made_up_key ] && pass "references: (control) a new config key without an entry is found" \
  || fail "references: config control" "got: $missing"
# ... and a reading function nobody mapped is an error, not silence.
printf '\nstatic int\nread_new_thing (void)\n{\n  return strcmp (f->key, "x") == 0;\n}\n' >>"$scratch/ctl/policy/config.c"
"$TESTS_DIR/lib/config_keys.sh" "$scratch/ctl" >/dev/null 2>&1 \
  && fail "references: (control) an unmapped reading function was not reported" "" \
  || pass "references: (control) an unmapped reading function fails the extraction"
