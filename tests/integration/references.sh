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

# ---- docs/dsl.md: every global, every function of each, every example ----
# The globals the VM's DSL modules install (G.Name = ..., and the settings
# set in a loop); vm/lua/prelude.lua installs Lua's own library.
dsl_globals() {
  local root="$1"
  for f in "$root"/vm/lua/*.lua; do
    [ "$(basename "$f")" = prelude.lua ] && continue
    sed -n 's/^ *\(G\.[A-Za-z_][A-Za-z0-9_.]*\( *, *G\.[A-Za-z_][A-Za-z0-9_]*\)*\) *=[^=].*/\1/p' "$f" \
      | tr ',' '\n' | sed 's/^ *G\.//; s/\..*//'
    awk '/for _, name in ipairs\(\{/ { buf = ""; inlist = 1 }
         inlist { buf = buf " " $0; if ($0 ~ /\}\) do/) { inlist = 0; pending = buf }; next }
         pending != "" && /G\[name\] *=/ { s = pending; while (match(s, /"[A-Za-z_]+"/)) { print substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) } }
         { pending = "" }' "$f"
  done | sort -u
}
# missing_globals DOC NAMES: names without a heading that shows them as `Name`.
missing_globals() {
  local doc="$1" g; shift
  for g in "$@"; do
    grep -E '^#+ ' "$doc" | grep -qF "\`$g\`" || echo "$g"
  done
}
globals=$(dsl_globals "$ROOT")
n=$(echo "$globals" | grep -c .)
[ "$n" -ge 40 ] && pass "references: $n DSL globals extracted from vm/lua" || fail "references: DSL global extraction" "only $n: $(echo $globals)"
missing=$(missing_globals "$ROOT/docs/dsl.md" $globals)
[ -z "$missing" ] && pass "references: docs/dsl.md has an entry for every DSL global" \
  || fail "references: DSL globals without an entry in docs/dsl.md" "$(echo $missing)"
grep -v '^### `Sleep`' "$ROOT/docs/dsl.md" >"$scratch/dsl_ctl.md"
missing=$(missing_globals "$scratch/dsl_ctl.md" $globals)
[ "$missing" = Sleep ] && pass "references: (control) a global without an entry is found" || fail "references: globals control" "got: $missing"

# The functions of every global table, as a running VM has them.
ws="$scratch/ws"
mkdir -p "$ws"
{
  printf 'local names = {'
  for g in $globals; do printf '"%s",' "$g"; done
  printf '}\nlocal out = {}\n'
  printf 'for _, g in ipairs(names) do\n  local v = _G[g]\n'
  printf '  if type(v) == "table" and g ~= "state" then\n'
  printf '    for k, x in pairs(v) do if type(k) == "string" and type(x) == "function" then out[#out + 1] = g .. "." .. k end end\n'
  printf '  end\nend\ntable.sort(out)\nreturn { members = table.concat(out, " ") }\n'
} >"$ws/members.tac"
members=$(cd "$ws" && "$TR" run members.tac --json 2>"$scratch/members.err" | tail -1 \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["members"])' 2>>"$scratch/members.err")
n=$(echo "$members" | wc -w)
[ "$n" -ge 80 ] && pass "references: $n functions of the DSL's tables, from a running VM" \
  || fail "references: member listing" "$n: $(tail -3 "$scratch/members.err")"
missing_members() { # DOC MEMBERS...
  local doc="$1" m; shift
  for m in "$@"; do
    grep -qE "(^|[^A-Za-z0-9_.])${m//./\\.}([^A-Za-z0-9_]|$)" "$doc" || echo "$m"
  done
}
missing=$(missing_members "$ROOT/docs/dsl.md" $members)
[ -z "$missing" ] && pass "references: docs/dsl.md names every function of every primitive" \
  || fail "references: primitive functions missing from docs/dsl.md" "$(echo $missing)"
sed 's/File\.append/File.appendx/g' "$ROOT/docs/dsl.md" >"$scratch/dsl_ctl.md"
missing=$(missing_members "$scratch/dsl_ctl.md" $members)
[ "$missing" = File.append ] && pass "references: (control) a function without an entry is found" || fail "references: members control" "got: $missing"

# Every ```tac example runs (mock mode, approvals answered), in a fresh workspace.
run_examples() { # DOC: prints the examples that fail, and how
  local doc="$1" dir f out
  dir=$(mktemp -d "$scratch/ex.XXXXXX")
  awk -v d="$dir" '/^```tac$/ { n++; f = sprintf("%s/ex_%02d.tac", d, n); inb = 1; next }
       /^```$/ { if (inb) { inb = 0; close(f) }; next }
       inb { print > f }' "$doc"
  for f in "$dir"/ex_*.tac; do
    [ -e "$f" ] || continue
    mkdir -p "$f.ws"
    out=$(cd "$f.ws" && "$TR" run "$f" --mock-all --approve all 2>&1) \
      || echo "$(basename "$f"): $(echo "$out" | grep -v '^\s*$' | tail -2 | tr '\n' ' ')"
  done
}
n=$(grep -c '^```tac$' "$ROOT/docs/dsl.md")
failed=$(run_examples "$ROOT/docs/dsl.md")
[ "$n" -ge 20 ] && [ -z "$failed" ] && pass "references: the $n examples of docs/dsl.md run" \
  || fail "references: docs/dsl.md examples" "n=$n; $failed"
printf '```tac\nreturn { ok = File.raed("x") }\n```\n' >"$scratch/bad_ex.md"
failed=$(run_examples "$scratch/bad_ex.md")
[[ "$failed" == *"ex_01.tac"*"File.raed"* ]] && pass "references: (control) a failing example is reported" || fail "references: examples control" "$failed"
