#!/usr/bin/env bash
# Hostile lane: the host side of the cage (issue 12, attacks 5, 6, 7 and
# the dangerous workspaces).
#
#  - host tools get an explicit environment: an env-echo tool never sees
#    the provider keys or other variables of the launcher (control: a key
#    the tool's config names does reach it);
#  - SIGPIPE: a host tool that exits without reading 1 MB of arguments does
#    not end tactus-run (the run's exit is the tool's, the summary printed);
#  - the pool socket: another user who makes the socket directory first, or
#    listens where the client connects, receives nothing (control: the
#    user's own pool serves the same client);
#  - read-write workspaces that are /, $HOME, above it or hold tactus-run's
#    state are refused with the way out (control: a project directory, and
#    --workspace-mode ro|overlay in $HOME, run).
# As root and as uid 65534.  (Clients run under timeout: a client that
# talks to the squatter would wait for an answer forever.)
source "$TESTS_DIR/lib.sh"
export OPENAI_BASE_URL=http://127.0.0.1:9/v1
scratch=$(scratch_dir)
listener=""
serve_pid=""
cleanup() {
  [ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
CLIENT="${TR%/*}/tactus-run-client"

as_user() {
  local dir="$1"
  shift
  (cd "$dir" && setsid -w "${U[@]}" "$@" >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}
short() { printf '%s' "$1" | tail -3 | tr '\n' ' ' | cut -c1-400; }

for who in root nobody; do
  base="$scratch/$who"
  W="$base/work"
  mkdir -p "$base/home" "$base/state" "$W"
  chmod 0700 "$base/state"
  U=(env HOME="$base/home" XDG_STATE_HOME="$base/state")
  NB=()
  if [ "$who" = nobody ]; then
    NB=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
    U=("${NB[@]}" "${U[@]}")
  fi

  # ---- host tools: an explicit environment -----------------------------------------
  cat >"$W/env.tac" <<'EOF'
Procedure { function()
  return { plain = Host.call("host.env", {}), named = Host.call("host.named", {}) .. Host.call("host.greet", {}) }
end }
EOF
  cat >"$W/env.tac.yml" <<'EOF'
policy:
  tools:
    host.env:
      command: [/usr/bin/env]
      env: [GH_TOKEN]
    host.named:
      command: [/usr/bin/env]
      env: [OPENAI_API_KEY]
    host.greet:
      command: [/usr/bin/env]
      env:
        GREETING: "hello ${USER_NAME}"
EOF
  key="sk-test-$who-$RANDOM$RANDOM"
  [ "$who" = nobody ] && chown -R 65534:65534 "$base"
  as_user "$W" "$TR" trust env.tac
  as_user "$W" env OPENAI_API_KEY="$key" ANTHROPIC_API_KEY="$key-a" AWS_SECRET_ACCESS_KEY="$key-w" \
    FOO=leak GH_TOKEN=gh-ok USER_NAME=ada LANG=C.UTF-8 "$TR" run env.tac --json
  plain=$(printf '%s\n' "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["result"]["plain"])' 2>&1)
  named=$(printf '%s\n' "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["result"]["named"])' 2>&1)
  if [ "$rc" = 0 ] && [[ "$plain" != *"$key"* ]] && [[ "$plain" != *FOO=* ]] && [[ "$plain" == *"GH_TOKEN=gh-ok"* ]] \
    && [[ "$plain" == *"PATH="* ]] && [[ "$plain" == *"HOME=$base/home"* ]] && [[ "$plain" == *"LANG=C.UTF-8"* ]]; then
    pass "host tools ($who): an env-echo tool sees no provider key nor other launcher variables; PATH, HOME, LANG and what it names"
  else
    fail "host tools ($who): an env-echo tool's environment" "exit $rc: $(short "$plain $err")"
  fi
  if [[ "$named" == *"OPENAI_API_KEY=$key"* ]] && [[ "$named" == *"GREETING=hello ada"* ]] && [[ "$named" != *ANTHROPIC* ]]; then
    pass "host tools ($who): control: a key named in the tool's env does reach it (and \${VAR} values)"
  else
    fail "host tools ($who): control: a key named in the tool's env does reach it" "$(short "$named")"
  fi

  # ---- SIGPIPE: a tool that exits without reading 1 MB of arguments ----------------
  printf '#!/bin/sh\nexec 0<&-\nsleep 0.3\necho "{\\"closed\\": true}"\nexit "${1:-0}"\n' >"$W/closer.sh"
  chmod 0755 "$W/closer.sh"
  cat >"$W/big.tac" <<'EOF'
Procedure { function()
  local blob = string.rep("x", 1048576)
  local ok1, r1 = pcall(Host.call, "host.closer", { blob = blob })
  local ok2, r2 = pcall(Host.call, "host.fails", { blob = blob })
  local ok3 = pcall(Host.call, "host.true", { blob = blob })
  return { closer = ok1 and r1.closed, fails = (not ok2) and r2.message, true_ok = ok3 }
end }
EOF
  cat >"$W/big.tac.yml" <<EOF
policy:
  tools:
    host.closer: { command: [$W/closer.sh] }
    host.fails: { command: [$W/closer.sh, "3"] }
    host.true: { command: [/bin/true] }
EOF
  [ "$who" = nobody ] && chown -R 65534:65534 "$W"
  as_user "$W" "$TR" trust big.tac
  as_user "$W" "$TR" run big.tac
  if [ "$rc" = 0 ] && [[ "$out" == *"Procedure completed successfully"* ]] && [[ "$out" == *'"closer":'*true* ]] \
    && [[ "$out" == *"failed (status 3)"* ]] && [[ "$out" == *'"true_ok":'*true* ]] && [[ "$err" == *"summary success"* ]]; then
    pass "sigpipe ($who): tools that exit without reading 1 MB of arguments: their own exit, the run completes with its summary"
  else
    fail "sigpipe ($who): tools that exit without reading 1 MB of arguments" "exit $rc: $(short "$out $err")"
  fi

  # ---- dangerous workspaces -----------------------------------------------------------
  printf 'Procedure { function() File.write("written-by-run", "x") return "wrote" end }\n' >"$base/home/w.tac"
  printf 'return "hi"\n' >"$base/hi.tac"
  mkdir -p "$base/home/proj"
  [ "$who" = nobody ] && chown -R 65534:65534 "$base"
  as_user "$base/home" "$TR" run w.tac
  if [ "$rc" != 0 ] && [[ "$err" == *"it is your home directory"* ]] && [[ "$err" == *"--workspace-mode ro|overlay|off"* ]] \
    && [ ! -e "$base/home/written-by-run" ]; then
    pass "workspace ($who): \$HOME as a read-write workspace is refused, saying why and how to opt in"
  else
    fail "workspace ($who): \$HOME as a read-write workspace is refused" "exit $rc: $(short "$err")"
  fi
  as_user "$base" "$TR" run hi.tac
  [ "$rc" != 0 ] && [[ "$err" == *"your home directory $base/home is inside it"* ]] \
    && pass "workspace ($who): a directory above \$HOME is refused" \
    || fail "workspace ($who): a directory above \$HOME is refused" "exit $rc: $(short "$err")"
  as_user / "$TR" run "$base/hi.tac"
  [ "$rc" != 0 ] && [[ "$err" == *"refusing / as a read-write workspace"* ]] \
    && pass "workspace ($who): / is refused" || fail "workspace ($who): / is refused" "exit $rc: $(short "$err")"
  as_user "$W" env XDG_STATE_HOME="$W/.state" "$TR" run "$base/hi.tac"
  [ "$rc" != 0 ] && [[ "$err" == *"contains tactus-run's state $W/.state/tactus-run"* ]] \
    && pass "workspace ($who): a workspace holding tactus-run's state (even not made yet) is refused" \
    || fail "workspace ($who): a workspace holding tactus-run's state is refused" "exit $rc: $(short "$err")"
  as_user "$base/home" "$TR" sandbox exec -- /bin/true
  [ "$rc" != 0 ] && [[ "$err" == *"it is your home directory"* ]] \
    && pass "workspace ($who): sandbox exec in \$HOME is refused too" \
    || fail "workspace ($who): sandbox exec in \$HOME is refused too" "exit $rc: $(short "$err")"
  # Controls: the way out works, and a project directory is fine.
  as_user "$base/home" "$TR" run w.tac --workspace-mode overlay
  r1=$rc
  as_user "$base/home" "$TR" sandbox exec --workspace-mode ro -- /bin/true
  r2=$rc
  as_user "$base/home/proj" "$TR" run ../w.tac
  if [ "$r1" = 0 ] && [ "$r2" = 0 ] && [ "$rc" = 0 ] && [ ! -e "$base/home/written-by-run" ] \
    && [ -e "$base/home/proj/written-by-run" ]; then
    pass "workspace ($who): control: --workspace-mode overlay/ro in \$HOME run (nothing written back); a project directory is read-write"
  else
    fail "workspace ($who): control: opt-ins and a project directory" "exits $r1 $r2 $rc: $(short "$err")"
  fi
done

# ---- the pool socket: another user gets there first --------------------------------
# The victim is uid 65534 without a private XDG_RUNTIME_DIR: its default
# socket directory is in a shared sticky directory ($rt, like /tmp).  The
# attacker (uid 65533) makes that directory first and listens in it, and at
# the path older versions used ($rt/tactus-run.sock).
rt="$scratch/rt"
mkdir -m 1777 "$rt"
mkdir -m 0777 "$scratch/spy"
vw="$scratch/victim"
mkdir -p "$vw" "$scratch/victim-home" && printf 'return "hi"\n' >"$vw/hello.tac"
chown -R 65534:65534 "$vw" "$scratch/victim-home"
ATTACKER=(setpriv --reuid 65533 --regid 65533 --clear-groups --inh-caps=-all --)
"${ATTACKER[@]}" mkdir -m 0755 "$rt/tactus-run"
"${ATTACKER[@]}" /usr/bin/python3 - "$scratch/spy/log" "$rt/tactus-run/pool.sock" "$rt/tactus-run.sock" <<'PY' &
import array, os, select, socket, sys
log, paths = sys.argv[1], sys.argv[2:]
socks = []
for p in paths:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(p)
    os.chmod(p, 0o777)
    s.listen(8)
    socks.append(s)
open(log, "w").close()
open(log + ".ready", "w").close()
while True:
    for s in select.select(socks, [], [], 0.2)[0]:
        c, _ = s.accept()
        c.settimeout(3)
        try:
            while True:
                msg, anc, _, _ = c.recvmsg(1 << 20, socket.CMSG_SPACE(64 * 4))
                if not msg and not anc:
                    break
                fds = []
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += list(array.array("i", data[: len(data) - len(data) % 4]))
                for fd in fds:  # the victim's descriptors: let go of them
                    os.close(fd)
                with open(log, "a") as f:
                    f.write("received %d bytes and %d descriptors\n" % (len(msg), len(fds)))
        except Exception:
            pass
        c.close()
PY
listener=$!
for _ in $(seq 100); do [ -e "$scratch/spy/log.ready" ] && break; sleep 0.05; done
VICTIM=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- env XDG_RUNTIME_DIR="$rt" HOME="$scratch/victim-home")
# (Output to files: a client that did talk would hand the squatter its
# stdout, and a command substitution would wait for the squatter.)
(cd "$vw" && timeout 30 "${VICTIM[@]}" "$CLIENT" hello.tac >"$scratch/c1" 2>&1); rc=$?
out=$(cat "$scratch/c1")
if [ "$rc" != 0 ] && [[ "$out" == *"$rt/tactus-run belongs to uid 65533, not to you"* ]]; then
  pass "pool: the client refuses a socket directory another user made first"
else
  fail "pool: the client refuses a socket directory another user made first" "exit $rc: $(short "$out")"
fi
(cd "$vw" && timeout 30 "${VICTIM[@]}" "$CLIENT" --socket "$rt/tactus-run.sock" hello.tac >"$scratch/c2" 2>&1); rc2=$?
(cd "$vw" && timeout 30 "$CLIENT" --socket "$rt/tactus-run.sock" hello.tac >"$scratch/c3" 2>&1); rc3=$?
out=$(cat "$scratch/c2") out3=$(cat "$scratch/c3")
if [ "$rc2" != 0 ] && [[ "$out" == *"served by uid 65533"*"refusing to send it anything"* ]] && [ "$rc3" != 0 ] \
  && [[ "$out3" == *"served by uid 65533"* ]]; then
  pass "pool: a client (uid 65534, root) refuses a socket another user listens on (SO_PEERCRED)"
else
  fail "pool: a client refuses a socket another user listens on" "exit $rc2/$rc3: $(short "$out $out3")"
fi
sleep 0.3
if [ ! -s "$scratch/spy/log" ]; then
  pass "pool: the squatter received nothing (no request, no descriptors)"
else
  fail "pool: the squatter received nothing" "$(head -3 "$scratch/spy/log" | tr '\n' ' ')"
fi
(cd "$vw" && timeout 30 "${VICTIM[@]}" "$TR" serve --size 1 >"$scratch/c4" 2>&1); rc=$?
out=$(cat "$scratch/c4")
[ "$rc" != 0 ] && [[ "$out" == *"belongs to uid 65533"* ]] && pass "pool: serve refuses the squatted directory too" \
  || fail "pool: serve refuses the squatted directory too" "exit $rc: $(short "$out")"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null; listener=""

# Control: the user's own pool in its own directory serves the same client.
rt2="$scratch/rt2"
mkdir -m 1777 "$rt2"
VICTIM2=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- env XDG_RUNTIME_DIR="$rt2" HOME="$scratch/victim-home")
(cd "$vw" && exec "${VICTIM2[@]}" "$TR" serve --size 1 2>"$scratch/serve.log") &
serve_pid=$!
for _ in $(seq 200); do [ -S "$rt2/tactus-run/pool.sock" ] && break; sleep 0.05; done
out=$(cd "$vw" && timeout 60 "${VICTIM2[@]}" "$CLIENT" hello.tac 2>&1); rc=$?
mode=$(stat -c '%a %u' "$rt2/tactus-run" 2>&1)
if [ "$rc" = 0 ] && [[ "$out" == *'"hi"'* ]] && [ "$mode" = "700 65534" ]; then
  pass "pool: control: the user's own pool (private 0700 directory) serves the client"
else
  fail "pool: control: the user's own pool serves the client" "exit $rc, dir $mode: $(short "$out") $(short "$(cat "$scratch/serve.log")")"
fi
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; serve_pid=""
