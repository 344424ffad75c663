#!/usr/bin/env bash
# Hostile lane: every run has finite rlimits, soft == hard, whether or not
# the user asked for limits (sandbox/rlimits.c): CPU, FSIZE, DATA, CORE=0,
# NPROC, NOFILE (and AS when it is the memory limit), read from
# /proc/self/limits inside the cage, as root and as an unprivileged user.
# The default memory limit is shown to bind with untouched mappings (no
# memory is used).  Only the cgroup2 hierarchy is ever looked at (by
# tactus-run itself); nothing here touches cgroup v1.
source "$TESTS_DIR/lib.sh"

if [ ! -x "$TR_PROBE" ]; then
  fail "rlimits" "no probe at $TR_PROBE (run make test-bins)"
  exit 1
fi

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT

# in_cage WHO [FLAGS...] -- CMD...: sets out and rc.
in_cage() {
  local who="$1" ws
  shift
  local -a runner=() flags=()
  [ "$who" = nobody ] && runner=(as_nobody)
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  ws=$(probe_workspace "$scratch" "$who")
  out=$(cd "$scratch" && "${runner[@]}" timeout -k 5 60 "$TR" sandbox exec --workspace "$ws" \
          "${flags[@]}" -- "$@" 2>&1 </dev/null)
  rc=$?
}

# limit "Max cpu time": "SOFT HARD" from the last /proc/self/limits read.
limit() {
  awk -v k="$1" 'index($0, k) == 1 { rest = substr($0, length(k) + 1); split(rest, f, " ");
                  print f[1], f[2]; exit }' <<<"$out"
}

sanitized() { [ -n "${TR_SANITIZED:-}" ]; }

# check_limit NAME LIMIT WANT: WANT is "finite" or a number.
check_limit() {
  local name="$1" key="$2" want="$3" got soft hard
  got=$(limit "$key")
  soft=${got% *} hard=${got#* }
  if [ -z "$got" ]; then
    fail "$name: $key" "no such line in /proc/self/limits (exit $rc: $(head -2 <<<"$out" | tr '\n' ' '))"
  elif [ "$soft" != "$hard" ]; then
    fail "$name: $key" "soft $soft != hard $hard"
  elif [ "$want" = finite ] && ! [[ "$hard" =~ ^[0-9]+$ ]]; then
    fail "$name: $key" "not finite: $hard"
  elif [ "$want" != finite ] && [ "$hard" != "$want" ]; then
    fail "$name: $key" "$hard, want $want"
  else
    pass "$name: $key is $hard (soft == hard)"
  fi
}

# Whether the cgroup v2 controller for a limit applies to runs on this host.
cgroup_applies() {
  "$TR" sandbox exec --workspace-mode off --require-cgroup "$@" -- /bin/true >/dev/null 2>&1
}

for who in root nobody; do
  name="rlimits as $who, no limits asked"
  in_cage "$who" -- /bin/cat /proc/self/limits
  if [ "$rc" = 0 ]; then pass "$name: cat /proc/self/limits exits 0"; else fail "$name: cat /proc/self/limits exits 0" "exit $rc: $(head -2 <<<"$out" | tr '\n' ' ')"; fi
  check_limit "$name" "Max cpu time" finite
  check_limit "$name" "Max file size" finite
  if sanitized; then
    skip "$name: Max data size" "a sanitizer build sets no RLIMIT_DATA (its shadow memory would not fit)"
  else
    check_limit "$name" "Max data size" finite
  fi
  check_limit "$name" "Max core file size" 0
  check_limit "$name" "Max processes" finite
  check_limit "$name" "Max open files" finite
  check_limit "$name" "Max locked memory" 0
  check_limit "$name" "Max msgqueue size" 0

  # The CPU limit follows the deadline: a process can use at most
  # timeout x CPUs in it, so the limit is never below the timeout.
  name="rlimits as $who, --timeout 7200"
  in_cage "$who" --timeout 7200 -- /bin/cat /proc/self/limits
  cpu=$(limit "Max cpu time"); cpu=${cpu#* }
  if [[ "$cpu" =~ ^[0-9]+$ ]] && [ "$cpu" -gt 7200 ]; then
    pass "$name: Max cpu time $cpu is above the deadline"
  else
    fail "$name: Max cpu time is above the deadline" "got '$cpu'"
  fi

  name="rlimits as $who, explicit limits"
  in_cage "$who" --cpu-seconds 7 --nofile 77 --fsize 5m --memory 3g -- /bin/cat /proc/self/limits
  check_limit "$name" "Max cpu time" 7
  check_limit "$name" "Max open files" 77
  check_limit "$name" "Max file size" $((5 << 20))
  if sanitized; then
    skip "$name: Max data size" "a sanitizer build sets no RLIMIT_DATA"
  else
    check_limit "$name" "Max data size" $((3 << 30))
  fi

  # Without a cgroup memory controller, --memory is also RLIMIT_AS.
  name="rlimits as $who, --memory 64m"
  in_cage "$who" --memory 64m -- /bin/cat /proc/self/limits
  if sanitized; then
    skip "$name: Max address space" "a sanitizer build sets no RLIMIT_AS"
  elif [ "$who" = root ] && cgroup_applies --memory 64m; then
    skip "$name: Max address space" "the cgroup memory controller applies here (memory.max, no RLIMIT_AS)"
  else
    check_limit "$name" "Max address space" $((64 << 20))
  fi

  # --pids is RLIMIT_NPROC itself without a cgroup pids controller; with
  # one, pids.max is the limit and NPROC only a backstop above it.
  name="rlimits as $who, --pids 40"
  in_cage "$who" --pids 40 -- /bin/cat /proc/self/limits
  nproc=$(limit "Max processes"); nproc=${nproc#* }
  if [ "$who" = root ] && cgroup_applies --pids 40; then
    if [[ "$nproc" =~ ^[0-9]+$ ]] && [ "$nproc" -gt 40 ]; then
      pass "$name: Max processes $nproc is a backstop above pids.max 40"
    else
      fail "$name: Max processes is a backstop above pids.max 40" "got '$nproc'"
    fi
  else
    check_limit "$name" "Max processes" 40
  fi

  # The default memory limit binds: untouched writable mappings (no memory
  # is used) fail long before the probe's 64 GiB cap.
  name="rlimits as $who: the default memory limit stops a mapping bomb"
  if sanitized; then
    skip "$name" "a sanitizer build sets no RLIMIT_DATA"
  else
    in_cage "$who" -- /workspace/tr-probe mapbomb 64
    n=$(sed -n -E 's/.* after ([0-9]+) GiB.*/\1/p' <<<"$out" | head -1)
    if [ "$rc" = 0 ] && [[ "$out" == *ENOMEM* ]] && [ -n "$n" ] && [ "$n" -le 2 ]; then
      pass "$name: ENOMEM after $n GiB"
    else
      fail "$name" "exit $rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
    fi
  fi
done

# The mapping bomb is not contained without the sandbox (so the test above
# can fail): plain, as uid 65534, capped at 64 GiB of untouched mappings.
out=$(as_nobody "$TR_PROBE" mapbomb 64 2>&1); rc=$?
if [ "$rc" = 1 ] && [[ "$out" == *"NOT CONTAINED"* ]]; then
  pass "rlimits: outside the cage the mapping bomb maps its whole 64 GiB cap"
elif [ "$(ulimit -d)" != unlimited ] || [ "$(ulimit -v)" != unlimited ]; then
  skip "rlimits: outside the cage the mapping bomb maps its whole 64 GiB cap" "this shell already has a data or address-space limit"
else
  fail "rlimits: outside the cage the mapping bomb maps its whole 64 GiB cap" "exit $rc: $out"
fi
