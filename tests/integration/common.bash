# Helpers shared by the integration lane (sourced, not run: tests/run runs
# only the executable *.sh files here).
#
#   tr_json DIR ARGS...    `tactus-run run ARGS --json` in DIR, no TTY; sets
#                          out (stdout), err (stderr), rc; RUNNER=(...) prefixes
#                          the command (say, setpriv to run as uid 65534)
#   tr_human DIR ARGS...   the same without --json
#   json_get EXPR          a Python expression on $out: r is the last line
#                          (parsed), lines the non-empty lines; prints JSON
#   result_key             {status, exit_code, result} of $out, keys sorted
#   expect / expect_in     compare and report PASS/FAIL
#
# JSON is read by one long-lived python3 (a coprocess): starting python3
# for every check costs ~0.15 s here, which would dominate the lane.
source "$TESTS_DIR/lib.sh"

# Model calls must never leave the machine from a test: any Agent that
# slips through talks to a closed loopback port.
export OPENAI_BASE_URL=http://127.0.0.1:9/v1
unset OPENAI_API_KEY

# The test's scratch space (removed at exit); readable by uid 65534.
TMPD=$(mktemp -d /tmp/tactus-itest.XXXXXX)
chmod 0755 "$TMPD"
trap 'rm -rf "$TMPD"' EXIT

# uid 65534 keeps its trust store and checkpoints in a state directory of
# its own (tests/run gives root one it cannot enter).
mkdir -m 0700 "$TMPD/nobody-state"
chown 65534:65534 "$TMPD/nobody-state"
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- env XDG_STATE_HOME="$TMPD/nobody-state")
RUNNER=()

# A TTY would make approvals prompt: tests run in a new session (setsid -w).
tr_run() {
  local dir="$1"; shift
  (cd "$dir" && setsid -w "${RUNNER[@]}" "$TR" run "$@" >"$TMPD/out" 2>"$TMPD/err" </dev/null)
  rc=$?
  out=$(cat "$TMPD/out")
  err=$(cat "$TMPD/err")
}
tr_json() { local dir="$1"; shift; tr_run "$dir" "$@" --json; }
tr_human() { local dir="$1"; shift; tr_run "$dir" "$@"; }

coproc PYJSON {
  exec python3 -u -c '
import json, sys
for req in sys.stdin:
    path, expr = req.rstrip("\n").split("\t", 1)
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
        lines = [l for l in text.splitlines() if l.strip()]
        try:
            r = json.loads(lines[-1])
        except Exception:
            r = None
        v = eval(expr, {"json": json, "r": r, "lines": lines, "text": text})
        print(json.dumps(v, sort_keys=True))
    except Exception as e:
        print(json.dumps("ERROR: %s: %s" % (type(e).__name__, e)))
'
}

# py_eval FILE EXPR
py_eval() {
  local line
  if ! printf '%s\t%s\n' "$1" "$2" >&"${PYJSON[1]}" 2>/dev/null || ! IFS= read -r line <&"${PYJSON[0]}"; then
    echo '"ERROR: the python3 helper is gone"'
    return
  fi
  printf '%s\n' "$line"
}

json_get() {
  printf '%s' "$out" >"$TMPD/get"
  py_eval "$TMPD/get" "$1"
}

result_key() {
  json_get '({"status": r.get("status"), "exit_code": r.get("exit_code"), "result": r.get("result")} if isinstance(r, dict) and r.get("event_type") == "result" else "NO-RESULT-LINE")'
}

# expect NAME GOT WANT [CONTEXT]
expect() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3${4:+ ($4)}"; fi
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

# The last lines of some output, on one line, for failure messages.
short() { printf '%s' "$1" | tail -2 | tr '\n' ' ' | cut -c1-300; }

# Run cgroups whose launcher is gone were leaked (a read-only look at
# cgroup2 under /sys/fs/cgroup/unified; cgroup v1 is never touched).
leaked_cgroups() {
  local d pid left=""
  while read -r d; do
    [ -n "$d" ] || continue
    pid=${d##*/tactus-run-}
    [ -d "/proc/${pid%%-*}" ] || left+=" $d"
  done < <(find /sys/fs/cgroup/unified -maxdepth 3 -name 'tactus-run-*' 2>/dev/null)
  echo "$left"
}
