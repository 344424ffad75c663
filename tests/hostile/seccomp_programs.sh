#!/usr/bin/env bash
# The seccomp programs cannot be replaced from inside a run, and
# `sandbox status --json` / `sandbox rebuild` report them honestly.
#
# Older versions cached compiled programs in ~/.cache/tactus-run; a run
# whose workspace was $HOME (the default when started there) could write an
# allow-everything program into that cache and switch seccomp off for every
# later run.  The programs now live in the binary, and $HOME can no longer
# be a read-write workspace (policy/workspace_guard.c): this test checks
# the run that would plant is refused, plants such a program as any other
# process of the user could, and checks the next run is still filtered.
set -u
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
source "$TESTS_DIR/lib.sh"

homes=()
trap 'rm -rf "${homes[@]}"' EXIT
json() { python3 -c "import json,sys; r=json.load(sys.stdin); $1"; }

for who in root nobody; do
  home=$(scratch_dir); homes+=("$home")
  printf 'return 1\n' >"$home/one.tac"
  run=(env); [ "$who" = nobody ] && run=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all -- env)
  run+=(HOME="$home" XDG_CACHE_HOME=)

  # status --json: every layer named, with a boolean and a reason.
  out=$(cd "$home" && "${run[@]}" "$TR" sandbox status --json); rc=$?
  if [ $rc = 0 ] && echo "$out" | json '
L = {l["name"]: l for l in r["layers"]}
need = ["user namespace","pid namespace","network namespace","seccomp","seccomp programs",
        "capabilities","no_new_privs","rlimits","cgroup v2","sandbox"]
missing = [n for n in need if n not in L]
assert not missing, missing
assert all(isinstance(l["available"], bool) and l["detail"] for l in r["layers"])
assert r["usable"] is True
assert "identical" in L["seccomp programs"]["detail"], L["seccomp programs"]["detail"]
assert "none kept on disk" in L["seccomp programs"]["detail"]'; then
    pass "status --json as $who: every layer with available/detail, programs built in and verified"
  else
    fail "status --json as $who" "rc=$rc $(echo "$out" | head -c 400)"
  fi

  # A run whose workspace is $HOME is refused; so the allow-all program
  # (one BPF instruction: RET SECCOMP_RET_ALLOW) is planted where the old
  # cache lived by the user's own shell.
  plant='mkdir -p .cache/tactus-run && for p in native vm vm-jit; do printf "\006\000\000\000\000\000\377\177" > .cache/tactus-run/$p.bpf; done'
  out=$(cd "$home" && "${run[@]}" "$TR" sandbox exec -- /bin/sh -c "$plant" 2>&1); rc=$?
  if [ $rc != 0 ] && [ ! -e "$home/.cache/tactus-run" ] && [[ "$out" == *"your home directory"* ]]; then
    pass "as $who: a run with \$HOME as its read-write workspace is refused (nothing planted)"
  else
    fail "as $who: a run in \$HOME is refused" "rc=$rc $out"
  fi
  (cd "$home" && "${run[@]}" /bin/sh -c "$plant")
  out=$(cd "$home" && "${run[@]}" "$TR" sandbox exec --workspace-mode ro -- /bin/sh -c 'unshare -U true 2>&1; echo "rc=$?"' 2>&1)
  case "$out" in
    *"Operation not permitted"*rc=1*) pass "as $who: a planted program does not reach the next run (unshare still EPERM)" ;;
    *) fail "as $who: planted program" "$out" ;;
  esac
  out=$(cd "$home" && "${run[@]}" "$TR" run one.tac --workspace-mode ro 2>&1); rc=$?
  [ $rc = 0 ] && pass "as $who: the VM still runs with its own program" || fail "as $who: VM run" "rc=$rc $out"

  # rebuild: checks the built-in programs and removes the old cache files
  # (root's old cache was /var/cache/tactus-run, not under $HOME).
  out=$(cd "$home" && "${run[@]}" "$TR" sandbox rebuild 2>&1); rc=$?
  removed=yes
  if [ "$who" = nobody ]; then
    [[ "$out" == *"removed 3 programs cached by an older version in $home/.cache/tactus-run"* ]] \
      && [ ! -e "$home/.cache/tactus-run" ] || removed=no
  fi
  if [ $rc = 0 ] && [[ "$out" == *"7 built-in programs checked, each identical"* ]] && [ $removed = yes ]; then
    pass "rebuild as $who: programs verified, old cache removed"
  else
    fail "rebuild as $who" "rc=$rc $out"
  fi
  out=$(cd "$home" && "${run[@]}" "$TR" sandbox rebuild --force 2>&1); rc=$?
  [ $rc = 0 ] && [[ "$out" != *removed* ]] && pass "rebuild --force as $who: nothing left to remove" \
    || fail "rebuild --force as $who" "rc=$rc $out"
done
expect_rc "rebuild with an unknown flag fails" 1 "$TR" sandbox rebuild --bogus
out=$("$TR" sandbox rebuild --bogus 2>&1)
[[ "$out" == *"unknown option '--bogus'"* ]] && pass "rebuild names the bad flag" || fail "rebuild flag message" "$out"
