#!/usr/bin/env bash
# Integration lane: mistakes fail loudly and point at the user's code.
# Unknown --param names (with "did you mean"), an output that misses a
# required field or is not a table (exit 1, field and expected type), each
# beside a positive control that passes.  (Unknown config keys: config.sh; a paused run's
# exit status: hitl.sh.)
source "$TESTS_DIR/integration/common.bash"

w="$TMPD/w"
mkdir -p "$w"

# ---- --param names against the input schema -----------------------------------------
cat >"$w/greet.tac" <<'EOF'
Procedure {
  input = { name = field.string { default = "World" }, count = field.integer { default = 1 } },
  function(input) return { text = ("Hello, " .. input.name .. "!"):rep(input.count) } end
}
EOF
cat >"$w/free.tac" <<'EOF'
Procedure { function(input) return { got = input.anything } end }
EOF
cat >"$w/script.tac" <<'EOF'
input { topic = field.string { default = "x" } }
return { topic = input.topic }
EOF
tr_json "$w" greet.tac --param name=Ada
expect "errors: a declared --param is taken (control)" "$(json_get '[r["status"], r["result"]["text"]]')" \
  '["success", "Hello, Ada!"]'
tr_human "$w" greet.tac --param nmae=Ada
expect_in "errors: an unknown --param is an error naming it, the inputs and the closest" "$rc $err$out" "1 " \
  "--param nmae: the procedure has no input 'nmae' (its inputs: count, name); did you mean 'name'?"
tr_json "$w" greet.tac --param name=Ada --param colour=red
expect_in "errors: an unknown --param beside known ones fails the run (--json)" \
  "$rc $(json_get '[r["status"], r["message"]]')" "1 " '"error"' "InputError: --param colour"
tr_json "$w" free.tac --param anything=1
expect "errors: a procedure that declares no input takes any --param" "$rc $(json_get 'r["result"]')" \
  '0 {"got": "1"}'
tr_human "$w" script.tac --param topik=y
expect_in "errors: script mode: an unknown --param is an error too" "$rc $err$out" "1 " \
  "--param topik" "did you mean 'topic'?"

# ---- the output schema ---------------------------------------------------------------------
cat >"$w/out_ok.tac" <<'EOF'
Procedure {
  output = { score = field.number { required = true }, label = field.string {} },
  function(input) return { score = 0.5, label = "fine" } end
}
EOF
sed 's/return { score = 0.5, label = "fine" }/return { score = "high", label = "fine" }/' "$w/out_ok.tac" >"$w/out_type.tac"
sed 's/return { score = 0.5, label = "fine" }/return { label = "fine" }/' "$w/out_ok.tac" >"$w/out_missing.tac"
sed 's/return { score = 0.5, label = "fine" }/return "just text"/' "$w/out_ok.tac" >"$w/out_scalar.tac"
tr_json "$w" out_ok.tac
expect "errors: a result matching the output schema succeeds (control)" "$rc $(json_get 'r["status"]')" '0 "success"'
tr_json "$w" out_missing.tac
expect "errors: a missing required output field fails the run, naming the field and its type" \
  "$rc $(json_get '[r["status"], r["message"]]')" \
  "1 [\"error\", \"OutputValidationError: output: missing required field 'score' (number)\"]"
# A wrong type is logged as an error and the run goes on, as Tactus's
# OutputValidator does (docs/compat.md).
tr_json "$w" out_type.tac
expect "errors: a field of the wrong type is logged (field, expected type), the result kept" \
  "$rc $(json_get '[r["status"], [json.loads(l)["message"] for l in lines if json.loads(l).get("level") == "ERROR"]]')" \
  "0 [\"success\", [\"output validation failed: field 'score': expected a number, got string\"]]"
tr_human "$w" out_scalar.tac
expect_in "errors: a result that is not a table fails the run" "$rc $err$out" "1 " \
  "output: expected a table with the output schema's fields (" "got string"

# ---- hints name the options of the command that failed ---------------------------------
# (`run` has no --bind: an MCP server's missing volume is in mcp.sh.)
sx_err=$(cd "$w" && setsid -w "$TR" sandbox exec --ro-bind "$w/no-such-dir:/data" -- /bin/true 2>&1 </dev/null)
sx_rc=$?
expect_in "errors: sandbox exec: a missing --ro-bind source names the file and sandbox exec's own options" \
  "$sx_rc $sx_err" "1 " "$w/no-such-dir" "--bind SRC:DST or --ro-bind SRC:DST"

# ---- errors point at the user's code ----------------------------------------------------
cat >"$w/nofn.tac" <<'EOF2'
-- a comment
Procedure {
  input = { x = field.string {} },
}
EOF2
tr_json "$w" nofn.tac
expect_in "errors: Procedure {} without a function names the user's file:line, not the runtime's" \
  "$rc $(json_get 'r["message"]')" "1 " "nofn.tac:2: Procedure: the last element of the table must be the body function"
[[ "$out" == *"tactus/"* ]] && fail "errors: no runtime position in the message" "$(short "$out")" \
  || pass "errors: no runtime position in the message"

printf 'Procedure { function()\n  error({ code = 42, why = "quota" })\nend }\n' >"$w/errtable.tac"
tr_json "$w" errtable.tac
expect "errors: error(table) shows the table, at the user's line" "$rc $(json_get 'r["message"]')" \
  '1 "errtable.tac:2: RuntimeError: error object { code = 42, why = \"quota\" }"'
printf 'Procedure { function()\n  error("plain", 0)\nend }\n' >"$w/errplain.tac"
tr_json "$w" errplain.tac
expect "errors: error(string, 0) stays as the user wrote it (control)" "$rc $(json_get 'r["message"]')" \
  '1 "RuntimeError: plain"'

cat >"$w/shapes.tac" <<'EOF2'
Procedure { function()
  local out = {}
  local function probe(name, f, ...)
    local ok, e = pcall(f, ...)
    out[name] = { ok = ok, kind = type(e), type = type(e) == "table" and e.type or nil,
                  text = tostring(e) }
  end
  probe("host", Host.call, "host.nope", {})
  probe("require", require, "no_such_module")
  probe("file", File.read, "no-such-file.txt")
  return out
end }
EOF2
tr_json "$w" shapes.tac
expect "errors: Host.call, require and File.* errors are tables with a type" \
  "$(json_get '[[r["result"][k]["kind"], r["result"][k]["type"]] for k in ("host", "require", "file")]')" \
  '[["table", "ToolNotAllowed"], ["table", "NotFound"], ["table", "FileError"]]'
expect_in "errors: their tostring is Type: message (not table: 0x...)" \
  "$(json_get '" | ".join(r["result"][k]["text"] for k in ("host", "require", "file"))')" \
  "ToolNotAllowed: host tool 'host.nope'" "NotFound: module 'no_such_module'" \
  "FileError: shapes.tac:4: File.read: 'no-such-file.txt'"
[[ "$out" == *"table: 0x"* ]] && fail "errors: no table address in any message" "$(short "$out")" \
  || pass "errors: no table address in any message"
# (Not `return Host.call(...)`: a tail call leaves no frame of the caller.)
printf 'Procedure { function()\n  local x = 1\n  local r = Host.call("host.nope", {})\n  return r\nend }\n' >"$w/hostuncaught.tac"
tr_json "$w" hostuncaught.tac
expect "errors: an uncaught primitive error carries the user's file:line" "$rc $(json_get 'r["message"]')" \
  "1 \"hostuncaught.tac:3: ToolNotAllowed: host tool 'host.nope' is not allowed by the policy (list it under policy.tools in the config)\""
printf 'Procedure { function()\n  return { v = strng.upper("a") }\nend }\n' >"$w/typo.tac"
tr_json "$w" typo.tac
expect_in "errors: a typo'd global gets did you mean, at the user's line" "$rc $(json_get 'r["message"]')" \
  "1 " "typo.tac:2: unknown global 'strng' (did you mean 'string'?)"

# ---- spec failures name the .tac file's line -------------------------------------------------
cat >"$w/spec.tac" <<'EOF2'
Procedure {
  output = { greeting = field.string {} },
  function(input) return { greeting = "Hi" } end
}

Specification([[
Feature: greet
  Scenario: says hello
    When the procedure runs
    Then the output greeting should be "Hello"
]])
EOF2
st_out=$(cd "$w" && setsid -w "$TR" test spec.tac --mock 2>&1 </dev/null)
st_rc=$?
expect_in "errors: a failing spec step names the .tac file's line (spec.tac:10), not the Gherkin text's" \
  "$st_rc $st_out" "1 " 'Then the output greeting should be "Hello"   (spec.tac:10)'
printf 'Procedure { function() return { greeting = "Hi" } end }\nSpecification("Feature: g\\n  Scenario: s\\n    When the procedure runs\\n    Then the output greeting should be \\"Hello\\"\\n")\n' >"$w/specq.tac"
st_out=$(cd "$w" && setsid -w "$TR" test specq.tac --mock 2>&1 </dev/null)
expect_in "errors: a Specification in a quoted string keeps the text's line (its \\n are no file lines)" \
  "$st_out" "(spec line 4)"

# ---- the position is data from the cage ----------------------------------------------------
# A file name with control characters: its position is dropped, never
# printed (the error itself still is); hostuncaught.tac above is the
# positive control (its position is shown).
evil=$'ev\e[2Jil.tac'
cp "$w/hostuncaught.tac" "$w/$evil"
tr_human "$w" "$evil"
if [ "$rc" = 1 ] && [[ "$err$out" == *"ToolNotAllowed: host tool 'host.nope'"* ]] && [[ "$err$out" != *$'\e[2J'*"ToolNotAllowed"* ]]; then
  pass "errors: a position with control characters is not shown before the error"
else
  fail "errors: a position with control characters is not shown before the error" "exit $rc: $(printf '%s' "$err$out" | cat -v | tail -2)"
fi
