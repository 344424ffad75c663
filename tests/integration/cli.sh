#!/usr/bin/env bash
# The command line from the one option table (cli/options.def): every
# command answers --help, unknown options name the closest, the pool client
# takes the table's options, docs/cli.md is what the table generates, and
# `make install` gives a man page and completions that work.  Also: no doc
# links to anything outside the repository.
source "$TESTS_DIR/lib.sh"
ROOT="$(cd "$TESTS_DIR/.." && pwd)"
BIN="$(dirname "$TR")"
CLIENT="$BIN/tactus-run-client"
RUNC="$BIN/tactus-runc"
scratch=$(scratch_dir)
trap 'rm -rf "$scratch"' EXIT

# ---- every command answers --help (the list is the program's own) ----
cmds=$("$TR" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z]\+\( [a-z]\+\)\?\)  .*/\1/p')
n=$(echo "$cmds" | grep -c .)
[ "$n" -ge 14 ] && pass "cli: tactus-run --help lists the commands ($n)" || fail "cli: command list" "$cmds"
bad=""
while IFS= read -r c; do
  # shellcheck disable=SC2086
  out=$("$TR" $c --help 2>&1); rc=$?
  [ "$rc" = 0 ] && [[ "$out" == *"usage: tactus-run $c"* ]] && [[ "$out" == *"exit status:"* ]] || bad+=" '$c --help'($rc)"
  # shellcheck disable=SC2086
  out=$("$TR" help $c 2>&1); rc=$?
  [ "$rc" = 0 ] && [[ "$out" == *"usage: tactus-run $c"* ]] || bad+=" 'help $c'($rc)"
  # shellcheck disable=SC2086
  out=$("$TR" $c -h 2>&1); rc=$?
  [ "$rc" = 0 ] && [[ "$out" == *"usage: tactus-run $c"* ]] || bad+=" '$c -h'($rc)"
done <<<"$cmds"
[ -z "$bad" ] && pass "cli: every command answers --help, -h and help CMD with exit 0" || fail "cli: --help" "$bad"
# Positive control: the check above can fail.
out=$("$TR" nosuchcmd --help 2>&1); rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"unknown command 'nosuchcmd'"* ]] && pass "cli: (control) an unknown command fails" || fail "cli: unknown command" "$rc $out"
out=$("$TR" help nosuchcmd 2>&1); rc=$?
[ "$rc" = 1 ] && pass "cli: help of an unknown command exits 1" || fail "cli: help unknown" "$rc $out"
out=$("$TR" rn x.tac 2>&1)
[[ "$out" == *"(did you mean run?)"* ]] && pass "cli: a mistyped command gets a suggestion" || fail "cli: command suggestion" "$out"

out=$("$TR" sandbox stauts 2>&1)
[[ "$out" == *"(did you mean status?)"* ]] && pass "cli: a mistyped subcommand gets a suggestion" || fail "cli: subcommand suggestion" "$out"

# --help wins over the rest of the line, but not past the program's own arguments.
out=$("$TR" run nosuch.tac --param x=1 --help 2>&1); rc=$?
[ "$rc" = 0 ] && [[ "$out" == *"--param KEY=VALUE"* ]] && pass "cli: run ... --help prints the help" || fail "cli: run --help late" "$rc $out"
out=$("$TR" sandbox exec -- /bin/echo --help 2>&1)
[[ "$out" != *"usage:"* ]] && pass "cli: sandbox exec -- PROGRAM --help is the program's argument" || fail "cli: exec --help" "$out"

# ---- unknown options: an error naming the closest, or the command that has it ----
check_unknown() { # NAME WANT CMD...
  local name="$1" want="$2" out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" = 1 ] && [[ "$out" == *"$want"* ]] && pass "cli: $name" || fail "cli: $name" "rc=$rc $out"
}
check_unknown "run --jsn suggests --json" "unknown option '--jsn' (did you mean --json?)" "$TR" run x.tac --jsn
check_unknown "test --scenaro suggests --scenario" "(did you mean --scenario?)" "$TR" test x.tac --scenaro a
check_unknown "eval --scenario names test" "unknown option '--scenario' (an option of tactus-run test)" "$TR" eval x.tac --scenario a
check_unknown "sandbox status --jsno suggests --json" "(did you mean --json?)" "$TR" sandbox status --jsno
check_unknown "sandbox rebuild --forc suggests --force" "(did you mean --force?)" "$TR" sandbox rebuild --forc
check_unknown "answer --storage-pat suggests --storage-path" "(did you mean --storage-path?)" "$TR" answer x.tac yes --storage-pat d
check_unknown "trust --lst suggests --list" "(did you mean --list?)" "$TR" trust --lst
check_unknown "serve --sze suggests --size" "(did you mean --size?)" "$TR" serve --sze 2
check_unknown "trace --jsn suggests --json" "(did you mean --json?)" "$TR" trace list --jsn
check_unknown "sandbox exec --allow-netx suggests --allow-net" "(did you mean --allow-net?)" "$TR" sandbox exec --allow-netx x -- /bin/true
check_unknown "run: no abbreviations (--mock-al)" "(did you mean --mock-all?)" "$TR" run x.tac --mock-al
check_unknown "run: a missing value names the value" "option '--timeout' needs a value (--timeout SECONDS)" "$TR" run x.tac --timeout

# ---- the pool client: the table's options ----
out=$("$CLIENT" --help 2>&1); rc=$?
[ "$rc" = 0 ] && [[ "$out" == *"usage: tactus-run-client"* ]] && [[ "$out" == *"--approve all|none"* ]] \
  && pass "cli: tactus-run-client --help" || fail "cli: client --help" "$rc $out"
check_unknown "client: a run option the pool does not take is named" "--no-sandbox is an option of tactus-run run that the pool does not take" "$CLIENT" x.tac --no-sandbox
check_unknown "client: --jsn suggests --json" "unknown option '--jsn' (did you mean --json?)" "$CLIENT" x.tac --jsn
check_unknown "client: --approve ask is refused" "--approve 'ask': expected all or none" "$CLIENT" x.tac --approve ask
# The client's options are a subset of run's (the pool is run).
extra=""
for o in $("$CLIENT" --help | sed -n 's/^  \(-., \)\?--\([a-z-]*\).*/\2/p'); do
  [ "$o" = socket ] && continue
  "$TR" run --help | grep -q -- "--$o\b" || extra+=" --$o"
done
[ -z "$extra" ] && pass "cli: every client option (but --socket) is a run option" || fail "cli: client options not in run" "$extra"

# ---- tactus-runc: every subcommand answers --help ----
subs=$("$RUNC" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z]\+\) .*/\1/p')
bad=""
for c in $subs; do
  out=$("$RUNC" "$c" --help 2>&1); rc=$?
  [ "$rc" = 0 ] && [[ "$out" == *"usage: tactus-runc [global options] $c"* ]] || bad+=" $c($rc)"
done
[ "$(echo "$subs" | wc -w)" -ge 10 ] && [ -z "$bad" ] && pass "cli: tactus-runc: every subcommand answers --help ($(echo $subs | wc -w))" \
  || fail "cli: tactus-runc --help" "subs=[$subs] bad=$bad"
out=$("$RUNC" --root "$scratch/runc" exec nosuch /bin/sh --help 2>&1)
[[ "$out" != *"usage:"* ]] && pass "cli: tactus-runc exec ID CMD --help is the command's argument" || fail "cli: runc exec --help" "$out"

# ---- docs/cli.md is what the table generates ----
if [ -x "$BIN/tools/clidoc" ]; then
  if "$BIN/tools/clidoc" md | cmp -s - "$ROOT/docs/cli.md"; then
    pass "cli: docs/cli.md is generated from the option table (make docs)"
  else
    fail "cli: docs/cli.md differs from the option table" "run make docs: $("$BIN/tools/clidoc" md | diff - "$ROOT/docs/cli.md" | head -5 | tr '\n' ' ')"
  fi
  # Positive control: a changed copy is told apart.
  { "$BIN/tools/clidoc" md; echo "| \`--made-up\` | x |"; } >"$scratch/cli.md"
  "$BIN/tools/clidoc" md | cmp -s - "$scratch/cli.md" && fail "cli: (control) a changed cli.md was not noticed" "" \
    || pass "cli: (control) a changed cli.md is noticed"
else
  fail "cli: $BIN/tools/clidoc is not built" ""
fi

# ---- make install: programs, the man page, completions ----
dest="$scratch/dest"
# The build's own flags: anything make finds out of date is rebuilt as the
# rest of this build was (make asan's flags under TR_SANITIZED).
mflags=()
[ -n "${TR_SANITIZED:-}" ] && mflags=(SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" OPT="-O1 -g")
if make -s -C "$ROOT" BUILD="$BUILD" "${mflags[@]}" DESTDIR="$dest" PREFIX=/usr install >"$scratch/install.log" 2>&1; then
  pass "cli: make install DESTDIR=... PREFIX=/usr"
else
  fail "cli: make install" "$(tail -5 "$scratch/install.log" | tr '\n' ' ')"
fi
missing=""
for f in bin/tactus-run bin/tactus-run-client bin/tactus-runc share/man/man1/tactus-run.1 \
  share/bash-completion/completions/tactus-run share/bash-completion/completions/tactus-run-client \
  share/zsh/site-functions/_tactus-run; do
  [ -e "$dest/usr/$f" ] || missing+=" $f"
done
[ -z "$missing" ] && pass "cli: install places the programs, the man page and the completions" || fail "cli: install missing" "$missing"
[ "$(readlink "$dest/usr/bin/tactus-runc")" = tactus-run ] && pass "cli: tactus-runc is a link to tactus-run" || fail "cli: tactus-runc link" "$(ls -l "$dest/usr/bin")"
if command -v man >/dev/null; then
  out=$(MANPAGER=cat MANWIDTH=100 MANPATH="$dest/usr/share/man" man tactus-run 2>&1); rc=$?
  [ "$rc" = 0 ] && [[ "$out" == *"tactus-run sandbox exec [OPTIONS] -- PROGRAM"* ]] && [[ "$out" == *"--workspace-mode"* ]] \
    && pass "cli: man tactus-run renders the installed page" || fail "cli: man tactus-run" "rc=$rc $(echo "$out" | head -3 | tr '\n' ' ')"
  out=$(MANPAGER=cat man -l "$dest/usr/share/man/man1/tactus-run.1" 2>&1)
  [[ "$out" == *"tactus-run-client [OPTIONS] FILE.tac"* ]] && pass "cli: man -l renders the page, client included" || fail "cli: man -l" "$(echo "$out" | head -3)"
  MANPAGER=cat MANPATH="$dest/usr/share/man" man tactus-run-nosuch >/dev/null 2>&1 \
    && fail "cli: (control) man found a page that does not exist" "" || pass "cli: (control) man fails for a page not installed"
else
  skip "cli: man tactus-run" "man is not installed"
fi
if command -v groff >/dev/null; then
  w=$(groff -man -ww -z "$dest/usr/share/man/man1/tactus-run.1" 2>&1)
  [ -z "$w" ] && pass "cli: the man page has no groff warnings" || fail "cli: groff warnings" "$(echo "$w" | head -3)"
fi

# ---- bash completion ----
comp="$dest/usr/share/bash-completion/completions/tactus-run"
out=$(bash -c "source '$comp' && complete -p tactus-run tactus-run-client" 2>&1)
[[ "$out" == *"-F _tactus_run tactus-run"* ]] && [[ "$out" == *"-F _tactus_run_client tactus-run-client"* ]] \
  && pass "cli: the bash completion loads (complete -p tactus-run)" || fail "cli: bash completion" "$out"
complete_words() { # WORDS...: what completing the last word offers
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
    if [ "$1" = tactus-run-client ]; then _tactus_run_client; else _tactus_run; fi; echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
got=$(complete_words tactus-run run x.tac --appr); [ "$got" = --approve ] && pass "cli: bash completes run's options" || fail "cli: complete --appr" "$got"
got=$(complete_words tactus-run run x.tac --approve ""); [ "$got" = "all none ask" ] && pass "cli: bash completes an option's values" || fail "cli: complete values" "$got"
got=$(complete_words tactus-run sandbox exec --allow-u); [ "$got" = --allow-unix-socket ] && pass "cli: bash completes a subcommand's options" || fail "cli: complete exec" "$got"
got=$(complete_words tactus-run-client --no-s); [ -z "$got" ] && pass "cli: bash offers the client no option it does not take" || fail "cli: client completion" "$got"
got=$(complete_words tactus-run va); [ "$got" = validate ] && pass "cli: bash completes commands" || fail "cli: complete command" "$got"
if command -v zsh >/dev/null; then
  zsh -n "$dest/usr/share/zsh/site-functions/_tactus-run" && pass "cli: the zsh completion parses" || fail "cli: zsh -n" ""
  # Completing in a real zsh, in a terminal (tmux): options, values, subcommands.
  if command -v tmux >/dev/null; then
    zs="tr-cli-$$"; zh="$scratch/zhome"; mkdir -p "$zh"
    tmux new-session -d -s "$zs" -x 150 -y 30 \
      "env -i HOME=$zh TERM=xterm PATH=$dest/usr/bin:/usr/bin:/bin zsh -f" 2>/dev/null
    zsend() { tmux send-keys -t "$zs" "$@"; sleep 0.7; }
    zsend "fpath=($dest/usr/share/zsh/site-functions \$fpath); autoload -Uz compinit; compinit -u -d $zh/dump" Enter
    zsend 'tactus-run run x.tac --appr' Tab
    zsend ' ' Tab
    screen=$(tmux capture-pane -t "$zs" -p)
    zsend C-u 'tactus-run sandbox ex' Tab
    screen2=$(tmux capture-pane -t "$zs" -p)
    tmux kill-session -t "$zs" 2>/dev/null
    if [[ "$screen" == *"--approve"* ]] && [[ "$screen" == *"all"*"ask"*"none"* ]] && [[ "$screen2" == *"tactus-run sandbox exec"* ]]; then
      pass "cli: zsh completes options, their values and subcommands (in tmux)"
    else
      fail "cli: zsh completion in tmux" "$(echo "$screen$screen2" | grep -v '^$' | tail -4 | tr '\n' '|')"
    fi
  else
    skip "cli: zsh completion in a terminal" "tmux is not installed"
  fi
else
  skip "cli: zsh completion" "zsh is not installed"
fi

# ---- no doc link to anything outside the repository ----
outside_links() { # FILE...: markdown links that leave the repository (or point at nothing)
  local f l target
  for f in "$@"; do
    while IFS= read -r l; do
      target="${l#*](}"; target="${target%%)*}"; target="${target%%#*}"
      case "$target" in http://* | https://* | mailto:* | "") continue ;; esac
      local abs
      abs=$(realpath -m "$(dirname "$f")/$target")
      case "$abs" in "$ROOT"/*) [ -e "$abs" ] || echo "$f: $target (missing)" ;; *) echo "$f: $target (outside)" ;; esac
    done < <(grep -o '\](\([^)]*\))' "$f")
  done
  grep -nE '(shared/)?research/[a-z]+\.md' "$@" | sed 's/$/ (outside)/'
}
found=$(outside_links "$ROOT"/README.md "$ROOT"/docs/*.md)
[ -z "$found" ] && pass "cli: docs link to nothing outside the repository" || fail "cli: outside doc links" "$(echo "$found" | head -5 | tr '\n' ' ')"
mkdir -p "$scratch/docs"
printf 'see [oci](../../shared/research/oci.md) and [x](missing.md)\n' >"$scratch/docs/bad.md"
found=$(ROOT="$scratch" outside_links "$scratch/docs/bad.md")
[ "$(echo "$found" | grep -c .)" -ge 2 ] && pass "cli: (control) an outside and a broken link are found" || fail "cli: link control" "$found"
