# The fake OpenAI-compatible model server (tests/lib/fake_openai.py) for a
# test script.  Source it once $scratch exists (a directory the script
# removes at exit) and call stop_fake from the script's EXIT trap.
#
#   start_fake 'SCRIPT-JSON'   a fresh server on 127.0.0.1 playing the script;
#                              sets PORT, URL ("" if it did not start) and LOG
#                              (one line per request received); its stderr is
#                              in "$FAKE_DIR/stderr"
#   start_fake_as KIND 'SCRIPT-JSON' [ARGS...]
#                              the same with another provider's fake server
#                              (KIND: openai, anthropic, gemini, bedrock; ARGS
#                              go to it: fake_bedrock.py's credentials); URL is
#                              its base URL (.../v1 for openai)
#   stop_fake                  stop it
fake_pid=""
nfake=0

stop_fake() {
  if [ -n "$fake_pid" ]; then
    kill "$fake_pid" 2>/dev/null
    wait "$fake_pid" 2>/dev/null
    fake_pid=""
  fi
}

start_fake() {
  start_fake_as openai "$1"
}

start_fake_as() {
  local kind="$1" script="$2"
  shift 2
  stop_fake
  nfake=$((nfake + 1))
  FAKE_DIR="$scratch/fake$nfake"
  mkdir -p "$FAKE_DIR"
  printf '%s\n' "$script" >"$FAKE_DIR/script.json"
  LOG="$FAKE_DIR/log"
  : >"$LOG"
  python3 "$TESTS_DIR/lib/fake_$kind.py" "$FAKE_DIR/port" "$FAKE_DIR/script.json" "$LOG" "$@" \
    >/dev/null 2>"$FAKE_DIR/stderr" </dev/null &
  fake_pid=$!
  for _ in $(seq 250); do [ -s "$FAKE_DIR/port" ] && break; sleep 0.02; done
  PORT=$(cat "$FAKE_DIR/port" 2>/dev/null)
  URL=""
  if [[ "$PORT" =~ ^[0-9]+$ ]]; then
    URL="http://127.0.0.1:$PORT"
    [ "$kind" = openai ] && URL="$URL/v1"
  fi
}
