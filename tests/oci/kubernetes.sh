#!/usr/bin/env bash
# OCI lane: docs/kubernetes.md's containerd config is loaded by containerd
# itself (`containerd --config FILE config dump`, run as nobody, parses and
# prints the merged config without starting a daemon), the handler it registers has
# BinaryName = tactus-runc, and the RuntimeClass names that handler.
source "$TESTS_DIR/lib.sh"
DOC="$TESTS_DIR/../docs/kubernetes.md"
command -v containerd >/dev/null || { skip "oci kubernetes: containerd config dump" "containerd is not installed (apt-get install containerd)"; exit 0; }
command -v setpriv >/dev/null || { skip "oci kubernetes: containerd config dump" "setpriv is missing (containerd is never run as root here)"; exit 0; }
tmp=$(mktemp -d)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
# The first ```toml block and the first ```yaml block.
awk '/^```toml$/ { f = 1; next } /^```$/ { if (f) exit } f' "$DOC" >"$tmp/config.toml"
awk '/^```yaml$/ { f = 1; next } /^```$/ { if (f) exit } f' "$DOC" >"$tmp/runtimeclass.yaml"
if [ ! -s "$tmp/config.toml" ]; then fail "oci kubernetes: docs/kubernetes.md has a toml block" ""; exit 0; fi
# Only the config is read, and as nobody: containerd never runs as root on
# the host (the VM lane runs the daemon).
chmod 0644 "$tmp/config.toml"
out=$(cd "$tmp" && as_nobody containerd --config "$tmp/config.toml" config dump 2>&1); code=$?
if [ "$code" = 0 ]; then pass "oci kubernetes: containerd config dump loads the documented config"
else fail "oci kubernetes: containerd config dump loads the documented config" "exit $code: $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
handler=$(echo "$out" | sed -n 's/^ *\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.\([A-Za-z0-9_-]*\)\.options\]$/\1/p' | grep -v '^runc$' | head -1)
if [ -n "$handler" ] && echo "$out" | grep -A40 "runtimes.$handler.options\]" | grep -q 'BinaryName = "/usr/local/bin/tactus-runc"'; then
  pass "oci kubernetes: containerd registers handler '$handler' with BinaryName tactus-runc"
else
  fail "oci kubernetes: containerd registers a handler with BinaryName tactus-runc" "$(echo "$out" | grep -n 'runtimes\.' | head -5 | tr '\n' ' ')"
fi
if echo "$out" | grep -A12 "runtimes.$handler\]" | grep -q 'runtime_type = "io.containerd.runc.v2"'; then
  pass "oci kubernetes: the handler uses the runc v2 shim"
else
  fail "oci kubernetes: the handler uses the runc v2 shim" ""
fi
if echo "$out" | grep -A40 "runtimes.$handler.options\]" | grep -q 'SystemdCgroup = false'; then
  pass "oci kubernetes: the handler does not ask for the systemd cgroup driver"
else
  fail "oci kubernetes: the handler does not ask for the systemd cgroup driver" ""
fi
rc_handler=$(sed -n 's/^handler: *//p' "$tmp/runtimeclass.yaml")
if grep -q '^kind: RuntimeClass$' "$tmp/runtimeclass.yaml" && grep -q '^apiVersion: node.k8s.io/v1$' "$tmp/runtimeclass.yaml" \
   && [ "$rc_handler" = "$handler" ]; then
  pass "oci kubernetes: the RuntimeClass (node.k8s.io/v1) names handler '$rc_handler'"
else
  fail "oci kubernetes: the RuntimeClass names the containerd handler" "handler '$rc_handler' vs '$handler'"
fi
exit 0
