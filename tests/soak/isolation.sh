#!/usr/bin/env bash
# Soak lane: nothing one run writes survives into the next.
#
# Run 1 (a native program, `tactus-run sandbox exec`) writes a random
# marker into every directory of the cage it can write to (found by trying
# each one: /tmp, /dev, and /, /dev/shm, /run, /var/tmp, HOME... are tried
# too), and tries SysV IPC objects.  Run 2 (the VM, `tactus-run run`) tries
# File.write into every path it can name outside its workspace (absolute
# paths, '..', /proc/self/cwd) and into every directory of its own scratch
# workspace, and keeps a checkpoint and state.  Then fresh runs of each
# kind, each with its own fresh scratch workspace, look for the markers
# everywhere they can reach: none may be found.  The host is checked too:
# no marker outside the first runs' own workspaces.  /workspace is the
# user's by design (a run that shares it shares its files), so every run
# here gets a scratch workspace of its own.
source "$TESTS_DIR/lib.sh"
source "$TESTS_DIR/lib/own_leftovers.sh"

SOAK_UID=64992
scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home"
mkdir -p "$HOME"
for w in nat1 vm1 nat2 vm2; do
  mkdir -m 0700 "$scratch/$w"
  mkdir -p "$scratch/$w/sub/deeper"
  chown -R "$SOAK_UID:$SOAK_UID" "$scratch/$w"
done
M=soakmark$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')

# ---- run 1: a native program writes the marker everywhere it can ---------------
mkdir "$scratch/bin"
cat >"$scratch/bin/nat-write.sh" <<'EOF'
m="$1"
wrote=""
for d in / /tmp /dev /dev/shm /run /var/tmp /root /home /etc /usr /proc /sys "$HOME"; do
  [ "$d" = /workspace ] || mkdir -p "$d" 2>/dev/null
done
# Every directory of the cage (find -writable would trust the mode bits:
# try them all; echo is a builtin, no fork per directory).
for d in $(find / \( -path /proc -o -path /sys -o -path /workspace \) -prune -o -type d -print 2>/dev/null); do
  if { echo "$m" >"$d/.$m"; } 2>/dev/null; then wrote="$wrote $d"; fi
done
ipcmk -M 4096 >/dev/null 2>&1 && wrote="$wrote sysv-shm"
ipcmk -Q >/dev/null 2>&1 && wrote="$wrote sysv-msg"
echo "WROTE:$(echo $wrote | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"
EOF
cat >"$scratch/bin/nat-look.sh" <<'EOF'
m="$1"
found=$(find / \( -path /proc -o -path /sys -o -path /workspace \) -prune -o -name "*$m*" -print 2>/dev/null)
# Contents too, of every regular file of the cage's own filesystems ([ -f ]
# stats: the device nodes bound over placeholder files in /dev are not).
for f in $(find /tmp /dev /etc / -xdev -maxdepth 3 -type f 2>/dev/null); do
  [ -f "$f" ] && grep -q "$m" "$f" 2>/dev/null && found="$found $f"
done
ipc=$(ipcs -m -q -s 2>/dev/null | grep -c '^0x')
echo "FOUND:$(echo $found) IPC:$ipc"
EOF

nat() {
  local ws="$1"
  shift
  (cd "$ws" && "$TR" sandbox exec --timeout 60 --workspace "$ws" --host-uid "$SOAK_UID" --host-gid "$SOAK_UID" \
    --ro-bind "$scratch/bin:/soak" -- /bin/sh "$@" 2>&1 </dev/null)
}

out=$(nat "$scratch/nat1" /soak/nat-write.sh "$M")
rc=$?
wrote=$(echo "$out" | sed -n 's/^WROTE://p')
if [ "$rc" = 0 ] && [ -n "$wrote" ]; then
  pass "isolation: run 1 (native) wrote the marker in: $wrote (every other directory refused)"
else
  fail "isolation: run 1 (native) wrote the marker" "exit $rc: $(echo "$out" | tail -2 | tr '\n' ' ')"
fi

# ---- run 2: the VM tries every path it can name -------------------------------
cat >"$scratch/mark.tac" <<'EOF'
local OUTSIDE = { "/tmp", "/", "/dev", "/dev/shm", "/run", "/var/tmp", "/root", "/home", "/etc",
  "/workspace", "/proc/self/cwd", "..", "../..", "../tmp", "./..", "sub/../..", "sub/../../tmp" }

-- every directory of the workspace, recursively
local function dirs()
  local out, queue = {}, { "." }
  while #queue > 0 do
    local d = table.remove(queue)
    out[#out + 1] = d
    for _, name in ipairs(File.list(d)) do
      local p = d == "." and name or d .. "/" .. name
      if File.is_dir(p) then queue[#queue + 1] = p end
    end
  end
  return out
end

Procedure {
  input = { marker = field.string { required = true }, mode = field.string { default = "write" } },
  function(input)
    local m = input.marker
    if input.mode == "write" then
      local escaped, refused, wrote = {}, 0, 0
      for _, d in ipairs(OUTSIDE) do
        if pcall(File.write, d .. "/." .. m, m) then escaped[#escaped + 1] = d else refused = refused + 1 end
      end
      for _, d in ipairs(dirs()) do
        File.write((d == "." and "" or d .. "/") .. "." .. m, m)
        wrote = wrote + 1
      end
      state.marker = m
      checkpoint(function() return m end)
      return { escaped = table.concat(escaped, " "), refused = refused, wrote = wrote }
    end
    local seen = {}
    for _, d in ipairs(OUTSIDE) do
      local ok, there = pcall(File.exists, d .. "/." .. m)
      if ok and there then seen[#seen + 1] = d end
    end
    for _, d in ipairs(dirs()) do
      for _, name in ipairs(File.list(d)) do
        local p = d == "." and name or d .. "/" .. name
        if name:find(m, 1, true) or (not File.is_dir(p) and File.read(p):find(m, 1, true)) then
          seen[#seen + 1] = p
        end
      end
    end
    return { seen = table.concat(seen, " "), state = tostring(state.marker), checkpoint = Checkpoint.exists(1) }
  end,
}
EOF

vm() {
  local ws="$1"
  shift
  (cd "$ws" && setsid -w "$TR" run "$scratch/mark.tac" --timeout 60 --json --param marker="$M" "$@" 2>"$scratch/vm.err" </dev/null | tail -1)
}
out=$(vm "$scratch/vm1")
got=$(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); x=r["result"]; print(r["status"], "escaped=[%s]" % x["escaped"], "refused=%d" % x["refused"], "wrote=%d" % x["wrote"])' 2>&1)
if [ "$got" = "success escaped=[] refused=17 wrote=3" ]; then
  pass "isolation: run 2 (VM) could write nowhere outside its workspace (17 paths refused), marked its 3 directories"
else
  fail "isolation: run 2 (VM) could write nowhere outside its workspace" "$got: $(tail -2 "$scratch/vm.err" | tr '\n' ' ')"
fi

# ---- the host: the markers are only in the first runs' workspaces ------------
on_host=$(find / -xdev -maxdepth 2 -name "*$M*" 2>/dev/null
          find /tmp /var/tmp /dev/shm /run "$HOME" -maxdepth 4 -name "*$M*" 2>/dev/null | grep -v "^$scratch/\(nat1\|vm1\)/")
in_ws=$(find "$scratch/nat1" "$scratch/vm1" -name "*$M*" | wc -l)
if [ -z "$on_host" ] && [ "$in_ws" = 3 ]; then
  pass "isolation: on the host the markers are only in runs 1 and 2's own workspaces ($in_ws files)"
else
  fail "isolation: on the host the markers are only in runs 1 and 2's own workspaces" \
    "elsewhere: $(echo $on_host | cut -c1-300); in the workspaces: $in_ws (want 3: the VM's)"
fi

# ---- runs 3 and 4: fresh runs find nothing ------------------------------------
out=$(nat "$scratch/nat2" /soak/nat-look.sh "$M")
rc=$?
look=$(echo "$out" | grep '^FOUND:')
if [ "$rc" = 0 ] && [ "$look" = "FOUND: IPC:0" ]; then
  pass "isolation: run 3 (native) finds no marker anywhere in its cage and no SysV IPC object"
else
  fail "isolation: run 3 (native) finds no marker" "exit $rc: $(echo "$out" | tail -2 | tr '\n' ' ' | cut -c1-400)"
fi

out=$(vm "$scratch/vm2" --param mode=look)
got=$(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); x=r["result"]; print(r["status"], "seen=[%s]" % x["seen"], "state=%s" % x["state"], "checkpoint=%s" % x["checkpoint"])' 2>&1)
if [ "$got" = "success seen=[] state=nil checkpoint=False" ]; then
  pass "isolation: run 4 (VM) finds no marker, no state and no checkpoint of run 2"
else
  fail "isolation: run 4 (VM) finds nothing of run 2" "$got: $(tail -2 "$scratch/vm.err" | tr '\n' ' ')"
fi
left=$(find "$scratch/nat2" "$scratch/vm2" -mindepth 1 -not -path "$scratch/nat2/sub*" -not -path "$scratch/vm2/sub*")
left+=$(uid_procs "$SOAK_UID")
if [ -z "$left" ]; then pass "isolation: the looking runs left nothing"; else fail "isolation: the looking runs left nothing" "$(echo $left | cut -c1-300)"; fi
