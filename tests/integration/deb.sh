#!/usr/bin/env bash
# The Debian package: `dpkg-buildpackage -b -us -uc` in a copy of the
# source tree (offline: Build-Depends are the project's own deps), lintian
# on the result (no E: tag), then the .deb unpacked into a scratch root
# (dpkg-deb -x: nothing is installed on the host) and its binaries run
# from there: tactus-run runs a procedure in the cage, the tactus-runc link
# speaks runc's CLI, and the systemd units are in place and well formed.
source "$TESTS_DIR/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
# The package is built from the source tree with its own flags: the same
# whatever $BUILD is, so the sanitizer pass does not build it a second time.
if [ -n "${TR_SANITIZED:-}" ]; then
  skip "deb" "the package does not depend on the sanitizer build; the plain pass builds and checks it"
  exit 0
fi
for t in dpkg-buildpackage dh lintian; do
  command -v $t >/dev/null || { skip "deb" "$t is not installed (apt-get install --no-install-recommends debhelper lintian)"; exit 0; }
done
tmp=$(mktemp -d /var/tmp/tactus-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ver=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
src=$tmp/tactus-run-$ver
mkdir -p "$src"
# The tracked tree as it is in the worktree (no build directory, no cache).
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$src"/) 2>/dev/null \
  || (cd "$ROOT" && tar --exclude=./build* --exclude=./.cache --exclude=./.git -cf - . | tar -C "$src" -xf -)
t0=$SECONDS
out=$(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" 2>&1); code=$?
deb=$(ls "$tmp"/tactus-run_"$ver"_*.deb 2>/dev/null | head -1)
if [ "$code" = 0 ] && [ -n "$deb" ]; then
  pass "deb: dpkg-buildpackage -b -us -uc builds $(basename "$deb") ($((SECONDS - t0)) s)"
else
  fail "deb: dpkg-buildpackage -b -us -uc builds the package" "exit $code: $(echo "$out" | grep -E 'error|Error|dpkg-' | tail -4 | tr '\n' ' ')"
  exit 0
fi
lint=$(lintian --no-tag-display-limit "$deb" 2>&1)
errs=$(echo "$lint" | grep -c '^E: ')
warns=$(echo "$lint" | grep -c '^W: ')
if [ "$errs" = 0 ]; then pass "deb: lintian reports no error ($warns warnings)"
else fail "deb: lintian reports no error" "$(echo "$lint" | grep '^E: ' | head -5 | tr '\n' ' ')"; fi
echo "$lint" | grep -E '^(E|W): ' | sed 's/^/  lintian| /' | head -20
r=$tmp/root
dpkg-deb -x "$deb" "$r" || { fail "deb: dpkg-deb -x" ""; exit 0; }
for f in usr/bin/tactus-run usr/bin/tactus-run-client lib/systemd/system/tactus-run.service \
         lib/systemd/system/tactus-run.socket usr/share/tactus-run/seccomp/tactus-run.json \
         usr/share/doc/tactus-run/deploy.md usr/share/man/man1/tactus-run.1; do
  [ -e "$r/$f" ] || [ -e "$r/$f.gz" ] || missing+=" $f"
done
[ -z "${missing:-}" ] && pass "deb: the package holds the binaries, the units, the seccomp profile, the docs and the man page" \
  || fail "deb: the package holds what it should" "missing:$missing"
libs=$(ldd "$r/usr/bin/tactus-run" 2>&1)
[[ "$libs" == *libluajit-5.1.so* && "$libs" == *libseccomp.so* && "$libs" == *libyaml* ]] \
  && pass "deb: the packaged tactus-run links Debian's shared libraries (their security updates reach it)" \
  || fail "deb: the packaged tactus-run links Debian's shared libraries" "$(echo "$libs" | tr '\n' ' ' | cut -c1-300)"
[ "$(readlink "$r/usr/bin/tactus-runc")" = tactus-run ] && pass "deb: tactus-runc is a link to tactus-run" \
  || fail "deb: tactus-runc is a link to tactus-run" "$(ls -l "$r/usr/bin/tactus-runc" 2>&1)"
expect_rc "deb: the installed tactus-run --version" 0 "$r/usr/bin/tactus-run" --version
out=$("$r/usr/bin/tactus-runc" --version 2>&1)
[[ "$out" == *"runc version"* || "$out" == *"tactus-runc"* ]] && pass "deb: the installed tactus-runc speaks runc's CLI (--version)" \
  || fail "deb: the installed tactus-runc speaks runc's CLI" "$out"
mkdir -p "$tmp/ws" && echo 'return { greeting = "from the package" }' >"$tmp/ws/hello.tac"
out=$(cd "$tmp/ws" && "$r/usr/bin/tactus-run" run hello.tac 2>&1); code=$?
[ "$code" = 0 ] && [[ "$out" == *"from the package"* ]] && pass "deb: the installed tactus-run runs a procedure in the cage" \
  || fail "deb: the installed tactus-run runs a procedure in the cage" "exit $code: $(echo "$out" | tail -3 | tr '\n' ' ')"
if command -v systemd-analyze >/dev/null; then
  # (Against the host's units; the unpacked ExecStart path is not on the host.)
  out=$(cd "$r/lib/systemd/system" && systemd-analyze verify ./tactus-run.socket ./tactus-run.service 2>&1)
  [ -z "$(echo "$out" | grep -v 'is not executable\|^$')" ] && pass "deb: systemd-analyze verify accepts tactus-run.socket and .service" \
    || fail "deb: systemd-analyze verify accepts the units" "$(echo "$out" | head -3 | tr '\n' ' ')"
fi
grep -q '^ListenSequentialPacket=/run/tactus-run/pool.sock$' "$r/lib/systemd/system/tactus-run.socket" \
  && pass "deb: the socket unit listens where root's client looks (/run/tactus-run/pool.sock)" \
  || fail "deb: the socket unit's path" "$(grep Listen "$r/lib/systemd/system/tactus-run.socket")"
exit 0
