#!/usr/bin/env python3
"""File descriptors the soak runs could leave behind (used by runs.sh).

  soak_fds.py drive REPORT MANY_RUNS ARGS...
      Run tests/lib/many_runs.py ARGS in this process (the driver that
      starts every run), then write to REPORT (JSON) the fds this process
      holds that it did not hold before: {"before", "after", "extra": [...]}.
      Exits with many_runs.py's status.

  soak_fds.py fds PID
      The fds of PID, one "FD TARGET" a line (for a before/after diff;
      "pipe" without its inode).

  soak_fds.py snapshot FILE
      Save the namespaces that exist now (those a process is in, and those
      an open fd holds), to tell afterwards which ones the runs made.

  soak_fds.py check SNAPSHOT TAG PIDFILE UID TR [EXCLUDE_PID...]
      What the runs left, one line each, "KIND: details" (nothing: clean):
        process: pid comm why-ours      a live process we started: its
                 environment has TR_SOAK_TAG=TAG (every process forked
                 from a run inherits it), its session is one of the
                 launchers' (each run starts its own), it is a launcher
                 of PIDFILE, or it runs as UID (sandbox root); "tactus-run"
                 in comm or exe TR makes it a tactus-run process left
        fd: pid comm fd target           an nsfs fd, pidfd or socket held by
                 such a process
        orphan-ns: pid comm fd target    an nsfs fd, held by any process on
                 the host, to a namespace that did not exist before the
                 runs and that no process is in (kept alive only by that fd:
                 what a leaked namespace fd of a run looks like)
        nsfs-mount: target               an nsfs bind mount made since
      EXCLUDE_PID: this test's own shells (never reported).
"""
import json
import os
import runpy
import sys


def fds_of(pid):
    out = {}
    base = "/proc/%s/fd" % pid
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for n in names:
        try:
            out[int(n)] = os.readlink("%s/%s" % (base, n))
        except OSError:
            pass
    return out


def kind(target):
    """nsfs, pidfd, socket or None (files, pipes, ...)."""
    if target.startswith("socket:["):
        return "socket"
    if target == "anon_inode:[pidfd]" or target.startswith("pidfd:"):
        return "pidfd"
    for t in ("net", "pid", "mnt", "user", "ipc", "uts", "cgroup", "time", "pid_for_children",
              "time_for_children"):
        if target.startswith(t + ":["):
            return "nsfs"
    return None


def pids():
    return [d for d in os.listdir("/proc") if d.isdigit()]


def stat_of(pid):
    try:
        s = open("/proc/%s/stat" % pid).read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # state ppid pgrp session ... starttime (field 22 = rest[19])
    return {"comm": s[s.index("(") + 1:s.rindex(")")], "state": rest[0], "sid": rest[3],
            "start": rest[19]}


def live_namespaces():
    """Namespace targets ("net:[N]") some process is in."""
    seen = set()
    for p in pids():
        try:
            for n in os.listdir("/proc/%s/ns" % p):
                seen.add(os.readlink("/proc/%s/ns/%s" % (p, n)))
        except OSError:
            pass
    return seen


def fd_namespaces():
    """(pid, fd, target) of every nsfs fd on the host."""
    out = []
    for p in pids():
        for fd, t in fds_of(p).items():
            if kind(t) == "nsfs":
                out.append((p, fd, t))
    return out


def nsfs_mounts():
    out = set()
    try:
        for line in open("/proc/self/mountinfo"):
            f = line.split()
            sep = f.index("-")
            if f[sep + 1] == "nsfs":
                out.add(f[4])
    except OSError:
        pass
    return out


def cmd_drive(report, many_runs, args):
    before = fds_of("self")
    sys.argv = [many_runs] + args
    code = 0
    try:
        runpy.run_path(many_runs, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    sys.stdout.flush()
    after = fds_of("self")
    extra = ["%d %s" % (fd, t) for fd, t in sorted(after.items())
             if fd not in before or before[fd] != t]
    # The listing's own directory fd shows in both (the same number).
    with open(report, "w") as f:
        json.dump({"before": len(before), "after": len(after), "extra": extra}, f)
    return code


def cmd_snapshot(path):
    ns = live_namespaces() | {t for _, _, t in fd_namespaces()}
    with open(path, "w") as f:
        json.dump({"namespaces": sorted(ns), "nsfs_mounts": sorted(nsfs_mounts())}, f)
    return 0


def cmd_check(snapshot, tag, pidfile, uid, tr, exclude):
    snap = json.load(open(snapshot))
    old_ns = set(snap["namespaces"])
    me = str(os.getpid())
    exclude = set(exclude) | {me}
    launchers = {}
    for line in open(pidfile):
        f = line.split()
        if len(f) == 2:
            launchers[f[0]] = f[1]
    needle = ("TR_SOAK_TAG=%s" % tag).encode()
    tr_real = os.path.realpath(tr)
    out = []
    for p in pids():
        if p in exclude:
            continue
        st = stat_of(p)
        if st is None or st["state"] == "Z":
            continue
        why = []
        try:
            if needle in open("/proc/%s/environ" % p, "rb").read().split(b"\0"):
                why.append("tagged")
        except OSError:
            pass
        if st["sid"] in launchers:
            why.append("session of launcher %s" % st["sid"])
        if launchers.get(p) == st["start"]:
            why.append("launcher")
        try:
            if open("/proc/%s/status" % p).read().split("\nUid:")[1].split()[0] == uid:
                why.append("uid %s" % uid)
        except (OSError, IndexError):
            pass
        if not why:
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % p)
        except OSError:
            exe = ""
        what = "tactus-run process" if ("tactus-run" in st["comm"] or exe == tr_real) else "process"
        out.append("%s: %s %s (%s)" % (what, p, st["comm"], ", ".join(why)))
        for fd, t in sorted(fds_of(p).items()):
            if kind(t):
                out.append("fd: %s %s %d %s" % (p, st["comm"], fd, t))
    live = live_namespaces()
    for p, fd, t in fd_namespaces():
        if t not in old_ns and t not in live and p != me:
            st = stat_of(p) or {"comm": "?"}
            out.append("orphan-ns: %s %s %d %s" % (p, st["comm"], fd, t))
    for m in sorted(nsfs_mounts() - set(snap["nsfs_mounts"])):
        out.append("nsfs-mount: %s" % m)
    for line in out:
        print(line)
    return 0


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "drive":
        return cmd_drive(a[1], a[2], a[3:])
    if len(a) == 2 and a[0] == "fds":
        # A pipe's inode is left out: the shell's $(...) pipe is a new one
        # every time (an extra pipe still shows as an extra line).
        for fd, t in sorted(fds_of(a[1]).items()):
            print(fd, "pipe" if t.startswith("pipe:[") else t)
        return 0
    if len(a) == 2 and a[0] == "snapshot":
        return cmd_snapshot(a[1])
    if len(a) >= 6 and a[0] == "check":
        return cmd_check(a[1], a[2], a[3], a[4], a[5], a[6:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
