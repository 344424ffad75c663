#!/usr/bin/env bash
# Hostile lane: egress to approved endpoints only (sandbox exec --allow-net /
# sandbox.network.allow; docs/sandbox.md, "Egress").
#
# The whole script runs in a network namespace it makes (unshare --net, as
# root): lo up, with two "public" addresses of its own on lo (an IPv4 and
# an IPv6 one), so nothing here touches the host's network.  Servers there
# answer with who they are: "good" on 93.184.215.14:8080 and :8081,
# "good6" on [2606:2800:21f:cb07::8]:8080, and "SECRET" on 127.0.0.1:8080
# (an internal service a rebinding attack wants).  Names come from
# tests/lib/fake_resolver.c (LD_PRELOAD into tactus-run): good.test,
# v6.test, evil.test -> 127.0.0.1, rebind.test -> first the public address
# then 127.0.0.1, mixed.test -> both at once, multi.test -> 127.0.0.1 and
# the public one.  In the cage (as root and as an unprivileged user):
#   - an allowed name and port is reached, through HTTP forwarding, CONNECT
#     and SOCKS5, IPv4 and IPv6 (names and an address literal);
#   - other ports, other names, address literals not listed, and a deny
#     entry are refused with a clear proxy error (403 and the reason; SOCKS5
#     reply 2);
#   - a name resolving to an internal address is refused, a rebinding name
#     reaches the address that was checked (one lookup per connection),
#     never the internal one;
#   - direct connections are impossible (no route; the cage's 127.0.0.1 is
#     its own), while the same ones from outside the cage work (the control);
#   - every connection, allowed or refused, is an egress event;
#   - without --allow-net there is no proxy at all.
# Then the Http primitive of a procedure, and a caged MCP server, obey the
# same list.
source "$TESTS_DIR/lib.sh"

if [ "$(id -u)" != 0 ]; then
  skip "egress" "needs root to make its own network namespace"
  exit 0
fi
if [ -z "${TR_EGRESS_NETNS:-}" ]; then
  exec unshare --net -- env TR_EGRESS_NETNS=1 bash "$0" "$@"
fi
RESOLVER="$PWD/${BUILD:-build}/tests/fake_resolver.so"
[ -e "$RESOLVER" ] || RESOLVER="$(dirname "$TR")/tests/fake_resolver.so"
if [ ! -r "$RESOLVER" ]; then
  fail "egress: the test resolver is built" "no $RESOLVER (make test-bins)"
  exit 1
fi

PUB4=93.184.215.14
PUB6=2606:2800:21f:cb07::8
ip link set lo up
ip addr add "$PUB4/32" dev lo
ip -6 addr add "$PUB6/128" dev lo nodad

scratch=$(scratch_dir)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

cat >"$scratch/ident.py" <<'EOF'
import http.server, socket, sys
addr, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    do_POST = do_GET
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
S((addr, port), H).serve_forever()
EOF
python3 "$scratch/ident.py" "$PUB4" 8080 good & pids+=($!)
python3 "$scratch/ident.py" "$PUB4" 8081 otherport & pids+=($!)
python3 "$scratch/ident.py" "$PUB6" 8080 good6 & pids+=($!)
python3 "$scratch/ident.py" 127.0.0.1 8080 SECRET & pids+=($!)
for _ in $(seq 100); do
  curl -s --noproxy '*' "http://$PUB4:8080/" >/dev/null 2>&1 && curl -s --noproxy '*' "http://127.0.0.1:8080/" >/dev/null 2>&1 \
    && curl -s --noproxy '*' "http://[$PUB6]:8080/" >/dev/null 2>&1 && break
  sleep 0.05
done

cat >"$scratch/hosts" <<EOF
good.test $PUB4
other.example $PUB4
bad.test $PUB4
v6.test $PUB6
evil.test 127.0.0.1
rebind.test $PUB4 127.0.0.1
control.test $PUB4 127.0.0.1
mixed.test 127.0.0.1,$PUB4
EOF
LOOKUPS="$scratch/lookups"
: >"$LOOKUPS"
chmod 0666 "$LOOKUPS"
PRELOAD=(env LD_PRELOAD="$RESOLVER" TR_FAKE_HOSTS="$scratch/hosts" TR_FAKE_HOSTS_LOG="$LOOKUPS"
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")

# Outside the cage, the servers are there (the control for every refusal below).
if [ "$(curl -s --noproxy '*' "http://$PUB4:8080/")" = good ] && [ "$(curl -s --noproxy '*' http://127.0.0.1:8080/)" = SECRET ]; then
  pass "egress: control: outside the cage, $PUB4:8080 and 127.0.0.1:8080 answer directly"
else
  fail "egress: control: outside the cage, the servers answer" "$(curl -s --noproxy '*' "http://$PUB4:8080/" 2>&1)"
fi
# The rebinding resolver does rebind: a client that checks the first
# answer and connects by name again (a second lookup) reaches the secret.
naive=$("${PRELOAD[@]}" python3 -c '
import socket, urllib.request
first = socket.getaddrinfo("control.test", 8080)[0][4][0]
assert first != "127.0.0.1"
print(urllib.request.urlopen("http://control.test:8080/", timeout=5).read().decode())' 2>&1)
if [ "$naive" = SECRET ]; then
  pass "egress: control: a check-then-connect client is fooled by the rebinding resolver (it reaches SECRET)"
else
  fail "egress: control: the rebinding resolver rebinds" "$naive"
fi

# The client in the cage: one line per request, "NAME: RESULT".
cat >"$scratch/client.sh" <<EOF
#!/bin/sh
req() { name="\$1"; shift; printf '%s: %s\n' "\$name" "\$(curl -s -m 20 "\$@" 2>&1 | tr '\n' ' ')"; }
req forward http://good.test:8080/
req connect -p http://good.test:8080/
req socks5 --proxy socks5h://127.0.0.1:3128 http://good.test:8080/
req v6name http://v6.test:8080/
req v6literal --noproxy '' "http://[$PUB6]:8080/"
req port http://good.test:8081/
req name http://other.example:8080/
req literal --noproxy '' http://$PUB4:8080/
req deny http://bad.test:8080/
req evil http://evil.test:8080/
req rebind http://rebind.test:8080/
req rebind2 http://rebind.test:8080/
req mixed http://mixed.test:8080/
req socks_refused --proxy socks5h://127.0.0.1:3128 http://other.example:8080/
req malformed --noproxy '*' --request-target / -H "Host: good.test" http://127.0.0.1:3128/
req direct --noproxy '*' http://$PUB4:8080/
req direct_lo --noproxy '*' http://127.0.0.1:8080/
printf 'direct_py: %s\n' "\$(python3 -c 'import socket
try:
    socket.create_connection(("$PUB4", 8080), timeout=3); print("CONNECTED")
except OSError as e:
    print("failed", e.errno)' 2>&1)"
EOF
chmod 0755 "$scratch/client.sh"
ALLOW=(--allow-net good.test:8080 --allow-net v6.test:8080 --allow-net "[$PUB6]:8080" --allow-net '*.test:8080'
  --deny-net bad.test)

# get LABEL: the line of the last run's output.
get() { sed -n "s/^$1: //p" "$scratch/out" | head -1 | sed 's/ *$//'; }

for who in root nobody; do
  : >"$LOOKUPS"
  pre=()
  [ "$who" = nobody ] && pre=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
  (cd "$scratch" && "${PRELOAD[@]}" "${pre[@]}" "$TR" sandbox exec --workspace-mode off --bind "$scratch:/t" \
    "${ALLOW[@]}" -- /t/client.sh >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  t="egress ($who)"
  if [ "$rc" = 0 ] && [ "$(get forward)" = good ] && [ "$(get connect)" = good ] && [ "$(get socks5)" = good ]; then
    pass "$t: an allowed name and port is reached (HTTP forward, CONNECT, SOCKS5)"
  else
    fail "$t: an allowed name and port is reached" "exit $rc: $(head -3 "$scratch/out" | tr '\n' ' ') $(tail -2 "$scratch/err")"
  fi
  if [ "$(get v6name)" = good6 ] && [ "$(get v6literal)" = good6 ]; then
    pass "$t: IPv6: a name and a bracketed address literal that are listed"
  else
    fail "$t: IPv6: a name and a bracketed address literal" "name: $(get v6name); literal: $(get v6literal)"
  fi
  refused_ok=1
  for c in port:"good.test:8081 is not in sandbox.network.allow" name:"other.example:8080 is not in sandbox.network.allow" \
    literal:"$PUB4:8080 is not in sandbox.network.allow" deny:"matches sandbox.network.deny entry 'bad.test'" \
    evil:"resolves to no allowed address: the address 127.0.0.1 is internal"; do
    k=${c%%:*} want=${c#*:}
    if [[ "$(get "$k")" != *"tactus-run egress proxy: refused: "*"$want"* ]]; then
      refused_ok=0
      fail "$t: $k is refused with a clear proxy error" "got: $(get "$k")"
    fi
  done
  [ "$refused_ok" = 1 ] && pass "$t: other ports, other names, unlisted literals, deny entries and internal addresses are refused, each saying why"
  # rebind.test answers the public address first, then 127.0.0.1: the
  # first connection goes to the public one, the second is refused on the
  # address its (single) lookup gave; SECRET is never reached.
  n_rebind=$(grep -c '^rebind.test$' "$LOOKUPS")
  if [ "$(get rebind)" = good ] && [[ "$(get rebind2)" == *"refused: rebind.test:8080 resolves to no allowed address: the address 127.0.0.1 is internal"* ]] \
    && [ "$n_rebind" = 2 ] && ! grep -q SECRET "$scratch/out"; then
    pass "$t: DNS rebinding: each connection goes to the address its one lookup gave and was checked; the rebound answer is refused, SECRET never reached"
  else
    fail "$t: DNS rebinding: the connection goes to the address checked" "rebind: $(get rebind), then $(get rebind2); $n_rebind lookups"
  fi
  if [ "$(get mixed)" = good ]; then
    pass "$t: an answer with an internal and a public address: only the public one is used"
  else
    fail "$t: an answer with an internal and a public address" "got: $(get mixed)"
  fi
  if [[ "$(get socks_refused)" == *"97"* || "$(get socks_refused)" == "" ]] \
    && grep -q "^egress  .* was refused other.example:8080 over socks5: " "$scratch/err"; then
    pass "$t: SOCKS5: a refused target gets reply 2 (connection not allowed by ruleset)"
  else
    fail "$t: SOCKS5: a refused target is refused" "got: $(get socks_refused); $(grep socks5 "$scratch/err" | tail -1)"
  fi
  if [[ "$(get malformed)" == *"tactus-run egress proxy: a malformed proxy request"* ]]; then
    pass "$t: a request the proxy cannot read gets 400 and why"
  else
    fail "$t: a malformed request gets 400" "got: $(get malformed)"
  fi
  if [ "$(get direct)" = "" ] && [[ "$(get direct_py)" == "failed 101" ]] && [ "$(get direct_lo)" = "" ]; then
    pass "$t: direct connections are impossible: no route out (ENETUNREACH), and 127.0.0.1 is the cage's own"
  else
    fail "$t: direct connections are impossible" "direct: $(get direct); python: $(get direct_py); lo: $(get direct_lo)"
  fi
  allowed=$(grep -c '^egress  sandbox exec may connect to ' "$scratch/err")
  refused=$(grep -c '^egress  sandbox exec was refused .*: ' "$scratch/err")
  # allowed: forward, connect, socks5, v6name, v6literal, rebind, mixed;
  # refused: port, name, literal, deny, evil, rebind2, socks_refused (the
  # malformed request and the direct ones never become a connection).
  if [ "$allowed" = 7 ] && [ "$refused" = 7 ]; then
    pass "$t: every connection is an egress event (7 allowed, 7 refused, with the cage and the reason)"
  else
    fail "$t: every connection is an egress event" "$allowed allowed, $refused refused: $(grep '^egress' "$scratch/err" | head -20 | tr '\n' '|')"
  fi
done

# Without --allow-net: no proxy, no variables, nothing listening.
(cd "$scratch" && "$TR" sandbox exec --workspace-mode off -- sh -c 'env | grep -ci proxy; curl -s -m 5 -x http://127.0.0.1:3128 http://good.test:8080/; echo "rc=$?"' \
  >"$scratch/out" 2>"$scratch/err" </dev/null)
if [ "$(head -1 "$scratch/out")" = 0 ] && grep -q '^rc=7' "$scratch/out"; then
  pass "egress: without --allow-net there is no proxy in the cage (no variables, nothing on 127.0.0.1:3128)"
else
  fail "egress: without --allow-net there is no proxy" "$(tr '\n' ' ' <"$scratch/out")"
fi
# A bad entry is an error naming it.
out=$("$TR" sandbox exec --allow-net 'good.test:99999' -- true 2>&1)
if [ $? = 1 ] && [[ "$out" == *"--allow-net: 'good.test:99999': the port must be"* ]]; then
  pass "egress: a bad --allow-net entry is an error naming it"
else
  fail "egress: a bad --allow-net entry is an error" "$out"
fi

# ---- the Http primitive obeys the same list -------------------------------------------
# (The home directory outside the workspace: a workspace holding it is refused.)
mkdir -p "$scratch/proc" "$scratch/phome/.tactus"
chmod -R 0755 "$scratch/proc" "$scratch/phome"
cat >"$scratch/phome/.tactus/config.yml" <<EOF
sandbox:
  network:
    allow: [good.test:8080, rebind.test:8080]
    deny: [bad.test]
EOF
cat >"$scratch/proc/http.tac" <<'EOF'
local function try(url)
  local ok, r = pcall(Http.get, url)
  if ok then return r.status .. " " .. r.body end
  return r.type .. ": " .. r.message
end
Procedure { function(input)
  return { good = try("http://good.test:8080/"), port = try("http://good.test:8081/"),
           rebind = try("http://rebind.test:8080/"), rebind2 = try("http://rebind.test:8080/"),
           literal = try("http://127.0.0.1:8080/") }
end }
EOF
for who in root nobody; do
  : >"$LOOKUPS"
  pre=()
  [ "$who" = nobody ] && pre=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
  (cd "$scratch/proc" && "${PRELOAD[@]}" HOME="$scratch/phome" "${pre[@]}" "$TR" run http.tac --json \
    >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  res=$(python3 "$TESTS_DIR/lib/jsonl_query.py" "$scratch/out" '[r["result"][k] for k in ("good", "port", "rebind", "rebind2", "literal")] + [len(of("egress"))]')
  want='["200 good", "EgressRefused: Http: good.test:8081 is not in sandbox.network.allow", "200 good", "EgressRefused: Http: rebind.test:8080 resolves to no allowed address: the address 127.0.0.1 is internal (loopback, private or link-local) and sandbox.network.allow does not list it", "EgressRefused: Http: 127.0.0.1:8080 is not in sandbox.network.allow", 5]'
  if [ "$rc" = 0 ] && [ "$res" = "$want" ]; then
    pass "egress ($who): Http in a procedure: listed reached, others refused (EgressRefused), rebinding never reaches SECRET, each an egress event"
  else
    fail "egress ($who): Http in a procedure obeys the list" "exit $rc: $res $(tail -2 "$scratch/err")"
  fi
done

# ---- an MCP server's cage reaches the allowed endpoints through the proxy, and no others ----
cp "$TESTS_DIR/lib/fake_mcp.py" "$scratch/proc/"
chmod 0755 "$scratch/proc/fake_mcp.py"
cat >"$scratch/phome/.tactus/config.yml" <<EOF
sandbox:
  network:
    allow: [good.test:8080]
mcp_servers:
  net: { command: python3, args: [$scratch/proc/fake_mcp.py], cwd: $scratch/proc }
policy: { tools: [mcp.net.fetch] }
EOF
cat >"$scratch/proc/mcpnet.tac" <<'EOF'
Procedure { function(input)
  return { good = mcp.net.fetch({ url = "http://good.test:8080/" }),
           other = mcp.net.fetch({ url = "http://other.example:8080/" }) }
end }
EOF
for who in root nobody; do
  : >"$LOOKUPS"
  pre=()
  [ "$who" = nobody ] && pre=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --)
  (cd "$scratch/proc" && "${PRELOAD[@]}" HOME="$scratch/phome" "${pre[@]}" "$TR" run mcpnet.tac --json \
    >"$scratch/out" 2>"$scratch/err" </dev/null)
  rc=$?
  res=$(python3 "$TESTS_DIR/lib/jsonl_query.py" "$scratch/out" '[r["result"]["good"], r["result"]["other"][:10]] + [(e["decision"], e["host"], e["cage"]) for e in of("egress")]')
  want='["200 good", "ERROR 403 ", ["allowed", "good.test", "mcp.net"], ["refused", "other.example", "mcp.net"]]'
  if [ "$rc" = 0 ] && [ "$res" = "$want" ]; then
    pass "egress ($who): a caged MCP server reaches an allowed endpoint through the proxy and is refused another, each an event naming its cage"
  else
    fail "egress ($who): a caged MCP server's egress" "exit $rc: $res $(tail -2 "$scratch/err")"
  fi
done
