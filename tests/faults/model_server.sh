#!/usr/bin/env bash
# Faults lane: a model server that hangs, resets or floods.
#
# tests/lib/fake_openai.py on 127.0.0.1 (a fresh one per case, stopped by
# pid).  Each case: a sandboxed agent run ends in bounded time, with
# bounded broker memory (the launcher's peak RSS from --json resources),
# exit 1 (or 124 for the run's own deadline) and a clear message:
#   hang, with --timeout 4        the deadline stops the call: exit 124
#   hang, no deadline             curl's low-speed limit (30 s without a
#                                 byte): Timeout, exit 1
#   reset (TCP RST)               retried, then ConnectionError, exit 1
#   flood (streamed, 64 MB)       stopped at 8 MiB: ResponseTooLarge, exit 1
#   flood (one 9 MiB body)        the same, not streamed
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

FAULT_UID=64983
RSS_LIMIT_KB=65536
# ASan keeps freed memory in quarantine and maps shadow memory: RSS says
# nothing about the broker's own bounds there (the release build checks it).
[ -n "${TR_SANITIZED:-}" ] && RSS_LIMIT_KB=$((4 << 20))
scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
trap 'stop_fake; rm -rf "$scratch"' EXIT
ws="$scratch/ws"
mkdir -m 0700 "$ws" "$scratch/home"
chown "$FAULT_UID:$FAULT_UID" "$ws"
export HOME="$scratch/home"
unset OPENAI_API_KEY
export OPENAI_BASE_URL=http://127.0.0.1:9/v1  # each case sets its fake server's
pids="$scratch/pids"
: >"$pids"
cat >"$scratch/chat.tac" <<'EOF'
streamer = Agent { model = "openai/gpt-4o-mini", system_prompt = "hi" }
plain = Agent { model = "openai/gpt-4o-mini", system_prompt = "hi", disable_streaming = true }
Procedure {
  input = { which = field.string { default = "streamer" } },
  function(input)
    local r = (input.which == "plain" and plain or streamer)({ message = "hello" })
    return { n = #r.text }
  end,
}
EOF

# start_fake (tests/lib/fake_server.bash) leaves URL empty when the server
# did not start: the case then fails without running.

# run_case NAME WANT-RC WANT-MESSAGE-PREFIX MAX-SECONDS ARGS...
run_case() {
  local name="$1" want_rc="$2" want_msg="$3" max_s="$4" t0 rc ms got
  shift 4
  if [ -z "$URL" ]; then
    fail "faults: model server $name" "the fake server did not start: $(tail -3 "$scratch/fake$nfake/stderr" | tr '\n' ' ')"
    return
  fi
  t0=$(date +%s%N)
  (cd "$ws" && OPENAI_API_KEY=sk-faults OPENAI_BASE_URL="$URL" exec "$TR" run "$scratch/chat.tac" --json "$@" \
     >"$scratch/out" 2>"$scratch/err" </dev/null) &
  local launcher=$!
  record_pid "$launcher" "$pids"
  wait "$launcher"
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  got=$(tail -1 "$scratch/out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["resources"]["launcher_max_rss_kb"], r["resources"]["sandbox_max_rss_kb"], r.get("message"))' 2>&1)
  local rss=${got%% *} rest=${got#* }
  local vm_rss=${rest%% *} msg=${rest#* }
  if [ "$rc" = "$want_rc" ] && [[ "$msg" == "$want_msg"* || "$msg" == *.tac:*": $want_msg"* ]] && [ "$ms" -le $((max_s * 1000)) ] \
     && [ "${rss:-999999999}" -le "$RSS_LIMIT_KB" ] 2>/dev/null; then
    pass "faults: model server $name: exit $rc in $((ms / 1000)).$((ms % 1000 / 100)) s (limit $max_s s), broker peak RSS $((rss / 1024)) MB (VM $((vm_rss / 1024)) MB): $msg"
  else
    fail "faults: model server $name" "exit $rc (want $want_rc) in $ms ms (limit $max_s s), broker peak RSS ${rss} kB (limit $RSS_LIMIT_KB), message: $(echo "$got" | cut -c1-300); stderr: $(tail -c 300 "$scratch/err" | tr '\n' ' ')"
  fi
}

script() { start_fake "$1"; }

script '[{"hang": true}]'
run_case "hangs, run deadline 4 s" 124 "the run passed its 4 s deadline" 8 --timeout 4

script '[{"reset": true}]'
run_case "resets every connection" 1 "ConnectionError: cannot complete the model call" 10

script '[{"flood": 64000000}]'
run_case "floods a stream (64 MB)" 1 "ResponseTooLarge: the model server at" 30

python3 -c 'import json; print(json.dumps([{"garbage": "{\"x\": \"" + "q" * (9 << 20) + "\"}"}]))' >"$scratch/big.json"
start_fake "$(cat "$scratch/big.json")"
run_case "floods one body (9 MiB)" 1 "ResponseTooLarge: the model server at" 30 --param which=plain

script '[{"hang": true}]'
run_case "hangs, no deadline (30 s low-speed limit)" 1 "Timeout: cannot complete the model call" 45
stop_fake

sleep 0.2
left="$(own_live "$pids")$(own_cgroups "$pids")$(uid_procs "$FAULT_UID")"
if [ -z "$left" ]; then pass "faults: model server: no launcher, run cgroup or process left"; else fail "faults: model server: nothing left" "$(echo $left | cut -c1-300)"; fi
