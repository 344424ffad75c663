#!/usr/bin/env bash
# Valgrind lane: memcheck on the broker (the tactus-run process) through
# whole runs, with --no-sandbox: valgrind 3.19 (Debian 12's) implements
# neither clone3 nor pidfd_open, and emulates clone only for threads and
# fork-like flags, so the sandbox (clone3 with CLONE_NEWUSER|CLONE_NEWPID|
# ...|CLONE_PIDFD) cannot be built under it; the --no-sandbox path goes on
# without a pidfd.  A sandboxed run is tried first all the same: while it
# fails on clone3 the lane says so (a SKIP line with the reason); once a
# valgrind can, that run is checked like the others.
#
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
#            --child-silent-after-fork=yes --track-fds=yes
#
# The forked VM child still runs under valgrind, silenced: it never frees
# its Lua state (PID 1 just exits), which memcheck would count as lost; the
# lane checks the broker, the parent.  Runs:
#   - examples/agent_tools.tac against tests/lib/fake_openai.py (127.0.0.1):
#     streamed tool calls, the Lua tools, done;
#   - a tool-heavy procedure: host tools (built-in and a command tool,
#     approvals, a denial), a non-streamed agent with tools, model errors
#     (500 retried, 401), Human.approve, stages, modules, sub-procedures,
#     checkpoints with --storage file, File.*, logs, --trace and --json;
#   - a procedure that fails, and one that passes its deadline (the kill
#     path without a pidfd).
# Each must end with its usual exit status (not 99, memcheck's
# --error-exitcode, which definite leaks count towards too), memcheck's
# ERROR SUMMARY 0, a leak check that ran (its LEAK SUMMARY, or "All heap
# blocks were freed") with no definitely lost block, and no fd opened by
# tactus-run still open at exit.
source "$TESTS_DIR/lib.sh"

if ! command -v valgrind >/dev/null 2>&1; then
  skip "valgrind: broker under memcheck" "valgrind is not installed (apt-get install valgrind)"
  exit 0
fi

# A sanitizer build (make asan) cannot run under valgrind.
if ldd "$TR" 2>/dev/null | grep -q 'libasan\|libubsan\|libtsan'; then
  skip "valgrind: broker under memcheck" "$TR is a sanitizer build; run this lane on the plain build"
  exit 0
fi

REPO=$(cd "$TESTS_DIR/.." && pwd)
scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
trap 'stop_fake; [ -n "${KEEP_SCRATCH:-}" ] || rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/work/lib"
export HOME="$scratch/home"
unset OPENAI_API_KEY
export OPENAI_BASE_URL=http://127.0.0.1:9/v1


# vg NAME WANT-RC DIR ARGS...: tactus-run run ARGS under memcheck in DIR.
vg() {
  local name="$1" want="$2" dir="$3" rc t0 secs verdict nosb=--no-sandbox
  shift 3
  [ -n "${VG_SANDBOX:-}" ] && nosb=""
  rm -f "$scratch"/vg.log.*
  t0=$SECONDS
  (cd "$dir" && OPENAI_API_KEY=sk-valgrind OPENAI_BASE_URL="${URL:-http://127.0.0.1:9/v1}" \
     setsid -w valgrind --log-file="$scratch/vg.log.%p" --error-exitcode=99 --leak-check=full \
     --errors-for-leak-kinds=definite --child-silent-after-fork=yes --track-fds=yes \
     "$TR" run "$@" $nosb >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  secs=$((SECONDS - t0))
  # The broker's log (the child is silent): errors, definite leaks, fds
  # open at exit that tactus-run opened (not "<inherited from parent>").
  verdict=$(python3 - "$scratch" <<'EOF'
import glob, re, sys
logs = [open(p, errors="replace").read() for p in glob.glob(sys.argv[1] + "/vg.log.*")]
text = "\n".join(logs)
errors = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
lost = re.findall(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
lines = [re.sub(r"^==\d+== ?", "", l) for l in text.splitlines()]
fds = []
for i, l in enumerate(lines):
    m = re.match(r"Open (?:file descriptor|AF_UNIX socket|AF_INET socket) (\d+)(.*)", l)
    if m and not (i + 1 < len(lines) and "inherited from parent" in lines[i + 1]):
        fds.append("%s%s" % (m.group(1), m.group(2)))
bad = [l for l in lines if "Invalid" in l or "uninitialised" in l or "definitely lost in" in l][:3]
# The leak check must have run (a valgrind that died early prints neither).
checked = "LEAK SUMMARY:" in text or "All heap blocks were freed" in text
print("errors=%s lost=%s fds=%s%s" % (sum(int(e) for e in errors) if errors else "none",
                                       sum(int(b.replace(",", "")) for b, _ in lost) if checked else "unchecked",
                                       len(fds), (" " + " | ".join(fds[:3] + bad)) if fds or bad else ""))
EOF
)
  if [ "$rc" = "$want" ] && [[ "$verdict" == "errors=0 lost=0 fds=0" ]]; then
    pass "valgrind: $name: exit $rc, 0 errors, 0 bytes definitely lost, no fd left open ($secs s)"
  else
    fail "valgrind: $name" "exit $rc (want $want; 99 is memcheck's), $verdict; $(tail -2 "$scratch/err" | tr '\n' ' ' | cut -c1-300)"
  fi
}

# ---- a sandboxed run ---------------------------------------------------------------
printf 'return { ok = true }\n' >"$scratch/work/tiny.tac"
(cd "$scratch/work" && timeout 300 valgrind -q --error-exitcode=99 --child-silent-after-fork=yes \
   "$TR" run tiny.tac --json >"$scratch/sb.out" 2>"$scratch/sb.err" </dev/null)
if grep -q 'clone3.*Function not implemented' "$scratch/sb.err"; then
  skip "valgrind: a sandboxed run under memcheck" "$(valgrind --version) answers clone3 with ENOSYS (and emulates clone only for threads and fork-like flags): the sandbox cannot be built under it, so the broker is checked with --no-sandbox below ($(grep -m1 -o 'clone3[^(]*: Function not implemented' "$scratch/sb.err"))"
else
  VG_SANDBOX=1 vg "a sandboxed run (the real cage)" 0 "$scratch/work" tiny.tac --json
fi

# ---- the agent example against the fake server ---------------------------------
cat >"$scratch/agent.json" <<'EOF'
[{"text": "Pricing coffee and a sandwich.", "tool_calls": [{"name": "lookup_price", "arguments": {"item": "coffee"}}, {"name": "lookup_price", "arguments": {"item": "sandwich"}}]},
 {"tool_calls": [{"name": "convert", "arguments": {"amount": 10.75, "currency": "EUR"}}]},
 {"text": "Done.", "tool_calls": [{"name": "done", "arguments": {"reason": "coffee + sandwich = 10.75 USD = 9.89 EUR"}}]}]
EOF
start_fake "$(cat "$scratch/agent.json")"
vg "examples/agent_tools.tac against the fake model server" 0 "$scratch/work" "$REPO/examples/agent_tools.tac" --json
summary=$(tail -1 "$scratch/out" | python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; print(r["summary"], r["prices_looked_up"], r["conversions"])' 2>&1)
if [ "$summary" = "coffee + sandwich = 10.75 USD = 9.89 EUR 2 1" ] && [ "$(grep -c . "$LOG")" = 3 ]; then
  pass "valgrind: agent_tools.tac under memcheck made its 3 model calls and the right result"
else
  fail "valgrind: agent_tools.tac result" "$summary; $(grep -c . "$LOG") model calls"
fi

# ---- a tool-heavy procedure ----------------------------------------------------------
printf '#!/bin/sh\nread -r args\nprintf '"'"'{"got": %%s}'"'"' "$args"\n' >"$scratch/tool.sh"
chmod 0755 "$scratch/tool.sh"
cat >"$scratch/work/heavy.tac.yml" <<EOF
policy:
  tools:
    host.echo: {}
    host.ping: {}
    host.custom:
      command: [$scratch/tool.sh]
      timeout: 5
    host.time:
      approval: required
  stages:
    gather: [host.echo, host.ping, host.custom, host.time]
    report: [host.echo]
EOF
cat >"$scratch/work/lib/util.tac" <<'EOF'
return { twice = function(x) return x * 2 end }
EOF
cat >"$scratch/work/sub.tac" <<'EOF'
Procedure { input = { n = field.integer { required = true } }, function(input) return { sq = input.n * input.n } end }
EOF
cat >"$scratch/work/heavy.tac" <<'EOF'
local done = require("tactus.tools.done")
local util = require("lib.util")
add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { required = true } },
  function(args) return { sum = args.a + args.b } end,
}
echo = Tool { use = "host.echo", description = "echo" }
calc = Agent { model = "openai/gpt-4o-mini", system_prompt = "You add.", tools = { add, echo, done },
               disable_streaming = true, max_turns = 4 }
failing = Agent { model = "openai/gpt-4o-mini", disable_streaming = true }

Procedure {
  function(input)
    local out = {}
    Stage.set("gather")
    for i = 1, 200 do Host.call("host.echo", { i = i, s = string.rep("e", i) }) end
    out.ping = Host.call("host.ping", {}).pong
    out.custom = Host.call("host.custom", { n = 42 }).got.n
    out.time_approved = Host.call("host.time", {}) ~= nil
    local ok, e = pcall(Host.call, "host.nope", {})
    out.denied = not ok and e.type
    Stage.set("report")
    ok, e = pcall(Host.call, "host.ping", {})
    out.stage_denied = not ok and e.type
    ok, e = pcall(Stage.set, "nowhere")
    out.bad_stage = not ok and e.type
    out.approved = Human.approve({ message = "Go on?" })
    for i = 1, 30 do
      out.cp = checkpoint(function() return { i = i, big = string.rep("c", 1000) } end).i
    end
    state.count = 7
    File.mkdir("notes")
    File.write("notes/a.txt", "hello")
    File.append("notes/a.txt", " world")
    out.file = File.read("notes/a.txt")
    out.list = File.list("notes")
    File.remove("notes/a.txt")
    Log.info("a log line", { k = "v" })
    Log.warn("a warning")
    System.alert("an alert")
    Human.notify("a note")
    out.twice = util.twice(21)
    out.sub = Procedure.run("sub.tac", { n = 9 }).sq
    local r = calc({ message = "What is 2+3?" })
    out.sum = add.last_result().sum
    out.done = done.called()
    ok, e = pcall(failing, { message = "500 then 500 then 500" })
    out.model_500 = not ok and e.type
    ok, e = pcall(failing, { message = "401" })
    out.model_401 = not ok and e.type
    ok, e = pcall(failing, { message = "garbage" })
    out.model_garbage = not ok and e.type
    return out
  end,
}
EOF
trust "$scratch/work/heavy.tac" || fail "valgrind: tactus-run trust heavy.tac" "refused"
cat >"$scratch/heavy.json" <<'EOF'
[{"text": "adding", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}, {"name": "echo", "arguments": {"x": 1}}]},
 {"text": "5", "tool_calls": [{"name": "done", "arguments": {"reason": "5"}}]},
 {"status": 500, "error": "boom"}, {"status": 500, "error": "boom"}, {"status": 500, "error": "boom"},
 {"status": 401, "error": "bad key"},
 {"garbage": "{not json"}]
EOF
start_fake "$(cat "$scratch/heavy.json")"
vg "a tool-heavy procedure (host tools, command tool, approvals, stages, agent, model errors, checkpoints, files)" 0 \
  "$scratch/work" heavy.tac --json --storage file --approve all --trace "$scratch/trace.jsonl"
got=$(tail -1 "$scratch/out" | python3 -c '
import json, sys
r = json.load(sys.stdin)["result"]
print(json.dumps([r.get(k) for k in ("ping", "custom", "time_approved", "denied", "stage_denied", "bad_stage", "approved",
      "cp", "file", "twice", "sub", "sum", "done", "model_500", "model_401", "model_garbage")]))' 2>&1)
want='[true, 42, true, "ToolNotAllowed", "ToolNotAllowed", "StageNotAllowed", true, 30, "hello world", 42, 81, 5, true, "ModelError", "AuthenticationError", "MalformedResponse"]'
if [ "$got" = "$want" ]; then
  pass "valgrind: the tool-heavy procedure returned what it should ($(grep -c . "$scratch/trace.jsonl") trace events)"
else
  fail "valgrind: the tool-heavy procedure's result" "got $got, want $want"
fi

# ---- failure and deadline -------------------------------------------------------------
stop_fake
URL=""
printf 'error("on purpose")\n' >"$scratch/work/fails.tac"
vg "a procedure that fails" 1 "$scratch/work" fails.tac
printf 'local x = 0\nwhile true do x = x + 1 end\n' >"$scratch/work/spin.tac"
vg "a procedure past its deadline (killed without a pidfd)" 124 "$scratch/work" spin.tac --timeout 3
