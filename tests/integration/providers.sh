#!/usr/bin/env bash
# Integration lane: every model provider, end to end in the sandbox.
#
# Each provider's wire format is played by a fake server on 127.0.0.1 that
# speaks it as the provider's API reference defines it and refuses (HTTP
# 400, with the reason in its log) a request that breaks its rules:
#   openai/... model_type = "responses"  tests/lib/fake_openai.py (/v1/responses)
#   anthropic/...                        tests/lib/fake_anthropic.py
#   google/..., gemini/..., google-gla/...  tests/lib/fake_gemini.py
#   bedrock/...                          tests/lib/fake_bedrock.py (checks SigV4)
# (OpenAI chat completions: agents.sh.)  For each: an agent streams, calls a
# tool, gets its result back in the provider's own shape and finishes, as
# root and as an unprivileged user; a non-streamed answer; errors 400, 401,
# 429, 500 and the provider's overloaded answer (retried, then a clear
# error), a retry that succeeds, an error event inside the stream, a
# stream cut mid-answer; the key in the provider's header.  Then choosing
# providers: unknown prefixes, Tactus's provider= key, model_type,
# providers: in the config (base URLs, an OpenAI-compatible server of a new
# name that never gets another provider's key), keys and AWS credentials
# from config files, policy.models, and the price table.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
work="$scratch/work"
home="$scratch/home"
mkdir -p "$work" "$home/.tactus"
chmod 0755 "$work" "$home" "$home/.tactus"
unset OPENAI_API_KEY OPENAI_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL GOOGLE_API_KEY \
  GEMINI_API_KEY GOOGLE_GEMINI_BASE_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
  AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_BEDROCK_RUNTIME \
  AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
trap 'stop_fake; rm -rf "$scratch"' EXIT

OKEY=sk-test-openai-$$
AKEY=sk-ant-test-$$
GKEY=g-test-key-$$
AWS_ID=AKIDTEST$$
AWS_SECRET=secret/test+$$
AWS_TOKEN=token-test-$$

q() { python3 "$TESTS_DIR/lib/jsonl_query.py" "$1" "$2"; }
qo() { q "$scratch/out" "$1"; }
ql() { q "$LOG" "$1"; }
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got $2, want $3${4:+ ($4)}"; fi
}
short() { printf '%s' "$1" | tail -3 | tr '\n' ' ' | cut -c1-400; }

# ---- the providers: fake server, model, environment -----------------------------------
# kind of fake server, model string (plus extra Agent fields), canonical
# name, and the environment that points the broker at the fake and holds
# the key.
declare -A KIND MODEL CANON
KIND[responses]=openai
MODEL[responses]='model = "openai/o3-mini", model_type = "responses"'
CANON[responses]=openai
KIND[anthropic]=anthropic
MODEL[anthropic]='model = "anthropic/claude-3-5-sonnet-20241022"'
CANON[anthropic]=anthropic
KIND[gemini]=gemini
MODEL[gemini]='model = "google-gla/gemini-2.0-flash"'
CANON[gemini]=google
KIND[bedrock]=bedrock
MODEL[bedrock]='model = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"'
CANON[bedrock]=bedrock
PROVIDERS=(responses anthropic gemini bedrock)

# start P SCRIPT: P's fake server playing SCRIPT.
start() {
  if [ "$1" = bedrock ]; then
    start_fake_as bedrock "$2" "$AWS_ID" "$AWS_SECRET" us-test-1 "$AWS_TOKEN"
  else
    start_fake_as "${KIND[$1]}" "$2"
  fi
}

# env_for P: the environment for P's fake server ($URL).
env_for() {
  case "$1" in
    responses) echo "OPENAI_BASE_URL=$URL OPENAI_API_KEY=$OKEY" ;;
    anthropic) echo "ANTHROPIC_BASE_URL=$URL ANTHROPIC_API_KEY=$AKEY" ;;
    gemini) echo "GOOGLE_GEMINI_BASE_URL=$URL GOOGLE_API_KEY=$GKEY" ;;
    bedrock) echo "AWS_ENDPOINT_URL_BEDROCK_RUNTIME=$URL AWS_ACCESS_KEY_ID=$AWS_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET AWS_SESSION_TOKEN=$AWS_TOKEN AWS_REGION=us-test-1" ;;
  esac
}

# run P USER TAC [ARGS...]: tactus-run run TAC in $work (new session, no
# TTY) with P's environment, as root or nobody.  Sets rc, out, err.
run() {
  local p="$1" who="$2" tac="$3"
  shift 3
  local -a pre=()
  [ "$who" = nobody ] && pre=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
  # shellcheck disable=SC2046
  (cd "$work" && exec env HOME="$home" $(env_for "$p") "${pre[@]}" setsid -w "$TR" run "$tac" "$@" \
    >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}

nreq() { grep -c '"path"' "$LOG"; }
problems() { ql '[p for e in ev if "problems" in e for p in e["problems"]] + [e["sigv4"] for e in ev if "sigv4" in e]'; }

# the procedures, one set per provider
for p in "${PROVIDERS[@]}"; do
  cat >"$work/tools_$p.tac" <<EOF
local done = require("tactus.tools.done")
add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { required = true } },
  function(args) return { sum = args.a + args.b } end,
}
calc = Agent { ${MODEL[$p]}, system_prompt = "You add.", tools = { add, done }, max_turns = 5 }
Procedure { function(input)
  local r = calc({ message = "What is 2+3?" })
  return { text = r.text, reason = done.called() and done.last_call().args.reason or "",
           sum = add.called() and add.last_result().sum or 0, tokens = r.usage.total_tokens }
end }
EOF
  cat >"$work/plain_$p.tac" <<EOF
a = Agent { ${MODEL[$p]}, system_prompt = "Be brief.", disable_streaming = true }
Procedure { function(input) return { text = a({ message = "Hi" }).text } end }
EOF
  cat >"$work/stream_$p.tac" <<EOF
a = Agent { ${MODEL[$p]} }
Procedure { function(input) return { text = a({ message = "Hi" }).text } end }
EOF
done

TOOL_SCRIPT='[{"text": "Let me add.", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
              {"text": "Done.", "tool_calls": [{"name": "done", "arguments": {"reason": "5"}}]}]'

# The second request's tool result, in each provider's shape.
tool_result_expr() {
  case "$1" in
    responses) echo '[(i["call_id"], i["output"]) for i in ev[1]["body"]["input"] if i.get("type") == "function_call_output"] + [i["call_id"] for i in ev[1]["body"]["input"] if i.get("type") == "function_call"]' ;;
    anthropic) echo '[(b["tool_use_id"], b["content"]) for b in ev[1]["body"]["messages"][2]["content"]] + [b.get("id") for b in ev[1]["body"]["messages"][1]["content"] if b["type"] == "tool_use"]' ;;
    gemini) echo '[p["functionResponse"] for p in ev[1]["body"]["contents"][2]["parts"]]' ;;
    bedrock) echo '[b["toolResult"] for b in ev[1]["body"]["messages"][2]["content"]]' ;;
  esac
}
tool_result_want() {
  case "$1" in
    responses) echo '[["call_0", "{\"sum\":5}"], "call_0"]' ;;
    anthropic) echo '[["toolu_00", "{\"sum\":5}"], "toolu_00"]' ;;
    gemini) echo '[{"name": "add", "response": {"sum": 5}}]' ;;
    bedrock) echo '[{"content": [{"json": {"sum": 5}}], "toolUseId": "tooluse_00"}]' ;;
  esac
}
# The credential the fake server saw.
key_expr() {
  case "$1" in
    responses) echo 'ev[0]["authorization"]' ;;
    anthropic) echo '[ev[0]["headers"]["x-api-key"], ev[0]["headers"]["anthropic-version"]]' ;;
    gemini) echo 'ev[0]["headers"]["x-goog-api-key"]' ;;
    bedrock) echo '[ev[0]["headers"]["x-amz-security-token"], ev[0]["headers"]["authorization"].split("/")[0]]' ;;
  esac
}
key_want() {
  case "$1" in
    responses) echo "Bearer $OKEY" ;;
    anthropic) echo "[\"$AKEY\", \"2023-06-01\"]" ;;
    gemini) echo "$GKEY" ;;
    bedrock) echo "[\"$AWS_TOKEN\", \"AWS4-HMAC-SHA256 Credential=$AWS_ID\"]" ;;
  esac
}

# ---- the fakes refuse what their API refuses (so a translation bug cannot pass) ----------
control() {
  local name="$1" path="$2" body="$3"
  shift 3
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL$path" -H 'Content-Type: application/json' "$@" -d "$body")
  if [ "$code" = 400 ] && [ "$(problems)" != "[]" ]; then
    pass "providers: control: the fake $name refuses a request its API refuses (400: $(problems | cut -c1-80))"
  else
    fail "providers: control: the fake $name refuses a request its API refuses" "HTTP $code, problems $(problems)"
  fi
}
start anthropic '[{"text": "x"}]'
control anthropic /v1/messages '{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "5"}]}]}' \
  -H "x-api-key: k" -H "anthropic-version: 2023-06-01"
start gemini '[{"text": "x"}]'
control gemini /v1beta/models/g:generateContent '{"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "add", "response": {"sum": 5}}}]}]}' \
  -H "x-goog-api-key: k"
start responses '[{"text": "x"}]'
control responses /responses '{"model": "m", "input": [{"type": "function_call_output", "call_id": "c1", "output": "5"}]}'
start bedrock '[{"text": "x"}]'
python3 - "$URL" "$AWS_ID" "$AWS_SECRET" "$AWS_TOKEN" >"$scratch/bedrock_control" <<'PY'
# A correctly signed request (signed here, independently of the broker)
# whose body breaks Converse's rules: two user turns in a row.
import datetime, hashlib, hmac, sys, urllib.request
url, akid, secret, token = sys.argv[1:5]
body = b'{"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}]}'
path = "/model/m%3A0/converse"
host = url.split("//")[1]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
hdrs = {"content-type": "application/json", "host": host, "x-amz-date": now, "x-amz-security-token": token}
names = sorted(hdrs)
creq = "\n".join(["POST", path.replace("%", "%25"), "", "".join("%s:%s\n" % (n, hdrs[n]) for n in names),
                  ";".join(names), hashlib.sha256(body).hexdigest()])
scope = "%s/us-test-1/bedrock/aws4_request" % now[:8]
sts = "\n".join(["AWS4-HMAC-SHA256", now, scope, hashlib.sha256(creq.encode()).hexdigest()])
k = ("AWS4" + secret).encode()
for part in (now[:8], "us-test-1", "bedrock", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request(url + path, data=body, method="POST", headers={
    "Content-Type": "application/json", "X-Amz-Date": now, "X-Amz-Security-Token": token,
    "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
    % (akid, scope, ";".join(names), sig)})
try:
    urllib.request.urlopen(req)
    print(200)
except urllib.error.HTTPError as e:
    print(e.code)
PY
if [ "$(cat "$scratch/bedrock_control")" = 400 ] && [[ "$(problems)" == *"must alternate"* ]]; then
  pass "providers: control: the fake bedrock accepts a signature made independently and refuses a Converse body its API refuses"
else
  fail "providers: control: the fake bedrock refuses a Converse body its API refuses" "HTTP $(cat "$scratch/bedrock_control"), problems $(problems)"
fi

for p in "${PROVIDERS[@]}"; do
  # ---- an agent streams, calls a tool and finishes, as root and unprivileged ----
  for who in root nobody; do
    start "$p" "$TOOL_SCRIPT"
    run "$p" "$who" "tools_$p.tac" --json
    check "providers: $p ($who): an agent streams, calls a tool with its result, and finishes" \
      "$rc $(qo '[r["result"][k] for k in ("sum", "reason", "text", "tokens")] + [r["status"]]') $(nreq) $(problems)" \
      '0 [5, "5", "Done.", 30, "success"] 2 []' "$(short "$err")"
  done
  check "providers: $p: the tool result goes back in the provider's own shape, answering the call's id" \
    "$(ql "$(tool_result_expr "$p")")" "$(tool_result_want "$p")"
  check "providers: $p: the key travels in the provider's own header" "$(ql "$(key_expr "$p")")" "$(key_want "$p")"
  check "providers: $p: text streams as it comes (agent_stream_chunk events from the broker)" \
    "$(qo '"".join(e["chunk_text"] for e in of("agent_stream_chunk"))')" "Let me add.Done."
  check "providers: $p: cost events name the provider, with the tokens the server reported" \
    "$(qo '[(e["provider"], e["prompt_tokens"], e["completion_tokens"], e["total_tokens"], e["cost_source"]) for e in of("cost")]')" \
    "[[\"${CANON[$p]}\", 10, 5, 15, \"price_table\"], [\"${CANON[$p]}\", 10, 5, 15, \"price_table\"]]"

  # ---- a non-streamed answer ----
  start "$p" '[{"text": "Hello there.", "usage": {"input": 7, "output": 3}}]'
  run "$p" root "plain_$p.tac" --json
  check "providers: $p: a non-streamed answer" \
    "$rc $(qo 'r["result"]["text"]') $(qo '[(e["prompt_tokens"], e["completion_tokens"], e["total_tokens"]) for e in of("cost")]') $(problems)" \
    '0 Hello there. [[7, 3, 10]] []' "$(short "$err")"

  # ---- errors ----
  case "$p" in
    anthropic) over=529 ;;
    responses) over=503 ;;
    *) over=503 ;;
  esac
  for c in "400:1:ModelError:HTTP 400" "401:1:AuthenticationError:refused the" "429:3:ModelError:HTTP 429 (rate limited)" \
    "500:3:ModelError:HTTP 500" "$over:3:ModelError:HTTP $over"; do
    IFS=: read -r status want_req etype words <<<"$c"
    start "$p" "[{\"status\": $status, \"error\": \"the fake says $status\"}]"
    run "$p" root "stream_$p.tac"
    if [ "$rc" = 1 ] && [ "$(nreq)" = "$want_req" ] && [[ "$err" == *"$etype: "*"$words"*"the fake says $status"* ]]; then
      pass "providers: $p: HTTP $status: $etype after $want_req request(s), with the server's message"
    else
      fail "providers: $p: HTTP $status: $etype after $want_req request(s), with the server's message" \
        "exit $rc, $(nreq) requests: $(short "$err")"
    fi
  done
  start "$p" '[{"status": 429, "error": "slow down"}, {"text": "second time lucky"}]'
  run "$p" root "stream_$p.tac" --json
  check "providers: $p: a 429 is retried and the retry succeeds" "$rc $(qo 'r["result"]["text"]') $(nreq)" \
    '0 second time lucky 2' "$(short "$err")"
  start "$p" '[{"text": "never seen", "stream_error": "overloaded"}, {"text": "after the overload"}]'
  run "$p" root "stream_$p.tac" --json
  check "providers: $p: an overload reported inside the stream is retried" \
    "$rc $(qo 'r["result"]["text"]') $(nreq)" '0 after the overload 2' "$(short "$err")"
  case "$p" in
    anthropic) cut=4 ;;  # message_start, ping, content_block_start, one text delta
    responses) cut=3 ;;  # response.created, output_item.added, one text delta
    *) cut=2 ;;          # one event with text
  esac
  start "$p" "[{\"text\": \"one two three four five\", \"disconnect\": $cut}]"
  run "$p" root "stream_$p.tac"
  if [ "$rc" = 1 ] && [ "$(nreq)" = 1 ] && [[ "$err" == *"ConnectionError"*"broke off mid-answer"* ]]; then
    pass "providers: $p: a stream cut mid-answer is a ConnectionError (not retried: text was sent)"
  else
    fail "providers: $p: a stream cut mid-answer is a ConnectionError" "exit $rc, $(nreq) requests: $(short "$err")"
  fi
done
stop_fake

# ---- the other Gemini prefixes, and provider= (Tactus's older key) ------------------------
start gemini '[{"text": "from gemini"}]'
for m in google/gemini-1.5-pro gemini/gemini-2.5-flash; do
  printf 'a = Agent { model = "%s" }\nProcedure { function() return { text = a({ message = "hi" }).text } end }\n' "$m" >"$work/prefix.tac"
  run gemini root prefix.tac --json
  check "providers: $m goes to Gemini as ${m#*/}" "$rc $(qo 'r["result"]["text"]') $(ql 'ev[-1]["path"].split("/")[-1]')" \
    "0 from gemini ${m#*/}:streamGenerateContent?alt=sse" "$(short "$err")"
done
start anthropic '[{"text": "old style"}]'
printf 'a = Agent { provider = "anthropic", model = "claude-3-haiku-20240307" }\nProcedure { function() return { text = a({ message = "hi" }).text } end }\n' >"$work/oldkey.tac"
run anthropic root oldkey.tac --json
check "providers: provider = \"anthropic\" with a bare model name goes to Anthropic" \
  "$rc $(qo 'r["result"]["text"]') $(ql 'ev[0]["body"]["model"]')" '0 old style claude-3-haiku-20240307' "$(short "$err")"

# ---- choosing a provider that does not exist, or the wrong API -------------------------
printf 'a = Agent { model = "mistral/large" }\nProcedure { function() return { text = a({ message = "hi" }).text } end }\n' >"$work/unknown.tac"
run anthropic root unknown.tac
if [ "$rc" = 1 ] && [[ "$err" == *"UnsupportedProvider: model 'mistral/large': unknown provider 'mistral' (supported: openai, anthropic, google (also gemini, google-gla), bedrock"* ]]; then
  pass "providers: an unknown prefix is UnsupportedProvider naming the supported ones"
else
  fail "providers: an unknown prefix is UnsupportedProvider naming the supported ones" "exit $rc: $(short "$err")"
fi
printf 'a = Agent { model = "anthropic/claude-3-haiku", model_type = "responses" }\nProcedure { function() return { text = a({ message = "hi" }).text } end }\n' >"$work/wrongtype.tac"
run anthropic root wrongtype.tac
if [ "$rc" = 1 ] && [[ "$err" == *"model_type = \"responses\" is OpenAI's Responses API"* ]]; then
  pass "providers: model_type = \"responses\" on another provider is a clear error"
else
  fail "providers: model_type = \"responses\" on another provider is a clear error" "exit $rc: $(short "$err")"
fi
# No key and the provider's real endpoint: refused before any request.
(cd "$work" && HOME="$home" setsid -w "$TR" run stream_anthropic.tac >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 1 ] && grep -q "AuthenticationError: no API key for https://api.anthropic.com: set ANTHROPIC_API_KEY" "$scratch/err"; then
  pass "providers: no Anthropic key: AuthenticationError naming ANTHROPIC_API_KEY, no request"
else
  fail "providers: no Anthropic key: AuthenticationError naming ANTHROPIC_API_KEY" "exit $rc: $(short "$(cat "$scratch/err")")"
fi

# ---- providers: in the config; keys from the config ------------------------------------
start anthropic '[{"text": "configured"}]'
cat >"$home/.tactus/config.yml" <<EOF
anthropic_api_key: $AKEY-cfg
providers:
  anthropic: { base_url: "$URL/" }
EOF
(cd "$work" && HOME="$home" setsid -w "$TR" run stream_anthropic.tac --json >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
check "providers: providers.anthropic.base_url and anthropic_api_key from ~/.tactus/config.yml" \
  "$rc $(qo 'r["result"]["text"]') $(ql 'ev[0]["headers"]["x-api-key"]')" "0 configured $AKEY-cfg" "$(short "$(cat "$scratch/err")")"

# An OpenAI-compatible server under a name of its own: its own key only.
start_fake_as openai '[{"text": "from the local server"}]'
cat >"$home/.tactus/config.yml" <<EOF
providers:
  ollama: { api: openai, base_url: "$URL" }
  vllm: { api: openai, base_url: "$URL", api_key_env: VLLM_KEY }
EOF
printf 'a = Agent { model = "ollama/llama3.1:8b" }\nb = Agent { model = "vllm/meta-llama/Llama-3-8B" }\nProcedure { function() return { a = a({ message = "hi" }).text, b = b({ message = "hi" }).text } end }\n' >"$work/local.tac"
(cd "$work" && HOME="$home" OPENAI_API_KEY="$OKEY" VLLM_KEY=vllm-secret setsid -w "$TR" run local.tac --json >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
check "providers: providers.NAME {api: openai} serves NAME/model; OPENAI_API_KEY never goes there, api_key_env does" \
  "$rc $(qo 'r["result"]["a"]') $(ql '[(e["body"]["model"], e["authorization"]) for e in ev]')" \
  '0 from the local server [["llama3.1:8b", null], ["meta-llama/Llama-3-8B", "Bearer vllm-secret"]]' "$(short "$(cat "$scratch/err")")"
printf 'providers:\n  ollama: { base_url: "http://127.0.0.1:1" }\n' >"$home/.tactus/config.yml"
(cd "$work" && HOME="$home" setsid -w "$TR" run local.tac >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 1 ] && grep -q "providers: 'ollama' is not a built-in provider (openai, anthropic, google, bedrock): give it api: openai and a base_url" "$scratch/err"; then
  pass "providers: a new provider name without api: openai is a config error naming the fix"
else
  fail "providers: a new provider name without api: openai is a config error" "exit $rc: $(short "$(cat "$scratch/err")")"
fi

# Bedrock: credentials from ~/.aws/credentials (a profile), the region from ~/.aws/config.
start bedrock '[{"text": "signed from the files"}]'
mkdir -p "$home/.aws"
printf '[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n[work]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
  "$AWS_ID" "$AWS_SECRET" "$AWS_TOKEN" >"$home/.aws/credentials"
printf '[profile work]\nregion = us-test-1\n' >"$home/.aws/config"
printf 'aws: { profile: work }\n' >"$home/.tactus/config.yml"
(cd "$work" && HOME="$home" AWS_ENDPOINT_URL="$URL" setsid -w "$TR" run stream_bedrock.tac --json >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
check "providers: bedrock: credentials of aws.profile from ~/.aws/credentials, its region from ~/.aws/config (signature checked)" \
  "$rc $(qo 'r["result"]["text"]') $(problems)" '0 signed from the files []' "$(short "$(cat "$scratch/err")")"
printf '[work]\nregion = us-test-1\n' >"$home/.aws/config"
(cd "$work" && HOME="$home" AWS_ENDPOINT_URL="$URL" setsid -w "$TR" run stream_bedrock.tac >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 1 ] && grep -q "AuthenticationError: no usable AWS region for Bedrock: set aws.default_region" "$scratch/err"; then
  pass "providers: bedrock without a region: a clear error naming where to set it"
else
  fail "providers: bedrock without a region: a clear error" "exit $rc: $(short "$(cat "$scratch/err")")"
fi
# A wrong secret: the signature does not match (the fake checks it), 403.
(cd "$work" && HOME="$home" AWS_ENDPOINT_URL="$URL" AWS_REGION=us-test-1 AWS_ACCESS_KEY_ID="$AWS_ID" AWS_SECRET_ACCESS_KEY=not-the-secret AWS_SESSION_TOKEN="$AWS_TOKEN" \
  setsid -w "$TR" run stream_bedrock.tac >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 1 ] && grep -q "AuthenticationError: the model server at .* refused the AWS credentials (HTTP 403" "$scratch/err" \
  && grep -q "does not match the signature" "$LOG"; then
  pass "providers: bedrock: a request signed with a wrong secret is refused (the fake really checks SigV4)"
else
  fail "providers: bedrock: a request signed with a wrong secret is refused" "exit $rc: $(short "$(cat "$scratch/err")")"
fi
rm -rf "$home/.aws"

# ---- policy.models and model_prices ----------------------------------------------------
start anthropic '[{"text": "allowed", "usage": {"input": 1000000, "output": 1000000}}]'
cat >"$home/.tactus/config.yml" <<EOF
policy: { models: [anthropic/claude-3-5-sonnet-20241022] }
model_prices:
  anthropic/claude-3-5-sonnet-20241022: { input: 1, output: 2 }
EOF
run anthropic root stream_anthropic.tac --json
check "providers: policy.models names provider/model; model_prices overrides the price table" \
  "$rc $(qo '[(e["total_cost"], e["cost_source"]) for e in of("cost")]')" '0 [[3, "price_table"]]' "$(short "$err")"
run gemini root stream_gemini.tac
if [ "$rc" = 1 ] && [[ "$err" == *"ModelNotAllowed"* ]]; then
  pass "providers: policy.models refuses another provider's model"
else
  fail "providers: policy.models refuses another provider's model" "exit $rc: $(short "$err")"
fi
: >"$home/.tactus/config.yml"
stop_fake
