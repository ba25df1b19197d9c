#!/usr/bin/env bash
# tests/lab/suite.t must not pass a lab run that ended early: run it with
# a stand-in lab that reports some of its plan, or dies, or skips, and
# check that suite.t turns each into a failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/lab"
: >"$w/lab/Image"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# fake_lab EXIT LINES...: a lab that prints LINES and exits EXIT.
fake_lab() {
	local rc=$1
	shift
	{ echo '#!/bin/sh'; for l; do printf "echo '%s'\n" "$l"; done; echo "exit $rc"; } >"$w/fake"
	chmod +x "$w/fake"
}
run() { LAB_CMD=$w/fake LAB_BUILD_DIR=$w/lab "$top/tests/lab/suite.t" 2>&1; }

fake_lab 125 "ok 1 - a" "ok 2 - b"
out=$(run)
echo "$out" | grep -q "^not ok .* the lab ran the whole suite: plan missing, 2 checks"
ok $? "a lab that dies before its plan: reported as a failure"
echo "$out" | grep -q "^not ok .* exit status (125)"
ok $? "a lab that dies: its status is a failure even with every check ok"

fake_lab 0 "ok 1 - a" "ok 2 - b" "1..5"
out=$(run)
echo "$out" | grep -q "^not ok .* plan 5, 2 checks reported"
ok $? "fewer checks than planned: a failure"

fake_lab 0 "ok 1 - a" "ok 2 - b # SKIP no vhost" "1..2"
out=$(run)
echo "$out" | grep -q "^ok .* plan 2, 2 checks reported"
ok $? "a whole run: the plan check passes"
if [ "$(uname -m)" = aarch64 ]; then
	ok 0 "# SKIP skips are allowed on a native host"
else
	echo "$out" | grep -q "^not ok .* no check skipped on the emulated lab host (skipped b)"
	ok $? "a skipped check on the emulated lab host: a failure, naming it"
fi

fake_lab 1 "ok 1 - a" "not ok 2 - b" "1..2"
out=$(run)
echo "$out" | grep -q "^ok .* exit status (1) agrees with the checks (1 failed)"
ok $? "a lab failing its own checks: the status agrees"
echo "1..$n"
