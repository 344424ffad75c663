#!/usr/bin/env bash
# Hostile lane: a compromised MCP server is contained by its own cage.
#
# tests/lib/fake_mcp.py --hostile's probe tool tries, from inside its
# cage, to read a canary file of the host (outside anything bound), the
# run's workspace (a canary there), and to connect to a TCP server
# listening on the host's 127.0.0.1; it reports its environment's names.
# Caged (the default), as root and as an unprivileged user: the host file
# and the workspace are not there, the connection fails (the cage's
# 127.0.0.1 is its own, no route elsewhere), and its environment holds no
# key of the host.  The controls show each probe does work when allowed:
# workspace: ro shows the workspace canary, and sandbox: false (with a
# warning in the trace) reads the host canary and connects.  A server
# that writes junk to stdout is skipped past with a warning.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
work="$scratch/work"
home="$scratch/home"
srv="$scratch/srv"
hostdir="$scratch/hostonly"
mkdir -p "$work" "$home/.tactus" "$srv" "$hostdir"
cp "$TESTS_DIR/lib/fake_mcp.py" "$srv/"
chmod -R 0755 "$work" "$home" "$srv" "$hostdir"
CANARY="host-canary-$$-$RANDOM"
WCANARY="ws-canary-$$-$RANDOM"
printf '%s\n' "$CANARY" >"$hostdir/canary.txt"
printf '%s\n' "$WCANARY" >"$work/canary.txt"
chmod 0644 "$hostdir/canary.txt" "$work/canary.txt"
MARK="mcphostile$$"

# A TCP listener on the host's loopback.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.close()' "$scratch/port" &
listener=$!
trap 'kill $listener 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 100); do [ -s "$scratch/port" ] && break; sleep 0.05; done
HPORT=$(cat "$scratch/port")

config() {
  cat >"$home/.tactus/config.yml" <<EOF
mcp_servers:
  evil:
    command: python3
    args: [$srv/fake_mcp.py, --hostile, $MARK]
    cwd: $srv
    env: { PROBE_PATHS: "$hostdir/canary.txt" }
    $1
policy: { tools: ["mcp.evil.*"] }
EOF
}
cat >"$work/probe.tac" <<EOF
Procedure { function(input)
  local r = mcp.evil.probe({ paths = { "$hostdir/canary.txt", "/workspace/canary.txt", "$work/canary.txt" },
                             connect = { "127.0.0.1:$HPORT" } })
  return r
end }
EOF

run() {
  local -a pre=()
  [ "$1" = nobody ] && pre=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
  (cd "$work" && exec env HOME="$home" OPENAI_API_KEY="sk-host-secret-$$" ANTHROPIC_API_KEY="sk-ant-host-$$" \
    "${pre[@]}" setsid -w "$TR" run probe.tac --json >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
}
res() { python3 "$TESTS_DIR/lib/jsonl_query.py" "$scratch/out" "$1"; }

for who in root nobody; do
  config ""
  run $who
  r=$(res '[r["result"]["'"$hostdir/canary.txt"'"][:6], r["result"]["/workspace/canary.txt"][:6], r["result"]["'"$work/canary.txt"'"][:6], r["result"]["127.0.0.1:'"$HPORT"'"][:6], [k for k in r["result"]["env_keys"] if "KEY" in k or "SECRET" in k or "TOKEN" in k]]')
  if [ "$rc" = 0 ] && [ "$r" = '["denied", "denied", "denied", "failed", []]' ] && ! grep -q "$CANARY\|$WCANARY" "$scratch/out"; then
    pass "mcp hostile ($who): a caged server cannot read host files or the workspace, cannot connect out, holds no host key"
  else
    fail "mcp hostile ($who): a caged server is contained" "exit $rc: $r $(tail -2 "$scratch/err")"
  fi
  # Its start-up probe (to stderr, in the trace) found nothing either.
  if grep -q '"hostile: ' "$scratch/out" && ! grep -q "READ:$CANARY" "$scratch/out"; then
    pass "mcp hostile ($who): at start-up too (its stderr is in the trace)"
  else
    fail "mcp hostile ($who): at start-up too" "$(grep hostile "$scratch/out" | head -2)"
  fi
done

# Controls: the probes do find what is there when it is allowed.
config "workspace: ro"
run root
r=$(res 'r["result"]["/workspace/canary.txt"]')
if [ "$rc" = 0 ] && [ "$r" = "READ:$WCANARY
" ] || [[ "$r" == "READ:$WCANARY"* ]]; then
  pass "mcp hostile: control: with workspace: ro the server reads the workspace at /workspace"
else
  fail "mcp hostile: control: with workspace: ro the server reads the workspace" "exit $rc: $r"
fi
config "sandbox: false"
run root
r=$(res '[r["result"]["'"$hostdir/canary.txt"'"][:5 + len("'"$CANARY"'")], r["result"]["127.0.0.1:'"$HPORT"'"]]')
if [ "$rc" = 0 ] && [ "$r" = "[\"READ:$CANARY\", \"CONNECTED\"]" ] \
  && grep -q "MCP server 'evil' runs WITHOUT a sandbox (mcp_servers.evil.sandbox: false)" "$scratch/out"; then
  pass "mcp hostile: control: sandbox: false runs it on the host (it reads the canary, connects), with a warning in the trace"
else
  fail "mcp hostile: control: sandbox: false runs it on the host, with a warning" "exit $rc: $r"
fi
# Even uncaged, the host's keys are not in its environment: only its env:.
r=$(res '[k for k in r["result"]["env_keys"] if "KEY" in k]')
if [ "$r" = "[]" ]; then
  pass "mcp hostile: an uncaged server's environment still holds no host key (only PATH, HOME, TERM and its env:)"
else
  fail "mcp hostile: an uncaged server's environment holds no host key" "$r"
fi
if [ "$(pgrep -f "fake_mcp.py --hostile $MARK" | wc -l)" = 0 ]; then
  pass "mcp hostile: no server is left running after the runs (caged or not)"
else
  fail "mcp hostile: no server is left running" "$(pgrep -af "fake_mcp.py --hostile $MARK")"
fi

# Junk on stdout: skipped, with a warning; the protocol goes on.
cat >"$home/.tactus/config.yml" <<EOF
mcp_servers:
  noisy: { command: python3, args: [$srv/fake_mcp.py, --stdout-noise, $MARK], cwd: $srv }
policy: { tools: ["mcp.noisy.*"] }
EOF
printf 'Procedure { function() return { v = mcp.noisy.echo({ text = "through" }) } end }\n' >"$work/noisy.tac"
(cd "$work" && HOME="$home" setsid -w "$TR" run noisy.tac --json >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 0 ] && [ "$(res 'r["result"]["v"]')" = through ] && grep -q "wrote a line to stdout that is not a JSON-RPC message" "$scratch/out"; then
  pass "mcp hostile: a line on stdout that is not JSON-RPC is skipped with a warning"
else
  fail "mcp hostile: junk on stdout is skipped" "exit $rc: $(tail -1 "$scratch/out")"
fi
