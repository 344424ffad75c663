#!/usr/bin/env bash
# Integration lane: MCP tool servers (mcp_servers in the config), brokered
# and caged.  The server is tests/lib/fake_mcp.py (stdio JSON-RPC as the
# MCP specification defines it); the model, when there is one, is
# tests/lib/fake_openai.py.  Covered: the tools as Tactus exposes them
# (Tool.get("SERVER_TOOL"), mcp.SERVER.TOOL, Toolset { use = "mcp.SERVER" },
# an agent's tools = { "SERVER" }), tools/list across pages, structured and
# text results, a tool error, the policy (not listed, mcp.SERVER.*, stages,
# approvals), the server's stderr and log notifications in the trace, its
# ping answered, a hung server (timeout, notifications/cancelled, the
# server still usable), a crashing one (exit status and last words), env
# with ${VAR} reaching only its own server, nothing started when unused,
# everything stopped at the end, as root and unprivileged, and config
# errors.  The hostile server (what a caged server can reach): tests/hostile/mcp.sh.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
work="$scratch/work"
home="$scratch/home"
srv="$scratch/srv"
mkdir -p "$work" "$home/.tactus" "$srv"
cp "$TESTS_DIR/lib/fake_mcp.py" "$srv/"
chmod -R 0755 "$work" "$home" "$srv"
MARK="mcpmark$$"
MLOG="$scratch/mcp.log"
touch "$MLOG"
chmod 0666 "$MLOG"
unset OPENAI_API_KEY OPENAI_BASE_URL
trap 'stop_fake; rm -rf "$scratch"' EXIT

q() { python3 "$TESTS_DIR/lib/jsonl_query.py" "$1" "$2"; }
qo() { q "$scratch/out" "$1"; }
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3${4:+ ($4)}"; fi
}
short() { printf '%s' "$1" | tail -3 | tr '\n' ' ' | cut -c1-400; }

# config POLICY-YAML [EXTRA-SERVER-YAML]: ~/.tactus/config.yml with the
# fake server as "fake" (its log in $MLOG: the scratch dir is bound).
config() {
  cat >"$home/.tactus/config.yml" <<EOF
mcp_servers:
  fake:
    command: python3
    args: [$srv/fake_mcp.py, $MARK]
    cwd: $srv
    env: { FAKE_TOKEN: "\${MCP_SECRET}", FAKE_MCP_LOG: $MLOG, PLAIN: plain-value }
    volumes: ["$scratch:$scratch"]
    timeout: 2s
${2:-}
$1
EOF
}

# run [USER] TAC ARGS...: tactus-run run in $work with HOME=$home.
run() {
  local -a pre=()
  if [ "$1" = nobody ]; then
    pre=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
    shift
  elif [ "$1" = root ]; then
    shift
  fi
  local tac="$1"
  shift
  (cd "$work" && exec env HOME="$home" MCP_SECRET=mcp-secret-$$ OPENAI_API_KEY=sk-host-$$ OPENAI_BASE_URL="${URL:-}" \
    "${pre[@]}" setsid -w "$TR" run "$tac" "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}

alive() { pgrep -f "fake_mcp.py $MARK" | wc -l; }

# ---- direct calls -----------------------------------------------------------------------
cat >"$work/direct.tac" <<'EOF'
Procedure { function(input)
  local add = Tool.get("fake_add")
  local r = add({ a = 2, b = 3 })
  local e = mcp.fake.echo({ text = "hi" })
  local env = Tool.get("fake_env")({ names = { "FAKE_TOKEN", "PLAIN", "OPENAI_API_KEY", "HOME" } })
  local ok, err = pcall(mcp.fake.fail, {})
  return { sum = r.sum, echo = e, token = env.FAKE_TOKEN or "none", plain = env.PLAIN,
           host_key = env.OPENAI_API_KEY or "none", fail = err.type .. ": " .. err.message,
           called = Tool.called("fake_add") }
end }
EOF
config "policy: { tools: [mcp.fake.add, mcp.fake.echo, mcp.fake.env, mcp.fake.fail] }"
for who in root nobody; do
  : >"$MLOG"
  run $who direct.tac --json
  check "mcp ($who): Tool.get and mcp.SERVER.TOOL call a caged server's tools (structured and text results, a tool error as ToolError)" \
    "$rc $(qo '[r["result"][k] for k in ("sum", "echo", "plain", "fail", "called")]')" \
    '0 [5, "hi", "plain-value", "ToolError: MCP tool mcp.fake.fail failed: the tool failed on purpose", true]' "$(short "$err")"
  check "mcp ($who): env: with \${VAR} reaches its server; the host's OPENAI_API_KEY does not" \
    "$(qo '[r["result"]["token"], r["result"]["host_key"]]')" "[\"mcp-secret-$$\", \"none\"]"
  check "mcp ($who): the server was started in its own sandbox and stopped at the end; nothing is left" \
    "$(qo '[e["event"] for e in of("mcp")]') $(alive)" '["started", "stopped"] 0'
done
check "mcp: tools/list across its pages (fake_env is on the second), tool_call events with args and results" \
  "$(qo '[(e["tool_name"], e["tool_args"], e["tool_result"]) for e in of("tool_call")][:2]')" \
  '[["fake_add", {"a": 2, "b": 3}, {"sum": 5}], ["fake_echo", {"text": "hi"}, "hi"]]'
check "mcp: the server's stderr and its log notification are in the trace (logger mcp.fake)" \
  "$(qo '[e["message"][:25] for e in of("log") if e.get("logger_name") == "mcp.fake"]')" \
  '["fake MCP server starting ", "first tool call"]'
check "mcp: the handshake and the server's own ping are answered (initialize, initialized, ping reply)" \
  "$(q "$MLOG" '[e.get("method") or ("reply %s" % e["id"]) for e in ev][:5]')" \
  '["initialize", "notifications/initialized", "tools/list", "tools/list", "tools/call"]'
if grep -q '"id": "srv-1", "result": {}' "$MLOG"; then
  pass "mcp: the server's ping request is answered with an empty result"
else
  fail "mcp: the server's ping request is answered" "$(tail -3 "$MLOG")"
fi

# ---- an agent uses the server's tools --------------------------------------------------
for form in toolset server; do
  start_fake '[{"text": "adding", "tool_calls": [{"name": "fake_add", "arguments": {"a": 20, "b": 22}}]},
               {"tool_calls": [{"name": "done", "arguments": {"reason": "42"}}]}]'
  if [ $form = toolset ]; then
    tools='Toolset "calc" { use = "mcp.fake" }
a = Agent { model = "openai/gpt-4o-mini", tools = { "calc", done } }'
  else
    tools='a = Agent { model = "openai/gpt-4o-mini", tools = { "fake", done } }'
  fi
  cat >"$work/agent.tac" <<EOF
local done = require("tactus.tools.done")
$tools
Procedure { function(input)
  local r = a({ message = "20+22?" })
  return { reason = done.last_call().args.reason, sum = Tool.last_result("fake_add").sum }
end }
EOF
  config "policy: { tools: ['mcp.fake.*'] }"
  run agent.tac --json
  check "mcp: an agent with tools = { $( [ $form = toolset ] && echo '"calc" (Toolset use = "mcp.fake")' || echo '"fake" (the server'"'"'s name)') } calls the server's tool and finishes" \
    "$rc $(qo '[r["result"]["reason"], r["result"]["sum"]]') $(q "$LOG" '[len(ev), sorted(t["function"]["name"] for t in ev[0]["body"]["tools"])[:3], [t["function"]["parameters"].get("additionalProperties") for t in ev[0]["body"]["tools"] if t["function"]["name"] == "fake_add"]]')" \
    '0 ["42", 42] [2, ["done", "fake_add", "fake_crash"], [false]]' "$(short "$err")"
done
check "mcp: the model got the tool's result back" \
  "$(q "$LOG" '[m["content"] for m in ev[1]["body"]["messages"] if m["role"] == "tool"]')" '["{\"sum\":42}"]'

# ---- the policy: not listed, stages, approvals ----------------------------------------
cat >"$work/policy.tac" <<'EOF'
local function try(f, a) local ok, e = pcall(f, a); if ok then return "ok" end return e.type .. ": " .. e.message end
Procedure { function(input)
  local before = try(mcp.fake.add, { a = 1, b = 1 })
  Stage.set("calc")
  local during = try(mcp.fake.add, { a = 1, b = 1 })
  local echo = try(mcp.fake.echo, { text = "x" })
  return { before = before, during = during, echo = echo, other = try(mcp.fake.slow, { seconds = 0 }) }
end }
EOF
config "policy:
  tools:
    mcp.fake.add: {}
    mcp.fake.echo: { approval: required }
  stages: { calc: [mcp.fake.add, mcp.fake.echo] }"
run policy.tac --json --approve none
check "mcp: the policy: a stage's tool is refused before Stage.set, runs in it; approval required and denied; an unlisted tool refused naming mcp.SERVER.*" \
  "$rc $(qo '[r["result"][k] for k in ("before", "during", "echo", "other")]')" \
  "0 [\"ToolNotAllowed: MCP tool 'mcp.fake.add' is not allowed before a stage is set: it is allowed only in stage 'calc' (Stage.set)\", \"ok\", \"ApprovalRequired: MCP tool 'mcp.fake.echo' needs a human's approval (denied)\", \"ToolNotAllowed: MCP tool 'mcp.fake.slow' is not allowed by the policy (list it, or mcp.fake.* for all of its server's tools, under policy.tools in the config)\"]" \
  "$(short "$err")"
run policy.tac --json --approve all
check "mcp: an approved call runs" "$rc $(qo 'r["result"]["echo"]')" '0 ok' "$(short "$err")"

# ---- a hung server, a crashing one ------------------------------------------------------
cat >"$work/hang.tac" <<'EOF'
Procedure { function(input)
  local ok, e = pcall(mcp.fake.slow, { seconds = 30 })
  local after = mcp.fake.echo({ text = "still there" })
  local ok2, e2 = pcall(mcp.fake.crash, {})
  local ok3, e3 = pcall(mcp.fake.echo, { text = "gone" })
  return { hung = e.type .. ": " .. e.message, after = after, crash = e2.type .. ": " .. e2.message,
           dead = e3.type .. ": " .. e3.message }
end }
EOF
config "policy: { tools: ['mcp.fake.*'] }"
: >"$MLOG"
run hang.tac --json
check "mcp: a server that does not answer within its timeout: ToolError, notifications/cancelled sent, the server still usable" \
  "$rc $(qo '[r["result"]["hung"], r["result"]["after"]]') $(q "$MLOG" '[e["params"]["requestId"] for e in ev if e.get("method") == "notifications/cancelled"] == [e["id"] for e in ev if e.get("method") == "tools/call" and e["params"]["name"] == "slow"]')" \
  "0 [\"ToolError: MCP server 'fake' did not answer tools/call within 2 s (cancelled; mcp_servers.fake.timeout)\", \"still there\"] true" \
  "$(short "$err")"
check "mcp: a server that dies: ToolError with its exit status and last stderr line, and so for every later call" \
  "$(qo '[r["result"]["crash"], r["result"]["dead"]]')" \
  "[\"ToolError: MCP server 'fake' exited (exit status 3); its last words: crashing now\", \"ToolError: MCP server 'fake' exited (exit status 3); its last words: crashing now\"]"
check "mcp: nothing is left after the run" "$(alive)" 0

# ---- env reaches only its own server; unused servers never start -----------------------
cat >"$work/two.tac" <<'EOF'
Procedure { function(input)
  local a = mcp.fake.env({ names = { "FAKE_TOKEN", "OTHER_TOKEN" } })
  local b = mcp.other.env({ names = { "FAKE_TOKEN", "OTHER_TOKEN" } })
  return { a = { a.FAKE_TOKEN or "none", a.OTHER_TOKEN or "none" }, b = { b.FAKE_TOKEN or "none", b.OTHER_TOKEN or "none" } }
end }
EOF
config "policy: { tools: ['mcp.fake.*', 'mcp.other.*'] }" "  other:
    command: python3
    args: [$srv/fake_mcp.py, $MARK]
    cwd: $srv
    env: { OTHER_TOKEN: other-secret }
  unused:
    command: python3
    args: [$srv/fake_mcp.py, $MARK, unused]
    cwd: $srv"
run two.tac --json
check "mcp: each server's env reaches that server only; a configured server the run does not use never starts" \
  "$rc $(qo '[r["result"]["a"], r["result"]["b"], sorted(set(e["server"] for e in of("mcp")))]')" \
  "0 [[\"mcp-secret-$$\", \"none\"], [\"none\", \"other-secret\"], [\"fake\", \"other\"]]" "$(short "$err")"
printf 'Procedure { function() return { ok = true } end }\n' >"$work/plain.tac"
run plain.tac --json
check "mcp: a run that uses no MCP tool starts no server" "$rc $(qo 'len(of("mcp"))') $(alive)" '0 0 0' "$(short "$err")"

# ---- errors -------------------------------------------------------------------------------
cat >"$work/unknown.tac" <<'EOF'
Procedure { function(input)
  local ok, e = pcall(function() return mcp.nosuch end)
  return { e = tostring(e) }
end }
EOF
run unknown.tac --json
check "mcp: a server the config does not name is an error naming it" \
  "$rc $(qo 'r["result"]["e"].split(": ", 1)[1]')" '0 mcp.nosuch: no such MCP server in the config'
printf 'mcp_servers:\n  broken: { args: [x] }\n' >"$home/.tactus/config.yml"
run plain.tac
if [ "$rc" = 1 ] && [[ "$err" == *"config.yml:2: mcp_servers: 'broken' has no command"* ]]; then
  pass "mcp: a server without a command is a config error naming the file and line"
else
  fail "mcp: a server without a command is a config error" "exit $rc: $(short "$err")"
fi
printf 'mcp_servers:\n  s: { command: x, sandbx: false }\n' >"$home/.tactus/config.yml"
run plain.tac
if [ "$rc" = 1 ] && [[ "$err" == *"unknown key 'sandbx' (command, args, env, cwd, sandbox, workspace, volumes, timeout)"* ]]; then
  pass "mcp: an unknown key of a server is a config error listing the known ones"
else
  fail "mcp: an unknown key of a server is a config error" "exit $rc: $(short "$err")"
fi
printf 'mcp_servers:\n  s: { command: /nonexistent/server }\npolicy: { tools: [mcp.s.x] }\n' >"$home/.tactus/config.yml"
printf 'Procedure { function() local ok, e = pcall(function() return mcp.s.x({}) end); return { e = e.type .. ": " .. e.message } end }\n' >"$work/nocmd.tac"
run nocmd.tac --json
if [ "$rc" = 0 ] && [[ "$(qo 'r["result"]["e"]')" == "ToolError: MCP server 's' could not be started: exec /nonexistent/server inside the sandbox"* ]]; then
  pass "mcp: a server that cannot start is a clear ToolError"
else
  fail "mcp: a server that cannot start is a clear ToolError" "exit $rc: $(qo 'r["result"]') $(short "$err")"
fi
# A volume whose source is missing: the hint names no option of another
# command (run has no --bind).
printf 'mcp_servers:\n  s: { command: /bin/true, volumes: ["%s/no-such-dir:/data"] }\npolicy: { tools: [mcp.s.x] }\n' "$scratch" >"$home/.tactus/config.yml"
run nocmd.tac --json
nocmd_e=$(qo 'r["result"]["e"]')
if [[ "$nocmd_e" == *"no-such-dir"*"the path is not in the sandbox"* ]] && [[ "$nocmd_e" != *"--bind"* ]] && [[ "$nocmd_e" != *"--ro-bind"* ]]; then
  pass "mcp: a server volume with a missing source: the hint names no flag run lacks"
else
  fail "mcp: a server volume with a missing source: the hint names no flag run lacks" "$(short "$nocmd_e")"
fi
stop_fake
