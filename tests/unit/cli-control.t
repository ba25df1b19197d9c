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

# Snapshots, with no guest: what the user can get wrong.
out=$(a snapshot --name x); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q 'say where to: -o FILE'; echo $?)" "snapshot without -o: status 2, says what is missing"
out=$(a snapshot -o "$h/s.snap"); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q 'say which guest: --name NAME'; echo $?)" "snapshot without --name: status 2"
out=$(a snapshot --name ghost -o "$h/s.snap"); rc=$?
ok "$([ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "no running guest named 'ghost'" && [ ! -e "$h/s.snap" ]; echo $?)" \
	"snapshot of a guest that does not exist: one line, status 1, no file"
out=$(a debug -i stats); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q -- 'say which guest: --name NAME, or -a for all'; echo $?)" "debug -i stats without a guest: status 2"
out=$(a debug --name x -i frobs); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q "shows 'stats'"; echo $?)" "debug -i with an unknown kind: status 2, named"
out=$(a debug --name ghost -i stats); rc=$?
ok "$([ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "no running guest named 'ghost'"; echo $?)" \
	"debug -i stats of a guest that does not run: one line, status 1"
out=$(a snapshot-info); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q 'say which file'; echo $?)" "snapshot-info without a file: status 2"
out=$(a snapshot-info "$h/none.snap"); rc=$?
ok "$([ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "cannot open snapshot"; echo $?)" "snapshot-info of a missing file: one line, status 1"
out=$(a restore); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q 'say which snapshot'; echo $?)" "restore without a file: status 2"
out=$(a restore "$h/none.snap"); rc=$?
ok "$([ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "cannot open snapshot '$h/none.snap'"; echo $?)" "restore of a missing file: one line, status 1 ($out)"
printf 'hello, not a snapshot, but long enough to have a header: 0123456789abcdef0123456789abcdef\n' >"$h/text"
out=$(a restore "$h/text"); rc=$?
ok "$([ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "not an armvm snapshot"; echo $?)" "restore of a text file: one line, status 1 ($out)"
out=$(a run --restore "$h/text" -m 512); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q -- "--mem cannot be used with a restore"; echo $?)" "run --restore with -m: refused, status 2"

# vls-common: the lengths and GIC a fleet shares, from `armvm info --json`.
echo '{"sve_vector_lengths": [128, 256, 384, 512, 640, 768, 896, 1024, 1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048], "gic": ["gicv3-its", "gicv3"], "cntfrq": 1000000000}' >"$h/a.json"
echo '{"sve_vector_lengths": [128, 256, 512], "gic": ["gicv3-its", "gicv3"], "cntfrq": 1000000000}' >"$h/b.json"
echo '{"sve_vector_lengths": [128, 256, 384], "gic": ["gicv3"], "cntfrq": 1000000000}' >"$h/c.json"
echo '{"sve_vector_lengths": [128, 256, 384], "gic": ["gicv3"], "cntfrq": 25000000}' >"$h/d.json"
echo '{"sve_vector_lengths": [], "gic": ["gicv2"]}' >"$h/e.json"
out=$(a vls-common "$h/a.json" "$h/c.json"); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | grep -q '^--sve-max-vl 384 .*128,256,384 on all 2 hosts' && echo "$out" | grep -q '^--irqchip gicv3$'; echo $?)" "vls-common: 2048-bit and 384-bit hosts share --sve-max-vl 384 and gicv3"
out=$(a vls-common "$h/a.json" "$h/b.json" "$h/c.json"); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | grep -q '^--sve-max-vl 256 '; echo $?)" "vls-common: a host without 384 cuts the fleet at 256"
out=$(a vls-common "$h/a.json" "$h/b.json" --json); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | grep -q '"sve_max_vl": 256' && echo "$out" | grep -q '"irqchip": "gicv3-its"'; echo $?)" "vls-common --json"
out=$(a vls-common "$h/c.json" "$h/d.json"); rc=$?
ok "$([ $rc = 1 ] && echo "$out" | grep -q 'counter frequencies differ'; echo $?)" "vls-common: hosts with other counter frequencies: status 1, said"
out=$(a vls-common "$h/a.json" "$h/e.json"); rc=$?
ok "$([ $rc = 1 ] && echo "$out" | grep -q '^--no-sve' && echo "$out" | grep -q 'no GIC is common'; echo $?)" "vls-common: a host without SVE or a common GIC"
out=$(a vls-common "$h/a.json" "$h/text"); rc=$?
ok "$([ $rc = 1 ] && echo "$out" | grep -q "is not the output of armvm info --json"; echo $?)" "vls-common: a file that is not info --json: status 1, named"
out=$(a help); rc=$?
ok "$([ $rc = 0 ] && for c in snapshot restore snapshot-info debug vls-common; do echo "$out" | grep -q "^  $c " || exit 1; done; echo $?)" \
	"armvm help lists snapshot, restore, snapshot-info, debug, vls-common"
out=$(a selftest --check nosuch); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q "selftest: no check 'nosuch'"; echo $?)" \
	"selftest --check with an unknown ID: status 2, named (not a pass that ran nothing)"
out=$(a pause --name x --json); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | grep -q "pause: unknown option '--json'"; echo $?)" \
	"an option another command has (--json) is refused by one without it"

# The control socket's name check, before any KVM work (armvm run binds its
# socket first, then opens the KVM device: --kvm-dev /nonexistent ends it).
mkdir -p "$h/.armvm" && chmod 700 "$h/.armvm"
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die' \
	"$h/.armvm/stale.sock" # closed at once: a dead armvm's socket
out=$(a run --name stale --kvm-dev /nonexistent -c 1 -m 64 -k /dev/null); rc=$?
ok "$([ $rc = 1 ] && echo "$out" | grep -q 'cannot open /nonexistent' && ! echo "$out" | grep -q 'of that name'; echo $?)" \
	"a dead armvm's socket is bound over: the run goes on to KVM ($out)"
perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die; open(R, ">", $ARGV[1]); close(R); sleep 30' \
	"$h/.armvm/live.sock" "$h/live.ready" &
lpid=$!
for i in $(seq 50); do [ -e "$h/live.ready" ] && break; sleep 0.1; done
out=$(a run --name live --kvm-dev /nonexistent -c 1 -m 64 -k /dev/null); rc=$?
kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
ok "$([ $rc = 1 ] && echo "$out" | grep -q 'a guest of that name is running' && [ -S "$h/.armvm/live.sock" ]; echo $?)" \
	"a live guest's socket: refused, and its socket left alone ($out)"
echo "1..$n"
