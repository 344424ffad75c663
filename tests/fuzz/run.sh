#!/usr/bin/env bash
# Fuzz lane.  Two parts, one PASS/FAIL line per target each:
#
# 1. Replay (always, no clang needed): every tests/fuzz/fuzz_*.c is linked
#    with tests/fuzz/replay.c and $BUILD/libtactus.a by the project's
#    compiler and flags (those of the Makefile for this build: a sanitized
#    build dir gets a sanitized replay), and run once over the target's
#    whole seed corpus tests/fuzz/corpus/<target>/, regress_* inputs
#    included.  A crash once found and fixed stays fixed on every host.
#      PASS: fuzz replay <target>: N inputs (R regress_*)
#      FAIL: fuzz replay <target>: ... (the input it stopped on)
#
# 2. libFuzzer runs (clang, libFuzzer + ASan + UBSan): each target built
#    into $BUILD/fuzz/ and run for FUZZ_SECONDS (default 60) from its seeds.
#      PASS: fuzz <target>: N execs, 0 crashes
#      FAIL: fuzz <target>: ... (the crashing input is saved under $BUILD/fuzz/crashes/<target>/)
#      SKIP: fuzz: ...           (no clang with libFuzzer on this host)
#    The libFuzzer binaries are ASan+UBSan whatever the pass, so they run
#    once: FUZZ_LIBFUZZER=auto (default) runs them in the sanitized pass of
#    the suite (TR_SANITIZED, make asan) and when this script is run by
#    hand or by `make fuzz` (TESTS_DIR unset), not in the plain `make check`
#    pass (one SKIP line there).  FUZZ_LIBFUZZER=yes / no forces it;
#    FUZZ_SECONDS=0 runs none.
#
#   tests/fuzz/run.sh                    every target
#   tests/fuzz/run.sh fuzz_json          only these
#   FUZZ_SECONDS=300 tests/fuzz/run.sh   longer runs
#
# New inputs found while fuzzing go to $BUILD/fuzz/corpus/<target>/, never
# into the seed directories.  A crash becomes a regression test by copying
# the saved input to tests/fuzz/corpus/<target>/regress_<target>_<what>
# (docs/testing.md, "Fuzzing").  The libFuzzer builds compile the project's
# sources directly (no libtactus.a), with -I. and the pkg-config flags.
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_LIBFUZZER="${FUZZ_LIBFUZZER:-auto}"
CLANG="${CLANG:-clang}"
MAKE="${MAKE:-make}"
out="$BUILD/fuzz"
PKGS="luajit libseccomp libcap-ng libnl-3.0 libnl-route-3.0 libcjson libcurl yaml-0.1"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; }
skip() { echo "SKIP: $1: ${2:-}"; }

# target -> the project sources its libFuzzer build links (besides
# common/*.c, the small shared helpers every part uses), and its -max_len.
sources() {
  case "$1" in
    fuzz_frame) echo "" ;;
    # Not broker/curl_lazy.c: the harness stands in for libcurl.
    # (The broker starts MCP servers' cages: the sandbox and the config
    # reader come along.)
    fuzz_broker) echo "$(ls broker/*.c | grep -v '^broker/curl_lazy\.c$' | tr '\n' ' ') broker/*.S policy/*.c sandbox/*.c sandbox/*.S $gen_objs" ;;
    fuzz_llm) echo "broker/*.c broker/*.S policy/*.c sandbox/*.c sandbox/*.S $gen_objs" ;;
    fuzz_egress) echo "broker/egress_proto.c policy/egress.c" ;;
    fuzz_config) echo "policy/config.c policy/egress.c policy/layers.c policy/yaml_tree.c policy/policy.c policy/grants.c policy/trust.c" ;;
    fuzz_checkpoint) echo "broker/checkpoint_store.c" ;;
    fuzz_json) echo "vm/json.c" ;;
    fuzz_param) echo "cli/parse.c vm/json.c" ;;
    # (The presentation code is #included by the target: its statics are checked.)
    fuzz_present) echo "" ;;
    # ($gen_objs: the build's generated objects, the embedded Lua bytecode
    # and seccomp programs.)
    fuzz_oci_config|fuzz_oci_seccomp)
      echo "shim/*.c sandbox/*.c sandbox/*.S policy/*.c broker/*.c broker/*.S vm/*.c $gen_objs" ;;
    *) return 1 ;;
  esac
}
# target -> the objects of the build its replay links besides libtactus.a
# (the CLI is not in the library).
replay_objects() {
  case "$1" in
    fuzz_param) echo "$BUILD/cli/parse.o" ;;
    *) echo "" ;;
  esac
}
max_len() {
  case "$1" in
    fuzz_frame) echo 70000 ;;   # a packet over the 64 KiB payload limit must fit
    fuzz_broker) echo 65536 ;;
    fuzz_llm) echo 65536 ;;
    fuzz_egress) echo 20000 ;;
    fuzz_config) echo 8192 ;;
    fuzz_checkpoint) echo 8192 ;;
    fuzz_json) echo 16384 ;;
    fuzz_param) echo 2048 ;;
    fuzz_present) echo 16384 ;;
    fuzz_oci_config) echo 16384 ;;
    fuzz_oci_seccomp) echo 8192 ;;
  esac
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
mkdir -p "$out/replay"
status=0

# ---- 1. replay every corpus with the project's compiler ------------------------------------
# The build's own flags, from the Makefile (SAN and OPT as `make asan` sets
# them when this build dir is a sanitized one).
san="" opt="-O2 -g"
if [ -n "${TR_SANITIZED:-}" ] || { [ -e "$BUILD/tactus-run" ] && ldd "$BUILD/tactus-run" 2>/dev/null | grep -q libasan; }; then
  san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  opt="-O1 -g"
fi
mk() { "$MAKE" -s --no-print-directory BUILD="$BUILD" SAN="$san" OPT="$opt" "$@"; }
mkvar() { mk --eval 'tr-print-%: ; @printf "%s\n" "$($*)"' "tr-print-$1"; }
replay_ok=1
if ! mk "$BUILD/libtactus.a" "$BUILD/cli/parse.o" >"$out/replay/make.log" 2>&1; then
  for t in "${targets[@]}"; do
    fail "fuzz replay $t" "cannot build $BUILD/libtactus.a: $(grep -m1 -E 'error|Error' "$out/replay/make.log")"
  done
  status=1 replay_ok=0
fi
if [ "$replay_ok" = 1 ]; then
  cc=$(mkvar CC) cflags=$(mkvar CFLAGS_ALL) ldflags=$(mkvar LDFLAGS_ALL) libs=$(mkvar PKG_LIBS)
  for t in "${targets[@]}"; do
    bin="$out/replay/$t" corpus="tests/fuzz/corpus/$t" log="$out/replay/$t.log"
    if [ ! -e "tests/fuzz/$t.c" ]; then
      fail "fuzz replay $t" "unknown target"; status=1; continue
    fi
    # shellcheck disable=SC2086  # the flags are meant to split
    if ! $cc $cflags -DTR_SOURCE_DIR="\"$PWD\"" $ldflags -o "$bin" "tests/fuzz/$t.c" tests/fuzz/replay.c \
         $(replay_objects "$t") "$BUILD/libtactus.a" $libs -ldl -lpthread -lm >"$log.build" 2>&1; then
      fail "fuzz replay $t" "does not build with $cc: $(grep -m1 -E 'error|undefined' "$log.build")"
      status=1
      continue
    fi
    if [ ! -d "$corpus" ]; then
      fail "fuzz replay $t" "no seed corpus $corpus"; status=1; continue
    fi
    start=$SECONDS
    # (In braces with stderr closed: no "Aborted" line from bash itself.)
    { ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        timeout 600 "$bin" "$corpus" >"$log" 2>"$log.err"; } 2>/dev/null
    rc=$?
    summary=$(sed -n 's/^replayed \([0-9]*\) inputs (\([0-9]*\) regress_\*)$/\1 inputs (\2 regress_*)/p' "$log")
    if [ "$rc" -eq 0 ] && [ -n "$summary" ]; then
      pass "fuzz replay $t: $summary, no crash ($((SECONDS - start)) s)"
    else
      last=$(grep '^replay: ' "$log.err" | tail -1 | sed 's/^replay: //')
      why=$(grep -m1 -E 'ERROR: |runtime error|invariant failed|SUMMARY|no input|the API key' "$log.err")
      [ -n "$why" ] || why=$(grep -v '^replay: ' "$log.err" | tail -2 | tr '\n' ' ')
      [ "$rc" -gt 128 ] && why="killed by signal $((rc - 128))${why:+; $why}"
      fail "fuzz replay $t" "exit $rc on ${last:-?}: ${why:-no reason given}; log $log.err"
      status=1
    fi
  done
fi

# ---- 2. libFuzzer -------------------------------------------------------------------------------
case "$FUZZ_LIBFUZZER" in
  yes|1) run_fuzzer=1 ;;
  no|0) run_fuzzer=0 ;;
  *) if [ -n "${TR_SANITIZED:-}" ] || [ -z "${TESTS_DIR:-}" ]; then run_fuzzer=1; else run_fuzzer=0; fi ;;
esac
if [ "$run_fuzzer" = 0 ]; then
  skip "fuzz (libFuzzer)" "not the sanitized pass: the libFuzzer runs (ASan+UBSan) are made once, by make asan or make fuzz (FUZZ_LIBFUZZER=yes to run them here too); the corpora were replayed above"
  exit $status
fi
if [ "$FUZZ_SECONDS" = 0 ]; then
  skip "fuzz (libFuzzer)" "FUZZ_SECONDS=0"
  exit $status
fi
if ! command -v "$CLANG" >/dev/null 2>&1; then
  skip "fuzz (libFuzzer)" "$CLANG is not installed (apt-get install clang); the corpora were replayed above"
  exit $status
fi
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput (const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }\n' \
  >"$out/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" >"$out/probe.log" 2>&1; then
  skip "fuzz (libFuzzer)" "$CLANG cannot build a libFuzzer target: $(head -1 "$out/probe.log")"
  exit $status
fi
if ! pkg_flags=$(pkg-config --cflags --libs $PKGS 2>&1); then
  fail "fuzz" "pkg-config: $pkg_flags"
  exit 1
fi
# The OCI targets link the build's generated objects (those of libtactus.a
# with no source file in the tree: the embedded Lua bytecode, the seccomp
# programs).
gen_objs=""
for o in $(mkvar LIB_OBJ); do
  r=${o#"$BUILD"/}
  r=${r%.o}
  [ -e "$r.c" ] || [ -e "$r.S" ] || gen_objs+=" $o"
done
# shellcheck disable=SC2086
[ -z "$gen_objs" ] || mk $gen_objs >>"$out/replay/make.log" 2>&1

for t in "${targets[@]}"; do
  srcs=$(sources "$t") || { fail "fuzz $t" "unknown target"; status=1; continue; }
  # shellcheck disable=SC2086  # the globs and flags are meant to split
  if ! "$CLANG" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
       -I. -DTR_SOURCE_DIR="\"$PWD\"" \
       "tests/fuzz/$t.c" common/*.c $srcs $pkg_flags -ldl -lpthread -lm \
       -o "$out/$t" >"$out/$t.build.log" 2>&1; then
    fail "fuzz $t" "does not build: $(grep -m1 -E 'error|undefined' "$out/$t.build.log")"
    status=1
    continue
  fi
  corpus="$out/corpus/$t" crashes="$out/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="$out/$t.log"
  start=$SECONDS
  # The first corpus directory receives new inputs; the seeds stay read-only.
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$out/$t" -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$t")" -timeout=20 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
      "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    pass "fuzz $t: ${execs:-0} execs, 0 crashes ($((SECONDS - start)) s)"
  else
    why=$(grep -m1 -E 'ERROR: |runtime error|invariant failed|the API key|SUMMARY' "$log")
    fail "fuzz $t" "crash after ${execs:-?} execs: ${why:-exit $rc}; input saved to ${artifact:-$crashes/}; log $log; once fixed, keep it: cp it to tests/fuzz/corpus/$t/regress_${t}_<what>"
    status=1
  fi
done
exit $status
