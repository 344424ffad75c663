#!/usr/bin/env bash
# Integration lane: the layered config.  /etc/tactus/config.yml is never
# touched here; the other layers are: ~/.tactus/config.yml (HOME is a
# scratch directory), ./.tactus/config.yml (the scratch working directory)
# and the sidecar NAME.tac.yml.  Scalars override, lists concatenate, maps
# merge; every bad config names its file, line and key and exits 1; the
# policy is deny by default; mount_current_dir and timeout do what they say.
source "$TESTS_DIR/integration/common.bash"

proj="$TMPD/proj"
export HOME="$TMPD/home"
mkdir -p "$proj/.tactus" "$HOME/.tactus"
home_cfg="$HOME/.tactus/config.yml"
proj_cfg="$proj/.tactus/config.yml"

if [ -e /etc/tactus/config.yml ]; then
  skip "config: layering" "/etc/tactus/config.yml exists on this host and may change the results below"
fi

# layers HOME_TEXT PROJECT_TEXT SIDECAR_NAME SIDECAR_TEXT: write the layers
# (an empty text removes that layer).  The project-local ones are trusted
# (tactus-run trust; what an untrusted one may do is tests/hostile/
# config_trust.sh); an invalid one cannot be trusted, and the run reports
# why it is invalid.
layers() {
  rm -f "$home_cfg" "$proj_cfg" "$proj"/*.tac.yml
  [ -n "$1" ] && printf '%s\n' "$1" >"$home_cfg"
  [ -n "$2" ] && printf '%s\n' "$2" >"$proj_cfg" && { trust "$proj_cfg" 2>/dev/null || true; }
  [ -n "$4" ] && printf '%s\n' "$4" >"$proj/$3.tac.yml" && { trust "$proj/$3.tac.yml" 2>/dev/null || true; }
  return 0
}

cat >"$proj/approve.tac" <<'EOF'
Procedure { function() return { approved = Human.approve({ message = "ok?" }) } end }
EOF
cat >"$proj/hosttools.tac" <<'EOF'
Procedure { function()
  local r = {}
  for _, name in ipairs({ "host.ping", "host.echo", "host.time" }) do
    local ok, v = pcall(Host.call, name, { x = 1 })
    r[name] = ok and "allowed" or v.type
  end
  return r
end }
EOF
cat >"$proj/volumes.tac" <<'EOF'
Procedure { function()
  local r = {}
  for _, p in ipairs({ "vol-home/f", "vol-proj/f", "vol-side/f" }) do
    local ok, v = pcall(File.read, p)
    r[#r + 1] = ok and v or "missing"
  end
  return r
end }
EOF
cat >"$proj/files.tac" <<'EOF'
Procedure { function()
  local ok, e = pcall(File.write, "x.txt", "data")
  local ok2, e2 = pcall(File.read, "files.tac")
  return { write = ok or e, read = ok2 or e2 }
end }
EOF
cat >"$proj/sleepy.tac" <<'EOF'
Log.info("sleeping")
Sleep(3)
return "woke"
EOF
cat >"$proj/membomb.tac" <<'EOF'
local s = "x"
while true do s = s .. string.rep(s, 2) end
EOF
cat >"$proj/stages.tac" <<'EOF'
Procedure { function()
  local r = {}
  Stage.set("research")
  r.research = { pcall(Host.call, "host.ping", {}) and "allowed" or "denied",
                 select(2, pcall(Host.call, "host.echo", {})).type }
  Stage.set("publish")
  r.publish = { pcall(Host.call, "host.echo", { y = 1 }) and "allowed" or "denied" }
  local ok, e = pcall(Stage.set, "nowhere")
  r.undeclared = e.type
  return r
end }
EOF
cat >"$proj/hello.tac" <<'EOF'
return "hello"
EOF

# ---- layering --------------------------------------------------------------------
# Scalars: the later layer wins (home < project < sidecar).
layers 'policy: {approve: all}' '' approve ''
tr_json "$proj" approve.tac
expect "config: ~/.tactus/config.yml is read (policy.approve: all)" "$(json_get 'r["result"]["approved"]')" true
layers 'policy: {approve: all}' 'policy: {approve: none}' approve ''
tr_json "$proj" approve.tac
expect "config: scalars: ./.tactus/config.yml overrides ~/.tactus/config.yml" "$(json_get 'r["result"]["approved"]')" false
layers 'policy: {approve: all}' 'policy: {approve: none}' approve 'policy: {approve: all}'
tr_json "$proj" approve.tac
expect "config: scalars: the sidecar overrides both" "$(json_get 'r["result"]["approved"]')" true
tr_json "$proj" approve.tac --approve none
expect "config: scalars: --approve overrides every layer" "$(json_get 'r["result"]["approved"]')" false

# Maps merge: each layer adds a host tool to policy.tools.
layers 'policy:
  tools:
    host.ping: {}' 'policy:
  tools:
    host.echo: {}' hosttools ''
tr_json "$proj" hosttools.tac
expect "config: maps merge: policy.tools from ~ and ./.tactus both apply" "$(json_get 'r["result"]')" \
  '{"host.echo": "allowed", "host.ping": "allowed", "host.time": "ToolNotAllowed"}'
layers 'policy:
  tools:
    host.ping: {}' '' hosttools 'policy:
  tools:
    host.time: {}
  approve: none'
tr_json "$proj" hosttools.tac
expect "config: maps merge: the sidecar adds to policy.tools" "$(json_get 'r["result"]')" \
  '{"host.echo": "ToolNotAllowed", "host.ping": "allowed", "host.time": "allowed"}'

# Lists concatenate: sandbox.volumes from all three layers are mounted.
for v in home proj side; do mkdir -p "$TMPD/src-$v"; echo "from $v" >"$TMPD/src-$v/f"; done
layers "sandbox:
  volumes:
    - $TMPD/src-home:/workspace/vol-home:ro" "sandbox:
  volumes:
    - $TMPD/src-proj:/workspace/vol-proj:ro" volumes "sandbox:
  volumes:
    - $TMPD/src-side:/workspace/vol-side:ro"
tr_json "$proj" volumes.tac
if [ "$(json_get 'r["result"]')" = '["from home\n", "from proj\n", "from side\n"]' ]; then
  pass "config: lists concatenate: sandbox.volumes from ~, ./.tactus and the sidecar are all mounted"
else
  fail "config: lists concatenate: sandbox.volumes from ~, ./.tactus and the sidecar are all mounted" \
    "$(json_get 'r.get("result") or r.get("message")') $(short "$err")"
fi
# Relative sources are resolved against the config file's directory.
layers '' "sandbox:
  volumes:
    - ../../src-proj:/workspace/vol-proj:ro" volumes "sandbox:
  volumes:
    - ../src-side:/workspace/vol-side:ro"
tr_json "$proj" volumes.tac
expect "config: a relative volume source is relative to its config file" "$(json_get 'r["result"]')" \
  '["missing", "from proj\n", "from side\n"]' "$(short "$err")"
layers '' '' volumes "sandbox:
  volumes:
    - $TMPD/src-side:/workspace/vol-side:ro"
tr_json "$proj" volumes.tac
printf 'Procedure { function() return (select(2, pcall(File.write, "vol-side/g", "x"))) end }\n' >"$proj/rovol.tac"
cp "$proj/volumes.tac.yml" "$proj/rovol.tac.yml"
trust "$proj/rovol.tac.yml"
tr_json "$proj" rovol.tac
expect_in "config: a read-only volume cannot be written" "$(json_get 'r["result"]')" "File.write: 'vol-side/g': Read-only file system"

# ---- bad config: file, line and key; exit 1 -------------------------------------------
# bad_config NAME WHERE TEXT NEEDLE...: WHERE is home, proj or sidecar.
bad_config() {
  local name="$1" where="$2" text="$3" file
  shift 3
  case "$where" in
    home) layers "$text" '' hello ''; file="$home_cfg" ;;
    proj) layers '' "$text" hello ''; file=".tactus/config.yml" ;;
    sidecar) layers '' '' hello "$text"; file="hello.tac.yml" ;;
  esac
  tr_human "$proj" hello.tac
  expect_in "config: $name: exit 1, naming the file, line and key" "$rc $err" "1 " "$file:" "$@"
}
bad_config "bad memory size" sidecar $'sandbox:\n  limits:\n    memory: lots' \
  "hello.tac.yml:3: sandbox.limits.memory: 'lots' is not a size"
bad_config "too small a memory size" proj $'sandbox:\n  limits:\n    memory: 1k' \
  ".tactus/config.yml:3: sandbox.limits.memory"
bad_config "sandbox.network: bridge refused" home $'# comment\nsandbox:\n  network: bridge' \
  "$home_cfg:3: sandbox.network: 'bridge' is not supported"
bad_config "unknown sandbox key" sidecar $'sandbox:\n  enabled: true\n  frobnicate: 1' \
  "hello.tac.yml:3: sandbox: unknown key 'frobnicate'"
bad_config "bad boolean" proj $'sandbox:\n  enabled: maybe' \
  ".tactus/config.yml:2: sandbox.enabled: 'maybe' is not a boolean"
bad_config "bad boolean (quoted)" sidecar $'sandbox:\n  jit: "true"' "hello.tac.yml:2: sandbox.jit"
bad_config "bad policy.approve" sidecar $'policy:\n  approve: sometimes' \
  "hello.tac.yml:2: policy.approve: 'sometimes' must be ask, all or none"
bad_config "unknown policy key" home $'policy:\n  allow_everything: true' "$home_cfg:2: policy: unknown key 'allow_everything'"
bad_config "unknown top-level key, with did you mean" sidecar $'# typo\nsandox:\n  enabled: false' \
  "hello.tac.yml:2: config: unknown key 'sandox' (sandbox, policy," "did you mean 'sandbox'?"
bad_config "unknown top-level key (home)" home $'default_modle: openai/gpt-4o' \
  "$home_cfg:1: config: unknown key 'default_modle'" "did you mean 'default_model'?"
bad_config "Tactus-only top-level key (tool_paths)" proj $'tool_paths: [./tools]' \
  ".tactus/config.yml:1: config: unknown key 'tool_paths'"
bad_config "unknown nested key, with did you mean" sidecar $'policy:\n  tools:\n    host.x:\n      comand: [/bin/true]' \
  "hello.tac.yml:4: policy.tools: 'host.x': unknown key 'comand'" "did you mean 'command'?"
bad_config "unknown limit, with did you mean" proj $'sandbox:\n  limits:\n    memroy: 64m' \
  ".tactus/config.yml:3: sandbox.limits: unknown key 'memroy' (memory, cpus, pids); did you mean 'memory'?"
bad_config "unknown key of a map value names the key's line" sidecar $'policy:\n  tols:\n    host.x: {}' \
  "hello.tac.yml:2: policy: unknown key 'tols'" "did you mean 'tools'?"
layers 'openai_api_key: sk-not-real' '' hello ''
tr_human "$proj" hello.tac
expect "config: API keys at the top level of ~/.tactus/config.yml are known keys" "$rc" 0
bad_config "host tool name without host." sidecar $'policy:\n  tools:\n    rm: {}' "hello.tac.yml:3: policy.tools: 'rm'"
bad_config "relative tool command" sidecar $'policy:\n  tools:\n    host.x:\n      command: [sh, -c, id]' \
  "hello.tac.yml:4: policy.tools.command: the command must start with an absolute path"
bad_config "bad timeout" proj $'sandbox:\n  timeout: soon' ".tactus/config.yml:2: sandbox.timeout: 'soon' is not a duration"
bad_config "bad mount_current_dir" sidecar $'sandbox:\n  mount_current_dir: maybe' \
  "hello.tac.yml:2: sandbox.mount_current_dir: 'maybe' is not valid (use true or rw" "ro for read-only" \
  "overlay for writes that vanish with the run" "false or off"
if [[ "$err" == *"(or ro)"* ]] || [[ "$err" != "tactus-run: hello.tac.yml:2: sandbox.mount_current_dir: "* ]]; then
  fail "config: bad mount_current_dir: the message starts with file:line: key (no garbled prefix)" "$(short "$err")"
else
  pass "config: bad mount_current_dir: the message starts with file:line: key (no garbled prefix)"
fi
bad_config "mount_current_dir as a list" proj $'sandbox:\n  mount_current_dir: [ro]' \
  ".tactus/config.yml:2: sandbox.mount_current_dir: expected a single value"
bad_config "bad volume" sidecar $'sandbox:\n  volumes:\n    - /tmp' "hello.tac.yml:3: sandbox.volumes"
bad_config "a volume outside /workspace (a procedure could never see it)" proj $'sandbox:\n  volumes:\n    - /tmp:/data:ro' \
  ".tactus/config.yml:3: sandbox.volumes: target /data is outside /workspace" "mount it at /workspace/NAME"
bad_config "YAML syntax error" sidecar $'sandbox:\n  limits: [1, 2\n  x: y' "hello.tac.yml:" "YAML syntax error"
bad_config "YAML syntax error (home)" home $'policy:\n\t- bad' "$home_cfg:" "YAML syntax error"
bad_config "alias refused" sidecar $'base: &b\n  x: 1\nsandbox:\n  limits: *b' \
  "hello.tac.yml:4: YAML aliases (*name) are not supported"

# sandbox.env: a provider secret is dropped with a warning; the run goes on.
layers '' '' hello $'sandbox:\n  env:\n    OPENAI_API_KEY: sk-test-not-a-key\n    PLAIN: fine'
tr_human "$proj" hello.tac
expect_in "config: sandbox.env with OPENAI_API_KEY is refused with a warning (the run goes on)" "$rc $err" \
  "0 " "hello.tac.yml:3: sandbox.env.OPENAI_API_KEY is a provider secret"
if [[ "$out$err" == *sk-test-not-a-key* ]]; then
  fail "config: the refused secret's value is never printed" "it is in the output"
else
  pass "config: the refused secret's value is never printed"
fi
layers '' '' hello $'sandbox:\n  env:\n    - AWS_SECRET_ACCESS_KEY=abc'
tr_human "$proj" hello.tac
expect_in "config: sandbox.env as a list is checked too" "$rc $err" "0 " "AWS_SECRET_ACCESS_KEY is a provider secret"

# ---- policy --------------------------------------------------------------------------
layers '' '' hosttools ''
tr_json "$proj" hosttools.tac
expect "config: policy: with no policy every host tool is denied (ToolNotAllowed)" "$(json_get 'r["result"]')" \
  '{"host.echo": "ToolNotAllowed", "host.ping": "ToolNotAllowed", "host.time": "ToolNotAllowed"}'
expect_in "config: policy: a denial is logged" "$out" "denied host tool 'host.ping' (not in the policy)"
layers '' '' hosttools $'policy:\n  tools:\n    - host.ping\n    - host.echo'
tr_json "$proj" hosttools.tac
expect "config: policy: listed tools work (list form)" "$(json_get 'r["result"]')" \
  '{"host.echo": "allowed", "host.ping": "allowed", "host.time": "ToolNotAllowed"}'
layers '' '' hosttools $'policy:\n  tools:\n    host.ping: {}\n    host.echo:\n      approval: required'
tr_json "$proj" hosttools.tac
expect "config: policy: approval: required is denied without --approve (no TTY)" "$(json_get 'r["result"]')" \
  '{"host.echo": "ApprovalRequired", "host.ping": "allowed", "host.time": "ToolNotAllowed"}'
tr_json "$proj" hosttools.tac --approve all
expect "config: policy: approval: required is allowed with --approve all" "$(json_get 'r["result"]["host.echo"]')" '"allowed"'
tr_json "$proj" hosttools.tac --approve none
expect "config: policy: approval: required is denied with --approve none" "$(json_get 'r["result"]["host.echo"]')" '"ApprovalRequired"'
printf '#!/bin/sh\nread -r args\nprintf '"'"'{"got": %%s, "uid": %%s}'"'"' "$args" "$(id -u)"\n' >"$TMPD/tool.sh"
chmod 0755 "$TMPD/tool.sh"
cat >"$proj/cmdtool.tac" <<'EOF'
Procedure { function() return Host.call("host.custom", { n = 42 }) end }
EOF
layers '' '' cmdtool "policy:
  tools:
    host.custom:
      command: [$TMPD/tool.sh]
      timeout: 5"
tr_json "$proj" cmdtool.tac
expect "config: policy: a command host tool runs on the host with the args as JSON" \
  "$(json_get 'r["result"]["got"]')" '{"n": 42}' "$(short "$out$err")"

# Stages: the policy may allow host tools per stage.
layers '' '' stages $'policy:\n  tools:\n    host.ping: {}\n    host.echo: {}\n  stages:\n    research: [host.ping]\n    publish: [host.echo]'
tr_json "$proj" stages.tac
expect "config: policy.stages: a tool runs only in a stage that lists it; undeclared stages are refused" \
  "$(json_get 'r["result"]')" '{"publish": ["allowed"], "research": ["allowed", "ToolNotAllowed"], "undeclared": "StageNotAllowed"}' \
  "$(short "$out$err")"
# Before the first Stage.set, a tool some stage lists is denied (it is
# meant for that stage); a tool no stage lists is not stage-restricted.
cat >"$proj/prestage.tac" <<'EOF'
Procedure { function()
  local function try(name)
    local ok, e = pcall(Host.call, name, {})
    return ok and "allowed" or (e.type .. ": " .. e.message)
  end
  local r = { before = { try("host.ping"), try("host.echo"), try("host.time") } }
  local ok, e = pcall(Stage.set, "nowhere")
  r.undeclared = e.type .. ": " .. e.message
  r.still_before = try("host.ping")
  Stage.set("research")
  r.research = { try("host.ping"), try("host.echo"), try("host.time") }
  return r
end }
EOF
layers '' '' prestage $'policy:\n  tools:\n    host.ping: {}\n    host.echo: {}\n    host.time: {}\n  stages:\n    research: [host.ping]\n    publish: [host.echo, host.ping]'
tr_json "$proj" prestage.tac
expect "config: policy.stages: before any Stage.set, stage-listed tools are denied, unlisted ones allowed" \
  "$(json_get 'r["result"]["before"]')" \
  "[\"ToolNotAllowed: host tool 'host.ping' is not allowed before a stage is set: it is allowed only in stages 'research', 'publish' (Stage.set)\", \"ToolNotAllowed: host tool 'host.echo' is not allowed before a stage is set: it is allowed only in stage 'publish' (Stage.set)\", \"allowed\"]" \
  "$(short "$out$err")"
expect "config: policy.stages: Stage.set of an undeclared stage is refused, naming the declared ones" \
  "$(json_get 'r["result"]["undeclared"]')" \
  "\"StageNotAllowed: stage 'nowhere' is not declared in the policy (policy.stages: 'research', 'publish'); the current stage is unchanged\""
expect "config: policy.stages: a refused Stage.set leaves no stage set (still denied)" \
  "$(json_get 'r["result"]["still_before"].split(":")[0]')" '"ToolNotAllowed"'
expect "config: policy.stages: in a stage, only its tools run" \
  "$(json_get 'r["result"]["research"]')" \
  "[\"allowed\", \"ToolNotAllowed: host tool 'host.echo' is not allowed in stage 'research': it is allowed only in stage 'publish'\", \"ToolNotAllowed: host tool 'host.time' is not allowed in stage 'research'\"]"
expect_in "config: policy.stages: the denial before a stage is logged" "$out" "denied host tool 'host.ping' (no stage is set)"

# ---- sandbox keys ----------------------------------------------------------------------
layers '' '' files $'sandbox:\n  mount_current_dir: false'
tr_json "$proj" files.tac
expect_in "config: mount_current_dir: false: File.* fail with a clear error" "$(json_get 'r["result"]')" \
  "no workspace is mounted (sandbox.mount_current_dir is off)"
if [ ! -e "$proj/x.txt" ]; then pass "config: mount_current_dir: false: nothing was written"; else fail "config: mount_current_dir: false: nothing was written" "x.txt exists"; fi
layers '' '' files $'sandbox:\n  mount_current_dir: ro'
tr_json "$proj" files.tac
expect "config: mount_current_dir: ro: reads work, writes are refused" \
  "$(json_get '[r["result"]["read"] is not True and "read failed" or "read ok", "Read-only file system" in str(r["result"]["write"])]')" \
  '["read ok", true]'
layers '' '' files $'sandbox:\n  mount_current_dir: overlay'
rm -f "$proj/x.txt"
tr_json "$proj" files.tac
expect "config: mount_current_dir: overlay: reads and writes work inside" \
  "$(json_get '[r["result"]["read"] is not True and "read failed" or "read ok", r["result"]["write"]]')" \
  '["read ok", true]'
if [ ! -e "$proj/x.txt" ]; then pass "config: mount_current_dir: overlay: the write never reaches the directory"
else fail "config: mount_current_dir: overlay: the write never reaches the directory" "x.txt exists"; fi

layers '' '' sleepy $'sandbox:\n  timeout: 0.5'
start=$(date +%s%N)
tr_human "$proj" sleepy.tac
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$rc" = 124 ] && [ "$ms" -lt 2500 ]; then
  pass "config: sandbox.timeout ends the run (exit 124 after ${ms} ms)"
else
  fail "config: sandbox.timeout ends the run" "exit $rc after ${ms} ms: $(short "$err")"
fi
layers $'sandbox:\n  timeout: 0.5' '' sleepy $'sandbox:\n  timeout: 1m'
tr_human "$proj" sleepy.tac --timeout 0.5
expect "config: --timeout overrides sandbox.timeout" "$rc" 124
layers $'sandbox:\n  limits:\n    memory: 64m' '' membomb ''
tr_human "$proj" membomb.tac
expect_in "config: sandbox.limits.memory bounds the VM (exit 137)" "$rc $err" "137 " "memory limit"

layers '' '' hello $'sandbox:\n  enabled: false'
tr_human "$proj" hello.tac
expect_in "config: sandbox.enabled: false runs without the sandbox, with a warning" "$rc $err" "0 " "WITHOUT the sandbox"
for key in 'image: tactus-sandbox:local' 'dev_mode: true' 'broker_transport: tcp'; do
  layers '' '' hello $'sandbox:\n  enabled: true\n  '"$key"
  tr_human "$proj" hello.tac
  expect_in "config: Docker-only sandbox key ${key%%:*} is an error, not silently ignored" "$rc $err" "1 " \
    "hello.tac.yml:3: sandbox: '${key%%:*}' configures Tactus's Docker sandbox" "remove it"
done
