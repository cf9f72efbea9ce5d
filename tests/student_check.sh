#!/bin/sh
# student_check's command line and coverage: student_check.sh GOOD WRONG_CE
# GOOD is built with the reference solution, WRONG_CE with a softmax
# cross-entropy backward that is wrong (student_check_wrong_ce.c).
good=$1 wrong=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
"$good" --help | grep -q '^usage: student_check' || fail "--help"
"$good" --version | grep -q '^student_check (autodidact ' || fail "--version"
"$good" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "an unknown option must exit 2"
"$good" --bogus 2>&1 | grep -q "unknown option '--bogus'" || fail "an unknown option is not named"
"$good" --op >/dev/null 2>&1; [ $? -eq 2 ] || fail "--op without a value must exit 2"
"$good" --op gelu >/dev/null 2>&1; [ $? -eq 2 ] || fail "--op gelu must exit 2"
"$good" --format xml >/dev/null 2>&1; [ $? -eq 2 ] || fail "--format xml must exit 2"
"$good" extra >/dev/null 2>&1; [ $? -eq 2 ] || fail "an argument must exit 2"
out=$("$good") || fail "the reference solution fails: $out"
for op in sigmoid linear softmax_ce conv2d maxpool2d; do
  echo "$out" | grep -q "^PASS  student_$op " || fail "student_$op is not checked"
done
"$good" --op conv2d | grep -v student_conv2d | grep -q '^PASS' && fail "--op conv2d checks other ops"
"$good" --format json | python3 -c 'import json, sys; json.load(sys.stdin)' || fail "--format json is not JSON"
"$good" --format tap | grep -q '^TAP version 13' || fail "--format tap"
out=$("$wrong" --op softmax_ce); [ $? -eq 1 ] || fail "a wrong softmax_ce vjp passes: $out"
echo "$out" | grep -q '^FAIL  student_softmax_ce' || fail "the wrong softmax_ce vjp is not named: $out"
echo ok
