#!/usr/bin/python3
"""mkimage.py ROOTFS NAME OUT.tar ENTRYPOINT-JSON: a one-layer image in the
Docker archive format (what `ctr images import` reads), built from ROOTFS,
so that the VM lane needs no registry."""
import hashlib
import io
import json
import sys
import tarfile

rootfs, name, out, entry = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    t.add(rootfs, arcname=".")
layer = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": entry, "Env": ["PATH=/bin"], "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
}).encode()
cfg_name = hashlib.sha256(config).hexdigest() + ".json"
manifest = json.dumps([{"Config": cfg_name, "RepoTags": [name],
                        "Layers": ["layer/layer.tar"]}]).encode()
with tarfile.open(out, "w") as t:
    for n, data in (("layer/layer.tar", layer), (cfg_name, config), ("manifest.json", manifest)):
        info = tarfile.TarInfo(n)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
