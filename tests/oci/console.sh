#!/usr/bin/env bash
# OCI lane: terminals.  --console-socket gets exactly one message carrying
# exactly one SCM_RIGHTS fd (the pty master) and is closed at once
# (tests/oci/recvtty.py plays containerd's shim / conmon); the container's
# fds 0-2 are the pty, /dev/console is it; create's own stdout/stderr are
# not held by anything once it returns (go-runc waits for EOF on them);
# run/exec -t without a socket proxy the pty.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup
command -v python3 >/dev/null || { skip "oci console" "python3 is missing"; exit 0; }
RECV="$TESTS_DIR/oci/recvtty.py"

start_recv() { # start_recv NAME [INPUT]
  local sock=$SCRATCH/$1.sock out=$SCRATCH/$1.tty
  rm -f "$sock" "$out" "$out.ready" "$out.meta"
  python3 "$RECV" "$sock" "$out" "${2:-}" &
  RECV_PID=$!
  for i in $(seq 100); do [ -s "$out.ready" ] && break; sleep 0.05; done
}

B=$SCRATCH/tty
make_bundle "$B" 'c["process"]["terminal"] = True; c["process"]["consoleSize"] = {"height": 33, "width": 111}; c["process"]["args"] = ["sh", "-c", "tty; test -t 0 && test -t 1 && test -t 2 && echo all-fds-are-the-tty; stty size; ls -l /dev/console | cut -c1; sleep 0.3; echo bye"]'
start_recv c1
# $(...) would hang if anything held create's stdout/stderr after it exits.
t0=$(date +%s%N)
out=$(timeout 20 "$RUNC" --root "$STATE" create -b "$B" --console-socket "$SCRATCH/c1.sock" c1 2>&1); code=$?
ms=$((($(date +%s%N) - t0) / 1000000))
WHY="exit $code after ${ms} ms: $out"; check "oci console: create with --console-socket returns and holds none of its stdout/stderr" test "$code" = 0 -a "$ms" -lt 10000
for i in $(seq 100); do [ -s "$SCRATCH/c1.tty.meta" ] && break; sleep 0.05; done
meta=$(cat "$SCRATCH/c1.tty.meta" 2>/dev/null)
WHY="$meta"; check "oci console: exactly one SCM_RIGHTS fd, pty name as data, socket closed" \
  grep -qE "^fds=1 data=b'/dev/pts/[0-9]+' eof=True" <<<"$meta"
rc start c1
wait "$RECV_PID"
tty_out=$(tr -d '\r' <"$SCRATCH/c1.tty")
WHY="$tty_out"; check "oci console: the process runs on the pty (fds 0-2)" grep -q all-fds-are-the-tty <<<"$tty_out"
WHY="$tty_out"; check "oci console: process.consoleSize sets the window size" grep -q '^33 111$' <<<"$tty_out"
WHY="$tty_out"; check "oci console: /dev/console is the pty (a char device)" grep -q '^c$' <<<"$tty_out"
WHY="$tty_out"; check "oci console: output arrives through the master" grep -q bye <<<"$tty_out"
wait_status c1 stopped
rc delete c1

# exec --tty --console-socket --detach
make_bundle "$SCRATCH/sl" 'c["process"]["args"] = ["sleep", "60"]'
rc run -d -b "$SCRATCH/sl" c2 >/dev/null 2>&1 </dev/null
start_recv c2 "echo typed-\$((6*7)); exit
"
out=$(timeout 20 "$RUNC" --root "$STATE" exec --tty --detach --console-socket "$SCRATCH/c2.sock" --pid-file "$SCRATCH/c2.pid" c2 sh 2>&1); code=$?
WHY="exit $code: $out"; check "oci console: exec --tty --console-socket --detach returns" test "$code" = 0
( sleep 10; kill "$RECV_PID" 2>/dev/null ) &
wait "$RECV_PID"
tty_out=$(tr -d '\r' <"$SCRATCH/c2.tty")
WHY="$tty_out"; check "oci console: input typed into the exec'd shell's pty is executed" grep -q typed-42 <<<"$tty_out"
meta=$(cat "$SCRATCH/c2.tty.meta" 2>/dev/null)
WHY="$meta"; check "oci console: exec sends exactly one fd too" bash -c "[[ '$meta' == fds=1* ]]"
rc delete --force c2

# run -t without a socket: the runtime proxies the pty.
make_bundle "$SCRATCH/rt" 'c["process"]["terminal"] = True; c["process"]["args"] = ["sh", "-c", "test -t 1 && echo proxied-tty; exit 4"]'
out=$(timeout 20 "$RUNC" --root "$STATE" run -b "$SCRATCH/rt" c3 </dev/null 2>&1); code=$?
WHY="exit $code: $out"; check "oci console: run with a terminal and no socket proxies the pty and returns the exit code" \
  bash -c "[ $code = 4 ] && [[ '$out' == *proxied-tty* ]]"
make_bundle "$SCRATCH/sl2" 'c["process"]["args"] = ["sleep", "60"]'
rc run -d -b "$SCRATCH/sl2" c4 >/dev/null 2>&1 </dev/null
out=$(timeout 20 "$RUNC" --root "$STATE" exec -t c4 sh -c 'test -t 0 && echo exec-tty' </dev/null 2>&1); code=$?
WHY="exit $code: $out"; check "oci console: exec -t without a socket proxies the pty" bash -c "[ $code = 0 ] && [[ '$out' == *exec-tty* ]]"
expect_out "oci console: exec --console-socket without a terminal is refused" 255 "console socket" \
  rc exec --console-socket "$SCRATCH/x.sock" c4 true
expect_out "oci console: exec --tty --detach without a socket is refused" 255 "console socket" rc exec -t -d c4 true
rc delete --force c4
make_bundle "$SCRATCH/nt" 'c["process"]["args"] = ["true"]'
expect_out "oci console: create --console-socket with terminal false is refused" 1 "cannot use console socket" \
  rc create -b "$SCRATCH/nt" --console-socket "$SCRATCH/x.sock" c5
exit 0
