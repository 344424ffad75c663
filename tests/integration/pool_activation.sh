#!/usr/bin/env bash
# tactus-run serve, socket-activated (systemd's sd_listen_fds protocol:
# LISTEN_PID/LISTEN_FDS, the socket at fd 3), as debian/tactus-run.socket
# starts it: a launcher written here binds and listens like systemd does,
# then execs serve with the socket at fd 3.  Serve must use exactly that
# socket and leave it in place; refuse what is not one listening seqpacket
# socket; and ignore variables meant for another process.
source "$TESTS_DIR/lib.sh"
CLIENT="$(dirname "$TR")/tactus-run-client"
[ -x "$CLIENT" ] || { fail "pool activation: $CLIENT is not built" ""; exit 0; }
scratch=$(scratch_dir)
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT
# activate SOCKET-PATH TYPE(seqpacket|stream) LISTEN(1|0) NFDS PIDMODE(self|other) -- CMD...
cat >"$scratch/activate.py" <<'PY'
import os, socket, sys
path, kind, listen, nfds, pidmode = sys.argv[1:6]
cmd = sys.argv[7:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if kind == "seqpacket" else socket.SOCK_STREAM)
os.umask(0o077)
s.bind(path)
if listen == "1":
    s.listen(16)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # (the socket may itself be fd 3, close-on-exec)
if nfds == "2":
    os.dup2(3, 4)
    os.set_inheritable(4, True)
os.environ["LISTEN_FDS"] = nfds
os.environ["LISTEN_PID"] = str(os.getpid() if pidmode == "self" else 1)
os.environ["LISTEN_FDNAMES"] = "tactus-run.socket"
os.execvp(cmd[0], cmd)
PY
sock="$scratch/act.sock"
HOME="$scratch" python3 "$scratch/activate.py" "$sock" seqpacket 1 1 self -- "$TR" serve --size 1 2>"$scratch/serve.log" &
server=$!
for _ in $(seq 50); do grep -q listening "$scratch/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on $sock" "$scratch/serve.log" \
  && pass "pool activation: serve takes the socket passed at fd 3 (LISTEN_FDS=1)" \
  || fail "pool activation: serve takes the socket passed at fd 3" "$(cat "$scratch/serve.log")"
mkdir -p "$scratch/ws" && cd "$scratch/ws" || exit 1
echo 'return { greeting = "activated" }' > hello.tac
out=$("$CLIENT" --socket "$sock" hello.tac 2>"$scratch/err"); rc=$?
[ $rc = 0 ] && [[ "$out" == *activated* ]] && pass "pool activation: a procedure runs through the activated socket" \
  || fail "pool activation: a procedure runs through the activated socket" "rc=$rc $out $(tail -2 "$scratch/err")"
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=""
[ -S "$sock" ] && pass "pool activation: the socket (systemd's) is left in place at exit" \
  || fail "pool activation: the socket is left in place at exit" "gone"
rm -f "$sock"

bad() { # NAME NEEDLE TYPE LISTEN NFDS
  local out rc
  rm -f "$sock"
  out=$(HOME="$scratch" timeout 20 python3 "$scratch/activate.py" "$sock" "$3" "$4" "$5" self -- "$TR" serve --size 1 2>&1); rc=$?
  [ $rc = 1 ] && [[ "$out" == *"$2"* ]] && pass "pool activation: $1 is refused" \
    || fail "pool activation: $1 is refused" "rc=$rc: $out"
}
bad "a stream socket" "not a SOCK_SEQPACKET socket" stream 1 1
bad "a socket that is not listening" "is not listening" seqpacket 0 1
bad "two sockets" "2 sockets passed" seqpacket 1 2
# LISTEN_PID of another process: not ours, serve makes its own socket.
rm -f "$sock"
HOME="$scratch" python3 "$scratch/activate.py" "$scratch/ignored.sock" seqpacket 1 1 other -- "$TR" serve --size 1 --socket "$sock" 2>"$scratch/serve2.log" &
server=$!
for _ in $(seq 50); do grep -q listening "$scratch/serve2.log" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on $sock" "$scratch/serve2.log" \
  && pass "pool activation: LISTEN_PID of another process is ignored (its own --socket is used)" \
  || fail "pool activation: LISTEN_PID of another process is ignored" "$(cat "$scratch/serve2.log")"
exit 0
