#!/usr/bin/env bash
# OCI lane: linux.seccomp, each action and each argument operator, by what
# the process observes — the signal that killed it (SIGSYS: 128+31), the
# errno a refused call returns, a call that still happens.  The probe is
# kill(2) at a pid that does not exist in the container's pid namespace:
# it fails with ESRCH when it runs, so any other result is the filter's,
# and its second argument (the signal number) is ours to choose.
#   SCMP_ACT_KILL / KILL_THREAD / KILL_PROCESS   killed by SIGSYS
#   SCMP_ACT_TRAP      SIGSYS that a handler can catch (the process lives)
#   SCMP_ACT_ERRNO     the errno (errnoRet, EPERM by default)
#   SCMP_ACT_TRACE     no tracer attached: ENOSYS, the call is skipped
#   SCMP_ACT_LOG       the call runs (ESRCH), and the kernel log has its record
#   SCMP_ACT_ALLOW     the call runs (ESRCH)
#   SCMP_CMP_NE LT LE EQ GE GT MASKED_EQ   on the signal number
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

NOPID=99999
# run_sc NAME SECCOMP-JSON SCRIPT: run SCRIPT (sh -c) under the profile; sets OUT and CODE.
run_sc() {
  local name=$1 sc=$2 script=$3
  make_bundle "$SCRATCH/$name" "c['process']['args'] = ['sh', '-c', $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$script")]; c['linux']['seccomp'] = $sc" \
    || { OUT="bad test: no bundle"; CODE=255; return; }
  OUT=$(rc run -b "$SCRATCH/$name" "$name" 2>&1 </dev/null); CODE=$?
}
# The result of kill -SIG NOPID, by errno name, for each SIG given.
probe='for s in $SIGS; do r=$(kill -$s '$NOPID' 2>&1); case "$r" in *"No such process"*) e=ESRCH;; *"not permitted"*) e=EPERM;; *"Permission denied"*) e=EACCES;; *"not implemented"*) e=ENOSYS;; "") e=OK;; *) e="?$r";; esac; printf "%s=%s " $s $e; done'
rule() { # rule ACTION [EXTRA-JSON]: a profile allowing all but kill(2) with ACTION
  echo "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['kill'], 'action': '$1'${2:+, $2}}]}"
}

# ---- actions
# LOG first: its audit record (code 0x7ffc0000, SECCOMP_RET_LOG) goes to the
# kernel log through printk, which is rate-limited; the KILL tests below log
# too.
marker=$(dmesg 2>/dev/null | tail -1)
run_sc log "$(rule SCMP_ACT_LOG)" "SIGS='9 0'; $probe"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_LOG lets the call run (ESRCH from the kernel)" test "$OUT" = "9=ESRCH 0=ESRCH "
if [ -n "$marker" ]; then
  sleep 0.2
  n=$(dmesg | awk -v m="$marker" 'f && /type=1326/ && /syscall=62 / && /code=0x7ffc0000/ { n++ } $0 == m { f = 1 } END { print n + 0 }')
  WHY="$n records after '$marker'"; check "oci seccomp: SCMP_ACT_LOG writes an audit record of the kill(2) calls" test "$n" -ge 1
else
  skip "oci seccomp: SCMP_ACT_LOG writes an audit record" "the kernel log is not readable here"
fi
for a in SCMP_ACT_KILL SCMP_ACT_KILL_THREAD SCMP_ACT_KILL_PROCESS; do
  run_sc "k-${a#SCMP_ACT_}" "$(rule $a)" "(kill -9 $NOPID; echo survived); echo rc=\$?"
  WHY="exit $CODE: $OUT"; check "oci seccomp: $a kills the caller with SIGSYS (exit 159), the rest goes on" \
    bash -c '[[ "$0" == *rc=159* && "$0" != *survived* ]]' "$OUT"
done
run_sc k-init "$(rule SCMP_ACT_KILL_PROCESS)" "kill -9 $NOPID; echo survived"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_KILL_PROCESS on the init: run returns 159" \
  bash -c '[ "$1" = 159 ] && [[ "$0" != *survived* ]]' "$OUT" "$CODE"
run_sc trap "$(rule SCMP_ACT_TRAP)" "(trap 'echo caught-sigsys' SYS; kill -9 $NOPID 2>/dev/null; echo after); echo rc=\$?; (kill -9 $NOPID); echo untrapped-rc=\$?"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_TRAP raises SIGSYS that a handler catches (the process lives)" \
  bash -c '[[ "$0" == *caught-sigsys* && "$0" == *after* && "$0" == *rc=0* ]]' "$OUT"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_TRAP without a handler: killed by SIGSYS (159)" bash -c '[[ "$0" == *untrapped-rc=159* ]]' "$OUT"
run_sc errno "$(rule SCMP_ACT_ERRNO)" "SIGS='9 10'; $probe"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_ERRNO without errnoRet returns EPERM" test "$OUT" = "9=EPERM 10=EPERM "
run_sc errno13 "$(rule SCMP_ACT_ERRNO "'errnoRet': 13")" "SIGS='9'; $probe"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_ERRNO with errnoRet 13 returns EACCES" test "$OUT" = "9=EACCES "
run_sc trace "$(rule SCMP_ACT_TRACE)" "SIGS='9'; $probe"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_TRACE with no tracer returns ENOSYS" test "$OUT" = "9=ENOSYS "
allowed='["read","write","openat","open","close","fstat","newfstatat","stat","lstat","mmap","munmap","brk","rt_sigaction","rt_sigprocmask","rt_sigreturn","execve","exit","exit_group","getpid","getppid","getuid","geteuid","getgid","getegid","arch_prctl","set_tid_address","set_robust_list","prlimit64","uname","ioctl","fcntl","getcwd","wait4","clone","clone3","fork","vfork","dup2","dup3","pipe","pipe2","poll","lseek","readlink","access","faccessat","faccessat2","getdents64","sysinfo","statx","futex","mprotect","rseq","close_range","getrandom","prctl","capget","capset","setgroups","setresuid","setresgid","chdir","fchdir","getpgrp","setpgid","getpgid","tgkill","sched_getaffinity","pread64","madvise","nanosleep","clock_nanosleep","getrusage","times","kill"]'
run_sc allow2 "{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1, 'syscalls': [{'names': $allowed, 'action': 'SCMP_ACT_ALLOW'}]}" "SIGS='9'; $probe; mkdir /x 2>&1 | grep -o 'not permitted'"
WHY="exit $CODE: $OUT"; check "oci seccomp: SCMP_ACT_ALLOW in a default-deny profile: listed calls run, others get defaultErrnoRet" \
  bash -c '[[ "$0" == "9=ESRCH not permitted" ]]' "$OUT"

# A syscall newer than every one the profile names gets ENOSYS, not the
# default action (libc falls back on ENOSYS only: clone3 -> clone); one
# within the profile's range that it does not list still gets the default
# (control), and a listed one runs.  A static helper makes raw syscalls.
mkdir -p "$SCRATCH/sctool"
printf '%s\n' '#include <errno.h>' '#include <stdio.h>' '#include <stdlib.h>' '#include <unistd.h>' \
  'int main (int c, char **v) { for (int i = 1; i < c; i++) { long r = syscall (atol (v[i]), 0, 0, 0, 0, 0, 0); printf ("%s=%d ", v[i], r < 0 ? errno : 0); } return 0; }' \
  >"$SCRATCH/sctool/sc.c"
if ${CC:-cc} -static -O1 -o "$SCRATCH/sctool/sc" "$SCRATCH/sctool/sc.c" 2>/dev/null; then
  make_bundle "$SCRATCH/enosys" "c['process']['args'] = ['/t/sc', '1000', '83', '39']; c['mounts'].append({'destination': '/t', 'type': 'bind', 'source': '$SCRATCH/sctool', 'options': ['rbind', 'ro']}); c['linux']['seccomp'] = {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1, 'syscalls': [{'names': $allowed, 'action': 'SCMP_ACT_ALLOW'}]}"
  OUT=$(rc run -b "$SCRATCH/enosys" enosys 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci seccomp: a syscall newer than the profile gets ENOSYS (38); an older unlisted one the default EPERM (1); a listed one runs" \
    test "$OUT" = "1000=38 83=1 39=0 "
else
  skip "oci seccomp: ENOSYS for syscalls newer than the profile" "no static C compiler here (${CC:-cc} -static)"
fi

# ---- operators, on kill's signal number (args[1]); a match returns EPERM
op() { # op OPERATOR VALUE [VALUE-TWO]
  local two=""
  [ -n "${3:-}" ] && two=", 'valueTwo': $3"
  rule SCMP_ACT_ERRNO "'args': [{'index': 1, 'value': $2$two, 'op': '$1'}]"
}
SIGS='4 7 8 9 10 11 12'
expect_ops() { # expect_ops OPERATOR VALUE [VALUE-TWO] -- EXPECTED
  local o=$1 v=$2 two="" want
  shift 2
  [ "$1" != -- ] && { two=$1; shift; }
  shift
  want=$*
  run_sc "op-${o#SCMP_CMP_}" "$(op "$o" "$v" "$two")" "SIGS='$SIGS'; $probe"
  WHY="exit $CODE: got '$OUT', want '$want '"; check "oci seccomp: $o $v${two:+ (valueTwo $two)} on args[1]" test "$OUT" = "$want "
}
expect_ops SCMP_CMP_EQ 10 -- 4=ESRCH 7=ESRCH 8=ESRCH 9=ESRCH 10=EPERM 11=ESRCH 12=ESRCH
expect_ops SCMP_CMP_NE 10 -- 4=EPERM 7=EPERM 8=EPERM 9=EPERM 10=ESRCH 11=EPERM 12=EPERM
expect_ops SCMP_CMP_LT 10 -- 4=EPERM 7=EPERM 8=EPERM 9=EPERM 10=ESRCH 11=ESRCH 12=ESRCH
expect_ops SCMP_CMP_LE 10 -- 4=EPERM 7=EPERM 8=EPERM 9=EPERM 10=EPERM 11=ESRCH 12=ESRCH
expect_ops SCMP_CMP_GE 10 -- 4=ESRCH 7=ESRCH 8=ESRCH 9=ESRCH 10=EPERM 11=EPERM 12=EPERM
expect_ops SCMP_CMP_GT 10 -- 4=ESRCH 7=ESRCH 8=ESRCH 9=ESRCH 10=ESRCH 11=EPERM 12=EPERM
# (sig & 8) == 8: 8 9 10 11 12 (0b1xxx), not 4 or 7
expect_ops SCMP_CMP_MASKED_EQ 8 8 -- 4=ESRCH 7=ESRCH 8=EPERM 9=EPERM 10=EPERM 11=EPERM 12=EPERM
# (sig & 3) == 1: 9 only (0b1001); 4 0b100, 7 0b111, 8, 10 0b1010, 11 0b1011, 12
expect_ops SCMP_CMP_MASKED_EQ 3 1 -- 4=ESRCH 7=ESRCH 8=ESRCH 9=EPERM 10=ESRCH 11=ESRCH 12=ESRCH
# Conditions on different arguments are ANDed: pid == NOPID and sig == 10.
run_sc op-and "$(rule SCMP_ACT_ERRNO "'args': [{'index': 0, 'value': $NOPID, 'op': 'SCMP_CMP_EQ'}, {'index': 1, 'value': 10, 'op': 'SCMP_CMP_EQ'}]")" "SIGS='$SIGS'; $probe"
WHY="exit $CODE: $OUT"; check "oci seccomp: conditions on different arguments are ANDed (pid EQ, sig EQ 10)" \
  test "$OUT" = "4=ESRCH 7=ESRCH 8=ESRCH 9=ESRCH 10=EPERM 11=ESRCH 12=ESRCH "
# Two on the same argument are separate rules, ORed (as runc): sig < 8 or sig > 10.
run_sc op-or "$(rule SCMP_ACT_ERRNO "'args': [{'index': 1, 'value': 8, 'op': 'SCMP_CMP_LT'}, {'index': 1, 'value': 10, 'op': 'SCMP_CMP_GT'}]")" "SIGS='$SIGS'; $probe"
WHY="exit $CODE: $OUT"; check "oci seccomp: two conditions on one argument are ORed, as runc does (LT 8, GT 10)" \
  test "$OUT" = "4=EPERM 7=EPERM 8=ESRCH 9=ESRCH 10=ESRCH 11=EPERM 12=EPERM "
exit 0
