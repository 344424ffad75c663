#!/usr/bin/python3
"""A minimal CRI v1 client for the VM lane (crictl is not packaged in Debian).

Only the messages and fields the lane uses are declared, with the names and
field numbers of the public CRI v1 definition (package runtime.v1,
kubernetes/cri-api api.proto); proto3 ignores what a response carries
beyond them.  The descriptors are built here with descriptor_pb2, so no
protoc and no generated code: python3-protobuf and python3-grpcio only.
Enums are declared as int32 (the same varint on the wire).

    cri.py SOCKET lifecycle HANDLER DRIVER IMAGE PAUSE_CGROUP_PARENT SECCOMP_JSON

runs what kubelet does for one pod and prints PASS:/FAIL: lines.
"""
import json
import os
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "string": F.TYPE_STRING, "bytes": F.TYPE_BYTES, "bool": F.TYPE_BOOL,
    "int32": F.TYPE_INT32, "int64": F.TYPE_INT64, "uint32": F.TYPE_UINT32,
}

# message -> [(field, number, type, repeated)]; "map" is map<string,string>.
SCHEMA = {
    "VersionRequest": [("version", 1, "string", False)],
    "VersionResponse": [("version", 1, "string", False), ("runtime_name", 2, "string", False),
                        ("runtime_version", 3, "string", False),
                        ("runtime_api_version", 4, "string", False)],
    "PodSandboxMetadata": [("name", 1, "string", False), ("uid", 2, "string", False),
                           ("namespace", 3, "string", False), ("attempt", 4, "uint32", False)],
    "NamespaceOption": [("network", 1, "int32", False), ("pid", 2, "int32", False),
                        ("ipc", 3, "int32", False)],
    "LinuxSandboxSecurityContext": [("namespace_options", 1, "NamespaceOption", False)],
    "LinuxPodSandboxConfig": [("cgroup_parent", 1, "string", False),
                              ("security_context", 2, "LinuxSandboxSecurityContext", False)],
    "PodSandboxConfig": [("metadata", 1, "PodSandboxMetadata", False),
                         ("hostname", 2, "string", False), ("log_directory", 3, "string", False),
                         ("linux", 8, "LinuxPodSandboxConfig", False)],
    "RunPodSandboxRequest": [("config", 1, "PodSandboxConfig", False),
                             ("runtime_handler", 2, "string", False)],
    "RunPodSandboxResponse": [("pod_sandbox_id", 1, "string", False)],
    "PodSandboxIdRequest": [("pod_sandbox_id", 1, "string", False)],
    "PodSandboxStatus": [("id", 1, "string", False), ("state", 3, "int32", False),
                         ("runtime_handler", 9, "string", False)],
    "PodSandboxStatusResponse": [("status", 1, "PodSandboxStatus", False),
                                 ("info", 2, "map", False)],
    "PodSandboxStatusRequest": [("pod_sandbox_id", 1, "string", False),
                                ("verbose", 2, "bool", False)],
    "Empty": [],
    "ImageSpec": [("image", 1, "string", False)],
    "KeyValue": [("key", 1, "string", False), ("value", 2, "string", False)],
    "LinuxContainerResources": [("cpu_period", 1, "int64", False), ("cpu_quota", 2, "int64", False),
                                ("cpu_shares", 3, "int64", False),
                                ("memory_limit_in_bytes", 4, "int64", False)],
    "SecurityProfile": [("profile_type", 1, "int32", False), ("localhost_ref", 2, "string", False)],
    "LinuxContainerSecurityContext": [("namespace_options", 3, "NamespaceOption", False),
                                      ("seccomp", 15, "SecurityProfile", False)],
    "LinuxContainerConfig": [("resources", 1, "LinuxContainerResources", False),
                             ("security_context", 2, "LinuxContainerSecurityContext", False)],
    "ContainerMetadata": [("name", 1, "string", False), ("attempt", 2, "uint32", False)],
    "ContainerConfig": [("metadata", 1, "ContainerMetadata", False), ("image", 2, "ImageSpec", False),
                        ("command", 3, "string", True), ("args", 4, "string", True),
                        ("envs", 6, "KeyValue", True), ("log_path", 11, "string", False),
                        ("linux", 15, "LinuxContainerConfig", False)],
    "CreateContainerRequest": [("pod_sandbox_id", 1, "string", False),
                               ("config", 2, "ContainerConfig", False),
                               ("sandbox_config", 3, "PodSandboxConfig", False)],
    "CreateContainerResponse": [("container_id", 1, "string", False)],
    "ContainerIdRequest": [("container_id", 1, "string", False)],
    "StopContainerRequest": [("container_id", 1, "string", False), ("timeout", 2, "int64", False)],
    "ContainerStatusRequest": [("container_id", 1, "string", False), ("verbose", 2, "bool", False)],
    "ContainerStatus": [("id", 1, "string", False), ("state", 3, "int32", False),
                        ("exit_code", 7, "int32", False), ("reason", 10, "string", False)],
    "ContainerStatusResponse": [("status", 1, "ContainerStatus", False), ("info", 2, "map", False)],
    "ContainerFilter": [("id", 1, "string", False), ("pod_sandbox_id", 3, "string", False)],
    "ListContainersRequest": [("filter", 1, "ContainerFilter", False)],
    "Container": [("id", 1, "string", False), ("pod_sandbox_id", 2, "string", False),
                  ("state", 6, "int32", False)],
    "ListContainersResponse": [("containers", 1, "Container", True)],
    "UpdateContainerResourcesRequest": [("container_id", 1, "string", False),
                                        ("linux", 2, "LinuxContainerResources", False)],
    "ExecSyncRequest": [("container_id", 1, "string", False), ("cmd", 2, "string", True),
                        ("timeout", 3, "int64", False)],
    "ExecSyncResponse": [("stdout", 1, "bytes", False), ("stderr", 2, "bytes", False),
                         ("exit_code", 3, "int32", False)],
}

# RPC -> (request, response); requests with one id field share a message
# (the wire format only knows numbers).
RPCS = {
    "Version": ("VersionRequest", "VersionResponse"),
    "RunPodSandbox": ("RunPodSandboxRequest", "RunPodSandboxResponse"),
    "PodSandboxStatus": ("PodSandboxStatusRequest", "PodSandboxStatusResponse"),
    "StopPodSandbox": ("PodSandboxIdRequest", "Empty"),
    "RemovePodSandbox": ("PodSandboxIdRequest", "Empty"),
    "CreateContainer": ("CreateContainerRequest", "CreateContainerResponse"),
    "StartContainer": ("ContainerIdRequest", "Empty"),
    "StopContainer": ("StopContainerRequest", "Empty"),
    "RemoveContainer": ("ContainerIdRequest", "Empty"),
    "ContainerStatus": ("ContainerStatusRequest", "ContainerStatusResponse"),
    "ListContainers": ("ListContainersRequest", "ListContainersResponse"),
    "UpdateContainerResources": ("UpdateContainerResourcesRequest", "Empty"),
    "ExecSync": ("ExecSyncRequest", "ExecSyncResponse"),
}


def build_messages():
    fdp = descriptor_pb2.FileDescriptorProto(name="tactus_cri_v1.proto", package="runtime.v1",
                                             syntax="proto3")
    for mname, fields in SCHEMA.items():
        m = fdp.message_type.add(name=mname)
        for fname, num, ftype, rep in fields:
            f = m.field.add(name=fname, number=num)
            if ftype == "map":
                entry = m.nested_type.add(name=fname.capitalize() + "Entry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
                entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
                f.type = F.TYPE_MESSAGE
                f.type_name = ".runtime.v1.%s.%s" % (mname, entry.name)
                f.label = F.LABEL_REPEATED
                continue
            if ftype in SCALARS:
                f.type = SCALARS[ftype]
            else:
                f.type = F.TYPE_MESSAGE
                f.type_name = ".runtime.v1." + ftype
            f.label = F.LABEL_REPEATED if rep else F.LABEL_OPTIONAL
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    out = {}
    for mname in SCHEMA:
        d = pool.FindMessageTypeByName("runtime.v1." + mname)
        if hasattr(message_factory, "GetMessageClass"):
            out[mname] = message_factory.GetMessageClass(d)
        else:
            out[mname] = message_factory.MessageFactory(pool).GetPrototype(d)
    return out


M = build_messages()


class Runtime:
    def __init__(self, socket):
        self.ch = grpc.insecure_channel("unix://" + socket)
        self.calls = []

    def call(self, rpc, deadline=120, **fields):
        # (The gRPC deadline is not called timeout: StopContainer and
        # ExecSync have a field of that name.)
        req_t, resp_t = RPCS[rpc]
        stub = self.ch.unary_unary("/runtime.v1.RuntimeService/" + rpc,
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=M[resp_t].FromString)
        self.calls.append(rpc)
        return stub(M[req_t](**fields), timeout=deadline)


RESULTS = {"fail": 0}


def report(ok, name, why=""):
    if ok:
        print("PASS: %s" % name, flush=True)
    else:
        RESULTS["fail"] += 1
        print("FAIL: %s: %s" % (name, str(why).replace("\n", "|")[:400]), flush=True)
    return ok


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "(%s)" % e.strerror


def cgroup_of(pid):
    for line in read("/proc/%d/cgroup" % pid).splitlines():
        if line.startswith("0::"):
            return "/sys/fs/cgroup" + line[3:]
    return None


def lifecycle(rt, handler, driver, image, cgroup_parent, seccomp):
    tag = "vm cri (%s driver)" % driver
    v = rt.call("Version", version="v1")
    report(v.runtime_name == "containerd", "%s: Version: %s %s, CRI %s" %
           (tag, v.runtime_name, v.runtime_version, v.runtime_api_version), v)
    uid = "uid-%s-%d" % (driver, os.getpid())
    node = M["NamespaceOption"](network=2)  # NODE: no CNI in the lane
    sbc = M["PodSandboxConfig"](
        metadata=M["PodSandboxMetadata"](name="tactus-pod", uid=uid, namespace="default"),
        log_directory="/var/log/pods/" + uid,
        linux=M["LinuxPodSandboxConfig"](
            cgroup_parent=cgroup_parent,
            security_context=M["LinuxSandboxSecurityContext"](namespace_options=node)))
    os.makedirs("/var/log/pods/" + uid, exist_ok=True)
    try:
        pod = rt.call("RunPodSandbox", config=sbc, runtime_handler=handler).pod_sandbox_id
        report(True, "%s: RunPodSandbox with runtime_handler %s" % (tag, handler))
    except grpc.RpcError as e:
        report(False, "%s: RunPodSandbox with runtime_handler %s" % (tag, handler), e.details())
        return
    st = rt.call("PodSandboxStatus", pod_sandbox_id=pod, verbose=True)
    info = json.loads(st.info.get("info", "{}"))
    report(st.status.state == 0 and st.status.runtime_handler == handler,
           "%s: PodSandboxStatus: ready, handler %s" % (tag, handler),
           "state %d handler %r" % (st.status.state, st.status.runtime_handler))
    sandbox_pid = info.get("pid", 0)
    runtime_opts = json.dumps(info.get("runtimeOptions", {}))
    report("tactus-runc" in runtime_opts and sandbox_pid > 0,
           "%s: the pause container runs under tactus-runc (pid %s)" % (tag, sandbox_pid),
           runtime_opts)

    mem = 64 << 20
    ccfg = M["ContainerConfig"](
        metadata=M["ContainerMetadata"](name="work"), image=M["ImageSpec"](image=image),
        command=["/bin/sh", "-c", "echo started; trap 'exit 0' TERM; while :; do sleep 1; done"],
        log_path="work.log",
        linux=M["LinuxContainerConfig"](
            resources=M["LinuxContainerResources"](memory_limit_in_bytes=mem, cpu_period=100000,
                                                   cpu_quota=20000, cpu_shares=512),
            security_context=M["LinuxContainerSecurityContext"](
                namespace_options=M["NamespaceOption"](network=2, pid=1),
                seccomp=M["SecurityProfile"](profile_type=2, localhost_ref=seccomp))))
    try:
        cid = rt.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                      sandbox_config=sbc).container_id
        report(True, "%s: CreateContainer with memory, CPU and a Localhost seccomp profile" % tag)
        rt.call("StartContainer", container_id=cid)
        report(True, "%s: StartContainer" % tag)
    except grpc.RpcError as e:
        report(False, "%s: CreateContainer/StartContainer" % tag, e.details())
        cid = None
    if cid:
        st = rt.call("ContainerStatus", container_id=cid, verbose=True)
        cinfo = json.loads(st.info.get("info", "{}"))
        pid = cinfo.get("pid", 0)
        report(st.status.state == 1, "%s: ContainerStatus: RUNNING" % tag, st.status)
        lst = rt.call("ListContainers", filter=M["ContainerFilter"](pod_sandbox_id=pod))
        report([c.id for c in lst.containers] == [cid] and lst.containers[0].state == 1,
               "%s: ListContainers lists it, running" % tag, lst)
        cg = cgroup_of(pid) if pid else None
        want_cg = ("/cri-containerd-%s.scope" % cid) if driver == "systemd" else ("/" + cid)
        report(cg is not None and cg.endswith(want_cg),
               "%s: the container's cgroup is %s" % (tag, cg), "pid %s cgroup %s" % (pid, cg))
        if cg:
            got = (read(cg + "/memory.max"), read(cg + "/cpu.max"), read(cg + "/cpu.weight"))
            report(got == (str(mem), "20000 100000", "20"),
                   "%s: memory.max, cpu.max, cpu.weight from CreateContainer (%s)" % (tag, got), got)
        r = rt.call("ExecSync", container_id=cid, cmd=["/bin/sh", "-c", "echo exec-ok; exit 3"],
                    timeout=30)
        report(r.exit_code == 3 and r.stdout == b"exec-ok\n",
               "%s: ExecSync (output and exit code 3)" % tag, r)
        r = rt.call("ExecSync", container_id=cid, cmd=["/bin/mkdir", "/tmp/denied"], timeout=30)
        report(r.exit_code != 0 and b"Operation not permitted" in r.stderr,
               "%s: the Localhost seccomp profile is in force (mkdir: EPERM)" % tag, r)
        r = rt.call("ExecSync", container_id=cid, cmd=["/bin/touch", "/tmp/allowed"], timeout=30)
        report(r.exit_code == 0, "%s: a call the profile allows works (positive control)" % tag, r)
        try:
            rt.call("UpdateContainerResources", container_id=cid,
                    linux=M["LinuxContainerResources"](memory_limit_in_bytes=128 << 20,
                                                       cpu_period=100000, cpu_quota=50000))
            got = (read(cg + "/memory.max"), read(cg + "/cpu.max")) if cg else None
            report(got == (str(128 << 20), "50000 100000"),
                   "%s: UpdateContainerResources -> memory.max, cpu.max (%s)" % (tag, got), got)
            if driver == "systemd":
                unit = "cri-containerd-%s.scope" % cid
                out = os.popen("systemctl show -p MemoryMax -p Delegate %s" % unit).read()
                report("MemoryMax=%d" % (128 << 20) in out and "Delegate=yes" in out,
                       "%s: the scope unit has Delegate=yes and the updated MemoryMax" % tag, out)
        except grpc.RpcError as e:
            report(False, "%s: UpdateContainerResources" % tag, e.details())
        sig = rt.call("ExecSync", container_id=cid,
                      cmd=["/bin/sh", "-c", "grep -E '^Sig(Blk|Ign|Cgt)' /proc/1/status"],
                      timeout=30).stdout.decode(errors="replace").replace("\n", " ")
        try:
            rt.call("StopContainer", container_id=cid, timeout=10)
            st = rt.call("ContainerStatus", container_id=cid)
            report(st.status.state == 2 and st.status.exit_code == 0,
                   "%s: StopContainer (grace period 10 s): the init's SIGTERM trap ran, EXITED 0"
                   % tag, "%s; init's signal masks before: %s" % (st.status, sig.strip()))
            rt.call("RemoveContainer", container_id=cid)
            lst = rt.call("ListContainers", filter=M["ContainerFilter"](pod_sandbox_id=pod))
            report(len(lst.containers) == 0, "%s: RemoveContainer: no container listed" % tag, lst)
            report(cg is None or not os.path.exists(cg),
                   "%s: the container's cgroup is gone" % tag, cg)
        except grpc.RpcError as e:
            report(False, "%s: StopContainer/RemoveContainer" % tag, e.details())
    sandbox_cg = cgroup_of(sandbox_pid) if sandbox_pid else None
    try:
        rt.call("StopPodSandbox", pod_sandbox_id=pod)
        report(True, "%s: StopPodSandbox" % tag)
        rt.call("RemovePodSandbox", pod_sandbox_id=pod)
        report(True, "%s: RemovePodSandbox" % tag)
    except grpc.RpcError as e:
        report(False, "%s: StopPodSandbox/RemovePodSandbox" % tag, e.details())
    time.sleep(0.5)
    left = os.listdir("/run/containerd/tactus-runc/k8s.io") \
        if os.path.isdir("/run/containerd/tactus-runc/k8s.io") else []
    report(not left, "%s: no tactus-runc state is left" % tag, left)
    report(sandbox_cg is None or not os.path.exists(sandbox_cg),
           "%s: the pause container's cgroup is gone (%s)" % (tag, sandbox_cg), sandbox_cg)
    report(sandbox_pid and not os.path.exists("/proc/%d" % sandbox_pid),
           "%s: the pause process is gone" % tag, sandbox_pid)
    print("cri calls exercised (%s): %s" % (driver, " ".join(sorted(set(rt.calls)))), flush=True)


def main():
    if len(sys.argv) != 8 or sys.argv[2] != "lifecycle":
        sys.exit(__doc__)
    sock, _, handler, driver, image, parent, seccomp = sys.argv[1:]
    rt = Runtime(sock)
    try:
        lifecycle(rt, handler, driver, image, parent, seccomp)
    except grpc.RpcError as e:
        report(False, "vm cri (%s driver): a CRI call failed" % driver,
               "%s: %s" % (e.code(), e.details()))
    sys.exit(1 if RESULTS["fail"] else 0)


if __name__ == "__main__":
    main()
