#!/usr/bin/env bash
# config_keys.sh ROOT: every config key tactus-run reads, one dotted path a
# line (NAME/MODEL for a map's own names), extracted from the code:
#   policy/config.c   strcmp on a node's key, per reading function
#   broker/*.c        the secrets the broker reads (API keys)
#   the Docker-only keys accepted and ignored (docker_only_keys)
# A reading function not in the map below is an error (exit 1): its keys
# would go undocumented.  Used by tests/integration/references.sh.
set -u
root="${1:?usage: config_keys.sh ROOT}"
awk '
  BEGIN {
    prefix["config_apply_tree"] = ""
    prefix["read_sandbox"] = "sandbox."
    prefix["read_limits"] = "sandbox.limits."
    prefix["read_network"] = "sandbox.network."
    prefix["read_protected"] = "sandbox.protected_paths."
    prefix["read_policy"] = "policy."
    prefix["read_policy_tool"] = "policy.tools.NAME."
    prefix["read_providers"] = "providers.NAME."
    prefix["read_aws"] = "aws."
    prefix["read_prices"] = "model_prices.MODEL."
    prefix["read_mcp"] = "mcp_servers.NAME."
  }
  /^[a-z_]+ \(/ { fn = $1 }
  /docker_only_keys\[\]/ { docker = 1 }
  docker {
    line = $0
    while (match(line, /"[a-z_]+"/)) { print substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, RSTART + RLENGTH) }
    if ($0 ~ /;/) docker = 0
    next
  }
  {
    line = $0
    while (match(line, /strcmp \((k|[a-z]+->key), "[a-z_]+"\)/)) {
      m = substr(line, RSTART, RLENGTH)
      line = substr(line, RSTART + RLENGTH)
      sub(/^[^"]*"/, "", m); sub(/".*/, "", m)
      if (!(fn in prefix)) { printf "UNMAPPED %s %s\n", fn, m; bad = 1; continue }
      print prefix[fn] m
    }
  }
  END { exit bad }
' "$root/policy/config.c" || exit 1
grep -ho 'secret_reader ([^,]*, "[a-z_.]*"\|config_read_secret ([^,]*, "[a-z_.]*"\|config_secret ([^,]*, "[a-z_.]*"\|key_config = "[a-z_.]*"' \
  "$root"/broker/*.c "$root"/policy/*.c | sed 's/.*"\([a-z_.]*\)"$/\1/'
