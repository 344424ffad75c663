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
