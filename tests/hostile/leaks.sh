#!/usr/bin/env bash
# Hostile lane: many back-to-back runs leave nothing behind on the host.
#
# 200 runs of `sandbox exec -- /bin/true` as root, then 50 as an
# unprivileged user; every run must exit 0, and afterwards the host has no
# child of this test, no process, mount, network or pid namespace and no run
# cgroup more than before.
#
# The runs use uids of their own (root runs map sandbox root to RUN_UID; the
# unprivileged runs are USER_UID), so what they could leave behind is told
# apart from other sandboxes that may be running on the host at the same
# time.  The in-process side (fds of a long-lived launcher) is
# tests/unit/test_sandbox_leaks.c.
source "$TESTS_DIR/lib.sh"

ROOT_RUNS=200
USER_RUNS=50
RUN_UID=64999
USER_UID=64998

scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
ws_root="$scratch/ws-root"
ws_user="$scratch/ws-user"
mkdir -m 0700 "$ws_root" "$ws_user"
chown "$RUN_UID:$RUN_UID" "$ws_root"
chown "$USER_UID:$USER_UID" "$ws_user"

as_user() {
  setpriv --reuid "$USER_UID" --regid "$USER_UID" --clear-groups --inh-caps=-all -- "$@"
}

# (The count includes the $(...) subshell that runs pgrep, before and after.)
children() { pgrep -c -P $$ 2>/dev/null || true; }
mounts() { wc -l </proc/self/mountinfo; }
# "NS UID" per namespace of TYPE that has a process.
namespaces() { lsns -t "$1" -n -o NS,UID 2>/dev/null | sort; }
# Run cgroups whose launcher (tactus-run-PID-...) is gone: nobody will ever
# remove them.  A read-only look at cgroup2; the v1 hierarchies are never
# touched.
orphan_cgroups() {
  local d pid
  find /sys/fs/cgroup/unified -maxdepth 3 -type d -name 'tactus-run-*' 2>/dev/null \
    | while read -r d; do
        pid=${d##*/tactus-run-}
        pid=${pid%%-*}
        [ -d "/proc/$pid" ] || echo "$d"
      done
}

children_before=$(children)
mounts_before=$(mounts)
netns_before=$(namespaces net)
pidns_before=$(namespaces pid)
cgroups_before=$(orphan_cgroups)

# run_many N root|user WORKSPACE [TACTUS FLAGS...]: prints "BAD FIRST-FAILURE".
run_many() {
  local n="$1" who="$2" ws="$3" bad=0 first="" rc out
  shift 3
  local -a runner=()
  [ "$who" = user ] && runner=(as_user)
  for ((i = 0; i < n; i++)); do
    out=$(cd "$scratch" && "${runner[@]}" "$TR" sandbox exec --workspace "$ws" "$@" -- /bin/true 2>&1 </dev/null)
    rc=$?
    if [ "$rc" != 0 ]; then
      bad=$((bad + 1))
      [ -z "$first" ] && first="run $i: exit $rc: $(echo "$out" | tail -1)"
    fi
  done
  echo "$bad $first"
}

expect_all_ok() {
  local name="$1" result="$2"
  if [ "${result%% *}" = 0 ]; then
    pass "$name"
  else
    fail "$name" "${result%% *} failed; first: ${result#* }"
  fi
}

start=$SECONDS
result=$(run_many "$ROOT_RUNS" root "$ws_root" --host-uid "$RUN_UID" --host-gid "$RUN_UID")
expect_all_ok "leaks: $ROOT_RUNS runs as root all exited 0 ($((SECONDS - start))s)" "$result"
start=$SECONDS
result=$(run_many "$USER_RUNS" user "$ws_user")
expect_all_ok "leaks: $USER_RUNS runs as uid $USER_UID all exited 0 ($((SECONDS - start))s)" "$result"

# Namespaces of TYPE that appeared during the runs and belong to their uids.
our_new_namespaces() {
  local before="$1" type="$2"
  comm -13 <(echo "$before") <(namespaces "$type") \
    | awk -v a="$RUN_UID" -v b="$USER_UID" '$2 == a || $2 == b'
}

# Teardown is synchronous (the launcher waits for PID 1 and the cgroup),
# but give the kernel a moment to drop the last namespace references.
for _ in $(seq 20); do
  [ -z "$(our_new_namespaces "$netns_before" net)$(our_new_namespaces "$pidns_before" pid)" ] && break
  sleep 0.1
done

expect_same() {
  if [ "$2" = "$3" ]; then pass "leaks: $1 unchanged ($2)"; else fail "leaks: $1 unchanged" "$2 before, $3 after${4:+; $4}"; fi
}
expect_none() {
  if [ -z "$2" ]; then pass "leaks: $1"; else fail "leaks: $1" "$(echo $2 | head -c 300)"; fi
}

expect_same "children of the test" "$children_before" "$(children)" "$(pgrep -a -P $$ | head -3 | tr '\n' ' ')"
expect_none "no process of the runs' uids ($RUN_UID, $USER_UID) is left" "$(pgrep -a -U "$RUN_UID,$USER_UID")"
expect_same "host mounts (/proc/self/mountinfo lines)" "$mounts_before" "$(mounts)"
expect_none "no network namespace of the runs is left (lsns -t net)" "$(our_new_namespaces "$netns_before" net)"
expect_none "no pid namespace of the runs is left (lsns -t pid)" "$(our_new_namespaces "$pidns_before" pid)"
expect_none "no orphaned tactus-run-* cgroup under /sys/fs/cgroup/unified" \
  "$(comm -13 <(echo "$cgroups_before") <(orphan_cgroups))"
expect_none "workspaces still empty" "$(find "$ws_root" "$ws_user" -mindepth 1)"

# The plain counts, for the record: other users' sandboxes running at the
# same time can change them, so they are informational only.
echo "leaks: lsns -t net: $(echo "$netns_before" | grep -c .) before, $(namespaces net | grep -c .) after;" \
  "run cgroups now: $(find /sys/fs/cgroup/unified -maxdepth 3 -name 'tactus-run-*' 2>/dev/null | wc -l)"
