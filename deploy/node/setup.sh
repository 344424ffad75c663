#!/bin/sh
# Prepare a Kubernetes node for tactus (run as root on the node):
#   1. tactus-run in /usr/local/bin and the tactus-runc link beside it;
#   2. the seccomp profile for tactus-run inside containers, where the
#      kubelet finds Localhost profiles (/var/lib/kubelet/seccomp);
#   3. containerd's "tactus" runtime handler (SystemdCgroup from the
#      kubelet's cgroupDriver), then a containerd restart.
#
#   deploy/node/setup.sh TACTUS-RUN-BINARY [systemd|cgroupfs]
set -eu
bin=${1:?usage: setup.sh TACTUS-RUN-BINARY [systemd|cgroupfs]}
driver=${2:-systemd}
here=$(cd "$(dirname "$0")" && pwd)
case "$driver" in
  systemd) sd=true ;;
  cgroupfs) sd=false ;;
  *) echo "setup.sh: the cgroup driver is systemd or cgroupfs (the kubelet's cgroupDriver), not '$driver'" >&2; exit 2 ;;
esac
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] \
  || { echo "setup.sh: /sys/fs/cgroup is not cgroup v2; tactus-runc needs a unified cgroup v2 node" >&2; exit 1; }
install -m 0755 "$bin" /usr/local/bin/tactus-run
ln -sf tactus-run /usr/local/bin/tactus-runc
install -d -m 0755 /var/lib/kubelet/seccomp
install -m 0644 "$here/../seccomp/tactus-run.json" /var/lib/kubelet/seccomp/tactus-run.json
cfg=/etc/containerd/config.toml
[ -s "$cfg" ] || containerd config default >"$cfg"
if ! grep -q 'containerd.runtimes.tactus\]' "$cfg"; then
  sed "s/SystemdCgroup = true/SystemdCgroup = $sd/" "$here/containerd-tactus.toml" >>"$cfg"
fi
systemctl restart containerd
echo "node ready: RuntimeClass handler 'tactus' (SystemdCgroup = $sd), seccomp profile localhost/tactus-run.json"
