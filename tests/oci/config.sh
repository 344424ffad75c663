#!/usr/bin/env bash
# OCI lane: what config.json asks for is what the container gets — process
# (user, groups, env, cwd, capabilities, rlimits, noNewPrivileges,
# oomScoreAdj), hostname, mounts (bind, tmpfs, ro), readonly root, sysctl,
# seccomp, hooks (all six, with the state runc passes on stdin), every mount
# option features lists, rootfsPropagation as mountinfo shows it, sysctls
# without a /proc/sys in the container, a user namespace with
# mappings, and a rootless container run by an unprivileged user.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/oci/lib.sh"
oci_setup

# run_in NAME PYTHON-EDITS SCRIPT: run SCRIPT (sh -c) in a fresh bundle; sets OUT and CODE.
run_in() {
  local name=$1 py=$2 script=$3
  make_bundle "$SCRATCH/$name" "c[\"process\"][\"args\"] = [\"sh\", \"-c\", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$script")]; $py"
  OUT=$(rc run -b "$SCRATCH/$name" "$name" 2>&1 </dev/null); CODE=$?
}
has() { [[ "$OUT" == *"$1"* ]]; }

run_in user 'c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 65534], "umask": 63}' \
  'echo "ids=$(id -u):$(id -g) groups=$(id -G) umask=$(umask)"'
WHY="$OUT"; check "oci config: process.user uid, gid, additionalGids, umask" has "ids=1000:1000 groups=1000 5 65534 umask=0077"
run_in env 'c["process"]["env"] = ["PATH=/bin", "A=1", "B=two words"]; c["process"]["cwd"] = "/etc"' \
  'echo "A=$A B=$B cwd=$(pwd) home=$HOME"'
WHY="$OUT"; check "oci config: process.env, process.cwd, HOME from /etc/passwd" has "A=1 B=two words cwd=/etc home=/root"
run_in caps 'c["process"]["capabilities"] = {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}' \
  'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status | tr "\t\n" "= "'
WHY="$OUT"; check "oci config: capabilities: each set as asked (no_new_privs keeps root from regaining bounding), inheritable and ambient empty" \
  has "CapInh:=0000000000000000 CapPrm:=0000000000000001 CapEff:=0000000000000001 CapBnd:=0000000000000021 CapAmb:=0000000000000000"
run_in caps2 'c["process"]["user"] = {"uid": 1000, "gid": 1000}; c["process"]["capabilities"] = {"bounding": ["CAP_NET_BIND_SERVICE"], "effective": ["CAP_NET_BIND_SERVICE"], "permitted": ["CAP_NET_BIND_SERVICE"], "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE"]}' \
  'grep -E "^Cap(Inh|Eff|Amb)" /proc/self/status | tr "\t\n" "= "'
WHY="$OUT"; check "oci config: ambient capabilities for a non-root user when inheritable asks" \
  has "CapInh:=0000000000000400 CapEff:=0000000000000400 CapAmb:=0000000000000400"
# A capability the runtime's bounding set lacks is dropped with a warning
# (the spec's SHOULD NOT fail), the others are kept (control).
if command -v setpriv >/dev/null; then
  make_bundle "$SCRATCH/capb" 'c["process"]["args"] = ["sh", "-c", "grep CapEff /proc/self/status"]; c["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_SYS_RESOURCE"] for k in ("bounding", "effective", "permitted")}'
  OUT=$(setpriv --bounding-set -sys_resource "$RUNC" --root "$STATE" run -b "$SCRATCH/capb" capb 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci config: a capability outside the runtime's bounding set is dropped with a warning, not an error" \
    bash -c '[[ "$0" == *"CAP_SYS_RESOURCE is not in the runtime'"'"'s bounding set"* && "$0" == *"CapEff:	0000000000000020"* ]]' "$OUT"
else
  skip "oci config: a capability outside the runtime's bounding set" "setpriv is missing"
fi
# process.cwd is entered before the user switch (a 0700 directory of root
# for uid 1000, as runc) and before the container's seccomp filter (a
# profile refusing getcwd, loaded early without noNewPrivileges; the
# positive control: getcwd is refused inside).
run_in cwd0700 'c["process"]["user"] = {"uid": 1000, "gid": 1000}; c["process"]["cwd"] = "/priv"; c["mounts"].append({"destination": "/priv", "type": "tmpfs", "source": "tmpfs", "options": ["mode=0700"]})' \
  'echo in-priv uid=$(id -u)'
WHY="exit $CODE: $OUT"; check "oci config: a 0700 process.cwd of root is entered for a non-root user" has "in-priv uid=1000"
run_in nogetcwd 'c["process"]["noNewPrivileges"] = False; c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}' \
  'echo seccomp-up; /bin/busybox pwd -P 2>&1 || echo getcwd-refused'
WHY="exit $CODE: $OUT"; check "oci config: a seccomp profile that refuses getcwd does not fail the runtime's own cwd check" \
  bash -c '[[ "$0" == *seccomp-up* && "$0" == *getcwd-refused* ]]' "$OUT"
run_in rlim 'c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]' \
  'echo "nofile=$(ulimit -n)/$(ulimit -Hn) core=$(ulimit -c)"'
WHY="$OUT"; check "oci config: process.rlimits" has "nofile=321/654 core=0"
run_in nnp 'c["process"]["noNewPrivileges"] = True; c["process"]["oomScoreAdj"] = 123' \
  'echo "nnp=$(grep NoNewPrivs /proc/self/status | cut -f2) oom=$(cat /proc/self/oom_score_adj)"'
WHY="$OUT"; check "oci config: noNewPrivileges and oomScoreAdj" has "nnp=1 oom=123"
run_in host 'c["hostname"] = "box-1"; c["domainname"] = "example.org"' 'echo "$(hostname) $(cat /proc/sys/kernel/domainname)"'
WHY="$OUT"; check "oci config: hostname and domainname" has "box-1 example.org"

mkdir -p "$SCRATCH/data" && echo host-data >"$SCRATCH/data/in"
run_in mnt "c['mounts'] += [{'destination': '/data', 'type': 'bind', 'source': '$SCRATCH/data', 'options': ['rbind', 'rw']}, {'destination': '/ro', 'type': 'bind', 'source': '$SCRATCH/data', 'options': ['bind', 'ro']}, {'destination': '/tmp', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['nosuid', 'nodev', 'mode=1777', 'size=1m']}, {'destination': '/deep/a/b', 'type': 'tmpfs', 'source': 'tmpfs'}]" \
  'cat /data/in; echo written >/data/out; echo x >/ro/y 2>/dev/null || echo ro-refused; echo t >/tmp/t && echo tmp-ok; touch /rootfile 2>/dev/null || echo root-ro; grep -q " /tmp tmpfs .*size=1024k" /proc/mounts && echo tmp-size; test -d /deep/a/b && echo deep-ok'
WHY="$OUT"; check "oci config: a bind mount reads host data" has host-data
check "oci config: a rw bind mount writes through to the host" grep -q written "$SCRATCH/data/out"
WHY="$OUT"; check "oci config: a ro bind mount refuses writes" has ro-refused
WHY="$OUT"; check "oci config: a tmpfs mount with size and mode" bash -c '[[ "$0" == *tmp-ok* && "$0" == *tmp-size* ]]' "$OUT"
WHY="$OUT"; check "oci config: root.readonly makes / read-only" has root-ro
WHY="$OUT"; check "oci config: missing mount destinations are created inside the rootfs" has deep-ok
check "oci config: ...and not left in the image (the rootfs is read-only inside, created from outside)" test -d "$ROOTFS/deep/a/b"

# A non-bind mount's source is the spec's, as mountinfo shows it (the
# mount's 10th field): a tmpfs named by the config, /proc's "proc".
run_in msrc "c['mounts'] += [{'destination': '/named', 'type': 'tmpfs', 'source': 'tactus-src-1'}]" \
  'awk "\$5 == \"/named\" || \$5 == \"/proc\" { for (i = 7; \$i != \"-\"; i++); print \$5 \"=\" \$(i + 2) }" /proc/self/mountinfo | tr "\n" " "'
WHY="exit $CODE: $OUT"; check "oci config: a non-bind mount keeps its source (mountinfo)" \
  bash -c '[[ "$0" == */named=tactus-src-1* && "$0" == */proc=proc* ]]' "$OUT"

# Every mount option features lists is understood: a tmpfs with each (bind
# and rbind make binds: tested above), then what the atime ones did.
opts=$("$RUNC" features | python3 -c 'import json,sys; print(" ".join(o for o in json.load(sys.stdin)["mountOptions"] if o not in ("bind", "rbind")))')
run_in mopts "c['mounts'] += [{'destination': '/o/' + o, 'type': 'tmpfs', 'source': 'tmpfs', 'options': [o]} for o in '$opts'.split()] + [{'destination': '/o/noatime-atime', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['noatime', 'atime']}, {'destination': '/o/strict-atime', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['strictatime', 'atime']}, {'destination': '/o/rnoatime-ratime', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['rnoatime', 'ratime']}]" \
  'awk "\$5 ~ /^\/o\// { print substr(\$5, 4) \"=\" \$6 }" /proc/self/mountinfo | tr "\n" " "'
WHY="exit $CODE: $OUT"; check "oci config: a tmpfs mount with each option features lists ($(wc -w <<<"$opts"))" \
  bash -c '[ "$1" = 0 ] && [ "$(tr " " "\n" <<<"$0" | grep -c =)" = "$2" ]' "$OUT" "$CODE" "$(($(wc -w <<<"$opts") + 3))"
mopt() { [[ " $OUT" =~ " $1="([^ ]*) ]] && [[ ",${BASH_REMATCH[1]}," =~ $2 ]]; }
for t in "noatime ,noatime," "rnoatime ,noatime," "atime ,relatime," "ratime ,relatime," "relatime ,relatime," \
         "noatime-atime ,relatime," "rnoatime-ratime ,relatime," "nodiratime ,nodiratime," "ro ^,ro," "rro ^,ro," "nosuid ,nosuid," \
         "nodev ,nodev," "noexec ,noexec," "nosymfollow ,nosymfollow,"; do
  WHY="$OUT"; check "oci config: mount option ${t%% *} -> ${t#* }" mopt ${t%% *} "${t#* }"
done
WHY="$OUT"; check "oci config: strictatime and strictatime+atime show neither relatime nor noatime" \
  bash -c '[[ " $0" =~ " strictatime="([^ ]*) && "${BASH_REMATCH[1]}" != *atime* ]] && [[ " $0" =~ " strict-atime="([^ ]*) && "${BASH_REMATCH[1]}" != *atime* ]]' "$OUT"

run_in sysctl 'c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"}' \
  'echo "fwd=$(cat /proc/sys/net/ipv4/ip_forward) shm=$(cat /proc/sys/kernel/shmmax)"'
WHY="$OUT"; check "oci config: linux.sysctl in the container's namespaces" has "fwd=1 shm=65536"
check "oci config: the host's sysctls are untouched" test "$(cat /proc/sys/kernel/shmmax)" != 65536
# Sysctls go through a private procfs, never the container's /proc: here
# that one is procfs with subset=pid (no /proc/sys at all), and the values
# still land in the container's network and IPC namespaces (read from the
# host, entering them).  A tmpfs over /proc/sys is refused (errors.sh).
make_bundle "$SCRATCH/sysctl2" 'c["process"]["args"] = ["sh", "-c", "test -e /proc/sys || echo no-proc-sys; exec sleep 30"]; c["mounts"] = [m if m["destination"] != "/proc" else dict(m, options=["subset=pid"]) for m in c["mounts"]]; c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65537"}'
rc run -d -b "$SCRATCH/sysctl2" sysctl2 >"$SCRATCH/sysctl2.out" 2>&1 </dev/null; code=$?
spid=$(rc state sysctl2 2>/dev/null | json_get 'd["pid"]' 2>/dev/null)
got="$(nsenter -t "${spid:-0}" -n cat /proc/sys/net/ipv4/ip_forward 2>&1) $(nsenter -t "${spid:-0}" -i cat /proc/sys/kernel/shmmax 2>&1)"
for i in $(seq 50); do grep -q no-proc-sys "$SCRATCH/sysctl2.out" && break; sleep 0.05; done
WHY="exit $code: $(cat "$SCRATCH/sysctl2.out")"; check "oci config: (setup) the container's /proc has no /proc/sys (subset=pid)" grep -q no-proc-sys "$SCRATCH/sysctl2.out"
WHY="exit $code, pid '$spid': $got"; check "oci config: sysctls apply with no /proc/sys in the container's /proc (written through a private procfs)" test "$got" = "1 65537"
rc delete --force sysctl2

run_in sec 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}, {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}, {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}, {"names": ["nosuchsyscall_xyz"], "action": "SCMP_ACT_ERRNO"}]}; c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})' \
  'mkdir /tmp/x 2>&1; hostname foo 2>&1; kill -0 1 2>&1 | grep -o "Invalid argument"; kill -CONT 1 && echo cont-sent; echo done'
WHY="$OUT"; check "oci config: seccomp errnoRet (mkdir -> EACCES)" has "Permission denied"
WHY="$OUT"; check "oci config: seccomp default errno (sethostname -> EPERM)" has "Operation not permitted"
WHY="$OUT"; check "oci config: seccomp args EQ: kill(1, 0) -> errnoRet EINVAL, kill(1, SIGCONT) runs" \
  bash -c '[[ "$0" == *"Invalid argument"* && "$0" == *cont-sent* ]]' "$OUT"
WHY="$OUT"; check "oci config: seccomp runs the program and skips unknown syscall names" has done
run_in sec2 'c["process"]["noNewPrivileges"] = False; c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}]}' \
  'uname; echo survived'
WHY="exit $CODE: $OUT"; check "oci config: seccomp KILL_PROCESS (and loading without noNewPrivileges)" test "$CODE" = 159
run_in sec3 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"names": ["read","write","openat","open","close","fstat","newfstatat","stat","lstat","mmap","munmap","brk","rt_sigaction","rt_sigprocmask","rt_sigreturn","execve","exit","exit_group","getpid","getppid","getuid","geteuid","getgid","getegid","arch_prctl","set_tid_address","set_robust_list","prlimit64","uname","ioctl","fcntl","getcwd","wait4","clone","clone3","fork","vfork","dup2","dup3","pipe","pipe2","poll","lseek","readlink","access","faccessat","faccessat2","getdents64","sysinfo","statx","futex","mprotect","rseq","close_range","getrandom","prctl","capget","capset","setgroups","setresuid","setresgid","chdir","fchdir","getpgrp","setpgid","getpgid","kill","tgkill","sched_getaffinity","pread64","madvise","nanosleep","clock_nanosleep","geteuid","getrusage","times"], "action": "SCMP_ACT_ALLOW"}]}' \
  'echo allowlisted; mkdir /x 2>&1 | head -1'
WHY="exit $CODE: $OUT"; check "oci config: a default-deny seccomp allowlist runs sh and refuses the rest (ENOSYS)" \
  bash -c '[[ "$0" == *allowlisted* && "$0" == *"not implemented"* ]]' "$OUT"

run_in devs 'c["linux"]["devices"] = [{"type": "c", "path": "/dev/net/tun", "major": 10, "minor": 200, "fileMode": 438}]' \
  'ls -l /dev/fd /dev/stdin /dev/stdout /dev/stderr /dev/ptmx | sed "s/.* -> //" | tr "\n" " "; stat -c "%t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/net/tun | tr "\n" " "'
WHY="$OUT"; check "oci config: /dev symlinks (fd, stdin, stdout, stderr, ptmx)" has "/proc/self/fd pts/ptmx /proc/self/fd/2 /proc/self/fd/0 /proc/self/fd/1"
WHY="$OUT"; check "oci config: default devices and a linux.devices node in a subdirectory" has "1:3 666 1:5 666 1:7 666 1:8 666 1:9 666 5:0 666 a:c8 666"
# ---- rootfsPropagation: applied to the container's / after pivot_root, the
# r forms to its whole tree (as runc).  Run from a mount namespace of our own
# where the scratch dir is a shared mount, so a slave has a master to show:
# / and /data (a bind) start as slaves of it, /tmp (a tmpfs) as private.
mkdir -p "$SCRATCH/pdata"
for v in shared rshared slave rslave private rprivate unbindable runbindable; do
  make_bundle "$SCRATCH/prop-$v" "c['linux']['rootfsPropagation'] = '$v'; c['mounts'] += [{'destination': '/tmp', 'type': 'tmpfs', 'source': 'tmpfs'}, {'destination': '/data', 'type': 'bind', 'source': '$SCRATCH/pdata', 'options': ['bind']}]; c['process']['args'] = ['awk', '\$5 == \"/\" || \$5 == \"/tmp\" || \$5 == \"/data\" { o = \"\"; for (i = 7; \$i != \"-\"; i++) o = o \" \" \$i; printf \"%s:%s;\", \$5, o }', '/proc/self/mountinfo']"
done
cat >"$SCRATCH/prop.sh" <<PROP
mount --bind "$SCRATCH" "$SCRATCH" && mount --make-rshared "$SCRATCH" || exit 1
for v in shared rshared slave rslave private rprivate unbindable runbindable; do
  echo "\$v|\$("$RUNC" --root "$STATE" run -b "$SCRATCH/prop-\$v" "prop-\$v" 2>&1 </dev/null)"
done
PROP
props=$(unshare -m --propagation private bash "$SCRATCH/prop.sh" 2>&1)
prop() { # prop VARIANT MOUNT: the optional fields of MOUNT in VARIANT's container
  local line
  line=$(grep "^$1|" <<<"$props")
  line=${line#*|}
  tr ';' '\n' <<<"$line" | grep -q "^$2:" || { echo MISSING; return; }
  tr ';' '\n' <<<"$line" | sed -n "s|^$2: *||p"
}
pcheck() { # pcheck VARIANT MOUNT WANT-REGEX [NOT-REGEX]
  local got
  got=$(prop "$1" "$2")
  if [ "$got" != MISSING ] && grep -qE "$3" <<<"$got" && { [ -z "${4:-}" ] || ! grep -qE "$4" <<<"$got"; }; then
    pass "oci config: rootfsPropagation $1: $2 is '$got'"
  else
    fail "oci config: rootfsPropagation $1: $2 matches /$3/${4:+ and not /$4/}" "got '$got'; all: $(grep "^$1|" <<<"$props")"
  fi
}
pcheck shared / 'shared:'
pcheck shared /tmp '^' 'shared:'
pcheck rshared / 'shared:'
pcheck rshared /tmp 'shared:'
pcheck slave / 'master:' 'shared:'
pcheck rslave / 'master:' 'shared:'
pcheck rslave /data 'master:' 'shared:'
pcheck private / '^$'
pcheck private /data 'master:'
pcheck rprivate / '^$'
pcheck rprivate /data '^$'
pcheck unbindable / 'unbindable'
pcheck unbindable /tmp '^' 'unbindable'
pcheck runbindable / 'unbindable'
pcheck runbindable /tmp 'unbindable'

# namespaces joined by path: B joins A's uts and network namespaces.
make_bundle "$SCRATCH/nsa" 'c["hostname"] = "ns-owner"; c["process"]["args"] = ["sleep", "30"]'
rc run -d -b "$SCRATCH/nsa" nsa >/dev/null 2>&1 </dev/null
apid=$(rc state nsa | json_get 'd["pid"]')
run_in nsb "c['hostname'] = ''; c['linux']['namespaces'] = [n if n['type'] not in ('uts', 'network') else {'type': n['type'], 'path': '/proc/$apid/ns/' + ('net' if n['type'] == 'network' else 'uts')} for n in c['linux']['namespaces']]; c['linux']['sysctl'] = {}" \
  'hostname; readlink /proc/self/ns/net'
WHY="$OUT"; check "oci config: linux.namespaces by path (uts, network) joins them" \
  bash -c '[[ "$0" == *ns-owner* && "$0" == *"$1"* ]]' "$OUT" "$(readlink /proc/$apid/ns/net)"
rc delete --force nsa

# A mount namespace joined by path (the spec: the process MUST be placed in
# it): one unshare made; the container's setup there leaves the host's
# mount table as it was.  Never the runtime's own or the host init's (where
# pid 1's cannot be opened at all, that refusal is the open's).
unshare --mount --propagation private --fork sleep 60 </dev/null >/dev/null 2>&1 &
ushare=$!
for i in $(seq 50); do
  upid=$(pgrep -P "$ushare" sleep | head -1)
  [ -n "$upid" ] && [ "$(readlink /proc/$upid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break
  sleep 0.05
done
before=$(wc -l </proc/self/mountinfo)
run_in mntjoin "c['linux']['namespaces'] = [n if n['type'] != 'mount' else {'type': 'mount', 'path': '/proc/$upid/ns/mnt'} for n in c['linux']['namespaces']]" \
  'readlink /proc/self/ns/mnt; cat /proc/self/mountinfo | wc -l'
WHY="exit $CODE: $OUT (want $(readlink /proc/$upid/ns/mnt))"; check "oci config: a mount namespace joined by path holds the container" \
  bash -c '[[ "$0" == *"$1"* ]]' "$OUT" "$(readlink /proc/$upid/ns/mnt)"
WHY="$before -> $(wc -l </proc/self/mountinfo)"; check "oci config: ...and the host's mount table is unchanged" test "$(wc -l </proc/self/mountinfo)" = "$before"
kill "$upid" "$ushare" 2>/dev/null; wait "$ushare" 2>/dev/null
for target in /proc/self/ns/mnt /proc/1/ns/mnt; do
  run_in mnthost "c['linux']['namespaces'] = [n if n['type'] != 'mount' else {'type': 'mount', 'path': '$target'} for n in c['linux']['namespaces']]" 'echo joined-host'
  WHY="exit $CODE: $OUT"; check "oci config (hostile): joining the host's mount namespace ($target) by path is refused" \
    bash -c '[ "$0" != 0 ] && [[ "$1" == *"linux.namespaces"* && "$1" != *joined-host* ]]' "$CODE" "$OUT"
done
check "oci config: ...and the host's mount table is still unchanged" test "$(wc -l </proc/self/mountinfo)" = "$before"

# --debug lines go to the log.
make_bundle "$SCRATCH/dbg" 'c["process"]["args"] = ["true"]'
"$RUNC" --root "$STATE" --debug --log "$SCRATCH/debug.log" run -b "$SCRATCH/dbg" dbg >/dev/null 2>&1 </dev/null
WHY="$(head -3 "$SCRATCH/debug.log")"; check "oci config: --debug writes debug lines to --log" grep -q 'level=debug' "$SCRATCH/debug.log"

# ---- hooks
H=$SCRATCH/hooks
mkdir -p "$H"
cat >"$SCRATCH/hook.sh" <<HOOK
#!/bin/sh
# \$1: hook name; writes the state from stdin and where it ran
{ cat; echo; echo "ns=\$(readlink /proc/self/ns/mnt) host=\$(hostname)"; } >"$H/\$1"
HOOK
chmod +x "$SCRATCH/hook.sh"
mkdir -p "$SCRATCH/hookout"
cat >"$SCRATCH/hookout/start.sh" <<'HOOK'
#!/bin/sh
{ cat; echo; echo "host=$(hostname)"; } >/hookout/startContainer
HOOK
chmod +x "$SCRATCH/hookout/start.sh"
hk() { echo "{\"path\": \"$SCRATCH/hook.sh\", \"args\": [\"hook.sh\", \"$1\"]}"; }
make_bundle "$SCRATCH/hk" "c['hostname'] = 'hooked'; c['process']['args'] = ['sh', '-c', 'echo ran']; c['mounts'].append({'destination': '/hookout', 'type': 'bind', 'source': '$SCRATCH/hookout', 'options': ['rbind']}); c['hooks'] = {'prestart': [$(hk prestart)], 'createRuntime': [$(hk createRuntime)], 'createContainer': [$(hk createContainer)], 'startContainer': [{'path': '/hookout/start.sh'}], 'poststart': [$(hk poststart)], 'poststop': [$(hk poststop)]}"
rc create -b "$SCRATCH/hk" hk1 >/dev/null 2>&1 </dev/null
hostns=$(readlink /proc/self/ns/mnt)
hkpid=$(rc state hk1 | json_get 'd["pid"]')
# The spec's states: "created" to the create-time hooks (lifecycle steps 3
# to 5 come after "creating", step 2; runc passes "creating") and to
# startContainer, then "running" and "stopped"; the pid is the init's, as
# the host sees it.
hkstate() { # hkstate FILE STATUS: the first line of FILE is the state, for hk1, with STATUS
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["id"]=="hk1" and d["pid"]==int(sys.argv[3]) and d["bundle"]==sys.argv[4] and d["status"]==sys.argv[2] and d["ociVersion"], d' "$1" "$2" "$hkpid" "$SCRATCH/hk"
}
for h in prestart createRuntime createContainer; do
  WHY="$(cat "$H/$h" 2>/dev/null)"; check "oci config: the $h hook ran at create with the state on stdin (status created, the init's pid)" \
    hkstate "$H/$h" created
done
check "oci config: prestart and createRuntime run in the runtime's mount namespace" \
  bash -c "grep -qF 'ns=$hostns' '$H/prestart' && grep -qF 'ns=$hostns' '$H/createRuntime'"
check "oci config: createContainer runs in the container's namespaces" \
  bash -c "! grep -qF 'ns=$hostns' '$H/createContainer' && grep -q 'host=hooked' '$H/createContainer'"
check "oci config: startContainer has not run before start" test ! -e "$SCRATCH/hookout/startContainer"
rc start hk1
wait_status hk1 stopped
WHY="$(cat "$SCRATCH/hookout/startContainer" 2>/dev/null)"; check "oci config: startContainer ran inside the container (path resolved there)" grep -q 'host=hooked' "$SCRATCH/hookout/startContainer"
WHY="$(cat "$SCRATCH/hookout/startContainer" 2>/dev/null)"; check "oci config: startContainer got the state on stdin (status created)" hkstate "$SCRATCH/hookout/startContainer" created
WHY="$(cat "$H/poststart" 2>/dev/null)"; check "oci config: poststart ran after start, state says running" hkstate "$H/poststart" running
check "oci config: poststop has not run before delete" test ! -e "$H/poststop"
rc delete hk1
WHY="$(cat "$H/poststop" 2>/dev/null)"; check "oci config: poststop ran at delete, state says stopped" \
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["id"]=="hk1" and d["status"]=="stopped" and d["bundle"]==sys.argv[2], d' "$H/poststop" "$SCRATCH/hk"

# A hook that exits without reading its stdin (the state, made larger than
# a pipe by an annotation, so the write must meet the closed pipe) does not
# kill the runtime with SIGPIPE; after a failed poststart or poststop hook
# the next one still runs (the spec: a warning, and the lifecycle goes on).
mark() { echo "{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo $1 >>$SCRATCH/hookmarks\"]}"; }
make_bundle "$SCRATCH/hp" "c['annotations'] = {'big': 'x' * 300000}; c['process']['args'] = ['true']; c['hooks'] = {'prestart': [{'path': '/bin/true'}], 'poststart': [{'path': '/bin/false'}, $(mark poststart)], 'poststop': [{'path': '/bin/true'}, {'path': '/bin/false'}, $(mark poststop)]}"
rm -f "$SCRATCH/hookmarks"
rc create -b "$SCRATCH/hp" hp1 >/dev/null 2>"$SCRATCH/hp.err" </dev/null; code=$?
WHY="exit $code: $(cat "$SCRATCH/hp.err")"; check "oci config: create survives a hook that exits without reading the state (no SIGPIPE)" test "$code" = 0
rc start hp1 >/dev/null 2>"$SCRATCH/hp.err"; code=$?
WHY="exit $code: $(cat "$SCRATCH/hp.err")"; check "oci config: start succeeds although a poststart hook fails" test "$code" = 0
wait_status hp1 stopped
rc delete hp1 >/dev/null 2>"$SCRATCH/hp.err"; code=$?
WHY="exit $code: $(cat "$SCRATCH/hp.err")"; check "oci config: delete succeeds although poststop hooks fail or skip their stdin" test "$code" = 0 -a ! -d "$STATE/hp1"
WHY="marks: $(cat "$SCRATCH/hookmarks" 2>/dev/null | tr '\n' ' ')"; check "oci config: the hooks after a failed poststart and poststop hook still run" \
  test "$(cat "$SCRATCH/hookmarks" 2>/dev/null | tr '\n' ' ')" = "poststart poststop "
WHY="$(cat "$SCRATCH/hp.err")"; check "oci config: a failed poststop hook is logged as a warning" grep -q "error running poststop hook #1" "$SCRATCH/hp.err"

# The poststart hooks run once the user's process is executed (the spec),
# not merely released: a slow startContainer hook delays the execve, and
# the poststart hook still sees the container's program as the init.
cat >"$SCRATCH/ps-hook.sh" <<HOOK
#!/bin/sh
pid=\$(sed 's/.*"pid": *\([0-9]*\).*/\1/')
cat /proc/\$pid/comm >"$SCRATCH/ps-comm"
HOOK
chmod +x "$SCRATCH/ps-hook.sh"
make_bundle "$SCRATCH/pse" "c['process']['args'] = ['sleep', '5']; c['hooks'] = {'startContainer': [{'path': '/bin/sleep', 'args': ['sleep', '0.3']}], 'poststart': [{'path': '$SCRATCH/ps-hook.sh'}]}"
rc create -b "$SCRATCH/pse" pse >/dev/null 2>&1 </dev/null
rc start pse >/dev/null 2>&1
WHY="comm '$(cat "$SCRATCH/ps-comm" 2>/dev/null)'"; check "oci config: poststart hooks run after the user's process is executed" \
  test "$(cat "$SCRATCH/ps-comm" 2>/dev/null)" = sleep
rc delete --force pse >/dev/null 2>&1

# ---- user namespace (as root) and rootless
chmod 0755 "$SCRATCH"
run_in uns 'c["linux"]["namespaces"].append({"type": "user"}); c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]; c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]' \
  'echo "uid=$(id -u) map=$(cat /proc/self/uid_map | tr -s " ")"; ls /dev/null >/dev/null && echo dev-ok'
WHY="$OUT"; check "oci config: a user namespace with uidMappings/gidMappings (container root is host 200000)" has "uid=0 map= 0 200000 65536"
WHY="$OUT"; check "oci config: devices in a user namespace are the host's nodes, bound" has dev-ok
if command -v setpriv >/dev/null; then
  mkdir -p "$SCRATCH/rl" && chmod 0777 "$SCRATCH/rl"
  ln -s "$ROOTFS" "$SCRATCH/rl/rootfs"
  (cd "$SCRATCH/rl" && as_nobody "$RUNC" spec --rootless) 
  python3 - "$SCRATCH/rl/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo rootless uid=$(id -u) $(cat /proc/self/uid_map | tr -s ' ')"]
json.dump(c, open(sys.argv[1], "w"))
PY
  OUT=$(cd "$SCRATCH/rl" && XDG_RUNTIME_DIR=$SCRATCH/rl as_nobody "$RUNC" run rl1 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci config: rootless: an unprivileged user runs spec --rootless's config" has "rootless uid=0 0 65534 1"
  # CVE-2023-25809 class: spec --rootless binds the host's /sys read-only
  # (rbind); every submount under it (cgroup filesystems, securityfs, ...)
  # is read-only too.  Control: there are submounts to look at.
  sed 's/"args": \[[^]]*\]/"args": ["awk", "$5 ~ \\"^\/sys\/\\" { n++; split($6, o, \\",\\"); if (o[1] != \\"ro\\") w = w \\" \\" $5 } END { print \\"sub=\\" n \\" writable=[\\" w \\"]\\" }", "\/proc\/self\/mountinfo"]/' "$SCRATCH/rl/config.json" >"$SCRATCH/rl/config.sys.json"
  mkdir -p "$SCRATCH/rlsys" && chmod 0777 "$SCRATCH/rlsys" && ln -sf "$ROOTFS" "$SCRATCH/rlsys/rootfs" && cp "$SCRATCH/rl/config.sys.json" "$SCRATCH/rlsys/config.json"
  OUT=$(cd "$SCRATCH/rlsys" && XDG_RUNTIME_DIR=$SCRATCH/rl as_nobody "$RUNC" run rlsys 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci config (hostile): rootless: every submount of the read-only /sys rbind is read-only" \
    bash -c '[[ "$0" == *"writable=[]"* && "$0" != *"sub= "* && "$0" =~ sub=[1-9] ]]' "$OUT"
  check "oci config: rootless: the default root is \$XDG_RUNTIME_DIR/tactus-runc" test -d "$SCRATCH/rl/tactus-runc"
  mkdir -p "$SCRATCH/rl3" && chmod 0777 "$SCRATCH/rl3" && ln -s "$ROOTFS" "$SCRATCH/rl3/rootfs"
  sed 's/"args": \[[^]]*\]/"args": ["sleep", "30"]/' "$SCRATCH/rl/config.json" >"$SCRATCH/rl3/config.json"
  (cd "$SCRATCH/rl3" && XDG_RUNTIME_DIR=$SCRATCH/rl as_nobody "$RUNC" run -d rl3 >/dev/null 2>&1 </dev/null)
  OUT=$(XDG_RUNTIME_DIR=$SCRATCH/rl as_nobody "$RUNC" pause rl3 2>&1); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci config: rootless without a cgroup: pause says why it cannot" has "pause and resume need cgroup v2"
  XDG_RUNTIME_DIR=$SCRATCH/rl as_nobody "$RUNC" delete --force rl3 >/dev/null 2>&1
  make_bundle "$SCRATCH/nouser" 'c["process"]["args"] = ["true"]'
  chmod -R a+rX "$SCRATCH/nouser"
  OUT=$(cd "$SCRATCH/nouser" && XDG_RUNTIME_DIR=$SCRATCH/rl as_nobody "$RUNC" run rl2 2>&1 </dev/null); CODE=$?
  WHY="exit $CODE: $OUT"; check "oci config: rootless without a user namespace is refused clearly" has "rootless containers need a user namespace"
else
  skip "oci config: rootless" "setpriv is missing"
fi
exit 0
