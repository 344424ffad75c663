#!/usr/bin/python3
"""Regenerate deploy/seccomp/tactus-run.json: the container default seccomp
profile (containers-common's, /usr/share/containers/seccomp.json as Debian
ships it) plus one rule: the namespace, mount and host-name calls
tactus-run's nested cage makes, allowed whatever the container's
capabilities (the defaults allow some of them only with CAP_SYS_ADMIN; the
default's capability-conditioned rules for exactly these calls are
dropped, nothing else changes).

    deploy/seccomp/gen.py [BASE.json] > deploy/seccomp/tactus-run.json
"""
import json
import sys

# What the cage needs beyond an ordinary container process: a user
# namespace and the others inside it (unshare/clone/clone3 with CLONE_NEW*),
# its private mounts and pivot_root, joining its own namespaces (setns),
# the new mount API the sandbox uses where the kernel has it, and the
# cage's own host name (sethostname in its UTS namespace).
NESTED_CAGE = ["clone", "clone3", "unshare", "setns", "mount", "umount2", "pivot_root",
               "mount_setattr", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
               "sethostname", "setdomainname"]


def main():
    base_path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
    with open(base_path) as f:
        profile = json.load(f)
    # The default's own rules for these calls (allowed only with
    # CAP_SYS_ADMIN, refused without) would contradict ours: they go.
    kept = []
    for rule in profile["syscalls"]:
        if rule.get("includes") or rule.get("excludes"):
            rule["names"] = [n for n in rule["names"] if n not in NESTED_CAGE]
            if not rule["names"]:
                continue
        kept.append(rule)
    profile["syscalls"] = kept
    profile["syscalls"].append({
        "names": NESTED_CAGE,
        "action": "SCMP_ACT_ALLOW",
        "args": [],
        "comment": "tactus-run: the nested cage (user, pid, mount, net, ipc, uts, cgroup "
                   "namespaces; its own mounts)",
        "includes": {},
        "excludes": {},
    })
    json.dump(profile, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
