#!/usr/bin/env bash
# OCI lane: deploy/ (Kubernetes manifests, the node setup, the seccomp
# profile for tactus-run inside containers, the Containerfile) is checked
# against itself and docs/kubernetes.md by deploy_check.py (python3-yaml);
# a manifest with a wrong handler must fail it (positive control); the
# shipped profile is the container default plus only the nested cage's
# rule; the Job's procedure runs in the cage here.
source "$TESTS_DIR/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
python3 -c 'import yaml, tomllib' 2>/dev/null || { skip "oci deploy" "python3 with yaml and tomllib is needed (apt-get install python3-yaml)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$TESTS_DIR/oci/deploy_check.py" "$ROOT"
# Positive control: a copy whose RuntimeClass names another handler, and
# one with a misspelt field, must both fail.
mkdir -p "$tmp/tree" && cp -r "$ROOT/deploy" "$ROOT/docs" "$tmp/tree/"
sed -i 's/^handler: tactus$/handler: tactsu/' "$tmp/tree/deploy/kubernetes/runtimeclass.yaml"
sed -i 's/localhostProfile:/localhostProfil:/' "$tmp/tree/deploy/kubernetes/job.yaml"
out=$(python3 "$TESTS_DIR/oci/deploy_check.py" "$tmp/tree" 2>&1)
if [[ "$out" == *"FAIL: deploy: RuntimeClass.handler 'tactsu'"* && "$out" == *"localhostProfil: unknown field (did you mean localhostProfile?)"* ]]; then
  pass "oci deploy: a wrong handler and a misspelt field are caught (positive control)"
else
  fail "oci deploy: a wrong handler and a misspelt field are caught (positive control)" "$(echo "$out" | grep FAIL | head -3 | tr '\n' ' ')"
fi
# The profile: regenerating it from the container default gives the same file.
base=/usr/share/containers/seccomp.json
if [ -r "$base" ]; then
  if "$ROOT/deploy/seccomp/gen.py" "$base" | cmp -s - "$ROOT/deploy/seccomp/tactus-run.json"; then
    pass "oci deploy: deploy/seccomp/tactus-run.json = the container default ($base) + the nested cage's rule"
  else
    fail "oci deploy: deploy/seccomp/tactus-run.json = the container default + the nested cage's rule" "regenerate with deploy/seccomp/gen.py (or the host's containers-common differs)"
  fi
else
  skip "oci deploy: the seccomp profile against the container default" "$base is missing (containers-common)"
fi
# The Containerfile installs only packages Debian has.
pkgs=$(sed -n '/^FROM .*bookworm-slim/,$p' "$ROOT/deploy/Containerfile" | sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update|y|no|DEBIAN_FRONTEND.*)$')
missing=""
for p in $pkgs; do apt-cache show "$p" >/dev/null 2>&1 || missing+=" $p"; done
if [ -n "$pkgs" ] && [ -z "$missing" ]; then pass "oci deploy: the Containerfile's runtime packages are Debian packages ($(echo $pkgs | wc -w))"
else fail "oci deploy: the Containerfile's runtime packages are Debian packages" "not found:$missing"; fi
# The procedure the Job runs works in the cage.
python3 -c 'import sys, yaml; d = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o and o["kind"] == "ConfigMap"][0]; open(sys.argv[2], "w").write(d["data"]["hello.tac"])' \
  "$ROOT/deploy/kubernetes/job.yaml" "$tmp/hello.tac"
out=$(cd "$tmp" && "$TR" run "$tmp/hello.tac" 2>&1); code=$?
if [ "$code" = 0 ] && [[ "$out" == *"hello from a sandboxed procedure"* ]]; then pass "oci deploy: the Job's procedure runs in the cage"
else fail "oci deploy: the Job's procedure runs in the cage" "exit $code: $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
exit 0
