#!/usr/bin/env bash
# Soak lane: the broker's memory and fds stay flat over 200 000 round trips.
#
# One sandboxed run makes N Host.call("host.echo") calls (its sidecar
# policy allows host.echo, with a payload that changes every call); the
# launcher (the broker) is sampled from /proc/PID/status (VmRSS) and
# /proc/PID/fd every 0.2 s.  After a warm-up (the first quarter of the
# samples, at least 1 s), the last sample must be within RSS_BOUND_KB of the
# first, and so must the peak; the fd count must not change.  SOAK_CALLS
# changes N, SOAK_RSS_BOUND_KB the bound.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"
if [ -n "${TR_SANITIZED:-}" ]; then
  # ASan holds freed memory in quarantine, so RSS grows by design there;
  # the release build's run of this lane is the one that measures.
  skip "soak: broker RSS flat over many calls" "an ASan build's RSS includes its quarantine"
  exit 0
fi

CALLS=${SOAK_CALLS:-200000}
RSS_BOUND_KB=${SOAK_RSS_BOUND_KB:-256}
SOAK_UID=64991

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
ws="$scratch/ws"
mkdir -m 0700 "$ws" "$scratch/home"
chown "$SOAK_UID:$SOAK_UID" "$ws"
export HOME="$scratch/home"
cat >"$scratch/echo.tac" <<'EOF'
input { n = field.integer { default = 1000 } }
local sum = 0
for i = 1, input.n do
  local r = Host.call("host.echo", { i = i, s = string.rep("x", i % 200) })
  sum = sum + 1
end
return { calls = sum }
EOF
printf 'policy:\n  tools:\n    host.echo: {}\n' >"$scratch/echo.tac.yml"
trust "$scratch/echo.tac" || fail "soak: tactus-run trust echo.tac" "refused"

pids="$scratch/pids"
: >"$pids"
samples="$scratch/samples"
: >"$samples"
t0=$(date +%s%N)
(cd "$ws" && exec "$TR" run "$scratch/echo.tac" --param n="$CALLS" --json >"$scratch/out" 2>"$scratch/err" </dev/null) &
launcher=$!
record_pid "$launcher" "$pids"
while kill -0 "$launcher" 2>/dev/null; do
  rss=$(vmrss_kb "$launcher")
  fds=$(fd_count "$launcher")
  [ -n "$rss" ] && [ "$(cat "/proc/$launcher/comm" 2>/dev/null)" = tactus-run ] \
    && echo "$(( ($(date +%s%N) - t0) / 1000000 )) $rss $fds" >>"$samples"
  sleep 0.2
done
wait "$launcher"
rc=$?
secs=$(( ($(date +%s%N) - t0) / 1000000 ))
result=$(tail -1 "$scratch/out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r["result"]["calls"])' 2>/dev/null)

if [ "$rc" = 0 ] && [ "$result" = "success $CALLS" ]; then
  pass "soak: $CALLS Host.call round trips in one sandboxed run ($((secs / 1000)).$((secs % 1000 / 100)) s, $((CALLS * 1000 / (secs > 0 ? secs : 1))) calls/s)"
else
  fail "soak: $CALLS Host.call round trips in one sandboxed run" "exit $rc, result '$result': $(tail -2 "$scratch/err" | tr '\n' ' ')"
fi

# The verdict on the samples, in Python (warm-up cut, first/last/peak).
verdict=$(python3 - "$samples" "$RSS_BOUND_KB" <<'EOF'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 3]
bound = int(sys.argv[2])
if len(rows) < 8:
    print("FEW %d samples only" % len(rows)); sys.exit()
start = max(len(rows) // 4, next((i for i, r in enumerate(rows) if r[0] >= 1000), len(rows) // 4))
start = min(start, len(rows) - 4)
# The last samples may fall in the teardown: use the last one taken while
# the run was still in its loop (all but the final two).
steady = rows[start:-2]
first, last = steady[0], steady[-1]
peak = max(r[1] for r in steady)
fds = sorted(set(r[2] for r in steady))
ok_rss = last[1] - first[1] <= bound and peak - first[1] <= bound
ok_fd = len(fds) == 1
print("%s %s VmRSS first %d kB, last %d kB, peak %d kB (growth %d kB; at start %d kB; %d samples, "
      "%d..%d ms, first %d are warm-up) fds=%s" % (
    "OK" if ok_rss else "BAD", "OK" if ok_fd else "BAD", first[1], last[1], peak, last[1] - first[1],
    rows[0][1], len(rows), first[0], last[0], start, ",".join(map(str, fds))))
EOF
)
case "$verdict" in
  "OK "*) pass "soak: broker RSS flat over $CALLS calls (bound $RSS_BOUND_KB kB): ${verdict#* * }" ;;
  FEW*) fail "soak: broker RSS flat over $CALLS calls" "$verdict" ;;
  *) fail "soak: broker RSS flat over $CALLS calls (bound $RSS_BOUND_KB kB)" "${verdict#* * }" ;;
esac
case "$verdict" in
  "OK OK "* | "BAD OK "*) pass "soak: broker fd count constant over $CALLS calls (${verdict##*fds=} fds)" ;;
  FEW*) ;;
  *) fail "soak: broker fd count constant over $CALLS calls" "${verdict#* * }" ;;
esac

sleep 0.2
left="$(own_live "$pids")$(own_cgroups "$pids")$(uid_procs "$SOAK_UID")$(find "$ws" -mindepth 1)"
if [ -z "$left" ]; then pass "soak: nothing left after the round-trip run"; else fail "soak: nothing left after the round-trip run" "$(echo $left | cut -c1-300)"; fi
