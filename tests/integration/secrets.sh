#!/usr/bin/env bash
# Integration lane: the API key never enters the sandbox.
#
# A procedure makes an agent call (so the broker reads the key) and then
# sleeps; meanwhile the sandbox's PID 1 is searched from the host for the
# key: /proc/PID/environ and cmdline, every readable mapping of
# /proc/PID/mem, every file reachable from /proc/PID/root and the targets
# of /proc/PID/fd/*.  Two runs: the key in the host environment (with
# another in ~/.tactus/config.yml), then only in ~/.tactus/config.yml.
# The same for Anthropic, Gemini and Bedrock (AWS's secret and session
# token too), each key in the host environment and another in the config.
# Canaries (a string in the procedure's source, a file in the workspace
# the procedure reads: the VM's cage holds no host directory, so it is
# found in the VM's memory, never as a file) and the launcher itself (whose
# environment holds the key) show that the search does find what is there,
# and the fake server must have received the key.  Then: sandbox.env may not pass OPENAI_API_KEY into the sandbox,
# and the sandbox cannot reach the model server directly (its own network
# namespace) while the broker can.
source "$TESTS_DIR/lib.sh"

scratch=$(scratch_dir)
source "$TESTS_DIR/lib/fake_server.bash"
work="$scratch/work"
home="$scratch/home"
mkdir -p "$work" "$home/.tactus"
unset OPENAI_API_KEY OPENAI_BASE_URL
rand() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# How long the procedures sleep while they are searched: a sanitized
# process is hundreds of MB to read, and the host may be busy.
NAP=4
[ -n "${TR_SANITIZED:-}" ] && NAP=20
KEY_ENV="sk-test-$(rand)"
KEY_CFG="sk-cfg-$(rand)"
KEY_SIDECAR="sk-sidecar-$(rand)"
LUA_CANARY="lua-canary-$(rand)"
FILE_CANARY="file-canary-$(rand)"
# HOME is outside the workspace (the run's cwd), as a real home would be.
printf 'openai_api_key: %s\n' "$KEY_CFG" >"$home/.tactus/config.yml"
printf '%s\n' "$FILE_CANARY" >"$work/canary.txt"
run_pid=""

cleanup() {
  [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  stop_fake
  rm -rf "$scratch"
}
trap cleanup EXIT

cat >"$work/sleepy.tac" <<EOF
-- $LUA_CANARY
a = Agent { model = "openai/gpt-4o-mini" }
Procedure { function(input)
  local r = a({ message = "hi" })
  local canary = File.read("canary.txt")
  Log.info("model call done; sleeping")
  Sleep($NAP)
  return { text = r.text, canary = #canary }
end }
EOF
# Outside the workspace, so its sidecar config (holding a key) is not
# visible inside either.
mkdir -p "$scratch/proc"
cat >"$scratch/proc/envcheck.tac" <<EOF
Procedure { function(input) Log.info("sleeping"); Sleep($NAP); return { ok = true } end }
EOF

# scan.py PID [--no-files] --must S... --never S...: searches the process and prints one
# line: "found-never=[...] missing-must=[...] maps=N bytes=N files=N fds=N".
cat >"$scratch/scan.py" <<'EOF'
import os, stat, sys
pid = sys.argv[1]
must, never, cur = [], [], None
files_too = "--no-files" not in sys.argv
for a in sys.argv[2:]:
    if a == "--no-files":
        continue
    if a in ("--must", "--never"):
        cur = must if a == "--must" else never
    else:
        cur.append(a.encode())
seen = set()
tolerated = 0
# ASan's runtime keeps a private copy of the launcher's initial environment
# (read from /proc/self/environ at start-up): under TR_SANITIZED a key
# found only as "NAME=<key>" (NAME a provider's variable) in an anonymous
# mapping is that copy.
sanitized = bool(os.environ.get("TR_SANITIZED"))
ENV_NAMES = [b"OPENAI_API_KEY=", b"ANTHROPIC_API_KEY=", b"GOOGLE_API_KEY=", b"AWS_SECRET_ACCESS_KEY=",
             b"AWS_SESSION_TOKEN=", b"MCP_TOK="]
def env_copy(data, i):
    return any(data[max(0, i - len(n)):i] == n for n in ENV_NAMES)
def look(where, data):
    global tolerated
    for s in must + never:
        i = data.find(s)
        while i >= 0 and sanitized and where == "mem-anon" and s in never and env_copy(data, i):
            tolerated += 1
            i = data.find(s, i + 1)
        if i >= 0:
            seen.add((s, where.split(" ")[0].replace("-anon", "")))
proc = "/proc/%s" % pid
for name in ("environ", "cmdline"):
    with open("%s/%s" % (proc, name), "rb") as f:
        look(name, f.read())
nmaps = nbytes = skipped = 0
with open(proc + "/maps") as maps, open(proc + "/mem", "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if not f[1].startswith("r") or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if hi - lo > 1 << 30:
            skipped += 1  # a sanitizer's shadow reservation: terabytes of zeros
            continue
        # In pieces, with an overlap, so no string is split unseen.
        pos = lo
        while pos < hi:
            try:
                mem.seek(pos)
                data = mem.read(min(hi - pos, (64 << 20) + 4096))
            except OSError:
                break
            nbytes += len(data)
            look("mem-anon" if len(f) == 5 else "mem", data)
            pos += 64 << 20
        nmaps += 1
def read_file(path, where):
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 256 << 20:
            return False
        with open(path, "rb") as f:
            look(where, f.read())
        return True
    except OSError:
        return False
nfiles = 0
root = proc + "/root"
for d, dirs, files in os.walk(root, followlinks=False) if files_too else ():
    rel = d[len(root):] or "/"
    if rel in ("/proc", "/sys"):
        dirs[:] = []
        continue
    for n in files + dirs:
        p = os.path.join(d, n)
        look("name", p.encode())
        if os.path.islink(p):
            look("link", os.readlink(p).encode())
        elif n in files and read_file(p, "file"):
            nfiles += 1
nfds = 0
for fd in os.listdir(proc + "/fd") if files_too else ():
    p = "%s/fd/%s" % (proc, fd)
    try:
        look("fdlink", os.readlink(p).encode())
    except OSError:
        continue
    nfds += 1
    read_file(p, "fdfile")
found_never = sorted("%s@%s" % (s.decode()[:14], w) for s, w in seen if s in never)
missing_must = sorted(s.decode()[:14] for s in must if not any(s == x for x, _ in seen))
print("found-never=%s missing-must=%s maps=%d bytes=%d files=%d fds=%d skipped=%d%s"
      % (found_never, missing_must, nmaps, nbytes, nfiles, nfds, skipped,
         " tolerated=%d" % tolerated if tolerated else ""))
EOF

# start_run TAC [ENV...]: the procedure in the background, from $work, with
# HOME=$home and the fake server's URL; sets run_pid (tactus-run itself).
start_run() {
  local tac="$1"
  shift
  (cd "$work" && exec env HOME="$home" OPENAI_BASE_URL="$URL" "$@" "$TR" run "$tac" \
    >"$scratch/out" 2>"$scratch/err" </dev/null) &
  run_pid=$!
}

# sandbox_pid1: the launcher's child that is PID 1 of its pid namespace.
sandbox_pid1() {
  local c
  for c in $(pgrep -P "$run_pid"); do
    if [ "$(awk '/^NSpid:/ {print $NF}' "/proc/$c/status" 2>/dev/null)" = 1 ]; then
      echo "$c"
      return
    fi
  done
}

# wait_for WHAT: until the run's stderr says WHAT (at most 10 s).
wait_for() {
  for _ in $(seq 200); do
    grep -q "$1" "$scratch/err" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

finish_run() {
  wait "$run_pid"
  rc=$?
  run_pid=""
}

# scan_case LABEL ENV...: one run with the given key environment; the
# searches happen while the procedure sleeps after its model call.
scan_case() {
  local label="$1"
  shift
  start_fake '[{"text": "hello from the fake model"}]'
  start_run sleepy.tac "$@"
  if ! wait_for "model call done"; then
    finish_run
    fail "secrets: $label: the model call completed" "exit $rc: $(tail -3 "$scratch/err" | tr '\n' ' ')"
    return
  fi
  local pid1 res
  pid1=$(sandbox_pid1)
  if [ -z "$pid1" ]; then
    fail "secrets: $label: found the sandbox's PID 1" "no child of $run_pid is PID 1 of a pid namespace"
    finish_run
    return
  fi
  res=$(python3 "$scratch/scan.py" "$pid1" --must "$LUA_CANARY" "$FILE_CANARY" --never "$KEY_ENV" "$KEY_CFG" 2>&1)
  # Nothing may be skipped, except a sanitizer's shadow in an ASan build.
  # The cage's filesystem holds no file at all (files=0): the workspace is
  # reached through the broker.
  if [[ "$res" == "found-never=[] missing-must=[] "* ]] \
    && [[ "$res" =~ maps=([0-9]+)\ bytes=([0-9]+)\ files=([0-9]+)\ fds=([0-9]+)\ skipped=([0-9]+) ]] \
    && [ "${BASH_REMATCH[1]}" -ge 10 ] && [ "${BASH_REMATCH[2]}" -ge 1000000 ] && [ "${BASH_REMATCH[3]}" = 0 ] \
    && [ "${BASH_REMATCH[4]}" -ge 3 ] && { [ "${BASH_REMATCH[5]}" = 0 ] || [ -n "${TR_SANITIZED:-}" ]; }; then
    pass "secrets: $label: neither key in the sandbox (environ, memory, files, fds; canaries found: $res)"
  else
    fail "secrets: $label: neither key in the sandbox" "$res"
  fi
  where=$(python3 "$scratch/scan.py" "$pid1" --never "$FILE_CANARY" 2>&1)
  if [[ "$where" == "found-never=['${FILE_CANARY:0:14}@mem']"* ]]; then
    pass "secrets: $label: the workspace file is in the VM's memory only (read through the broker), not in its cage"
  else
    fail "secrets: $label: the workspace file is in the VM's memory only" "$where"
  fi
  SANDBOX_NET=$(readlink "/proc/$pid1/ns/net")
  # The search finds a key where there is one: the launcher's environment.
  LAUNCHER_SCAN=$(python3 "$scratch/scan.py" "$run_pid" --no-files --never "$KEY_ENV" 2>&1)
  finish_run
  if [ "$rc" = 0 ] && grep -q "hello from the fake model" "$scratch/out"; then
    pass "secrets: $label: the procedure completes with the model's answer"
  else
    fail "secrets: $label: the procedure completes with the model's answer" "exit $rc: $(tail -3 "$scratch/err" | tr '\n' ' ')"
  fi
}

# ---- the key in the host environment (and another in ~/.tactus/config.yml) ----
scan_case "key in the host env and in ~/.tactus/config.yml" OPENAI_API_KEY="$KEY_ENV"
auth=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["authorization"])' "$LOG" 2>&1)
if [ "$auth" = "Bearer $KEY_ENV" ]; then
  pass "secrets: the server received the host env's key (Authorization header)"
else
  fail "secrets: the server received the host env's key" "got: $auth"
fi
if [[ "$LAUNCHER_SCAN" == *"found-never=['${KEY_ENV:0:14}@environ'"* ]]; then
  pass "secrets: the same search finds the key in the launcher (it can find it)"
else
  fail "secrets: the same search finds the key in the launcher" "$LAUNCHER_SCAN"
fi
if [ -n "$SANDBOX_NET" ] && [ "$SANDBOX_NET" != "$(readlink /proc/self/ns/net)" ]; then
  pass "secrets: the sandbox has its own network namespace ($SANDBOX_NET)"
else
  fail "secrets: the sandbox has its own network namespace" "sandbox ${SANDBOX_NET:-?}, host $(readlink /proc/self/ns/net)"
fi

# ---- the key only in ~/.tactus/config.yml ----------------------------------------
scan_case "key only in ~/.tactus/config.yml"
auth=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["authorization"])' "$LOG" 2>&1)
if [ "$auth" = "Bearer $KEY_CFG" ]; then
  pass "secrets: the server received the config's key (read by the broker after the fork)"
else
  fail "secrets: the server received the config's key" "got: $auth"
fi

# ---- a server that echoes the key in an error does not carry it inside ----------
start_fake '[{"status": 401, "error": "Incorrect API key", "echo_auth": true}]'
(cd "$work" && HOME="$home" OPENAI_API_KEY="$KEY_ENV" OPENAI_BASE_URL="$URL" setsid -w "$TR" run sleepy.tac --json \
  >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 1 ] && grep -q 'AuthenticationError' "$scratch/out" && grep -q 'you sent: Bearer \*\*\*\*' "$scratch/out" \
  && ! grep -q "$KEY_ENV" "$scratch/out" "$scratch/err"; then
  pass "secrets: a key echoed back in the server's error message is redacted"
else
  fail "secrets: a key echoed back in the server's error message is redacted" \
    "exit $rc: $(tail -1 "$scratch/out" | sed "s/$KEY_ENV/<KEY>/g" | cut -c1-300)"
fi

# ---- sandbox.env may not carry the key into the sandbox -----------------------------
VISIBLE="visible-$(rand)"
cat >"$scratch/proc/envcheck.tac.yml" <<EOF
sandbox:
  env:
    OPENAI_API_KEY: $KEY_SIDECAR
    TACTUS_TEST_VISIBLE: $VISIBLE
EOF
trust "$scratch/proc/envcheck.tac.yml" || fail "secrets: tactus-run trust envcheck.tac.yml" "refused"
# The VM is not exec'd, so its environment lives in its memory: the other
# variable must be found there, the key nowhere.
start_run "$scratch/proc/envcheck.tac"
if wait_for "sleeping"; then
  pid1=$(sandbox_pid1)
  mem_res=$(python3 "$scratch/scan.py" "$pid1" --must "TACTUS_TEST_VISIBLE=$VISIBLE" --never "$KEY_SIDECAR" 2>&1)
else
  mem_res="(the run did not start)"
fi
finish_run
if [[ "$mem_res" == "found-never=[] missing-must=[] "* ]]; then
  pass "secrets: sandbox.env OPENAI_API_KEY does not reach the sandbox (another variable does)"
else
  fail "secrets: sandbox.env OPENAI_API_KEY does not reach the sandbox" "$mem_res"
fi
if [ "$rc" = 0 ] && grep -q 'sandbox.env.OPENAI_API_KEY is a provider secret' "$scratch/err"; then
  pass "secrets: sandbox.env OPENAI_API_KEY is refused with a warning"
else
  fail "secrets: sandbox.env OPENAI_API_KEY is refused with a warning" "exit $rc: $(head -3 "$scratch/err" | tr '\n' ' ')"
fi
rm -f "$scratch/proc/envcheck.tac.yml"

# ---- every other provider's key: Anthropic, Gemini, Bedrock ------------------------------
# The same search while a procedure sleeps after a call to each provider's
# fake server; each provider's key (and AWS's secret and session token) in
# the host environment, another in ~/.tactus/config.yml.  The fake must
# have received the host's key (in its own header; Bedrock: a request
# signed with the secret, which the fake checks).
AWS_ID="AKIDSECRETS$(rand | cut -c1-8)"
scan_provider() {
  local p="$1" model="$2" kind="$3" hdr="$4"
  shift 4
  local key="$1"
  shift
  printf -- '-- %s\na = Agent { model = "%s" }\nProcedure { function(input)\n  local r = a({ message = "hi" })\n  local c = File.read("canary.txt")\n  Log.info("model call done; sleeping")\n  Sleep(%s)\n  return { text = r.text }\nend }\n' \
    "$LUA_CANARY" "$model" "$NAP" >"$work/sleepy_$p.tac"
  if [ "$kind" = bedrock ]; then
    start_fake_as bedrock '[{"text": "hello from the fake model"}]' "$AWS_ID" "$key" us-test-1 "$KEY_TOKEN"
  else
    start_fake_as "$kind" '[{"text": "hello from the fake model"}]'
  fi
  local -a envs=()
  for v in "$@"; do envs+=("${v//URL_PLACEHOLDER/$URL}"); done
  (cd "$work" && exec env HOME="$home" "${envs[@]}" "$TR" run "sleepy_$p.tac" >"$scratch/out" 2>"$scratch/err" </dev/null) &
  run_pid=$!
  if ! wait_for "model call done"; then
    finish_run
    fail "secrets: $p: the model call completed" "exit $rc: $(tail -3 "$scratch/err" | tr '\n' ' ')"
    return
  fi
  local pid1 res
  pid1=$(sandbox_pid1)
  res=$(python3 "$scratch/scan.py" "$pid1" --must "$LUA_CANARY" "$FILE_CANARY" --never "$key" "$KEY_CFG_P" ${KEY_TOKEN:+"$KEY_TOKEN"} 2>&1)
  finish_run
  if [[ "$res" == "found-never=[] missing-must=[] "* ]] && [ "$rc" = 0 ] && grep -q "hello from the fake model" "$scratch/out"; then
    pass "secrets: $p: its key is nowhere in the sandbox (environ, memory, files, fds; $res)"
  else
    fail "secrets: $p: its key is nowhere in the sandbox" "exit $rc: $res"
  fi
  local seen
  # (Bedrock: the fake logs "sigv4" with the reason when a signature fails.)
  seen=$(python3 -c 'import json,sys; e = json.loads(open(sys.argv[1]).readline()); print(e.get("sigv4") or ("signed" if sys.argv[2] == "sigv4" else e.get("headers", {}).get(sys.argv[2])))' "$LOG" "$hdr" 2>&1)
  if [ "$seen" = "$key" ] || { [ "$kind" = bedrock ] && [ "$seen" = signed ]; }; then
    pass "secrets: $p: the server received the host's key ($hdr${KEY_TOKEN:+: a signature the fake checked with the secret of the host})"
  else
    fail "secrets: $p: the server received the host's key" "got: $seen"
  fi
}
KEY_TOKEN=""
KEY_CFG_P="sk-cfg-other-$(rand)"
printf 'openai_api_key: %s\nanthropic_api_key: %s\ngoogle_api_key: %s\naws: { secret_access_key: %s }\n' \
  "$KEY_CFG" "$KEY_CFG_P" "$KEY_CFG_P" "$KEY_CFG_P" >"$home/.tactus/config.yml"
AKEY="sk-ant-$(rand)"
scan_provider anthropic anthropic/claude-3-5-haiku-20241022 anthropic x-api-key "$AKEY" \
  ANTHROPIC_API_KEY="$AKEY" ANTHROPIC_BASE_URL=URL_PLACEHOLDER
GKEY="g-key-$(rand)"
scan_provider gemini gemini/gemini-2.0-flash gemini x-goog-api-key "$GKEY" \
  GOOGLE_API_KEY="$GKEY" GOOGLE_GEMINI_BASE_URL=URL_PLACEHOLDER
ASECRET="aws-secret-$(rand)"
KEY_TOKEN="aws-token-$(rand)"
scan_provider bedrock bedrock/anthropic.claude-3-haiku-20240307-v1:0 bedrock sigv4 "$ASECRET" \
  AWS_ACCESS_KEY_ID="$AWS_ID" AWS_SECRET_ACCESS_KEY="$ASECRET" AWS_SESSION_TOKEN="$KEY_TOKEN" AWS_REGION=us-test-1 \
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME=URL_PLACEHOLDER
KEY_TOKEN=""
printf 'openai_api_key: %s\n' "$KEY_CFG" >"$home/.tactus/config.yml"

# ---- an MCP server's env secret: in that server only, never in the VM --------------------
# The procedure calls the server's echo tool, then sleeps: the VM's memory
# is searched for the secret given to the server (env: {TOKEN: ${VAR}})
# while the server still runs.
MCP_SECRET="mcp-secret-$(rand)"
mkdir -p "$scratch/mcpsrv"
cp "$TESTS_DIR/lib/fake_mcp.py" "$scratch/mcpsrv/"
chmod -R 0755 "$scratch/mcpsrv"
cat >"$home/.tactus/config.yml" <<EOF
openai_api_key: $KEY_CFG
mcp_servers:
  s: { command: python3, args: [$scratch/mcpsrv/fake_mcp.py], cwd: $scratch/mcpsrv, env: { TOKEN: "\${MCP_TOK}" } }
policy: { tools: [mcp.s.echo, mcp.s.env] }
EOF
printf -- '-- %s\nProcedure { function(input)\n  local c = File.read("canary.txt")\n  local v = mcp.s.echo({ text = "hello" })\n  local n = mcp.s.env({ names = { "TOKEN" }, present = true })\n  Log.info("model call done; sleeping")\n  Sleep(%s)\n  return { v = v, has = n.TOKEN == true }\nend }\n' \
  "$LUA_CANARY" "$NAP" >"$work/mcp_secret.tac"
(cd "$work" && exec env HOME="$home" MCP_TOK="$MCP_SECRET" "$TR" run mcp_secret.tac >"$scratch/out" 2>"$scratch/err" </dev/null) &
run_pid=$!
if wait_for "model call done"; then
  pid1=$(sandbox_pid1)
  mres=$(python3 "$scratch/scan.py" "$pid1" --must "$LUA_CANARY" "$FILE_CANARY" --never "$MCP_SECRET" 2>&1)
else
  mres="(the run did not get there)"
fi
finish_run
if [ "$rc" = 0 ] && [[ "$mres" == "found-never=[] missing-must=[] "* ]] && grep -q '"has":.*true' "$scratch/out"; then
  pass "secrets: an MCP server's env secret reaches that server (it reads it) and is nowhere in the VM ($mres)"
else
  fail "secrets: an MCP server's env secret is nowhere in the VM" "exit $rc: $mres $(tail -1 "$scratch/out" | cut -c1-200)"
fi
printf 'openai_api_key: %s\n' "$KEY_CFG" >"$home/.tactus/config.yml"

# ---- egress: the sandbox cannot reach the model server; the broker can ----------------
start_fake '[{"text": "through the broker"}]'
connect="import socket; socket.create_connection((\"127.0.0.1\", $PORT), timeout=2); print(\"connected\")"
host_out=$(python3 -c "$connect" 2>&1)
inside_out=$(cd "$work" && "$TR" sandbox exec -- python3 -c "$connect" 2>&1 </dev/null)
inside_rc=$?
if [ "$host_out" = connected ] && [ "$inside_rc" != 0 ] && [[ "$inside_out" != *connected* ]] \
  && [[ "$inside_out" == *Error* ]]; then
  pass "secrets: a direct connection from the sandbox to the model server fails (host: connects)"
else
  fail "secrets: a direct connection from the sandbox to the model server fails" \
    "host: $host_out; sandbox (exit $inside_rc): $(printf '%s' "$inside_out" | tail -1)"
fi
cat >"$work/egress.tac" <<'EOF'
a = Agent { model = "openai/gpt-4o-mini" }
Procedure { function(input) return { text = a({ message = "hi" }).text } end }
EOF
(cd "$work" && HOME="$home" OPENAI_API_KEY="$KEY_ENV" OPENAI_BASE_URL="$URL" setsid -w "$TR" run egress.tac \
  >"$scratch/out" 2>"$scratch/err" </dev/null)
rc=$?
if [ "$rc" = 0 ] && grep -q '"through the broker"' "$scratch/out"; then
  pass "secrets: the same server is reached through the broker"
else
  fail "secrets: the same server is reached through the broker" "exit $rc: $(tail -2 "$scratch/err" | tr '\n' ' ')"
fi
stop_fake
