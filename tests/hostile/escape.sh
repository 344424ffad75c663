#!/usr/bin/env bash
# Hostile lane: the containment probe (tests/probe/probe.c) tries every
# escape it knows from inside `sandbox exec`, as root and as an unprivileged
# user, with and without --dev-pts.  Each attempt is one PASS/FAIL line.
#
# The test gives the probe things to reach for on the host: a secret file in
# a scratch directory, a `sleep` to signal and ptrace, and a loopback TCP
# (and abstract unix) listener.  Afterwards it checks from the host side that
# nothing was touched.
#
# Safety: the probe refuses to run in this shell's namespaces; the network
# side is loopback only; the only processes signalled are the two this test
# started, by pid.
source "$TESTS_DIR/lib.sh"

if [ ! -x "$TR_PROBE" ]; then
  fail "escape" "no probe at $TR_PROBE (run make test-bins)"
  exit 1
fi

scratch=$(scratch_dir)
sleep_pid= listener_pid=
cleanup() {
  [ -n "$sleep_pid" ] && kill "$sleep_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

# ---- what the probe reaches for -------------------------------------------

mkdir -m 0700 "$scratch/host"
secret="$scratch/host/secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret"
secret_sum=$(sha256sum <"$secret")

# Its stdio must not hold the runner's output pipe open.
sleep 300 </dev/null >/dev/null 2>&1 &
sleep_pid=$!

# A loopback listener on the host: TCP on an ephemeral port, plus the
# abstract unix name the probe derives from the port.  It logs every
# connection it accepts; the probe must never get one.
listener_log="$scratch/host/connections"
: >"$listener_log"
python=$(command -v /usr/bin/python3 python3 | head -1)
if [ -z "$python" ]; then
  fail "escape: host listener" "python3 is needed for the loopback listener"
  exit 1
fi
"$python" -c '
import select, socket, sys
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind(("127.0.0.1", 0)); t.listen(16)
port = t.getsockname()[1]
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.bind("\0tr-probe-host-%d" % port); u.listen(16)
print(port, flush=True)
log = open(sys.argv[1], "a")
while True:
    for s in select.select([t, u], [], [])[0]:
        c, _ = s.accept(); log.write("connection\n"); log.flush(); c.close()
' "$listener_log" </dev/null >"$scratch/host/port" 2>/dev/null &
listener_pid=$!
for _ in $(seq 50); do [ -s "$scratch/host/port" ] && break; sleep 0.1; done
port=$(head -1 "$scratch/host/port")
if [ -z "$port" ]; then
  fail "escape: host listener" "python3 did not start a loopback listener"
  exit 1
fi

# The launcher's namespaces: the probe must find itself in other ones.
host_ns=""
for t in mnt uts pid net ipc user cgroup; do
  host_ns+="${host_ns:+,}$t=$(readlink /proc/$$/ns/$t)"
done
probe_args=(escape --host-ns "$host_ns" --host-pid "$sleep_pid" --secret "$secret" --port "$port"
            --expect-fds 0,1,2)

host_state() {
  cat /proc/sys/kernel/ctrl-alt-del /proc/sys/vm/swappiness /proc/sys/kernel/hostname 2>/dev/null
}
host_state_before=$(host_state)

# ---- the probe guards itself ----------------------------------------------

out=$("$TR_PROBE" "${probe_args[@]}" 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ "$out" == *"refusing to run"* ]] && [[ "$out" != *"PASS:"* ]]; then
  pass "escape: probe refuses to run in the launcher's namespaces"
else
  fail "escape: probe refuses to run in the launcher's namespaces" "exit $rc: $(echo "$out" | head -3)"
fi

# ---- the probe in the cage -------------------------------------------------

# A workspace per run (probe_workspace, tests/lib.sh).
workspaces=()
# run_escape LABEL root|nobody [TACTUS FLAGS...]
run_escape() {
  local label="$1" who="$2" ws out rc summary
  shift 2
  local -a runner=() extra=()
  [ "$who" = nobody ] && runner=(as_nobody)
  # The probe checks /dev holds pts and ptmx exactly when the cage has them.
  [[ " $* " == *" --dev-pts "* ]] && extra=(--dev-pts)
  ws=$(probe_workspace "$scratch" "$who")
  workspaces+=("$ws")
  out=$(cd "$scratch" && "${runner[@]}" "$TR" sandbox exec --workspace "$ws" "$@" -- \
          /workspace/tr-probe "${probe_args[@]}" "${extra[@]}" 2>&1 </dev/null); rc=$?
  # Every attempt is its own result line, tagged with the run.
  printf '%s\n' "$out" | sed -n -E "s/^(PASS|FAIL|SKIP): probe /\1: escape $label: /p"
  summary=$(printf '%s\n' "$out" | grep '^tr-probe escape: ')
  if [ "$rc" = 0 ] && [[ "$summary" == *", 0 escaped" ]]; then
    pass "escape $label: the probe ran to the end and every attempt was denied"
  else
    fail "escape $label: the probe ran to the end and every attempt was denied" \
      "exit $rc; ${summary:-no summary}; $(printf '%s\n' "$out" | grep -v -E '^(PASS|SKIP): ' | tail -3 | tr '\n' ' ')"
  fi
}

run_escape "as root" root
run_escape "as root, --dev-pts" root --dev-pts
run_escape "as nobody" nobody
run_escape "as nobody, --dev-pts" nobody --dev-pts

# ---- the host side: nothing was touched -------------------------------------

if [ -s "$listener_log" ]; then
  fail "escape: host loopback listener saw no connection" "$(wc -l <"$listener_log") connection(s)"
else
  pass "escape: host loopback listener saw no connection"
fi

if kill -0 "$sleep_pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$sleep_pid/stat")" != t ]; then
  pass "escape: host process is alive and not traced"
else
  fail "escape: host process is alive and not traced" "pid $sleep_pid is gone or stopped"
fi

if [ "$(sha256sum <"$secret")" = "$secret_sum" ]; then
  pass "escape: host secret unchanged"
else
  fail "escape: host secret unchanged" "$secret was modified"
fi

leftover=""
for d in "" /etc /usr /usr/lib; do
  [ -e "$d/tr-probe-write-test" ] && leftover+=" $d/tr-probe-write-test"
done
if [ -z "$leftover" ]; then
  pass "escape: no file created outside the workspace on the host"
else
  fail "escape: no file created outside the workspace on the host" "found:$leftover"
fi

special=$(find "${workspaces[@]}" \( -perm /6000 -o -type b -o -type c \) 2>/dev/null)
strays=$(find "${workspaces[@]}" -mindepth 1 ! -name tr-probe 2>/dev/null)
if [ -z "$special" ] && [ -z "$strays" ]; then
  pass "escape: workspaces hold no setuid file, device node or leftover"
else
  fail "escape: workspaces hold no setuid file, device node or leftover" \
    "$(echo $special $strays | head -c 300)"
fi

if [ "$(host_state)" = "$host_state_before" ]; then
  pass "escape: host ctrl-alt-del, swappiness and hostname unchanged"
else
  fail "escape: host ctrl-alt-del, swappiness and hostname unchanged" "before: $host_state_before"
fi

# ---- the probe is not vacuous ------------------------------------------------

# Outside the cage -- plain unprivileged namespaces from unshare, with no
# seccomp filter and a full capability set in the user namespace -- the same
# probe must report escapes.  Still safe: new mount/uts/pid/net namespaces,
# as uid 65534.  Its lines are only counted, not reported.
if command -v unshare >/dev/null; then
  out=$(cd "$scratch" && as_nobody unshare -Urmpfun --mount-proc "${workspaces[2]}/tr-probe" \
          "${probe_args[@]}" 2>&1 </dev/null); rc=$?
  escapes=$(printf '%s\n' "$out" | grep -c '^FAIL: probe ')
  if [ "$rc" != 1 ] && [[ "$out" == unshare:* ]]; then
    skip "escape: the probe detects escapes outside the cage" "unshare failed: $(head -1 <<<"$out")"
  elif [ "$rc" = 1 ] && [ "$escapes" -ge 30 ]; then
    pass "escape: the probe detects escapes outside the cage ($escapes found under plain unshare)"
  else
    fail "escape: the probe detects escapes outside the cage" \
      "exit $rc, $escapes escapes reported; $(printf '%s\n' "$out" | tail -2 | tr '\n' ' ')"
  fi
  # Each structural check must be able to fail: outside the cage there are
  # no locked securebits, no seccomp filter to kill an x32 call, no
  # read-only /proc/sys mount, no /dev/null over /proc/keys and the host's
  # whole /dev.
  if [ "$rc" = 1 ] || [[ "$out" != unshare:* ]]; then
    for attempt in securebits-locked securebits-clear securebits-keepcaps foreign-arch-x32 \
                   proc-sys-mounted-ro proc-masked-keys proc-masked-kallsyms dev-contents; do
      if grep -q "^FAIL: probe $attempt: " <<<"$out"; then
        pass "escape: outside the cage the probe's $attempt check reports an escape"
      else
        fail "escape: outside the cage the probe's $attempt check reports an escape" \
          "$(grep -E "^(PASS|SKIP): probe $attempt: " <<<"$out" | head -1)"
      fi
    done
    # Only where the kernel runs i386 code at all (else the probe skips).
    if grep -q -E "^(FAIL|SKIP): probe foreign-arch-i386-int80: " <<<"$out"; then
      pass "escape: outside the cage the probe's foreign-arch-i386-int80 check reports an escape or a skip"
    else
      fail "escape: outside the cage the probe's foreign-arch-i386-int80 check reports an escape or a skip" \
        "$(grep "probe foreign-arch-i386-int80: " <<<"$out" | head -1)"
    fi
  fi
else
  skip "escape: the probe detects escapes outside the cage" "no unshare(1)"
fi
