#!/bin/sh
# report_formats.sh SOURCE_DIR GRADCHECK [AUTOGRADE]: the reports CI reads.
#   gradcheck --format junit, passing and failing: valid against Jenkins'
#     junit-10.xsd (tests/junit-10.xsd, through xmllint);
#   gradcheck --format tap, passing and failing: TAP 13 that Debian's `prove`
#     parses without a parse error, passing where all pass and failing where
#     a check fails; NaN in its YAML as .nan, never the string "nan";
#   a report to /dev/full: exit 1 with a message.
#   With AUTOGRADE: autograde's junit.xml against the same schema, and its
#     results.tap through prove (the starter fails all 8 tests, the
#     reference solution passes them); and the same for an assignment whose
#     test name holds every kind of bad text (bytes that are not UTF-8,
#     U+FFFE/U+FFFF and control characters as JSON escapes, markup).
# Exit 1 when a report is wrong; 77 (skip) without xmllint or prove.
set -u
src=$1 gc=$2 ag=${3:-}
xsd="$src/tests/junit-10.xsd"
command -v xmllint >/dev/null || { echo "xmllint missing (libxml2-utils): skipping"; exit 77; }
command -v prove >/dev/null || { echo "prove missing (perl): skipping"; exit 77; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

if [ -n "$ag" ]; then
  ex="$src/gradcheck/autograde/example"
  "$ag" --assignment "$ex/assignment.json" --submission "$ex/starter.c" --out "$tmp/ag" >/dev/null 2>&1 ||
    { echo "autograde did not run"; exit 99; }
  xmllint --noout --schema "$xsd" "$tmp/ag/junit.xml" || fail "autograde's junit.xml is not valid against junit-10.xsd"
  # the starter scores 0: prove must parse results.tap and see the failures
  prove "$tmp/ag/results.tap" > "$tmp/ag/prove.txt" 2>&1 && fail "prove passed autograde's failing results.tap"
  grep -q "Parse errors" "$tmp/ag/prove.txt" && fail "prove could not parse autograde's results.tap"
  # every test of the example fails: as many as results.tap plans ("1..N")
  n=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tmp/ag/results.tap")
  [ -n "$n" ] && [ "$n" -gt 0 ] || fail "autograde's results.tap has no plan"
  grep -q "Failed $n/$n subtests" "$tmp/ag/prove.txt" || fail "prove did not see autograde's $n failed tests"
  "$ag" --assignment "$ex/assignment.json" --submission "$src/gradcheck/autograde/example/solution.c" --out "$tmp/ok" \
    >/dev/null 2>&1 || { echo "autograde did not run"; exit 99; }
  prove "$tmp/ok/results.tap" >/dev/null 2>&1 || fail "prove failed autograde's passing results.tap"
  xmllint --noout --schema "$xsd" "$tmp/ok/junit.xml" || fail "autograde's passing junit.xml is not valid"
  # a hostile test name: lone continuations, overlongs (C0, E0 80), a surrogate, past U+10FFFF, F5 and FF,
  # U+FFFE, U+FFFF, controls, markup, a sequence cut short at the end
  mkdir "$tmp/bad" && perl -pe 's/"sigmoid forward"/"bad \x80\xbf \xc0\xaf \xc1\xbf \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xf5\x80\x80\x80\xff \\uFFFE\\uFFFF \\u0001\\u001f\\r ]]> < & \\" \x27 \xe2\x88"/' \
    "$ex/assignment.json" >"$tmp/bad/assignment.json" || exit 99
  grep -q 'uFFFE' "$tmp/bad/assignment.json" || { echo "the hostile assignment was not made"; exit 99; }
  for sub in starter solution; do
    "$ag" --assignment "$tmp/bad/assignment.json" --submission "$ex/$sub.c" --out "$tmp/bad/$sub" >/dev/null 2>&1 ||
      { echo "autograde did not run on the hostile assignment"; exit 99; }
    xmllint --noout --schema "$xsd" "$tmp/bad/$sub/junit.xml" || fail "autograde's junit.xml for a hostile test name is not valid"
    prove "$tmp/bad/$sub/results.tap" > "$tmp/bad/prove.txt" 2>&1
    grep -q "Parse errors" "$tmp/bad/prove.txt" && fail "prove could not parse results.tap for a hostile test name"
    [ $sub = starter ] && ! grep -q "Failed $n/$n subtests" "$tmp/bad/prove.txt" && fail "prove: $(tail -3 "$tmp/bad/prove.txt")"
  done
  echo "$fails failures"
  [ $fails -eq 0 ]
  exit
fi

# passing: every op; failing: zero tolerance, which no finite difference meets
for run in "pass:--all" "fail:--op sin --atol 0 --rtol 0"; do
  want=${run%%:*} args=${run#*:}
  "$gc" $args --format junit >"$tmp/j.xml"; st=$?
  [ "$want" = pass ] && [ $st -ne 0 ] && fail "gradcheck $args: exit $st"
  [ "$want" = fail ] && [ $st -ne 1 ] && fail "gradcheck $args: exit $st, not 1"
  xmllint --noout --schema "$xsd" "$tmp/j.xml" 2>"$tmp/x.err" || fail "gradcheck $args --format junit: $(cat "$tmp/x.err")"
  grep -q '<failure ' "$tmp/j.xml"; has=$?
  [ "$want" = fail ] && [ $has -ne 0 ] && fail "gradcheck $args --format junit: no <failure>"
  [ "$want" = pass ] && [ $has -eq 0 ] && fail "gradcheck $args --format junit: a <failure> in a passing run"

  "$gc" $args --format tap >"$tmp/t.tap"
  head -n 1 "$tmp/t.tap" | grep -qx "TAP version 13" || fail "gradcheck --format tap: not TAP version 13"
  prove -v -e cat "$tmp/t.tap" >"$tmp/prove.out" 2>&1; st=$?
  grep -qi "parse error\|unknown TAP token\|Bad plan" "$tmp/prove.out" && fail "prove: $(grep -i 'parse\|token\|plan' "$tmp/prove.out" | head -3)"
  [ "$want" = pass ] && [ $st -ne 0 ] && fail "prove on a passing run: exit $st: $(tail -3 "$tmp/prove.out")"
  [ "$want" = fail ] && [ $st -eq 0 ] && fail "prove on a failing run: passed"
  grep -Eq ': "?nan"?$' "$tmp/t.tap" && fail "a NaN written as a string in the TAP YAML: $(grep -E ': "?nan' "$tmp/t.tap" | head -1)"
done
# the reverse-mode check of a failing run has no forward value: .nan
grep -q '^  forward: \.nan$' "$tmp/t.tap" || fail "no 'forward: .nan' in the failing run's YAML"

"$gc" --op sin --format junit >/dev/full 2>"$tmp/err"; st=$?
[ $st -eq 1 ] || fail "gradcheck --format junit >/dev/full: exit $st, not 1"
grep -q "write error" "$tmp/err" || fail "gradcheck >/dev/full: no message: $(cat "$tmp/err")"
echo "$fails failures"
[ $fails -eq 0 ]
