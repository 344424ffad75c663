#!/usr/bin/env bash
# make bench: side-by-side medians and ratios, measured in the same run.
# Never part of make check.  Installs what it needs (as root, apt-get):
# hyperfine, bubblewrap, runc, busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TR=$PWD/$BUILD/tactus-run
RUNS=${BENCH_RUNS:-60}
OUT=$PWD/$BUILD/bench
mkdir -p "$OUT"

need=()
for t in hyperfine:hyperfine bwrap:bubblewrap runc:runc busybox:busybox-static; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  else echo "bench: missing ${need[*]} (run as root to install)"; exit 1; fi
fi

# A busybox bundle for runc (never run as root on a hybrid cgroup host:
# see bench/lib.sh).
. bench/lib.sh
bench_oci_mode; export BENCH_OCI_MODE
bundle_dir=$(mktemp -d /tmp/tactus-bench.XXXXXX)
# Its own state directory (outside every workspace the runs use), where
# bench/roundtrip.tac.yml, which grants host.echo, is trusted.
XDG_STATE_HOME=$(mktemp -d /var/tmp/tactus-bench-state.XXXXXX); export XDG_STATE_HOME
trap 'rm -rf "$bundle_dir" "$XDG_STATE_HOME"; [ -z "${bench_cg:-}" ] || rmdir "$bench_cg" 2>/dev/null || true' EXIT
"$TR" trust bench/roundtrip.tac >/dev/null
bench_bundle "$bundle_dir"
runc_cmd="runc --root $bundle_dir/state-runc run --bundle $bundle_dir/b bench-true"
[ "$BENCH_OCI_MODE" = rootless ] && [ "$(id -u)" = 0 ] && runc_cmd="setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- $runc_cmd"

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.3f" % (x["median"]*1000) for x in r))' "$1"; }

echo "== 1. cold start to exit (hyperfine, $RUNS runs each, same session)"
cd "$OUT"
hyperfine -N -w 10 -r "$RUNS" --export-json cold.json \
  "$TR run $PWD/../../bench/trivial.tac" \
  "bwrap --unshare-all --ro-bind /usr /usr --ro-bind /lib /lib --ro-bind /lib64 /lib64 --proc /proc --dev /dev /usr/bin/true" \
  "$runc_cmd" \
  "unshare -Urpfmiu -n /bin/true" \
  "luajit -e ''" >/dev/null
read -r t_tac t_bwrap t_runc t_unshare t_luajit < <(median cold.json)
cd - >/dev/null

echo "== 1b. the same trivial procedure through the warm pool (tactus-run serve + tactus-run-client)"
pool_sock=$OUT/pool.sock
"$TR" serve --socket "$pool_sock" --size 4 2>"$OUT/serve.log" & pool_pid=$!
for _ in $(seq 50); do [ -S "$pool_sock" ] && break; sleep 0.1; done
hyperfine -N -w 10 -r "$RUNS" --export-json "$OUT/pool.json" \
  "$PWD/$BUILD/tactus-run-client --socket $pool_sock bench/trivial.tac" \
  "bwrap --unshare-all --ro-bind /usr /usr --ro-bind /lib /lib --ro-bind /lib64 /lib64 --proc /proc --dev /dev /usr/bin/true" >/dev/null
read -r t_pool t_bwrap2 < <(median "$OUT/pool.json")
kill "$pool_pid"; wait "$pool_pid" 2>/dev/null || true

echo "== 2. peak memory of one sandboxed run"
mem=$("$TR" run bench/trivial.tac --json | tail -1 | python3 -c 'import json,sys; r=json.load(sys.stdin)["resources"]; print(r["launcher_max_rss_kb"] + r["sandbox_max_rss_kb"])')

echo "== 3. broker round trips (one core)"
gcc -O2 -I. $(pkg-config --cflags libcjson libcurl) -o "$OUT/rt" bench/rt.c "$BUILD/libtactus.a" \
  $(pkg-config --libs luajit libseccomp libcap-ng libnl-3.0 libnl-route-3.0 libcjson yaml-0.1) -ldl
rt_small=$("$OUT/rt" 50000 16)
rt_big=$("$OUT/rt" 3000 65536)
t0=$(date +%s%N); "$TR" run bench/roundtrip.tac --param n=0 >/dev/null 2>&1; t1=$(date +%s%N)
"$TR" run bench/roundtrip.tac --param n=20000 >/dev/null 2>&1; t2=$(date +%s%N)
lua_rt=$(python3 -c "print('%.0f' % (20000 / (($t2 - $t1 - ($t1 - $t0)) / 1e9)))")

echo "== 4. Lua CPU work: in the sandbox vs bare luajit"
lua_rows=()
for b in fib nbody spectral strings; do
  hyperfine -N -w 2 -r 10 --export-json "$OUT/lua-$b.json" "luajit bench/lua/$b.lua" "$TR run bench/lua/$b.lua" >/dev/null
  read -r bare boxed < <(median "$OUT/lua-$b.json")
  lua_rows+=("$b $bare $boxed")
done

echo "== 5. parallel throughput: 1000 runs, 2 at a time"
# What is left behind is counted without failing on the clean state (a
# glob matching nothing) and only where this benchmark's runs put their
# cgroups: the runs are started from a cgroup of their own, made in the
# cgroup2 hierarchy (found by filesystem type; a v1 hierarchy is never
# listed, let alone written), so other users of the machine do not count.
# Network namespaces are counted among the processes of those runs.
cg2=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -1)
own_cg=$(sed -n 's/^0:://p' /proc/self/cgroup)
bench_cg=""
if [ -n "$cg2" ] && [ "$(stat -f -c %T "$cg2" 2>/dev/null)" = cgroup2fs ] && mkdir "$cg2${own_cg%/}/tactus-bench.$$" 2>/dev/null; then
  bench_cg=$cg2${own_cg%/}/tactus-bench.$$
fi
count_cgroups() { local n=0 d; [ -n "$bench_cg" ] || { echo "?"; return; }
  for d in "$bench_cg"/tactus-run-*; do [ -d "$d" ] && n=$((n + 1)); done; echo "$n"; }
count_netns() { lsns -t net -n -o NS,COMMAND 2>/dev/null | awk 'index($0, "run bench/trivial.tac")' | wc -l; }
before=$(wc -l < /proc/self/mountinfo); cg_before=$(count_cgroups)
ns_before=$(count_netns)
t0=$(date +%s%N)
( [ -z "$bench_cg" ] || echo "$BASHPID" > "$bench_cg/cgroup.procs"
  seq 1000 | xargs -P 2 -I{} "$TR" run bench/trivial.tac >/dev/null 2>"$OUT/par.err" ) || true
t1=$(date +%s%N)
sleep 1
after=$(wc -l < /proc/self/mountinfo); cg_after=$(count_cgroups)
ns_after=$(count_netns)
procs=$(pgrep -c -f "tactus-run run bench/trivial" || true)
par=$(python3 -c "print('%.0f' % (1000 / (($t1 - $t0) / 1e9)))")

POOL_RUNS=${BENCH_POOL_RUNS:-10000}
echo "== 5b. the pool: idle-cage memory, the direct protocol, $POOL_RUNS runs over 2 connections"
# The server runs in the benchmark's cgroup too: its run cgroups are counted.
pool_sock=$OUT/pool2.sock
before=$(wc -l < /proc/self/mountinfo); pcg_before=$(count_cgroups)
( [ -z "$bench_cg" ] || echo "$BASHPID" > "$bench_cg/cgroup.procs"
  exec "$TR" serve --socket "$pool_sock" --size 4 2>"$OUT/serve2.log" ) & pool_pid=$!
for _ in $(seq 50); do [ -S "$pool_sock" ] && break; sleep 0.1; done
sleep 1
export POOL_STATUS; POOL_STATUS=$("$TR" serve --status --json --socket "$pool_sock")
export POOL_DIRECT; POOL_DIRECT=$(python3 bench/pool_direct.py "$pool_sock" bench/trivial.tac 300)
export POOL_PAR; POOL_PAR=$(python3 bench/pool_direct.py "$pool_sock" bench/trivial.tac $((POOL_RUNS / 2)) 2)
kill "$pool_pid"; wait "$pool_pid" 2>/dev/null || true
sleep 1
export POOL_LEFT; POOL_LEFT="procs $(pgrep -c -f "serve --socket $pool_sock" || true), mounts $(( $(wc -l < /proc/self/mountinfo) - before )), cgroups $([ "$pcg_before" = "?" ] && echo "?" || echo $(( $(count_cgroups) - pcg_before )))"
[ -z "$bench_cg" ] || rmdir "$bench_cg" 2>/dev/null || true

echo "== 5c. one-way events from Lua (print: events.emit notifications)"
t0=$(date +%s%N); "$TR" run bench/events.tac --param n=0 --json >/dev/null 2>&1; t1=$(date +%s%N)
"$TR" run bench/events.tac --param n=20000 --json >/dev/null 2>&1; t2=$(date +%s%N)
export LUA_EVENTS; LUA_EVENTS=$(python3 -c "print('%.0f' % (20000 / (($t2 - $t1 - ($t1 - $t0)) / 1e9)))")

echo "== 6. OCI run of a busybox /bin/true bundle"
oci_row=$(bench/oci.sh 2>&1 | grep -E "^OCI run|read-only" | tr '\n' ' ' || true)
[ -n "$oci_row" ] || oci_row="bench/oci.sh failed (see: BUILD=$BUILD bench/oci.sh)"

python3 - "$t_tac" "$t_bwrap" "$t_runc" "$t_unshare" "$t_luajit" "$mem" "$rt_small" "$rt_big" "$lua_rt" "$par" \
  "$procs" "$((after - before))" "$([ "$cg_after" = "?" ] && echo "?" || echo $((cg_after - cg_before)))" "$((ns_after - ns_before))" "$oci_row" "$t_pool" "$t_bwrap2" "${lua_rows[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
pool, bwrap2 = float(a.pop(15)), float(a.pop(15))
tac, bwrap, runc, unshare, luajit = map(float, a[0:5])
mem = int(a[5]); small = json.loads(a[6]); big = json.loads(a[7]); lua_rt = int(a[8]); par = int(a[9])
procs, mounts, cgroups, netns = a[10:14]
oci = a[14]; lua = [r.split() for r in a[15:]]
def ok(c): return "met" if c else "NOT met"
print()
print("%-44s %12s %10s" % ("what", "median", "ratio"))
print("-" * 80)
print("%-44s %9.2f ms" % ("tactus-run run trivial.tac (sandboxed)", tac))
print("%-44s %9.2f ms %9.2fx  target <= 0.60  %s" % ("bwrap --unshare-all /bin/true", bwrap, tac / bwrap, ok(tac / bwrap <= 0.6)))
print("%-44s %9.2f ms %9.2fx  target <= 0.10  %s" % ("runc run busybox /bin/true (%s)" % __import__("os").environ.get("BENCH_OCI_MODE", ""), runc, tac / runc, ok(tac / runc <= 0.1)))
print("%-44s %9.2f ms %9.2fx" % ("unshare -Urpfmiu -n /bin/true", unshare, tac / unshare))
print("%-44s %9.2f ms %9.2fx" % ("luajit -e ''", luajit, tac / luajit))
print("%-44s %9.2f ms %9.2fx  vs bwrap %.2f ms in the same run  target <= 0.30  %s" % (
    "warm pool: tactus-run-client trivial.tac", pool, pool / bwrap2, bwrap2, ok(pool / bwrap2 <= 0.3)))
import os
d = json.loads(os.environ["POOL_DIRECT"]); pp = json.loads(os.environ["POOL_PAR"])
st = json.loads(os.environ["POOL_STATUS"])
print("%-44s %9.2f ms %9.2fx  vs bwrap %.2f ms (p99 %.2f ms)  target <= 0.30  %s" % (
    "warm pool: direct protocol, one connection", d["p50_ms"], d["p50_ms"] / bwrap2, bwrap2, d["p99_ms"],
    ok(d["p50_ms"] / bwrap2 <= 0.3)))
print("%-44s %9d /s  (%d runs, %d failed)  target >= 500/s  %s" % (
    "pool runs, 2 connections", pp["runs_per_s"], pp["runs"], pp["failed"], ok(pp["runs_per_s"] >= 500)))
cages = st["cages"]
cpss = max(c["cage_pss_kb"] for c in cages); spss = max(c["supervisor_pss_kb"] for c in cages)
crss = max(c["cage_rss_kb"] for c in cages); srss = max(c["supervisor_rss_kb"] for c in cages)
print("%-44s %9.2f MB  PSS (cage %d kB + supervisor %d kB; RSS %d + %d kB)  target <= 2 MB  %s" % (
    "idle cage memory", (cpss + spss) / 1024, cpss, spss, crss, srss, ok((cpss + spss) / 1024 <= 2)))
print("%-44s %s  %s" % ("left behind after the pooled runs", os.environ["POOL_LEFT"],
      ok(os.environ["POOL_LEFT"].startswith("procs 0, mounts 0, cgroups 0"))))
print("%-44s %9.1f MB             target <= 8 MB   %s" % ("peak memory, launcher + sandbox", mem / 1024, ok(mem / 1024 <= 8)))
print("%-44s %9d /s  p50 %.1f us p99 %.1f us  target >= 100000/s, p99 <= 50 us  %s" % (
    "broker tool.call, 16 B, one core", small["calls_per_s"], small["p50_us"], small["p99_us"],
    ok(small["calls_per_s"] >= 100000 and small["p99_us"] <= 50)))
print("%-44s %9d /s  p50 %.1f us p99 %.1f us" % ("broker tool.call, 64 KiB, one core", big["calls_per_s"], big["p50_us"], big["p99_us"]))
print("%-44s %9d /s" % ("Host.call from Lua, in the sandbox", lua_rt))
print("%-44s %9d /s" % ("events from Lua (print), one-way", int(os.environ["LUA_EVENTS"])))
for name, bare, boxed in lua:
    r = float(bare) / float(boxed)
    print("%-44s %9.2f ms vs %.2f ms bare: %.2fx  target >= 0.90  %s" % ("Lua " + name, float(boxed), float(bare), r, ok(r >= 0.9)))
print("%-44s %9d /s             target >= 300/s  %s" % ("parallel runs, 2 at a time, 1000 runs", par, ok(par >= 300)))
print("%-44s procs %s, mounts %s, cgroups %s, netns %s  %s" % ("left behind after the 1000 runs", procs, mounts, cgroups, netns,
      ok(procs == "0" and mounts == "0" and cgroups == "0")))
print("%-44s %s" % ("OCI", oci))
PY
