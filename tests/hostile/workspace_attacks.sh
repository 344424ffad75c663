#!/usr/bin/env bash
# Hostile lane: what a run leaves in the workspace must never run on the
# host later (issue 12, attacks 2 and 8), in the VM (the broker refuses)
# and in a native cage (`sandbox exec`: read-only binds and the creation
# supervisor; no unix socket), as root and as an unprivileged user.
#
#   attack 2  a run plants core.fsmonitor in .git/config (or a new nested
#             repository, a hook, a case variant, through a symlink...);
#             then a real `git status` runs on the host, as the workspace's
#             owner: nothing may run.
#   attack 8  a host process listens on a unix socket in the workspace; a
#             native cage connects to it (stream, datagram): nothing may
#             arrive.
#   and every protected name in a native cage: not created, existing ones
#   not written, in every way a program can create a name.
# Positive controls, so each check can fail: the same attacks with the
# protection switched off by trusted config (~/.tactus/config.yml,
# sandbox.protected_paths remove: [.git]) or by the trusted command line
# (--unprotect .git, --allow-unix-socket PATH) do reach the host; and a
# host process reaches the listener.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
listener_pids=()
cleanup() {
  for p in "${listener_pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
export OPENAI_BASE_URL=http://127.0.0.1:9/v1

# as WHO CMD...: run as root, or as nobody with a HOME of its own.
as() {
  local who="$1"
  shift
  if [ "$who" = nobody ]; then
    setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- env HOME="$scratch/home-nobody" "$@"
  else
    env HOME="$scratch/home-root" "$@"
  fi
}
mkdir -p "$scratch/home-root/.tactus" "$scratch/home-nobody/.tactus"
chown -R 65534:65534 "$scratch/home-nobody"

# A workspace holding a git repository (and a nested one), owned by WHO.
repo_ws() {
  local ws="$1" who="$2"
  rm -rf "$ws"
  mkdir -p "$ws/sub/inner"
  git -C "$ws" init -q 2>/dev/null
  git -C "$ws/sub/inner" init -q 2>/dev/null
  echo hello >"$ws/file.txt"
  [ "$who" = nobody ] && chown -R 65534:65534 "$ws"
  chmod 0755 "$ws"
}

# git_status WS DIR WHO: the victim's step, as the repository's owner.
git_status() {
  (cd "$1/$2" && as "$3" git status --porcelain >/dev/null 2>&1)
}

# ---- attack 2 in the VM ------------------------------------------------------------
cat >"$scratch/plant.tac" <<'EOF'
-- attack: make the user's next `git status` run a command.
Procedure { input = { marker = field.string { required = true } }, function(input)
  local hook = "[core]\n\tfsmonitor = \"touch " .. input.marker .. "\"\n"
  local r = {}
  local function try(what, fn, ...) local ok, e = pcall(fn, ...); r[what] = ok and "written" or tostring(e) end
  try("append config", File.append, ".git/config", hook)
  try("rewrite config", File.write, ".git/config", File.read(".git/config") .. hook)
  try("case variant", File.append, ".GIT/config", hook)
  try("nested repo config", File.append, "sub/inner/.git/config", hook)
  try("new nested repo", function() File.mkdir("sub/new"); File.mkdir("sub/new/.git"); File.write("sub/new/.git/config", hook) end)
  try("gitdir file", File.write, "sub/.git", "gitdir: /tmp/evil\n")
  try("hook", File.write, ".git/hooks/post-checkout", "#!/bin/sh\ntouch " .. input.marker .. "\n")
  return r
end }
EOF
for who in root nobody; do
  for box in sandbox no-sandbox; do
    ws="$scratch/vm-$who-$box"
    repo_ws "$ws" "$who"
    cp "$scratch/plant.tac" "$ws/plant.tac"
    [ "$who" = nobody ] && chown 65534:65534 "$ws/plant.tac"
    marker="$scratch/marker-vm-$who-$box"
    rm -f "$marker"
    extra=()
    [ "$box" = no-sandbox ] && extra=(--no-sandbox)
    out=$(cd "$ws" && as "$who" setsid -w "$TR" run plant.tac --json --param marker="$marker" "${extra[@]}" 2>&1 </dev/null)
    git_status "$ws" . "$who"
    git_status "$ws" sub/inner "$who"
    if [ ! -e "$marker" ] && [[ "$out" == *"'.git/config' is protected (sandbox.protected_paths)"* ]] \
      && [[ "$out" != *'"written"'* ]]; then
      pass "attack 2 (VM, $who, $box): .git stays unwritten; git status on the host runs nothing"
    else
      fail "attack 2 (VM, $who, $box): .git stays unwritten" "marker: $([ -e "$marker" ] && echo CREATED || echo absent); $(echo "$out" | tail -1 | cut -c1-400)"
    fi
  done
  # The control: trusted config removes .git from the list; the same
  # procedure then writes .git/config, and git runs the command.
  ws="$scratch/vm-$who-control"
  repo_ws "$ws" "$who"
  cp "$scratch/plant.tac" "$ws/plant.tac"
  [ "$who" = nobody ] && chown 65534:65534 "$ws/plant.tac"
  marker="$scratch/marker-vm-$who-control"
  rm -f "$marker"
  home="$scratch/home-$who"
  printf 'sandbox:\n  protected_paths:\n    remove: [.git]\n' >"$home/.tactus/config.yml"
  [ "$who" = nobody ] && chown 65534:65534 "$home/.tactus/config.yml"
  out=$(cd "$ws" && as "$who" setsid -w "$TR" run plant.tac --json --param marker="$marker" 2>&1 </dev/null)
  rm -f "$home/.tactus/config.yml"
  git_status "$ws" . "$who"
  if [ -e "$marker" ]; then
    pass "attack 2 (VM, $who): control: with .git unprotected by trusted config, the same run makes git status run a command"
  else
    fail "attack 2 (VM, $who): control: the attack works when .git is unprotected" "$(echo "$out" | tail -1 | cut -c1-300)"
  fi
done

# ---- attack 2 in a native cage -----------------------------------------------------------
cat >"$scratch/plant.sh" <<'EOF'
m="$1"
hook="[core]
	fsmonitor = \"touch $m\""
r=""
try() { if sh -c "$2" 2>/dev/null; then r="$r $1:WRITTEN"; else r="$r $1:refused"; fi; }
try append "printf '%s\n' '$hook' >> .git/config"
[ "${2:-}" = control ] && { echo "RESULT:$r"; exit 0; }
try sed "sed -i 's/bare/bare/' .git/config"
try case "printf '%s\n' '$hook' >> .GIT/config"
try nested "printf '%s\n' '$hook' >> sub/inner/.git/config"
try newrepo "git init -q sub/new"
try newdir "mkdir -p sub/new2/.git"
try gitfile "echo 'gitdir: /tmp/evil' > sub/.git"
try hook "mkdir -p .git/hooks && echo touch $m > .git/hooks/post-checkout"
try rename "mkdir evil && cp .git/config evil/config && printf '%s\n' '$hook' >> evil/config && mv evil sub/.git"
try rename2 "mv .git moved-git"
try symlink "ln -s .git/config cfg && printf '%s\n' '$hook' >> cfg"
try dangling "ln -s sub/new3/.git dl && mkdir -p sub/new3 && echo x > dl"
try hardlink "ln .git/config hl && printf '%s\n' '$hook' >> hl"
try python "python3 -c 'import os; os.mkdir(\"sub/py/\") if False else None; open(\"sub/.Git\", \"w\").write(\"x\")'"
echo "RESULT:$r"
EOF
chmod 0755 "$scratch/plant.sh"
for who in root nobody; do
  ws="$scratch/native-$who"
  repo_ws "$ws" "$who"
  marker="$scratch/marker-native-$who"
  rm -f "$marker"
  before_mounts=$(wc -l </proc/self/mountinfo)
  out=$(cd "$ws" && as "$who" "$TR" sandbox exec --ro-bind "$scratch/plant.sh:/plant.sh" -- /bin/sh /plant.sh "$marker" 2>&1 </dev/null)
  res=$(sed -n 's/^RESULT://p' <<<"$out")
  git_status "$ws" . "$who"
  git_status "$ws" sub/inner "$who"
  [ -d "$ws/sub/new" ] && git_status "$ws" sub/new "$who"
  if [ ! -e "$marker" ] && [ -n "$res" ] && [[ "$res" != *WRITTEN* ]]; then
    pass "attack 2 (native, $who): every way into .git refused ($res); git status on the host runs nothing"
  else
    fail "attack 2 (native, $who): every way into .git refused" "marker: $([ -e "$marker" ] && echo CREATED || echo absent); $res; $(tail -3 <<<"$out" | tr '\n' ' ' | cut -c1-300)"
  fi
  left=$(cd "$ws" && ls -d sub/new/.git sub/new2/.git sub/.git sub/.Git sub/new3/.git .GIT moved-git 2>/dev/null | tr '\n' ' ')
  if [ -z "$left" ] && [ -d "$ws/.git" ] && [ "$(wc -l </proc/self/mountinfo)" = "$before_mounts" ]; then
    pass "attack 2 (native, $who): no .git was made or moved, and no mount is left on the host"
  else
    fail "attack 2 (native, $who): no .git was made or moved" "found: $left; mounts $before_mounts -> $(wc -l </proc/self/mountinfo)"
  fi
  # The control: --unprotect .git (the trusted command line).
  ws="$scratch/native-$who-control"
  repo_ws "$ws" "$who"
  marker="$scratch/marker-native-$who-control"
  rm -f "$marker"
  out=$(cd "$ws" && as "$who" "$TR" sandbox exec --unprotect .git --ro-bind "$scratch/plant.sh:/plant.sh" -- /bin/sh /plant.sh "$marker" control 2>&1 </dev/null)
  git_status "$ws" . "$who"
  if [ -e "$marker" ]; then
    pass "attack 2 (native, $who): control: with --unprotect .git the same program makes git status run a command"
  else
    fail "attack 2 (native, $who): control: the attack works when .git is unprotected" "$(tail -3 <<<"$out" | tr '\n' ' ' | cut -c1-300)"
  fi
done

# ---- every protected name in a native cage ----------------------------------------------------
cat >"$scratch/names.sh" <<'EOF'
r=""
for n in .git .gitmodules .gitconfig .lfsconfig .hg .tactus x.tac.yml .envrc .vscode .idea .mcp.json \
         .pre-commit-config.yaml .bashrc .bash_profile .bash_login .profile .zshrc .zshenv .zprofile .zlogin \
         .GIT .EnvRC X.TAC.YML; do
  for how in touch mkdir symlink rename link python; do
    rm -rf tmpsrc; echo x > tmpsrc
    case $how in
      touch) cmd="touch sub/$n" ;;
      mkdir) cmd="mkdir sub/$n" ;;
      symlink) cmd="ln -s tmpsrc sub/$n" ;;
      rename) cmd="mv tmpsrc sub/$n" ;;
      link) cmd="ln tmpsrc sub/$n" ;;
      python) cmd="python3 -c 'import os; os.close(os.open(\"sub/$n\", os.O_CREAT | os.O_WRONLY, 0o644))'" ;;
    esac
    if sh -c "$cmd" 2>/dev/null; then r="$r $how:$n"; fi
  done
done
# Existing ones: written in place?
for n in .envrc .tactus/config.yml run.tac.yml .bashrc; do
  if sh -c "echo x >> $n" 2>/dev/null; then r="$r write:$n"; fi
done
# The cage's own /tmp is not the host's: any name goes there.
mkdir /tmp/.git && touch /tmp/.envrc && git init -q /tmp/repo && echo "PRIVATE-OK"
echo "CREATED:$r"
EOF
for who in root nobody; do
  ws="$scratch/names-$who"
  rm -rf "$ws"
  mkdir -p "$ws/sub" "$ws/.tactus"
  echo "export A=1" >"$ws/.envrc"; echo "sandbox: {}" >"$ws/.tactus/config.yml"; echo "x: 1" >"$ws/run.tac.yml"; echo "alias x=y" >"$ws/.bashrc"
  [ "$who" = nobody ] && chown -R 65534:65534 "$ws"
  before=$(cd "$ws" && find . -printf '%p %s\n' | sort | md5sum)
  out=$(cd "$ws" && as "$who" "$TR" sandbox exec --ro-bind "$scratch/names.sh:/names.sh" -- /bin/sh /names.sh 2>&1 </dev/null)
  created=$(sed -n 's/^CREATED://p' <<<"$out")
  if [[ "$out" == *"CREATED:"* ]] && [ -z "$created" ] && [[ "$out" == *PRIVATE-OK* ]]; then
    pass "protected names (native, $who): none created in the workspace in any way (touch, mkdir, symlink, rename, link, open O_CREAT), none written; the cage's /tmp takes any name"
  else
    fail "protected names (native, $who): none created or written" "created:$created; $(grep -v '^tactus-run: sandbox: refused' <<<"$out" | tail -3 | tr '\n' ' ' | cut -c1-300)"
  fi
  after=$(cd "$ws" && find . ! -name tmpsrc -printf '%p %s\n' | sort | md5sum)
  expect_rc "protected names (native, $who): the refusals name what was refused" 0 grep -q "refused to create '/workspace/sub/.git'" <<<"$out"
done
# A protected name that is a dangling symlink: the cage could create its
# target, so the cage is not started.
ws="$scratch/dangling"
mkdir -p "$ws"
ln -s envrc.real "$ws/.envrc"
out=$(cd "$ws" && "$TR" sandbox exec -- /bin/true 2>&1); rc=$?
if [ "$rc" != 0 ] && [[ "$out" == *"/workspace/.envrc is a symlink to something missing"* ]]; then
  pass "protected names (native): a dangling protected symlink refuses the cage, saying why"
else
  fail "protected names (native): a dangling protected symlink refuses the cage" "exit $rc: $out"
fi
# One that points at a workspace file protects that file.
echo "export A=1" >"$ws/envrc.real"
out=$(cd "$ws" && "$TR" sandbox exec -- /bin/sh -c 'echo evil >> envrc.real; echo rc=$?' 2>&1)
if [[ "$out" == *"rc=2"* || "$out" == *"rc=1"* ]] && [ "$(cat "$ws/envrc.real")" = "export A=1" ]; then
  pass "protected names (native): the target of a protected symlink is read-only too"
else
  fail "protected names (native): the target of a protected symlink is read-only too" "$out; $(cat "$ws/envrc.real")"
fi
# A read-only or overlay workspace needs none of this (and runs no supervisor).
out=$(cd "$ws" && "$TR" sandbox exec --workspace-mode overlay -- /bin/sh -c 'mkdir .git && echo made' 2>&1)
expect_rc "protected names (native): an overlay workspace may make .git (it never reaches the host)" 0 \
  bash -c '[[ "$0" == *made* ]] && [ ! -e "$1/.git" ]' "$out" "$ws"

# ---- attack 8: a unix socket in the workspace ----------------------------------------------
# listen KIND PATH LOG: a host listener (stream or datagram) that logs what
# it receives.
listen() {
  python3 -c '
import socket, sys
kind, path, log = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM)
s.bind(path)
if kind == "stream": s.listen(8)
print("ready", flush=True)
while True:
    if kind == "stream":
        c, _ = s.accept(); d = c.recv(100); c.close()
    else:
        d = s.recv(100)
    open(log, "ab").write(b"got:" + d + b"\n")
' "$@" &
  listener_pids+=($!)
}
cat >"$scratch/reach.py" <<'EOF'
import socket, sys
out = []
for kind, path in (("stream", sys.argv[1]), ("dgram", sys.argv[2])):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM)
        if kind == "stream":
            s.connect(path); s.send(b"from-the-cage")
        else:
            s.sendto(b"from-the-cage", path)
        out.append(kind + ":sent")
    except OSError as e:
        out.append("%s:%s" % (kind, e.strerror))
try:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.sendto(b"from-the-cage", sys.argv[2]); out.append("pair:sent")
except OSError as e:
    out.append("pair:%s" % e.strerror)
# The same from a thread (the supervisor acts for the thread's process).
import threading
def from_thread():
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1]); s.send(b"from-a-thread"); out.append("thread:sent")
    except OSError as e:
        out.append("thread:%s" % e.strerror)
t = threading.Thread(target=from_thread); t.start(); t.join()
print("REACH:" + " ".join(out))
EOF
for who in root nobody; do
  ws="$scratch/sock-$who"
  mkdir -p "$ws"
  log="$scratch/sock-$who.log"
  : >"$log"
  chmod 0777 "$ws"; chmod 0666 "$log"
  listen stream "$ws/x.sock" "$log" >/dev/null
  listen dgram "$ws/d.sock" "$log" >/dev/null
  for _ in $(seq 50); do [ -S "$ws/x.sock" ] && [ -S "$ws/d.sock" ] && break; sleep 0.1; done
  chmod 0666 "$ws/x.sock" "$ws/d.sock"
  [ "$who" = nobody ] && chown 65534:65534 "$ws"
  out=$(cd "$ws" && as "$who" "$TR" sandbox exec --ro-bind "$scratch/reach.py:/reach.py" -- python3 /reach.py /workspace/x.sock /workspace/d.sock 2>&1 </dev/null)
  sleep 0.3
  if [[ "$out" == *"REACH:stream:"*"dgram:"*"pair:"* ]] && [[ "$out" != *":sent"* ]] && ! grep -q from-the-cage "$log"; then
    pass "attack 8 (native, $who): a host listener on a workspace socket receives nothing ($(sed -n 's/^REACH://p' <<<"$out"))"
  else
    fail "attack 8 (native, $who): a host listener on a workspace socket receives nothing" "$out; log: $(cat "$log")"
  fi
  # Controls: a host process reaches the listener; --allow-unix-socket lets
  # the cage reach the stream one (datagram sockets stay refused).
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"from-the-host")' "$ws/x.sock"
  out=$(cd "$ws" && as "$who" "$TR" sandbox exec --allow-unix-socket "$ws/x.sock" --ro-bind "$scratch/reach.py:/reach.py" -- python3 /reach.py /workspace/x.sock /workspace/d.sock 2>&1 </dev/null)
  # The listener logs as it accepts: give it time (not a timed assertion).
  for _ in $(seq 100); do grep -q "got:from-a-thread" "$log" && grep -q "got:from-the-cage" "$log" && break; sleep 0.1; done
  if grep -q from-the-host "$log" && grep -q "got:from-the-cage" "$log" && grep -q "got:from-a-thread" "$log" \
    && [[ "$out" == *"stream:sent"* && "$out" == *"thread:sent"* ]] && [[ "$out" != *"dgram:sent"* ]]; then
    pass "attack 8 (native, $who): control: the host reaches the listener, and so does the cage with --allow-unix-socket (from a thread too)"
  else
    fail "attack 8 (native, $who): control: the listener is reachable when allowed" "$out; log: $(cat "$log")"
  fi
  # The control's one message is the only one the cage ever got through
  # (nothing of the refused run arrived late).
  expect_rc "attack 8 (native, $who): the listener got exactly the control's messages from the cage" 0 \
    bash -c '[ "$(grep -c "got:from-the-cage" "$0")" = 1 ] && [ "$(grep -c "got:from-a-thread" "$0")" = 1 ]' "$log"
done
out=$("$TR" sandbox exec --allow-unix-socket "$scratch/nope.sock" -- /bin/true 2>&1); rc=$?
expect_rc "attack 8: --allow-unix-socket of a missing path is an error naming it" 0 \
  bash -c '[ "$0" != 0 ] && [[ "$1" == *"allowed unix socket $2"* ]]' "$rc" "$out" "$scratch/nope.sock"
