#!/usr/bin/env python3
"""Run `tactus-run run FILE --json --param i=N` many times, P at a time.

usage: many_runs.py TR FILE RUNS PARALLEL PIDFILE [EXTRA ARGS...]

Each run gets --param i=<its number> and must exit 0 with a last stdout line
{"event_type": "result", "status": "success", "result": {"ok": true, "i": N}}
(the procedure returns its own i, so a result cannot come from another run).
The pid of every launcher is appended to PIDFILE ("PID STARTTIME" a line,
STARTTIME from /proc/PID/stat), so the caller can tell its own launchers
and their run cgroups (tactus-run-<pid>-*) apart from other sandboxes on
the host.  Runs start in the current directory,
with stdin /dev/null, and no TTY.

Prints one JSON line: {"runs", "ok", "failed", "seconds", "runs_per_s",
"first_failures": [...]}.  Exit status 0 when every run succeeded.
"""
import json
import os
import subprocess
import sys
import threading
import time

tr, file, runs, parallel, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
extra = sys.argv[6:]

lock = threading.Lock()
state = {"next": 0, "ok": 0, "failed": 0, "failures": []}
pids = open(pidfile, "a", buffering=1)


def starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def check(i, rc, out, err):
    lines = [l for l in out.splitlines() if l.strip()]
    try:
        r = json.loads(lines[-1])
    except (IndexError, ValueError):
        r = None
    good = (rc == 0 and isinstance(r, dict) and r.get("event_type") == "result"
            and r.get("status") == "success" and r.get("result") == {"ok": True, "i": i})
    if good:
        return None
    return "run %d: exit %d, last line %r, stderr %r" % (i, rc, lines[-1][:200] if lines else "",
                                                           err.strip()[-300:])


def worker():
    while True:
        with lock:
            i = state["next"]
            if i >= runs:
                return
            state["next"] += 1
        p = subprocess.Popen([tr, "run", file, "--json", "--param", "i=%d" % i] + extra,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        with lock:
            pids.write("%d %s\n" % (p.pid, starttime(p.pid)))
        out, err = p.communicate()
        why = check(i, p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
        with lock:
            if why is None:
                state["ok"] += 1
            else:
                state["failed"] += 1
                if len(state["failures"]) < 3:
                    state["failures"].append(why)


t0 = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(parallel)]
for t in threads:
    t.start()
for t in threads:
    t.join()
secs = time.monotonic() - t0
pids.close()
print(json.dumps({"runs": runs, "ok": state["ok"], "failed": state["failed"], "seconds": round(secs, 2),
                  "runs_per_s": round(runs / secs, 1) if secs > 0 else 0,
                  "first_failures": state["failures"]}))
sys.exit(0 if state["failed"] == 0 and state["ok"] == runs else 1)
