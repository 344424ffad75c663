#!/usr/bin/env bash
# Integration lane: what a person sees.  A run on a real terminal (tmux,
# 120x40): an agent calling a tool against the fake OpenAI server, a
# checkpoint, an approval answered by typing on the terminal, cost lines,
# logs of every level, a notification; the captured screen is compared with
# the expected one (times and costs normalised).  Then colour: on by
# default on a terminal, off with NO_COLOR or --color=never, on with
# --color=always even into a file; the pool client forwards --color.  A
# slow model shows a spinner on a terminal (erased before the next line),
# never in a file.  The result's keys come in the output schema's order;
# the test report colours PASS/FAIL and escapes scenario names.
# Then the hostile case: terminal tricks
# (CSI, OSC 52, OSC 8, \r, concealed text, C1, bidi overrides) from the
# cage in every printed field never reach the terminal raw; positive
# control: the same bytes printed raw do (the checker and tmux see them).
source "$TESTS_DIR/lib.sh"

if ! command -v tmux >/dev/null; then
  skip "present: TTY screen" "tmux is not installed"
  exit 0
fi

scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
work="$scratch/work"
mkdir -p "$work" "$scratch/home"
export HOME="$scratch/home"
unset OPENAI_API_KEY OPENAI_BASE_URL NO_COLOR
SOCK="tr-present-$$"
tmx() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tmx kill-server 2>/dev/null; stop_fake; [ -n "${pool_pid:-}" ] && kill "$pool_pid" 2>/dev/null; rm -rf "$scratch"' EXIT

expect() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3"; fi
}
# expect_in NAME HAYSTACK NEEDLE...: every NEEDLE appears in HAYSTACK.
expect_in() {
  local name="$1" hay="$2" n
  shift 2
  for n in "$@"; do
    if [[ "$hay" != *"$n"* ]]; then
      fail "$name" "no '$n' in: $(printf '%s' "$hay" | tail -3 | tr '\n' ' ' | cut -c1-400)"
      return
    fi
  done
  pass "$name"
}

cat >"$work/agent.tac" <<'EOF'
add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { required = true } },
  function(args) return { sum = args.a + args.b } end,
}
calc = Agent { model = "openai/gpt-4o-mini", system_prompt = "You add.", tools = { add } }
Procedure { function(input)
  Log.debug("hidden at the default level")
  Log.info("starting", { step = 1 })
  Log.warn("the numbers are small")
  local r = calc({ message = "What is 2+3?" })
  local sum = Step.checkpoint(function() return 5 end)
  local ok = Human.approve({ message = "Ship the sum?" })
  Human.notify({ message = "shipped" })
  Log.error("an error line (not fatal)")
  return { sum = sum, approved = ok, answer = r.text, duration_ms = 1234.0, ratio = 0.25 }
end }
EOF
SCRIPT='[{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
         {"text": "The sum is 5.", "usage": {"prompt_tokens": 14, "completion_tokens": 5, "total_tokens": 19, "cost": 0.0001}}]'

# pane NAME ENV... -- ARGS...: run `tactus-run run ARGS` in a new tmux
# window of 120x40 with ENV; the window stays until the test ends.
pane() {
  local name="$1" envs=() a
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  {
    echo '#!/bin/sh'
    echo "cd '$work' || exit 1"
    printf 'export HOME=%q XDG_STATE_HOME=%q OPENAI_API_KEY=sk-test-present OPENAI_BASE_URL=%q\n' \
      "$HOME" "$XDG_STATE_HOME" "$URL"
    for a in "${envs[@]}"; do printf 'export %q\n' "$a"; done
    printf '%q run' "$TR"
    for a in "$@"; do printf ' %q' "$a"; done
    echo
    echo 'echo "[exit $?]"'
    echo 'exec sleep 600'
  } >"$scratch/$name.sh"
  chmod +x "$scratch/$name.sh"
  if tmx has-session 2>/dev/null; then
    tmx new-window -d -n "$name" "$scratch/$name.sh"
  else
    tmx new-session -d -s main -n "$name" -x 120 -y 40 "$scratch/$name.sh"
    tmx set-option -g set-clipboard on
  fi
}
# wait_for NAME TEXT: until the window shows TEXT (30 s at most).
wait_for() {
  local i
  for i in $(seq 300); do
    tmx capture-pane -p -t "main:$1" 2>/dev/null | grep -qF -- "$2" && return 0
    sleep 0.1
  done
  return 1
}
screen() { tmx capture-pane -p -t "main:$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
# Times and costs vary from run to run.
normalise() { sed -E 's/[0-9]+(\.[0-9]+)? (ms|s)\b/<t>/g; s/\$[0-9.]+/$<cost>/g'; }

# ---- the screen of an agent run with a tool call and an approval ----------------------
start_fake "$SCRIPT"
pane agent -- agent.tac
if wait_for agent "[y/N]"; then
  tmx send-keys -t main:agent y Enter
fi
wait_for agent "[exit " || true
got=$(screen agent | normalise)
want=$(cat <<'EOF'
INFO    starting {"step":1}
WARNING the numbers are small
agent   calc is thinking
cost    calc (openai/gpt-4o-mini): tokens 10+5, $<cost>, <t>
tool    add {"a":2,"b":3} -> {"sum":5}
model   calc: The sum is 5.
cost    calc (openai/gpt-4o-mini): tokens 14+5, $<cost>, <t>
agent   calc answered in <t>
saved   checkpoint 1 after <t> at agent.tac:12
human   asks for approval: Ship the sum?
? Ship the sum? [y/N] y
human   answered the approval after <t>: yes
saved   checkpoint 2 after <t> at agent.tac:13
notify  shipped
ERROR   an error line (not fatal)
summary success (exit 0) in <t>, tools ["add"], 34 tokens
✓ Procedure completed successfully
Result: {
  "answer": "The sum is 5.",
  "approved": true,
  "duration_ms": 1234,
  "ratio": 0.25,
  "sum": 5
}
[exit 0]
EOF
)
if [ "$got" = "$want" ]; then
  pass "present: the TTY screen of an agent run (tool call, approval typed on the terminal, checkpoints, cost, logs) is the expected one"
else
  fail "present: the TTY screen of an agent run is the expected one" \
    "diff: $(diff <(echo "$want") <(echo "$got") | head -20 | tr '\n' '|')"
fi
colours=$(tmx capture-pane -p -e -t main:agent | grep -c $'\033\\[3[1-6]m')
if [ "$colours" -ge 5 ]; then
  pass "present: on a terminal the trace is coloured by kind and level"
else
  fail "present: on a terminal the trace is coloured" "$colours coloured lines"
fi

# ---- NO_COLOR, --color=never, --color=always --------------------------------------------
start_fake "$SCRIPT"
pane nocolor NO_COLOR=1 -- agent.tac --approve all
wait_for nocolor "[exit " || true
n=$(tmx capture-pane -p -e -t main:nocolor | grep -c $'\033\\[')
expect "present: NO_COLOR=1 on a terminal: no colour at all" "$n" 0
start_fake "$SCRIPT"
pane never -- agent.tac --approve all --color=never
wait_for never "[exit " || true
n=$(tmx capture-pane -p -e -t main:never | grep -c $'\033\\[')
expect "present: --color=never on a terminal: no colour at all" "$n" 0
start_fake "$SCRIPT"
(cd "$work" && OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL" setsid -w "$TR" run agent.tac --approve all \
  --color=always >"$scratch/always.out" 2>"$scratch/always.err" </dev/null)
if grep -q $'\033\\[33mWARNING' "$scratch/always.err" && grep -q $'\033\\[1;32m' "$scratch/always.out"; then
  pass "present: --color=always colours into files too (trace and verdict)"
else
  fail "present: --color=always colours into files" "$(head -c 300 "$scratch/always.err" | od -c | head -3)"
fi
start_fake "$SCRIPT"
(cd "$work" && OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL" setsid -w "$TR" run agent.tac --approve all \
  >"$scratch/auto.out" 2>"$scratch/auto.err" </dev/null)
if grep -q $'\033' "$scratch/auto.out" "$scratch/auto.err"; then
  fail "present: off a terminal (auto): no escape sequence" "$(grep -c $'\033' "$scratch/auto.err")"
else
  pass "present: off a terminal (auto): no escape sequence, the same lines"
fi
expect_in "present: ... the same readable lines" "$(cat "$scratch/auto.err")" \
  "cost    calc (openai/gpt-4o-mini): tokens 14+5, \$0.0001" "tool    add {\"a\":2,\"b\":3} -> {\"sum\":5}"
if (cd "$work" && setsid -w "$TR" run agent.tac --color=sometimes >/dev/null 2>"$scratch/bad.err"); then
  fail "present: --color=sometimes is refused" "exit 0"
else
  expect_in "present: --color=sometimes is refused, naming the choices" "$(cat "$scratch/bad.err")" \
    "--color 'sometimes': expected auto, always or never"
fi

# ---- the spinner: while the model is slow, on a terminal only ----------------------------
cat >"$work/slow.tac" <<'EOF'
slow = Agent { model = "openai/gpt-4o-mini" }
Procedure { function() return { text = slow({ message = "hi" }).text } end }
EOF
start_fake '[{"text": "late words", "delay": 2.5}]'
pane slow -- slow.tac
if wait_for slow "is thinking…"; then
  pass "present: a slow model shows a spinner with the elapsed time on a terminal"
else
  fail "present: spinner" "$(screen slow | tail -3)"
fi
wait_for slow "[exit " || true
s=$(screen slow)
if [[ "$s" != *"thinking…"* ]] && [[ "$s" == *"model   slow: late words"* ]]; then
  pass "present: ... erased before the next line"
else
  fail "present: the spinner is erased" "$(printf '%s' "$s" | head -5)"
fi
start_fake '[{"text": "late words", "delay": 1.5}]'
(cd "$work" && OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL" setsid -w "$TR" run slow.tac \
  >/dev/null 2>"$scratch/slow.err" </dev/null)
if grep -q "thinking…" "$scratch/slow.err"; then
  fail "present: no spinner off a terminal" "$(head -c 200 "$scratch/slow.err")"
else
  pass "present: no spinner off a terminal"
fi

# ---- the result: declared order, numbers as people write them ---------------------------
cat >"$work/order.tac" <<'EOF'
Procedure {
  output = { zeta = field.string {}, alpha = field.number {}, mid = field.boolean {} },
  function() return { alpha = 1.0, zeta = "z", mid = true, extra = 2, b = 0.1 + 0.2 } end }
EOF
got=$(cd "$work" && setsid -w "$TR" run order.tac 2>/dev/null </dev/null)
want=$(printf '%s\n' "✓ Procedure completed successfully" "Result: {" '  "zeta": "z",' '  "alpha": 1,' \
  '  "mid": true,' '  "b": 0.3,' '  "extra": 2' "}")
expect "present: the result's keys in the output schema's order, then sorted; 1.0 as 1" "$got" "$want"
got=$(cd "$work" && setsid -w "$TR" run order.tac --json 2>/dev/null </dev/null | tail -n 1 |
  python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["result"], sort_keys=True))')
expect "present: --json keeps the result as JSON (unchanged)" "$got" \
  '{"alpha": 1, "b": 0.3, "extra": 2, "mid": true, "zeta": "z"}'

# ---- the pool client: the same view, --color forwarded ----------------------------------
CLIENT="$(dirname "$TR")/tactus-run-client"
if [ -x "$CLIENT" ]; then
  psock="$scratch/pool.sock"
  (cd "$work" && exec "$TR" serve --socket "$psock" --size 1 >"$scratch/serve.log" 2>&1 </dev/null) &
  pool_pid=$!
  for _ in $(seq 100); do [ -S "$psock" ] && break; sleep 0.1; done
  cat >"$work/logs.tac" <<'EOF'
Procedure { function() Log.warn("a warning"); return { b = 2, a = 1 } end }
EOF
  (cd "$work" && setsid -w "$CLIENT" --socket "$psock" logs.tac --color=always >"$scratch/pc.out" 2>"$scratch/pc.err" </dev/null)
  (cd "$work" && setsid -w "$CLIENT" --socket "$psock" logs.tac >"$scratch/pn.out" 2>"$scratch/pn.err" </dev/null)
  if grep -q $'\033\\[33mWARNING' "$scratch/pc.err" && ! grep -q $'\033' "$scratch/pn.err" "$scratch/pn.out" \
    && grep -q '^  "a": 1,$' "$scratch/pn.out"; then
    pass "present: the pool client shows the same view; --color=always is forwarded, auto off a terminal"
  else
    fail "present: the pool client's view and --color" "$(od -c "$scratch/pc.err" | head -3) $(cat "$scratch/pn.out" "$scratch/serve.log" | head -5)"
  fi
  kill "$pool_pid" 2>/dev/null
  wait "$pool_pid" 2>/dev/null
fi

# ---- hostile text from the cage ------------------------------------------------------------
# E: CSI (clear screen), OSC 52 (clipboard), OSC 8 (hyperlink), \r with a
# fake verdict, concealed text, C1 CSI, a bidi override, a newline with a
# fake verdict at column 0, BEL.
cat >"$work/evil.tac" <<'EOF'
local E = "A\27[2J\27[H\27]52;c;ZXZpbA==\7\27]8;;https://evil.example/\27\\link\27]8;;\27\\"
  .. "\r\226\156\147 Procedure completed successfully\27[8mCONCEALED\27[28m\194\155" .. "31mC1"
  .. "\226\128\174RTL\n\226\156\147 FAKE verdict\7Z"
EVIL_E = E
bad = Tool { description = E, input = { s = field.string {} },
  function(args) return { echoed = args.s, e = E } end }
talk = Agent { model = "openai/gpt-4o-mini", tools = { bad } }
Procedure { input = { fail = field.string { default = "no" } }, function(input)
  Log.info(E, { [E] = E })
  Log.warn(E)
  print(E)
  Human.notify({ message = E, level = E })
  System.alert({ message = E, source = E })
  local r = talk({ message = "go" })
  Step.checkpoint(function() return E end)
  local ok = Human.approve({ message = "Q" .. E })
  if input.fail == "yes" then error(E) end
  return { [E] = E, text = r.text }
end }
EOF
# The model streams the same tricks and calls the tool with them.
EVIL_JSON='A\u001b[2J\u001b[H\u001b]52;c;ZXZpbA==\u0007\u001b]8;;https://evil.example/\u001b\\link\u001b]8;;\u001b\\\r\u2713 Procedure completed successfully\u001b[8mCONCEALED\u001b[28m\u009b31mC1\u202eRTL\n\u2713 FAKE verdict\u0007Z'
EVIL_SCRIPT="[{\"tool_calls\": [{\"name\": \"bad\", \"arguments\": {\"s\": \"$EVIL_JSON\"}}]}, {\"text\": \"$EVIL_JSON\"}]"

# check_bytes FILE: the bytes hold no control but \n and \t, no C1, no bidi
# or zero-width character, only valid UTF-8, and no line starting with
# the fake verdict.  Prints "ok" or the first problem.
check_bytes() {
  python3 - "$1" <<'PY'
import sys, unicodedata
b = open(sys.argv[1], "rb").read()
try:
    t = b.decode("utf-8")
except UnicodeDecodeError as e:
    print("invalid UTF-8 at %d" % e.start); sys.exit()
for i, c in enumerate(t):
    o = ord(c)
    if (o < 0x20 and c not in "\n\t") or 0x7f <= o <= 0x9f or unicodedata.category(c) == "Cf":
        print("U+%04X at %d: %r" % (o, i, t[max(0, i - 20):i + 20])); sys.exit()
for line in t.split("\n"):
    if line.startswith("\u2713 FAKE") or line.startswith("\u2713 Procedure completed successfully\x1b"):
        print("a fake verdict at column 0: %r" % line[:60]); sys.exit()
print("ok")
PY
}

# Positive control: the raw text fails the checker.
printf 'A\033[2J\033]52;c;ZXZpbA==\007\r\342\234\223 Procedure completed successfully\033[8mX\n\342\234\223 FAKE verdict\n' >"$scratch/raw"
r=$(check_bytes "$scratch/raw")
if [ "$r" != ok ]; then pass "present: hostile control: the checker rejects the raw bytes ($r)"; else fail "present: hostile control: the checker rejects the raw bytes" "it accepted them"; fi

start_fake "$EVIL_SCRIPT"
(cd "$work" && OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL" setsid -w "$TR" run evil.tac --approve all -v \
  >"$scratch/evil.out" 2>"$scratch/evil.err" </dev/null)
rc=$?
expect "present: hostile run (file output) succeeds" "$rc" 0
expect "present: hostile run: the trace on stderr holds no terminal control" "$(check_bytes "$scratch/evil.err")" ok
expect "present: hostile run: the result on stdout holds no terminal control" "$(check_bytes "$scratch/evil.out")" ok
n=$(grep -c 'CONCEALED' "$scratch/evil.err")
if [ "$n" -ge 6 ]; then pass "present: hostile run: the cage's text is shown (escaped), not dropped"; else fail "present: hostile run: the cage's text is shown" "$n lines"; fi
start_fake "$EVIL_SCRIPT"
(cd "$work" && OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL" setsid -w "$TR" run evil.tac --approve all --param fail=yes \
  >"$scratch/evilf.out" 2>"$scratch/evilf.err" </dev/null)
rc=$?
expect "present: hostile failing run exits 1" "$rc" 1
expect "present: hostile failing run: the error message holds no terminal control" "$(check_bytes "$scratch/evilf.err")" ok
expect_in "present: ... the verdict is the CLI's" "$(cat "$scratch/evilf.err")" "✗ Procedure failed: RuntimeError"

# A native cage's refused unix socket is logged by the sandbox's
# supervisor: the path is the cage's bytes (here a host socket whose name
# holds CSI and a bidi override), escaped.  (The cage may reach ok.sock
# only: then it has unix sockets, and its other connects are refused.)
sockws="$scratch/sockws"
mkdir -p "$sockws"
python3 - "$sockws" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.path.join(os.fsencode(sys.argv[1]), b"\x1b[2J\xe2\x80\xaeevil.sock"))
s.listen(5)
t = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
t.bind(os.path.join(os.fsencode(sys.argv[1]), b"ok.sock"))
t.listen(5)
time.sleep(20)
PY
listener=$!
for _ in $(seq 50); do [ -S "$sockws/ok.sock" ] && break; sleep 0.1; done
cat >"$scratch/reach.py" <<'PY'
import os, socket
for name in os.listdir(b"/workspace"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(b"/workspace/" + name)
        print("CONNECTED")
    except OSError as e:
        print("refused:", e.errno)
PY
(cd "$sockws" && setsid -w "$TR" sandbox exec --allow-unix-socket "$sockws/ok.sock" \
  --ro-bind "$scratch/reach.py:/reach.py" -- python3 /reach.py \
  >"$scratch/sock.out" 2>"$scratch/sock.err" </dev/null)
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
if grep -q "refused to connect" "$scratch/sock.err"; then
  expect "present: a refused unix socket's path (the cage's bytes) is escaped in the supervisor's log" \
    "$(check_bytes "$scratch/sock.err")" ok
  expect_in "present: ... with the way to allow it in sandbox exec's words" "$(cat "$scratch/sock.err")" \
    "refused to connect to the unix socket '/workspace/\x1b[2J\xe2\x80\xaeevil.sock' (allow it with --allow-unix-socket)"
  ls "$sockws" | grep evil >"$scratch/sockname"
  r=$(check_bytes "$scratch/sockname")
  if [ "$r" != ok ]; then pass "present: ... control: the raw name fails the checker"; else fail "present: ... control: the raw name" "accepted"; fi
else
  skip "present: the supervisor's refusal log" "no refusal logged here: $(head -c 300 "$scratch/sock.err") $(cat "$scratch/sock.out")"
fi

# The test report: PASS in colour with --color=always, and the scenario
# names (the cage's text) escaped the same way.
cat >"$work/spec.tac" <<'EOF'
Procedure { function() return { ok = true } end }
Specification("Feature: F\27]52;c;ZXZpbA==\7\n  Scenario: A\27[2J\226\128\174evil\r\226\156\147 fake\n"
  .. "    When the procedure runs\n    Then the procedure should complete successfully\n")
EOF
(cd "$work" && setsid -w "$TR" test spec.tac --mock >"$scratch/spec.out" 2>"$scratch/spec.err" </dev/null)
expect "present: the test report escapes the scenario and feature names" "$(check_bytes "$scratch/spec.out")" ok
expect_in "present: ... and still names them" "$(cat "$scratch/spec.out")" "PASS  A?[2J?evil?✓ fake" "Feature: F?]52;c;ZXZpbA==?"
(cd "$work" && setsid -w "$TR" test spec.tac --mock --color=always >"$scratch/spec.c" 2>&1 </dev/null)
if grep -q $'\033\\[32mPASS' "$scratch/spec.c"; then
  pass "present: the test report colours PASS with --color=always"
else
  fail "present: the test report colours PASS" "$(head -c 200 "$scratch/spec.c" | od -c | head -3)"
fi

# On the terminal: the approval question is typed to, the clipboard is
# untouched, nothing is concealed, no hyperlink, no fake verdict line.
start_fake "$EVIL_SCRIPT"
tmx set-buffer -b canary "untouched"
pane evil -- evil.tac
if wait_for evil "[y/N]"; then tmx send-keys -t main:evil n Enter; fi
wait_for evil "[exit " || true
scr=$(tmx capture-pane -p -t main:evil)
scr_e=$(tmx capture-pane -p -e -t main:evil)
bufs=$(tmx list-buffers -F '#{buffer_name}' | grep -vc '^canary$')
expect "present: hostile TTY run: no OSC 52 reached the terminal (no clipboard buffer)" "$bufs" 0
if [[ "$scr_e" == *$'\033[8m'* ]] || [[ "$scr_e" == *$'\033]8;'* ]]; then
  fail "present: hostile TTY run: no concealed text, no hyperlink" "$(printf '%s' "$scr_e" | grep -m1 -a $'\033\\[8m' | od -c | head -2)"
else
  pass "present: hostile TTY run: no concealed text, no hyperlink"
fi
if printf '%s\n' "$scr" | grep -q '^✓ FAKE\|^✓ Procedure completed successfully.*CONCEALED'; then
  fail "present: hostile TTY run: no fake verdict at column 0" "$(printf '%s\n' "$scr" | grep -m2 '^✓')"
else
  pass "present: hostile TTY run: no fake verdict at column 0"
fi
expect_in "present: hostile TTY run: the question shows what is asked, escaped" "$scr" "? QA?[2J?[H?]52;c;ZXZpbA==" "[y/N] n"
# Positive control: the same tricks printed raw in a window of the same
# terminal set the clipboard and conceal text.
printf '#!/bin/sh\nprintf "\\033]52;c;ZXZpbA==\\007\\033[8mHIDDEN\\033[0m\\n"; exec sleep 600\n' >"$scratch/raw.sh"
chmod +x "$scratch/raw.sh"
tmx new-window -d -n raw "$scratch/raw.sh"
sleep 1
bufs=$(tmx list-buffers -F '#{buffer_name}' | grep -vc '^canary$')
raw_e=$(tmx capture-pane -p -e -t main:raw)
if [ "$bufs" -ge 1 ] && [[ "$raw_e" == *$'\033[8m'* ]]; then
  pass "present: hostile control: raw bytes do set the clipboard and conceal text on this terminal"
else
  fail "present: hostile control: raw bytes reach tmux" "buffers $bufs, concealed $([[ "$raw_e" == *$'\033[8m'* ]] && echo yes || echo no)"
fi
