#!/bin/sh
# cli_conventions.sh COMMAND...: every command behaves as shells and scripts
# expect (cli/ad_cli.h). For each command path given:
#   --help and -h: usage on stdout, nothing on stderr, exit 0;
#   --version: "NAME (autodidact) X.Y.Z" on stdout, exit 0;
#   --man: a man(7) page for NAME on stdout, exit 0, that groff formats without a warning;
#   an unknown option, also as --opt=value: "NAME: unknown option '--x'" on stderr, exit 2;
#   every option that takes a value, given none: "NAME: '--opt' needs a value", exit 2;
#   every option that takes a value: --opt=V and --opt V parse the same
#     (same stdout, stderr and status; --version after it ends the run);
#   --help into /dev/full or into a closed stdout: a message and exit 1.
# The options are read from each command's own --help, so a new option is
# tested without touching this file.
set -u
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

for cmd in "$@"; do
  name=$(basename "$cmd")
  n_before=$fails
  for h in --help -h; do
    "$cmd" $h >"$tmp/out" 2>"$tmp/err"; st=$?
    [ $st -eq 0 ] || fail "$name $h: exit $st"
    [ -s "$tmp/err" ] && fail "$name $h: wrote to stderr: $(head -c 200 "$tmp/err")"
    head -n 1 "$tmp/out" | grep -q "^usage: $name " || fail "$name $h: first line is not 'usage: $name ...'"
  done
  "$cmd" --version >"$tmp/out" 2>"$tmp/err"; st=$?
  [ $st -eq 0 ] || fail "$name --version: exit $st"
  grep -Eq "^$name \(autodidact\) [0-9]+\.[0-9]+\.[0-9]+$" "$tmp/out" || fail "$name --version printed: $(head -c 200 "$tmp/out")"
  "$cmd" --man >"$tmp/out" 2>"$tmp/err"; st=$?
  [ $st -eq 0 ] || fail "$name --man: exit $st"
  grep -q "^\.TH $(echo "$name" | tr a-z A-Z) 1 " "$tmp/out" || fail "$name --man: no .TH line"
  grep -q "^\.SH OPTIONS" "$tmp/out" || fail "$name --man: no OPTIONS section"
  if command -v groff >/dev/null; then
    groff -man -ww -z -Tutf8 "$tmp/out" 2>"$tmp/groff.err"
    [ -s "$tmp/groff.err" ] && fail "$name --man: groff warns: $(head -c 300 "$tmp/groff.err")"
  fi

  for bad in --bogus-flag --bogus-flag=3; do
    "$cmd" $bad >"$tmp/out" 2>"$tmp/err"; st=$?
    [ $st -eq 2 ] || fail "$name $bad: exit $st, not 2"
    [ -s "$tmp/out" ] && fail "$name $bad: wrote to stdout"
    grep -qxF "$name: unknown option '--bogus-flag' (see $name --help)" "$tmp/err" ||
      fail "$name $bad: stderr was: $(cat "$tmp/err")"
  done

  # options with a value, from --help: "  --name VALUE   ..."
  "$cmd" --help | sed -n 's/^  --\([a-z0-9-]*\) [^ ].*/\1/p' >"$tmp/valued"
  [ -s "$tmp/valued" ] || echo "note: $name has no option that takes a value"
  while read -r opt; do
    "$cmd" "--$opt" >"$tmp/out" 2>"$tmp/err"; st=$?
    [ $st -eq 2 ] || fail "$name --$opt (no value): exit $st, not 2"
    grep -qxF "$name: '--$opt' needs a value (see $name --help)" "$tmp/err" ||
      fail "$name --$opt (no value): stderr was: $(cat "$tmp/err")"
    for v in 7 not-a-number; do
      "$cmd" "--$opt=$v" --version >"$tmp/eq.out" 2>"$tmp/eq.err"; st1=$?
      "$cmd" "--$opt" "$v" --version >"$tmp/sp.out" 2>"$tmp/sp.err"; st2=$?
      if [ $st1 -ne $st2 ] || ! cmp -s "$tmp/eq.out" "$tmp/sp.out" || ! cmp -s "$tmp/eq.err" "$tmp/sp.err"; then
        fail "$name: --$opt=$v (exit $st1: $(cat "$tmp/eq.err")) differs from --$opt $v (exit $st2: $(cat "$tmp/sp.err"))"
      fi
      grep -q "unknown option" "$tmp/eq.err" && fail "$name --$opt=$v: taken as an unknown option"
    done
  done <"$tmp/valued"

  "$cmd" --help >/dev/full 2>"$tmp/err"; st=$?
  [ $st -eq 1 ] || fail "$name --help >/dev/full: exit $st, not 1"
  grep -q "^$name: write error" "$tmp/err" || fail "$name --help >/dev/full: stderr was: $(cat "$tmp/err")"
  "$cmd" --help >&- 2>"$tmp/err"; st=$?
  [ $st -eq 1 ] || fail "$name --help >&-: exit $st, not 1"
  grep -q "^$name: write error" "$tmp/err" || fail "$name --help >&-: stderr was: $(cat "$tmp/err")"
  [ $fails -eq $n_before ] && echo "ok: $name"
done
[ $# -gt 0 ] || { echo "usage: cli_conventions.sh COMMAND..."; exit 99; }
echo "$# commands, $fails failures"
[ $fails -eq 0 ]
