#!/usr/bin/env bash
# Fuzz lane: builds every tests/fuzz/fuzz_*.c into $BUILD/fuzz/ with clang
# (libFuzzer + ASan + UBSan), then runs each for FUZZ_SECONDS (default 10)
# from its seed corpus tests/fuzz/corpus/<target>/ (regression inputs
# included: they run first).  One line per target:
#   PASS: fuzz <target>: N execs, 0 crashes
#   FAIL: fuzz <target>: ... (the crashing input is saved under $BUILD/fuzz/crashes/<target>/)
#   SKIP: fuzz: ...           (no clang with libFuzzer on this host)
#
#   tests/fuzz/run.sh                    every target
#   tests/fuzz/run.sh fuzz_json          only these
#   FUZZ_SECONDS=300 tests/fuzz/run.sh   longer runs
#
# New inputs found while fuzzing go to $BUILD/fuzz/corpus/<target>/, never
# into the seed directories.  The project's sources are compiled directly
# (no libtactus.a), with -I. and the pkg-config flags of the build.
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
CLANG="${CLANG:-clang}"
out="$BUILD/fuzz"
PKGS="luajit libseccomp libcap-ng libnl-3.0 libnl-route-3.0 libcjson libcurl yaml-0.1"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; }
skip() { echo "SKIP: $1: ${2:-}"; }

# target -> the project sources it links (besides common/*.c, the small
# shared helpers every part uses), and its -max_len.
sources() {
  case "$1" in
    fuzz_frame) echo "" ;;
    fuzz_broker) echo "broker/*.c policy/policy.c" ;;
    fuzz_config) echo "policy/config.c policy/yaml_tree.c policy/policy.c" ;;
    fuzz_json) echo "vm/json.c" ;;
    fuzz_param) echo "cli/parse.c vm/json.c" ;;
    fuzz_oci_config|fuzz_oci_seccomp)
      echo "shim/*.c sandbox/*.c sandbox/profiles.S policy/*.c broker/*.c vm/*.c $BUILD/vm/lua_bc.o $BUILD/sandbox/seccomp_bpf.o" ;;
    *) return 1 ;;
  esac
}
max_len() {
  case "$1" in
    fuzz_frame) echo 70000 ;;   # a packet over the 64 KiB payload limit must fit
    fuzz_broker) echo 65536 ;;
    fuzz_config) echo 8192 ;;
    fuzz_json) echo 16384 ;;
    fuzz_param) echo 2048 ;;
    fuzz_oci_config) echo 16384 ;;
    fuzz_oci_seccomp) echo 8192 ;;
  esac
}

mkdir -p "$out"
if ! command -v "$CLANG" >/dev/null 2>&1; then
  skip "fuzz" "$CLANG is not installed (apt-get install clang)"
  exit 0
fi
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput (const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }\n' \
  >"$out/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" >"$out/probe.log" 2>&1; then
  skip "fuzz" "$CLANG cannot build a libFuzzer target: $(head -1 "$out/probe.log")"
  exit 0
fi
if ! pkg_flags=$(pkg-config --cflags --libs $PKGS 2>&1); then
  fail "fuzz" "pkg-config: $pkg_flags"
  exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi

status=0
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
    why=$(grep -m1 -E 'ERROR: |runtime error|invariant failed|SUMMARY' "$log")
    fail "fuzz $t" "crash after ${execs:-?} execs: ${why:-exit $rc}; input saved to ${artifact:-$crashes/}; log $log"
    status=1
  fi
done
exit $status
