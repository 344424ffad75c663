#!/usr/bin/python3
"""Check deploy/ against itself and docs/kubernetes.md (tests/oci/deploy.sh).

    deploy_check.py ROOT     (ROOT: a source tree; prints PASS:/FAIL: lines)

Every manifest in deploy/kubernetes parses, holds only field names the
Kubernetes API has (for the kinds used here), and the names that tie the
pieces together agree: RuntimeClass.handler = containerd's runtime handler
(deploy/node and docs), runtimeClassName = the RuntimeClass, the Job's
Localhost seccomp profile = the file setup.sh installs, the ConfigMap the
Job mounts holds the procedure its command runs.
"""
import difflib
import os
import re
import sys
import tomllib

import yaml

ROOT = sys.argv[1]
FAILS = []


def report(ok, name, why=""):
    print("PASS: %s" % name if ok else "FAIL: %s: %s" % (name, why), flush=True)
    if not ok:
        FAILS.append(name)


# The field names of the API objects used (core/v1, batch/v1, node.k8s.io/v1);
# "*" is a map with free keys.
META = {"name": None, "namespace": None, "labels": "*", "annotations": "*"}
CONTAINER = {
    "name": None, "image": None, "imagePullPolicy": None, "command": None, "args": None,
    "env": None, "workingDir": None,
    "securityContext": {"allowPrivilegeEscalation": None, "runAsNonRoot": None,
                        "runAsUser": None, "runAsGroup": None, "readOnlyRootFilesystem": None,
                        "procMount": None,
                        "capabilities": None, "privileged": None,
                        "seccompProfile": {"type": None, "localhostProfile": None}},
    "resources": {"limits": "*", "requests": "*"},
    "volumeMounts": {"name": None, "mountPath": None, "readOnly": None, "subPath": None},
}
POD_SPEC = {
    "restartPolicy": None, "runtimeClassName": None, "containers": CONTAINER,
    "securityContext": {"seccompProfile": {"type": None, "localhostProfile": None},
                        "runAsNonRoot": None, "runAsUser": None, "runAsGroup": None,
                        "fsGroup": None},
    "volumes": {"name": None, "configMap": {"name": None, "items": None, "defaultMode": None}},
}
SCHEMA = {
    "RuntimeClass": {"apiVersion": None, "kind": None, "metadata": META, "handler": None,
                     "overhead": None, "scheduling": None},
    "ConfigMap": {"apiVersion": None, "kind": None, "metadata": META, "data": "*"},
    "Job": {"apiVersion": None, "kind": None, "metadata": META,
            "spec": {"backoffLimit": None, "ttlSecondsAfterFinished": None,
                     "activeDeadlineSeconds": None, "completions": None, "parallelism": None,
                     "template": {"metadata": META, "spec": POD_SPEC}}},
    "Pod": {"apiVersion": None, "kind": None, "metadata": META, "spec": POD_SPEC},
}
API = {"RuntimeClass": "node.k8s.io/v1", "ConfigMap": "v1", "Job": "batch/v1", "Pod": "v1"}


def walk(node, schema, path, errs):
    if schema is None or schema == "*":
        return
    items = node if isinstance(node, list) else [node]
    for i, item in enumerate(items):
        p = "%s[%d]" % (path, i) if isinstance(node, list) else path
        if not isinstance(item, dict):
            errs.append("%s: an object is expected" % p)
            continue
        for k, v in item.items():
            if k not in schema:
                near = difflib.get_close_matches(k, list(schema), 1)
                errs.append("%s.%s: unknown field%s" % (p, k, " (did you mean %s?)" % near[0] if near else ""))
            else:
                walk(v, schema[k], "%s.%s" % (p, k), errs)


def main():
    kdir = os.path.join(ROOT, "deploy/kubernetes")
    docs = {}
    for fn in sorted(os.listdir(kdir)):
        if not fn.endswith(".yaml"):
            continue
        try:
            with open(os.path.join(kdir, fn)) as f:
                objs = [o for o in yaml.safe_load_all(f) if o is not None]
        except yaml.YAMLError as e:
            report(False, "deploy: %s parses" % fn, str(e).replace("\n", " "))
            continue
        for o in objs:
            kind = o.get("kind")
            name = "deploy: %s: %s %s" % (fn, kind, o.get("metadata", {}).get("name"))
            errs = []
            if kind not in SCHEMA:
                errs.append("kind %r is not one the deploy manifests use" % kind)
            else:
                if o.get("apiVersion") != API[kind]:
                    errs.append("apiVersion %r (want %s)" % (o.get("apiVersion"), API[kind]))
                walk(o, SCHEMA[kind], kind, errs)
            report(not errs, name + " has only known field names", "; ".join(errs))
            docs.setdefault(kind, []).append(o)

    with open(os.path.join(ROOT, "deploy/node/containerd-tactus.toml"), "rb") as f:
        node = tomllib.load(f)
    runtimes = node["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    handlers = list(runtimes)
    doc_text = open(os.path.join(ROOT, "docs/kubernetes.md")).read()
    m = re.search(r"```toml\n(.*?)```", doc_text, re.S)
    doc_handlers = list(tomllib.loads(m.group(1))["plugins"]["io.containerd.grpc.v1.cri"]
                        ["containerd"]["runtimes"]) if m else []
    rc = docs.get("RuntimeClass", [{}])[0]
    report(handlers == [rc.get("handler")] and doc_handlers == handlers,
           "deploy: RuntimeClass.handler '%s' = the containerd handler in deploy/node and docs"
           % rc.get("handler"), "node %s, docs %s" % (handlers, doc_handlers))
    opts = runtimes.get(rc.get("handler"), {}).get("options", {})
    setup = open(os.path.join(ROOT, "deploy/node/setup.sh")).read()
    report(opts.get("BinaryName") == "/usr/local/bin/tactus-runc"
           and "ln -sf tactus-run /usr/local/bin/tactus-runc" in setup,
           "deploy: BinaryName is where setup.sh puts tactus-runc", opts.get("BinaryName"))
    for pod in docs.get("Pod", []):
        rcn = pod["spec"].get("runtimeClassName")
        report(rcn == rc.get("metadata", {}).get("name"),
               "deploy: pod %s asks for the RuntimeClass '%s'" % (pod["metadata"]["name"], rcn), rcn)
    for job in docs.get("Job", []):
        spec = job["spec"]["template"]["spec"]
        sp = spec.get("securityContext", {}).get("seccompProfile", {})
        prof = sp.get("localhostProfile", "")
        report(sp.get("type") == "Localhost" and prof
               and os.path.exists(os.path.join(ROOT, "deploy/seccomp", prof))
               and "/var/lib/kubelet/seccomp/%s" % prof in setup,
               "deploy: job %s uses the Localhost profile setup.sh installs (%s)"
               % (job["metadata"]["name"], prof), sp)
        c = spec["containers"][0]
        mounts = {v["name"]: v["mountPath"] for v in c.get("volumeMounts", [])}
        cms = {v["name"]: v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
        ok = False
        for vol, cm in cms.items():
            data = [d for d in docs.get("ConfigMap", []) if d["metadata"]["name"] == cm]
            for key in (data[0].get("data", {}) if data else {}):
                if os.path.join(mounts.get(vol, "/nonexistent"), key) in c["command"]:
                    ok = True
        report(ok, "deploy: job %s runs a procedure from the ConfigMap it mounts" % job["metadata"]["name"],
               c["command"])
    sys.exit(1 if FAILS else 0)


main()
