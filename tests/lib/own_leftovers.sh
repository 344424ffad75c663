# What a test's own runs could have left on the host, counted so that other
# sandboxes running at the same time (other sessions, other lanes) never
# change the answer.  Source it (after tests/lib.sh).
#
# PIDFILE lines are "PID STARTTIME" (STARTTIME: field 22 of /proc/PID/stat,
# so a reused pid is never mistaken for one of ours); tests/lib/many_runs.py
# writes them, record_pid adds one.
#
#   record_pid PID PIDFILE       append PID (alive now) to PIDFILE
#   cg2_mount                    the cgroup2 mount point, found by fstype in
#                                /proc/self/mountinfo (cgroup v1 is never looked at)
#   own_cgroups PIDFILE          run cgroups tactus-run-<pid>-* whose launcher is
#                                in PIDFILE and gone: nobody will ever remove
#                                them.  Read-only.
#   own_live PIDFILE             "pid comm" of PIDFILE's processes still alive
#   descendants PID              "pid comm" of every live descendant of PID
#                                (the helper itself excluded)
#   uid_procs UID...             "pid cmdline" of every live (not zombie) process
#                                of these uids
#   uid_namespaces TYPE UID...   "NS UID" of namespaces of TYPE (lsns: those a
#                                process holds) owned by these uids
#   mount_snapshot FILE          save the host's mount points
#   new_cage_mounts FILE [DIR]   mounts that appeared since the snapshot where a
#                                cage's mounts would show if they leaked (/,
#                                /tmp, /mnt, /run, /dev, /proc, /workspace) or
#                                under DIR
#   fd_count PID                 open fds of PID
#   vmrss_kb PID                 VmRSS of PID in kB
#   kill_own PID STARTTIME       SIGKILL it if it is still that process
#   kill_all_own PIDFILE         kill_own every process in PIDFILE

starttime_of() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

record_pid() { echo "$1 $(starttime_of "$1")" >>"$2"; }

cg2_mount() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
    /proc/self/mountinfo
}

own_live() {
  [ -s "$1" ] || return 0
  python3 - "$1" <<'EOF'
import sys
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 2:
        continue
    try:
        s = open("/proc/%s/stat" % f[0]).read()
    except OSError:
        continue
    if s[s.rindex(")") + 2:].split()[19] == f[1]:
        print(f[0], s[s.index("(") + 1:s.rindex(")")])
EOF
}

own_cgroups() {
  local pidfile="$1" root d pid st
  root=$(cg2_mount)
  [ -n "$root" ] && [ -s "$pidfile" ] || return 0
  find "$root" -maxdepth 4 -type d -name 'tactus-run-*' 2>/dev/null | while read -r d; do
    pid=${d##*/tactus-run-}
    pid=${pid%%-*}
    st=$(awk -v p="$pid" '$1 == p { print $2; exit }' "$pidfile")
    [ -n "$st" ] || continue
    # Still running: its launcher will remove it.
    [ "$(starttime_of "$pid")" = "$st" ] && continue
    echo "$d"
  done
}

descendants() {
  python3 - "$1" <<'EOF'
import os, sys
top = int(sys.argv[1])
ppid, comm = {}, {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            s = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        comm[int(d)] = s[s.index("(") + 1:s.rindex(")")]
        ppid[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
me, mine = os.getpid(), set()
p = me
while p in ppid and p != top:  # the helper and the shells between it and TOP
    mine.add(p)
    p = ppid[p]
for pid in sorted(ppid):
    p = pid
    while p in ppid and p not in (top, 0, 1):
        p = ppid[p]
    if p == top and pid != top and pid not in mine:
        print(pid, comm[pid])
EOF
}

uid_procs() {
  local uids pid rest
  uids=$(IFS=,; echo "$*")
  # Zombies have exited: only their reaper (maybe not ours) is late.
  pgrep -a -U "$uids" 2>/dev/null | while read -r pid rest; do
    [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid $rest"
  done
}

uid_namespaces() {
  local type="$1"
  shift
  lsns -t "$type" -n -o NS,UID 2>/dev/null | awk -v list=" $* " 'index(list, " " $2 " ") > 0'
}

mount_snapshot() { awk '{ print $5 }' /proc/self/mountinfo | sort >"$1"; }

new_cage_mounts() {
  local snap="$1" dir="${2:-/nonexistent}"
  awk '{ print $5 }' /proc/self/mountinfo | sort | comm -13 "$snap" - \
    | awk -v d="$dir" '$0 == "/" || $0 == "/tmp" || $0 == "/mnt" || $0 == "/run" || $0 == "/dev" \
                        || $0 == "/proc" || $0 == "/workspace" || index($0, d) == 1'
}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

vmrss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# uid_of PID: the real uid of PID ("" when gone).
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# sandbox_pid1 LAUNCHER UID: the launcher's child once it runs as UID on
# the host (the cage's PID 1, after its uid map and setresuid); waits up to
# 5 s; prints nothing if none.
sandbox_pid1() {
  local c i
  for ((i = 0; i < 250; i++)); do
    for c in $(pgrep -P "$1" 2>/dev/null); do
      [ "$(uid_of "$c")" = "$2" ] && { echo "$c"; return 0; }
    done
    sleep 0.02
  done
}

# proc_gone PID STARTTIME [SECONDS]: wait (default 5 s) until that process
# has exited (gone, or a zombie waiting for its reaper); status 0 if so.
proc_gone() {
  local pid="$1" st="$2" n=$((${3:-5} * 20)) i
  for ((i = 0; i < n; i++)); do
    [ "$(starttime_of "$pid")" = "$st" ] || return 0
    [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.05
  done
  return 1
}

# kill_own PID STARTTIME: SIGKILL that process if it is still the one we
# started (same start time).
kill_own() { [ -n "$1" ] && [ "$(starttime_of "$1")" = "$2" ] && kill -KILL "$1" 2>/dev/null; return 0; }

# kill_all_own PIDFILE: kill_own every process recorded in PIDFILE.
kill_all_own() {
  local pid st
  [ -s "$1" ] || return 0
  while read -r pid st; do kill_own "$pid" "$st"; done <"$1"
}

# run_cgroups_of PID: the run cgroups named after launcher PID (read-only).
run_cgroups_of() {
  local root
  root=$(cg2_mount)
  [ -n "$root" ] && find "$root" -maxdepth 4 -type d -name "tactus-run-$1-*" 2>/dev/null
  return 0
}
