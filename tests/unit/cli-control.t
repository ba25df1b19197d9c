#!/usr/bin/env bash
# The control-plane clients (armvm list|stat|pause|resume|stop) on what a
# user can get wrong, with no guest running: no KVM needed, so this runs on
# the build host (arm64 armvm under qemu-user on x86_64). The lab suite
# drives them against running guests.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
armvm=${ARMVM:-$top/build/armvm}
run=""
[ "$(uname -m)" = aarch64 ] || run=qemu-aarch64-static
h=$(mktemp -d)
trap 'chmod -R u+rwx "$h"; rm -rf "$h"' EXIT
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
a() { env -u XDG_RUNTIME_DIR HOME=$h $run "$armvm" "$@" 2>&1; }

out=$(a list); rc=$?
ok "$([ $rc = 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q '^NAME'; echo $?)" \
	"list with no guest ever run: the header only, status 0"
out=$(a list --json); rc=$?
ok "$([ $rc = 0 ] && [ "$out" = "[]" ]; echo $?)" "list --json with none: [] ($out)"
out=$(a stat); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q 'say which guest: --name NAME'; echo $?)" "stat without --name: status 2, says what is missing"
out=$(a pause); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q -- '--name NAME, or --all'; echo $?)" "pause without a guest: status 2"
out=$(a stop --name x --all); rc=$?
ok "$([ $rc = 2 ]; echo $?)" "stop with both --name and --all: status 2"
out=$(a resume --bogus); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q "unknown option '--bogus'"; echo $?)" "an unknown option: status 2, named"
out=$(a pause --name ghost); rc=$?
ok "$([ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "no running guest named 'ghost'"; echo $?)" \
	"a guest that does not exist: one line, status 1"
mkdir -p "$h/.armvm" && chmod 777 "$h/.armvm"
out=$(a stop --all); rc=$?
ok "$([ $rc = 1 ] && echo "$out" | grep -q 'owned by you and writable by nobody else'; echo $?)" \
	"a socket directory others may write: refused, status 1"
chmod 700 "$h/.armvm"
out=$(XDG_RUNTIME_DIR=$h/xdg $run "$armvm" list 2>&1); rc=$?
ok "$([ $rc = 0 ]; echo $?)" "XDG_RUNTIME_DIR without an armvm directory: list is empty, status 0"
echo "1..$n"
