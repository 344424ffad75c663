#!/usr/bin/env bash
# Hostile lane: procedures that try to escape the Lua sandbox.
#
# Every tests/hostile/tac/NAME.tac tries one escape.  Its header says what
# it attacks, what "contained" means, and, machine-readably:
#   -- expect: exit=1|137 error="ERE"  exit status(es) allowed; the output
#                                      (stdout+stderr) must match the ERE
#   -- args: FLAGS...                  extra `tactus-run run` flags
#   -- within: SECONDS                 the run must end this fast
#   -- forbid: ERE                     the output must NOT match (a leaked secret)
#   -- marker: PATH                    must not exist afterwards ($OUTSIDE/...)
#   -- maxrss: MIB                     peak RSS of tactus-run (the broker) bound
#                                      (not checked in a sanitizer build)
#   -- sanitized: skip REASON          SKIP under TR_SANITIZED (make asan)
#   -- modes: sandbox no-sandbox       also run with --no-sandbox (default: sandbox),
#                                      so the VM's and broker's own checks are
#                                      tested, not only the mount namespace
#   -- setup: symlink NAME TARGET      a symlink in the workspace ($OUTSIDE allowed)
#   -- setup: helper FILE              copy tac/helpers/FILE into the workspace
#   -- setup: bytecode SRC DEST        compile tac/SRC with luajit -b to DEST
#                                      (@ = the procedure file itself)
#   -- setup: bytecode-shebang SRC DEST  the same behind a "#!" line
# A sidecar tac/NAME.tac.yml is copied beside the procedure.
#
# Each procedure runs in the real sandbox as root and as uid 65534, in a
# fresh workspace.  $OUTSIDE is a world-writable host directory outside
# every workspace holding a secret module, a secret file and a victim file;
# after every run its checksum must be unchanged.  The procedure gets its
# path as input.outside (--param).  One PASS/FAIL line per run.
source "$TESTS_DIR/lib.sh"

tac_dir="$TESTS_DIR/hostile/tac"
scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT

outside="$scratch/outside"
mkdir -m 0777 "$outside"
printf 'return "SECRET-%s"\n' "$RANDOM$RANDOM" >"$outside/secret.tac"
printf 'secret %s\n' "$RANDOM$RANDOM" >"$outside/secret.txt"
printf 'victim\n' >"$outside/victim.txt"
chmod 0666 "$outside"/*
# An empty HOME: no user config layer (and /root is unreadable as uid 65534).
home="$scratch/home"
mkdir -m 0755 "$home"
# uid 65534's own state directory (its trust store).
nstate="$scratch/nobody-state"
mkdir -m 0700 "$nstate"
chown 65534:65534 "$nstate"

outside_sum() {
  (cd "$outside" && find . -printf '%p %y %m %s\n' | LC_ALL=C sort && cat ./* 2>/dev/null) | sha256sum
}
outside_before=$(outside_sum)

# Header lines "-- KEY: value" of FILE (all of them, one per line).
header() {
  local line
  while IFS= read -r line; do
    [[ "$line" == "-- $2: "* ]] && printf '%s\n' "${line#"-- $2: "}"
  done <"$1"
  return 0
}

have_luajit=$(command -v luajit || true)

# compile SRC DEST [shebang]: LuaJIT bytecode of SRC into DEST.
compile() {
  local src="$1" dest="$2" shebang="${3:-}" tmp="$scratch/bc.$$"
  if [ -n "$have_luajit" ]; then
    luajit -b "$src" "$tmp" || return 1
  else
    # No luajit on this host: a bytecode header with junk is refused just the same.
    printf '\033LJ\002\012junk' >"$tmp"
  fi
  { [ -n "$shebang" ] && printf '#!/usr/bin/env tactus-run\n'; cat "$tmp"; } >"$dest"
  rm -f "$tmp"
}

# run_case FILE WHO MODE: one run, one PASS or FAIL line.
run_case() {
  local f="$1" who="$2" mode="$3"
  local base name ws line want_exit="" want_err="" within="" maxrss="" rc out took start
  local -a args=() runner=() timecmd=() why=()
  base=$(basename "$f" .tac)
  name="hostile $base ($who, $mode)"
  if [ -n "${TR_SANITIZED:-}" ]; then
    line=$(header "$f" sanitized | head -1)
    if [[ "$line" == skip* ]]; then
      skip "$name" "sanitizer build: ${line#skip }"
      return
    fi
  fi
  ws=$(mktemp -d "$scratch/ws.XXXXXX")

  line=$(header "$f" expect | head -1)
  [[ "$line" =~ exit=([0-9|]+) ]] && want_exit="${BASH_REMATCH[1]}"
  [[ "$line" =~ error=\"(.*)\" ]] && want_err="${BASH_REMATCH[1]}"
  if [ -z "$want_exit" ]; then
    fail "$name" "no '-- expect: exit=N' line in $f"
    return
  fi
  within=$(header "$f" within | head -1)
  # ASan's shadow memory and quarantine make RSS meaningless there.
  [ -z "${TR_SANITIZED:-}" ] && maxrss=$(header "$f" maxrss | head -1)
  read -r -a args <<<"$(header "$f" args | head -1)"

  cp "$f" "$ws/$base.tac"
  [ -f "$f.yml" ] && cp "$f.yml" "$ws/$base.tac.yml"
  while read -r kind a b; do
    [ -n "$kind" ] || continue
    a="${a//\$OUTSIDE/$outside}" b="${b//\$OUTSIDE/$outside}"
    [ "$b" = @ ] && b="$base.tac"
    case "$kind" in
      symlink) ln -s "$b" "$ws/$a" ;;
      helper) cp "$tac_dir/helpers/$a" "$ws/$a" ;;
      bytecode) compile "$tac_dir/$a" "$ws/$b" || { fail "$name" "cannot compile $a"; return; } ;;
      bytecode-shebang) compile "$tac_dir/$a" "$ws/$b" shebang || { fail "$name" "cannot compile $a"; return; } ;;
      *) fail "$name" "unknown setup '$kind' in $f"; return ;;
    esac
  done < <(header "$f" setup)

  if [ "$who" = nobody ]; then
    chown -R -h 65534:65534 "$ws"
    chmod 0700 "$ws"
    runner=(as_nobody env XDG_STATE_HOME="$nstate")
  else
    chmod 0777 "$ws"
  fi
  # A sidecar that comes with the case is the user's own: trusted.
  if [ -f "$ws/$base.tac.yml" ] && ! "${runner[@]}" "$TR" trust "$ws/$base.tac.yml" >/dev/null 2>&1; then
    fail "$name" "tactus-run trust $base.tac.yml refused"
    return
  fi
  [ "$mode" = no-sandbox ] && args+=(--no-sandbox)
  if [ -n "$maxrss" ] && [ -x /usr/bin/time ]; then
    timecmd=(/usr/bin/time -q -f %M -o "$ws.rss")
    : >"$ws.rss"
    chmod 0666 "$ws.rss"
  fi

  start=${EPOCHREALTIME/./}
  # setsid: no controlling terminal, so an approval can never be asked on
  # the tester's TTY.  timeout(1) is only a backstop for this script.
  out=$(cd "$ws" && HOME="$home" "${runner[@]}" setsid -w timeout -k 5 120 "${timecmd[@]}" \
          "$TR" run "$base.tac" --param "outside=$outside" "${args[@]}" 2>&1 </dev/null)
  rc=$?
  took=$(( (${EPOCHREALTIME/./} - start) / 1000 ))

  [[ "|$want_exit|" == *"|$rc|"* ]] || why+=("exit $rc, want $want_exit")
  if [ -n "$want_err" ] && ! grep -Eq -- "$want_err" <<<"$out"; then
    why+=("output does not match /$want_err/")
  fi
  while read -r pat; do
    [ -n "$pat" ] || continue
    pat="${pat#\"}" pat="${pat%\"}"
    grep -Eq -- "$pat" <<<"$out" && why+=("output matches forbidden /$pat/")
  done < <(header "$f" forbid)
  while read -r m; do
    [ -n "$m" ] || continue
    m="${m//\$OUTSIDE/$outside}"
    [ -e "$m" ] && why+=("side effect: $m exists") && rm -f "$m"
  done < <(header "$f" marker)
  if [ "$(outside_sum)" != "$outside_before" ]; then
    why+=("side effect: $outside changed")
  fi
  if [ -n "$within" ] && [ "$took" -gt $((within * 1000)) ]; then
    why+=("took ${took} ms, want under ${within} s")
  fi
  if [ ${#timecmd[@]} -gt 0 ]; then
    local kb
    kb=$(tail -1 "$ws.rss" 2>/dev/null)
    if [[ "$kb" =~ ^[0-9]+$ ]]; then
      [ "$kb" -gt $((maxrss * 1024)) ] && why+=("peak RSS $((kb / 1024)) MiB, want under $maxrss MiB")
    else
      why+=("no peak RSS measured")
    fi
  fi

  if [ ${#why[@]} -eq 0 ]; then
    local msg
    msg=$(grep -E -m1 -- "${want_err:-.}" <<<"$out" | cut -c1-110)
    pass "$name: exit $rc in ${took} ms${msg:+: $msg}"
  else
    local IFS='; '
    fail "$name" "${why[*]}; output: $(tail -3 <<<"$out" | cut -c1-300 | tr '\n' ' ')"
  fi
  rm -rf "$ws" "$ws.rss"
}

shopt -s nullglob
files=("$tac_dir"/*.tac)
if [ ${#files[@]} -eq 0 ]; then
  fail "hostile procedures" "no procedures in $tac_dir"
  exit 1
fi
for f in "${files[@]}"; do
  [[ -n "${HOSTILE_FILTER:-}" && ! "$(basename "$f")" =~ $HOSTILE_FILTER ]] && continue
  read -r -a modes <<<"$(header "$f" modes | head -1)"
  [ ${#modes[@]} -gt 0 ] || modes=(sandbox)
  for who in root nobody; do
    for mode in "${modes[@]}"; do
      run_case "$f" "$who" "$mode"
    done
  done
done
