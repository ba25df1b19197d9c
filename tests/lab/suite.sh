#!/bin/sh
# The lab test suite, run inside the lab host (an arm64 KVM host) by
# tests/lab/suite.t. Prints TAP. Every guest boot's console goes to a log
# that is shown, as TAP diagnostics, when a check on it fails.
LAB_DIR=${LAB_DIR:-/lab}
G=$LAB_DIR/guest
T=/tmp/armvm-tests
mkdir -p $T
n=0
fails=0

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
	if [ -n "${2:-}" ] && [ -f "$2" ]; then
		echo "#   --- last lines of $2 ---"
		tail -n 40 "$2" | sed 's/^/#   /'
	fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check DESC LOG CMD...: pass if CMD succeeds, else fail showing LOG.
check() { d=$1 l=$2; shift 2; if "$@"; then pass "$d"; else fail "$d" "$l"; fi; }
has() { grep -q -- "$2" "$1"; }
rc_is() { [ "$(cat "$1")" = "$2" ]; }
# mark NAME: a TAP comment with the seconds since the suite began, at each
# section, so build/lab/suite.tap shows where the time goes (make test
# must stay under 20 minutes on a 2-core machine).
t_start=$(cut -d. -f1 /proc/uptime)
mark() { echo "# at $(($(cut -d. -f1 /proc/uptime) - t_start)) s: $1"; }

# vm NAME SECS ARGS...: armvm run ARGS with stdin from /dev/null; the
# console and messages in $T/NAME.log, the exit status in $T/NAME.rc.
vm() {
	name=$1 secs=$2; shift 2
	timeout "$secs" armvm run "$@" </dev/null >$T/$name.log 2>&1
	echo $? >$T/$name.rc
}

# wait_for LOG PATTERN COUNT SECS: until LOG has COUNT lines with PATTERN.
# LOG may not exist yet: a background job's redirection is made in the
# child, which can run after the parent is already here (that race once
# ended the wait at once, as grep -c printed nothing and the test broke).
wait_for() {
	i=0
	while c=$(grep -c -- "$2" "$1" 2>/dev/null); [ "${c:-0}" -lt "$3" ] && [ $i -lt $(($4 * 5)) ]; do
		sleep 0.2; i=$((i + 1))
	done
}

# feed NAME SECS MARKER TEXT ARGS...: armvm run ARGS with stdin from a
# FIFO, and TEXT written to it once MARKER is in the console log: only then
# is the guest's shell reading its console. (Input sent at a fixed delay
# was lost when the guest booted slower than the delay on a busy machine:
# the 8250 driver clears its FIFO when the port opens.) The marker should
# be made by the guest (READY-$((1+1))) so the command line cannot match.
feed() {
	name=$1 secs=$2 marker=$3 text=$4; shift 4
	rm -f $T/$name.in && mkfifo $T/$name.in
	timeout "$secs" armvm run "$@" <$T/$name.in >$T/$name.log 2>&1 &
	fpid=$!
	exec 3>$T/$name.in
	wait_for $T/$name.log "$marker" 1 "$secs"
	printf '%s' "$text" >&3
	wait $fpid
	echo $? >$T/$name.rc
	exec 3>&-
	rm -f $T/$name.in
}

# refuse DESC MESSAGE ARGS...: armvm run ARGS must exit 1 or 2 (no crash,
# no signal) with exactly one line of output containing MESSAGE.
refuse() {
	d=$1 msg=$2; shift 2
	timeout 60 armvm run "$@" </dev/null >$T/refuse.log 2>&1
	rc=$?
	lines=$(wc -l <$T/refuse.log)
	if { [ $rc = 1 ] || [ $rc = 2 ]; } && [ "$lines" = 1 ] && grep -q -- "$msg" $T/refuse.log; then
		pass "$d"
	else
		echo "#   status $rc, $lines line(s), want 1 or 2 and one line with: $msg"
		fail "$d" $T/refuse.log
	fi
}

# import PREFIX FILE: turn the TAP lines of FILE into checks of ours.
import() {
	grep -E '^(not )?ok ' "$2" >$T/import.lines
	if [ ! -s $T/import.lines ]; then fail "$1: produced no results" "$2"; return; fi
	while read -r line; do
		d=$(echo "$line" | sed -E 's/^(not )?ok [0-9]+ - //')
		case "$line" in
		"not ok"*) fail "$1: $d" ;;
		*"# SKIP"*) skip "$1: ${d%%# SKIP*}" "${d#*# SKIP}" ;;
		*) pass "$1: $d" ;;
		esac
	done <$T/import.lines
}
# guesttest NAME: import the GUESTTEST lines of a guest run's log.
guesttest() {
	sed -n 's/\r$//; s/^GUESTTEST //p' $T/$1.log | awk '{ $0 = $1 == "ok" ? "ok 1" substr($0, 3) : "not ok 1" substr($0, 7); print }' >$T/$1.tap
	import "$1" $T/$1.tap
}
# cut_set LIST MAX: the lengths of LIST up to MAX.
cut_set() { echo "$1" | tr ',' '\n' | awk -v m="$2" '$1 <= m' | paste -sd, -; }

echo "# lab host: $(uname -r), $(nproc) CPUs, $(armvm version)"
HOST_VLS=$(armvm info | sed -n 's/^SVE vector lengths: *//p')
echo "# host SVE vector lengths: ${HOST_VLS:-none}"

sve_suite() {
	/lab/kvm/vcpu_state >$T/vcpu_state.log 2>&1
	import "vCPU state" $T/vcpu_state.log
	if [ -z "$HOST_VLS" ] || [ "$HOST_VLS" = none ]; then
		skip "SVE tests" "this host offers no SVE"
		return
	fi
	/lab/kvm/sve_regs >$T/sve_regs.log 2>&1
	import "vCPU SVE registers" $T/sve_regs.log
	armvm selftest >$T/selftest.log 2>&1
	rc=$?
	sed 's/^/#   /' $T/selftest.log
	check "armvm selftest passes on this host" $T/selftest.log test $rc = 0
	check "armvm selftest ran checks 1 to 5" $T/selftest.log test "$(grep -cE '^(PASS|SKIP) ' $T/selftest.log)" -ge 7

	vm sve_host 120 -c 2 -m 256 -p "quiet -- sve check $HOST_VLS"
	check "SVE guest (host's set $HOST_VLS) boots" $T/sve_host.log rc_is $T/sve_host.rc 0
	guesttest sve_host
	set2=$(cut_set "$HOST_VLS" 256)
	vm sve_max 120 -c 1 -m 256 --sve-max-vl 256 -p "quiet -- sve check $set2"
	guesttest sve_max
	set3=$(cut_set "$HOST_VLS" 384)
	vm sve_set 120 -c 1 -m 256 --sve-vls "$set3" -p "quiet -- sve check $set3"
	guesttest sve_set
	vm sve_none 120 -c 1 -m 256 --no-sve -p "quiet -- sve check none; guestinfo"
	guesttest sve_none
	check "--no-sve: guestinfo says no SVE" $T/sve_none.log has $T/sve_none.log "^sve: none"

	refuse "--sve-vls with a hole below its maximum" "leaves out 256 below its maximum 384" --sve-vls 128,384 -c 1 -m 256
	refuse "--sve-max-vl not a multiple of 128" "300 is not a multiple of 128; the host offers $HOST_VLS; nearest valid choice: --sve-max-vl 256" --sve-max-vl 300 -c 1 -m 256
	refuse "--sve-max-vl over 2048" "over the architecture's 2048-bit maximum" --sve-max-vl 4096 -c 1 -m 256
	refuse "--sve-vls empty" "the set is empty" --sve-vls "" -c 1 -m 256
	refuse "--sve-vls not a multiple of 128" "200 is not a multiple of 128" --sve-vls 128,200 -c 1 -m 256
	refuse "--no-sve with --sve-max-vl" "--no-sve cannot be used with" --no-sve --sve-max-vl 256 -c 1 -m 256
	refuse "--sve-vls garbage" "expected vector lengths in bits" --sve-vls 128,big -c 1 -m 256
	# A snapshot of a guest with the main lab host's vector lengths (its
	# header and sections; memory holes): refused here, naming both sets.
	if [ "${1:-}" = other-host ]; then
		if [ -f $LAB_DIR/vls.snap.head ] && [ -f $LAB_DIR/vls.snap.size ]; then
			cp $LAB_DIR/vls.snap.head $T/vls.snap && truncate -s "$(cat $LAB_DIR/vls.snap.size)" $T/vls.snap
			timeout 60 armvm restore $T/vls.snap --name other </dev/null >$T/vls.out 2>&1
			rc=$?
			check "restore of a snapshot whose SVE lengths this host lacks: refused before anything is created, naming both sets and the fix (status $rc)" $T/vls.out \
				sh -c "[ $rc = 1 ] && [ \$(wc -l <$T/vls.out) = 1 ] && grep -q 'its guest has SVE vector lengths 128,.*,2048, this host offers $HOST_VLS; take the snapshot from a guest run with --sve-max-vl ${HOST_VLS##*,}' $T/vls.out"
		else
			skip "restore of a snapshot with other SVE lengths" "the main lab run sent no snapshot"
		fi
	fi
	maxvl=${HOST_VLS##*,}
	if [ "$maxvl" -lt 2048 ]; then
		refuse "--sve-max-vl beyond the host's maximum" "the host lacks $((maxvl + 128))" --sve-max-vl $((maxvl + 128)) -c 1 -m 256
		refuse "--sve-vls with a length the host lacks" "the host lacks $((maxvl + 128))" --sve-vls "$HOST_VLS,$((maxvl + 128))" -c 1 -m 256
	fi
}

# --- Snapshot and restore ------------------------------------------------------
# snap_hold NAME CPUS [ARMVM ARGS...]: N processes keep distinctive values in
# every SVE register (Z, P, FFR) and check them in a loop; the guest is
# snapshotted mid-run, armvm killed (-9), the snapshot restored in a new
# armvm, and every process must end with no mismatch.
snap_hold() {
	sn=$1 sc=$2; shift 2
	armvm run --name $sn -c $sc -m 256 "$@" -p "quiet -- sve hold 6 $sc" </dev/null >$T/$sn.log 2>&1 &
	sp=$!
	wait_for $T/$sn.log 'SVEHOLD.*round=2 ' $sc 240
	# SNAP_THEN=--resume: memory is written by a forked child while the
	# guest runs on and changes it; the file must still be the instant
	# the registers were read.
	armvm snapshot --name $sn -o $T/$sn.snap ${SNAP_THEN:-} >$T/$sn.out 2>&1
	src=$?
	kill -9 $sp; wait $sp 2>/dev/null
	timeout 240 armvm restore $T/$sn.snap --name $sn-r </dev/null >$T/$sn-r.log 2>&1
	rrc=$?
	vl=$(sed -n 's/.*SVEHOLD pid=[0-9]* vl=\([0-9]*\) .*/\1/p' $T/$sn.log | head -1)
	last=$(sed -n 's/.*SVEHOLD.*round=\([0-9]*\) .*/\1/p' $T/$sn-r.log | sort -n | tail -1)
	case $sn in hold[12]-*) rm -f $T/$sn.snap ;; esac
	check "snapshot${SNAP_THEN:+ $SNAP_THEN} of an SVE guest at VL ${vl:-?} with $sc vCPU(s) mid-run, armvm killed, restored: status $src/$rrc, $sc process(es) held every Z/P/FFR register (to round ${last:-none})" $T/$sn-r.log \
		sh -c "[ $src = 0 ] && [ $rrc = 0 ] && [ \$(grep -c 'GUESTTEST ok - sve hold' $T/$sn-r.log) = $sc ] && ! grep -q 'not ok' $T/$sn-r.log && [ ${last:-0} -ge 3 ]"
}

snapshot_suite() {
	if [ -z "$HOST_VLS" ] || [ "$HOST_VLS" = none ]; then
		skip "snapshot of SVE guests" "this host offers no SVE"
		return
	fi
	maxvl=${HOST_VLS##*,}
	snap_hold hold-max 1
	SNAP_THEN=--resume snap_hold hold-512 2 --sve-max-vl 512
	bp=$(sed -n 's/.*guest paused \([0-9.]*\) ms.*/\1/p' $T/hold-512.out)
	check "snapshot --resume: the guest was paused only to read its state (${bp:-?} ms), not while memory was written" $T/hold-512.out \
		awk -v p="${bp:-x}" 'BEGIN { exit !(p + 0 > 0 && p + 0 < 300) }'
	snap_hold hold-128 1 --sve-max-vl 128
	# make test-long: every vector length the host offers, 1 and 2 vCPUs.
	if [ "${SNAP_LONG:-0}" = 1 ]; then
		for v in $(echo "$HOST_VLS" | tr ',' ' '); do
			snap_hold hold1-$v 1 --sve-max-vl $v
			snap_hold hold2-$v 2 --sve-max-vl $v
		done
	fi
	check "snapshot: the reply names the file and says the guest is paused" $T/hold-max.out grep -q "hold-max: saved to $T/hold-max.snap (.* MiB of memory stored, guest paused .* ms); paused" $T/hold-max.out
	armvm snapshot-info $T/hold-max.snap --verify >$T/info.out 2>&1
	check "snapshot-info: the machine, SVE lengths, sections, and every memory checksum" $T/info.out sh -c "grep -q 'machine: 1 vCPU(s), 256 MiB, gicv3-its, SVE $HOST_VLS' $T/info.out && grep -q 'memory checksums: all 256 MiB verified' $T/info.out && [ \$(grep -c '^section' $T/info.out) = 6 ]"
	armvm snapshot-info $T/hold-max.snap --json >$T/info.json 2>&1
	check "snapshot-info --json: vCPUs, memory, vector lengths" $T/info.json sh -c "grep -q '\"vcpus\": 1' $T/info.json && grep -q '\"memory_mib\": 256' $T/info.json && grep -q '\"sve_vector_lengths\": \[' $T/info.json"
	stored=$(du -k $T/hold-max.snap | cut -f1)
	check "the file is sparse: zero pages are holes (${stored} KiB on disk for 256 MiB of RAM)" $T/info.out test "$stored" -lt 200000

	# Restore the same snapshot twice; snapshot a restored guest.
	armvm run --name twice -c 1 -m 256 -p "quiet -- sve hold 12 1" </dev/null >$T/twice.log 2>&1 &
	sp=$!
	wait_for $T/twice.log 'SVEHOLD.*round=2 ' 1 240
	armvm snapshot --name twice -o $T/twice-a.snap >/dev/null 2>&1
	kill -9 $sp; wait $sp 2>/dev/null
	armvm restore $T/twice-a.snap --name twice-r1 </dev/null >$T/twice-r1.log 2>&1 &
	sp=$!
	wait_for $T/twice-r1.log 'SVEHOLD.*round=6 ' 1 240
	armvm debug --name twice-r1 --regs --vcpu 0 >$T/debug.out 2>&1
	drc=$?
	zlen=$(sed -n 's/^  z31 *0x\([0-9a-f]*\)$/\1/p' $T/debug.out | tr -d '\n' | wc -c)
	check "debug --regs on a restored SVE guest: status $drc, pc, x0..x30, and Z/P/FFR at VL $maxvl (z31 has $zlen hex digits)" $T/debug.out \
		sh -c "[ $drc = 0 ] && grep -q '^  pc  *0x' $T/debug.out && grep -q '^  x30 *0x' $T/debug.out && grep -q 'SVE, vector length $maxvl bits' $T/debug.out && [ $zlen = $((maxvl / 4)) ] && grep -q '^  p15 *0x' $T/debug.out && grep -q '^  ffr *0x' $T/debug.out"
	armvm debug --name twice-r1 --regs --vcpu 7 >$T/debug2.out 2>&1
	drc=$?
	check "debug --regs --vcpu out of range: status 1, one line" $T/debug2.out sh -c "[ $drc = 1 ] && [ \$(wc -l <$T/debug2.out) = 1 ] && grep -q 'must be 0 to 0' $T/debug2.out"
	armvm snapshot --name twice-r1 -o $T/twice-b.snap --stop >$T/twice-b.out 2>&1
	wait $sp
	r1=$?
	check "snapshot of a restored guest, with --stop: armvm ends with status 0" $T/twice-b.out sh -c "[ $r1 = 0 ] && grep -q 'stopping' $T/twice-b.out"
	timeout 240 armvm restore $T/twice-b.snap --name twice-r2 </dev/null >$T/twice-r2.log 2>&1
	check "restore of that second snapshot: the registers held to the end" $T/twice-r2.log sh -c "grep -q 'GUESTTEST ok - sve hold' $T/twice-r2.log && ! grep -q 'not ok' $T/twice-r2.log"
	timeout 240 armvm restore $T/twice-a.snap --name twice-r3 </dev/null >$T/twice-r3.log 2>&1
	check "the first snapshot restored a second time: the same good end" $T/twice-r3.log sh -c "grep -q 'GUESTTEST ok - sve hold' $T/twice-r3.log && ! grep -q 'not ok' $T/twice-r3.log"

	# virtio-blk writes in flight and SVE registers held, 2 vCPUs, --resume
	# first (the guest goes on in the same armvm), then a second snapshot,
	# kill, restore: the guest's writes all land and read back.
	rm -f $T/snapdisk.img
	dd if=/dev/zero of=$T/snapdisk.img bs=1M count=0 seek=64 2>/dev/null
	armvm run --name io -c 2 -m 256 -d $T/snapdisk.img -p "quiet -- sve hold 10 1 & for s in 71 72 73 74 75 76; do blktest write /dev/vda 16 \$s && blktest verify /dev/vda 16 \$s; done; wait" </dev/null >$T/io.log 2>&1 &
	sp=$!
	wait_for $T/io.log 'SVEHOLD.*round=1 ' 1 240
	armvm snapshot --name io -o $T/io-a.snap --resume >$T/io-a.out 2>&1
	a=$?
	sleep 1
	armvm stat --name io >$T/io-stat.out 2>&1
	check "snapshot --resume: status $a, the guest runs on in the same armvm" $T/io-stat.out sh -c "[ $a = 0 ] && grep -q 'running' $T/io-a.out && grep -q '^io: running' $T/io-stat.out"
	armvm snapshot --name io -o $T/io-b.snap >/dev/null 2>&1
	kill -9 $sp; wait $sp 2>/dev/null
	timeout 300 armvm restore $T/io-b.snap --name io-r </dev/null >$T/io-r.log 2>&1
	nv=$(cat $T/io.log $T/io-r.log | grep -c 'BLKTEST verify ok')
	check "virtio-blk I/O across snapshot, kill and restore: all 6 write-and-verify rounds pass ($nv), some after the restore" $T/io-r.log sh -c "[ $nv = 6 ] && grep -q 'BLKTEST write ok' $T/io-r.log && ! grep -q 'FAIL' $T/io-r.log && grep -q 'GUESTTEST ok - sve hold' $T/io-r.log"
	$G/blktest verify $T/snapdisk.img 16 76 >$T/io-h.log 2>&1
	check "virtio-blk across snapshot and restore: the image holds every byte the guest wrote" $T/io-h.log has $T/io-h.log "BLKTEST verify ok"

	# virtio-net traffic running: the guest pings through a tap (vhost-net
	# when the host has it), is saved and restored into a new tap.
	ip link del tap0 2>/dev/null
	armvm run --name net -c 1 -m 256 -n mode=tap,tapif=tap0 -p "quiet -- ip addr add 169.254.1.2/16 dev eth0; ip link set eth0 up; ping -c 60 -i 0.2 -W 2 169.254.1.1" </dev/null >$T/snnet.log 2>&1 &
	sp=$!
	for i in $(seq 100); do [ -e /sys/class/net/tap0 ] && break; sleep 0.2; done
	# The host's end keeps its MAC across the two armvm processes, as a
	# bridge or a persistent tap would (a new one would leave the guest's
	# ARP entry stale for longer than the test).
	ip link set tap0 address 02:00:00:00:00:01; ip addr add 169.254.1.1/16 dev tap0; ip link set tap0 up
	wait_for $T/snnet.log 'seq=10 ' 1 120
	armvm snapshot --name net -o $T/net.snap >/dev/null 2>&1
	kill -9 $sp; wait $sp 2>/dev/null
	armvm restore $T/net.snap --name net-r </dev/null >$T/snnet-r.log 2>&1 &
	sp=$!
	for i in $(seq 100); do [ -e /sys/class/net/tap0 ] && break; sleep 0.2; done
	ip link set tap0 address 02:00:00:00:00:01; ip addr add 169.254.1.1/16 dev tap0 2>/dev/null; ip link set tap0 up
	wait $sp
	got=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' $T/snnet-r.log | tr -d '\r')
	check "virtio-net across snapshot and restore: the ping goes on after the restore (${got:-no} of 60 replies)" $T/snnet-r.log sh -c "grep -q 'seq=5[0-9] ' $T/snnet-r.log && [ ${got:-0} -ge 40 ]"
	ip link del tap0 2>/dev/null

	# Pause and resume under load, then stop of a paused guest.
	armvm run --name pr -c 2 -m 256 -p "quiet -- sve hold 8 2" </dev/null >$T/pr.log 2>&1 &
	sp=$!
	wait_for $T/pr.log 'SVEHOLD.*round=1 ' 2 240
	armvm debug --name pr --regs >$T/debug3.out 2>&1
	drc=$?
	check "debug --regs of every vCPU (2 at VL $maxvl, a reply of $(wc -c <$T/debug3.out) bytes): status $drc, both shown whole" $T/debug3.out \
		sh -c "[ $drc = 0 ] && [ \$(grep -c '^vCPU ' $T/debug3.out) = 2 ] && [ \$(grep -c '^  ffr ' $T/debug3.out) = 2 ]"
	prc=0
	for k in 1 2 3 4 5; do
		armvm pause --name pr >/dev/null 2>&1 || prc=1
		sleep 0.3
		armvm resume --name pr >/dev/null 2>&1 || prc=1
		sleep 0.5
	done
	wait $sp
	check "pause and resume five times under load: the registers held, status $prc" $T/pr.log sh -c "[ $prc = 0 ] && [ \$(grep -c 'GUESTTEST ok - sve hold' $T/pr.log) = 2 ]"

	# Guest time across a restore: the counter goes on from the saved value
	# (docs/snapshot-format.md): never backwards, and the 5 s the guest
	# spent saved are not seen as elapsed time.
	armvm run --name time -c 1 -m 256 -p "quiet -- while true; do echo UP \$(cut -d' ' -f1 /proc/uptime); sleep 0.2; done" </dev/null >$T/time.log 2>&1 &
	sp=$!
	wait_for $T/time.log '^UP ' 5 240
	armvm pause --name time >/dev/null 2>&1
	armvm snapshot --name time -o $T/time.snap >$T/time.out 2>&1
	check "snapshot of a paused guest: saved, and it stays paused" $T/time.out sh -c "grep -q 'saved to .*; paused' $T/time.out && armvm list | grep -q '^time .* paused'"
	kill -9 $sp; wait $sp 2>/dev/null
	t1=$(grep '^UP ' $T/time.log | tail -1 | cut -d' ' -f2 | tr -d '\r')
	sleep 5
	armvm restore $T/time.snap --name time-r </dev/null >$T/time-r.log 2>&1 &
	sp=$!
	wait_for $T/time-r.log '^UP ' 3 120
	armvm stop --name time-r >/dev/null 2>&1; wait $sp
	t2=$(grep '^UP ' $T/time-r.log | head -1 | cut -d' ' -f2 | tr -d '\r')
	rm -f $T/time.snap
	check "guest time across save, 5 s away and restore: uptime goes on from ${t1:-?} to ${t2:-?}, not backwards, not 5 s on" $T/time-r.log \
		awk -v a="${t1:-x}" -v b="${t2:-y}" 'BEGIN { exit !(a + 0 > 0 && b + 0 >= a + 0 && b - a < 3) }'

	# The other machine shapes: virtio-mmio, a GIC without ITS (INTx-style
	# level SPIs restored through LEVEL_INFO), the virtio console, a PMU.
	dd if=/dev/zero of=$T/shape.img bs=1M count=0 seek=8 2>/dev/null
	armvm run --name shape -c 2 -m 256 --virtio-transport mmio --irqchip gicv3 --console virtio --pmu --rng -d $T/shape.img \
		-p "quiet -- $ticker" </dev/null >$T/shape.log 2>&1 &
	sp=$!
	wait_for $T/shape.log TICK-3 1 240
	armvm snapshot --name shape -o $T/shape.snap >$T/shape.out 2>&1
	src=$?
	kill -9 $sp; wait $sp 2>/dev/null
	n1=$(grep -c TICK $T/shape.log)
	armvm restore $T/shape.snap --name shape-r </dev/null >$T/shape-r.log 2>&1 &
	sp=$!
	wait_for $T/shape-r.log TICK- 10 120
	armvm stop --name shape-r >/dev/null 2>&1; wait $sp
	first=$(grep -m1 -o 'TICK-[0-9]*' $T/shape-r.log)
	first=${first:-TICK-none}
	check "virtio-mmio, GICv3 without ITS, virtio console, PMU, rng: saved (status $src), restored, the guest goes on from $first (after TICK-$((n1 - 1)))" $T/shape-r.log \
		sh -c "[ $src = 0 ] && [ ${first#TICK-} -ge $((n1 - 1)) ] && [ ${first#TICK-} -le $((n1 + 1)) ] && [ \$(grep -c TICK $T/shape-r.log) -ge 10 ]"
	rm -f $T/shape.snap $T/shape.img

	# A disk full during the save: no partial file, the old snapshot intact,
	# the guest still running.
	mkdir -p $T/small && mount -t tmpfs -o size=100m tmpfs $T/small
	armvm run --name full -c 1 -m 256 -p "quiet -- $ticker" </dev/null >$T/full.log 2>&1 &
	sp=$!
	wait_for $T/full.log TICK-3 1 240
	armvm snapshot --name full -o $T/small/s.snap --resume >/dev/null 2>&1
	sum1=$(sha256sum $T/small/s.snap | cut -d' ' -f1)
	dd if=/dev/zero of=$T/small/fill bs=1M count=20 2>/dev/null
	armvm snapshot --name full -o $T/small/s.snap --resume >$T/full.out 2>&1
	frc=$?
	sum2=$(sha256sum $T/small/s.snap | cut -d' ' -f1)
	n1=$(grep -c TICK $T/full.log); sleep 2; n2=$(grep -c TICK $T/full.log)
	check "disk full during a save: status $frc, one line naming the error, the old snapshot intact, no temporary file, the guest runs on (ticks $n1 -> $n2)" $T/full.out \
		sh -c "[ $frc = 1 ] && [ \$(wc -l <$T/full.out) = 1 ] && grep -q 'No space left' $T/full.out && [ '$sum1' = '$sum2' ] && [ \$(ls -A $T/small | wc -l) = 2 ] && [ $n2 -gt $n1 ]"
	armvm stop --name full >/dev/null 2>&1; wait $sp
	umount $T/small

	# Corrupt files: each must be refused with one line, status 1, no guest.
	# The copies hold the header and sections; their memory is holes.
	f=$T/hold-max.snap
	$G/snapflip info $f >$T/c.info
	memoff=$(sed -n 's/^mem_offset //p' $T/c.info)
	fsize=$(stat -c %s $f)
	mkcopy() { head -c $memoff $f >$T/c.snap && truncate -s $fsize $T/c.snap; }
	tc=0 tbad=""
	for off in 0 7 8 63 64 65 $(sed -n 's/^section [0-9]* type [0-9]* at \([0-9]*\) .*/\1/p' $T/c.info | while read o; do echo $((o - 1)) $o $((o + 1)) $((o + 24)); done) $(sed -n 's/^state_end //p' $T/c.info) $memoff $((memoff + 4096)) $((fsize - 1)); do
		mkcopy && truncate -s $off $T/c.snap
		timeout 60 armvm restore $T/c.snap --name trunc </dev/null >$T/c.out 2>&1
		rc=$?
		tc=$((tc + 1))
		if [ $rc != 1 ] || [ "$(wc -l <$T/c.out)" != 1 ]; then tbad="$tbad $off(status $rc)"; fi
	done
	check "$tc truncations at and around every section boundary: each refused with one line, status 1${tbad:+ (failed:$tbad)}" $T/c.out test -z "$tbad"
	refuse_restore() { # DESC MESSAGE
		timeout 60 armvm restore $T/c.snap --name bad </dev/null >$T/c.out 2>&1
		rc=$?
		check "$1: status $rc, one line: $2" $T/c.out sh -c "[ $rc = 1 ] && [ \$(wc -l <$T/c.out) = 1 ] && grep -q -- '$2' $T/c.out"
	}
	mkcopy && printf 'ARMVMSNQ' | dd of=$T/c.snap conv=notrunc 2>/dev/null
	refuse_restore "a wrong magic" "not an armvm snapshot"
	mkcopy && $G/snapflip version $T/c.snap 2
	refuse_restore "a future format version" "format version 2 is newer than this armvm reads"
	mkcopy && $G/snapflip drop $T/c.snap 3
	refuse_restore "a section missing (the GIC)" "the gic section is missing"
	mkcopy && $G/snapflip drop $T/c.snap 2
	refuse_restore "the vCPU section missing" "the vcpu section is missing"
	mkcopy && $G/snapflip swap $T/c.snap 0 1
	refuse_restore "sections out of order (machine before host)" "the host section is missing"
	mkcopy && $G/snapflip swap $T/c.snap 3 4
	refuse_restore "sections out of order (devices before the GIC)" "the gic section is missing"
	mkcopy && $G/snapflip vls $T/c.snap 512
	refuse_restore "a wrong SVE vector-length set in the machine" "SVE state does not match the machine"
	mkcopy && $G/snapflip setreg $T/c.snap 6030000000140001 5
	refuse_restore "an SMCCC workaround level this host does not offer" "KVM refuses its guest.s SMCCC workaround 1 (Spectre-v2) level (register 0x6030000000140001 = 0x5)"
	mkcopy
	$G/snapflip flip $T/c.snap 1000 7 armvm restore $T/c.snap --name flip >$T/flip.out 2>&1
	check "1000 random bit flips before memory: armvm restore refuses each with one line, never a crash" $T/flip.out has $T/flip.out "SNAPFLIP ok 1000"
	# A bit flipped in memory: not read at restore (it maps memory lazily),
	# found by --verify.
	g=$T/twice-b.snap
	o=$(( $($G/snapflip info $g | sed -n 's/^mem_offset //p') + 4096 * 4000 + 17 ))
	b=$(dd if=$g bs=1 skip=$o count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "\\$(printf %o $(( (${b:-0} ^ 16) & 255 )))" | dd of=$g bs=1 seek=$o conv=notrunc 2>/dev/null
	armvm snapshot-info $g --verify >$T/c.out 2>&1
	rc=$?
	check "a bit flipped in memory: snapshot-info --verify finds it (status $rc)" $T/c.out sh -c "[ $rc = 1 ] && grep -q 'checksum mismatch in the MiB at guest 0x' $T/c.out"
	rm -f $T/c.snap $g $T/twice-a.snap $T/hold-128.snap $T/hold-512.snap $T/io-a.snap $T/net.snap
	timeout 60 armvm restore $T/io-b.snap --name bad --disk /nonexistent.img </dev/null >$T/c.out 2>&1
	check "restore with a missing disk: refused before anything is created" $T/c.out sh -c "grep -q 'its disk 0, /nonexistent.img, is missing' $T/c.out && [ \$(wc -l <$T/c.out) = 1 ]"
	truncate -s 32M $T/snapdisk2.img
	timeout 60 armvm restore $T/io-b.snap --name bad --disk $T/snapdisk2.img </dev/null >$T/c.out 2>&1
	check "restore with a disk of another size: refused, naming both sizes" $T/c.out sh -c "grep -q 'is 33554432 bytes, the guest knew it as 67108864' $T/c.out"
	timeout 60 armvm restore $T/io-b.snap -m 512 </dev/null >$T/c.out 2>&1
	check "restore with -m: refused (the machine is the snapshot's)" $T/c.out grep -q "\-\-mem cannot be used with a restore" $T/c.out
	# For the lab host with other vector lengths (suite.t runs it next): the
	# snapshot's header and sections; its memory is holes there.
	head -c $memoff $f >/tmp/vls.snap.head 2>/dev/null
	echo $(stat -c %s $f) >/tmp/vls.snap.size
	rm -f $f $T/io-b.snap $T/snapdisk.img $T/snapdisk2.img
}

if [ "${1:-}" = snapshot-only ]; then
	# make test-long: the snapshot sweep over every vector length.
	G=$LAB_DIR/guest
	ticker='i=0; while true; do echo TICK-$i; i=$((i+1)); sleep 0.2; done'
	snapshot_suite
	echo "1..$n"
	[ $fails = 0 ]
	exit
fi

# --viommu virtio: the emulated devices behind the virtio-iommu (every
# address they see translated through the guest's mappings).
viommu_virtio_suite() {
	for tr in pci mmio; do
		seed=$(( $(date +%s) % 100000 + 11 ))
		mib=64; [ $tr = mmio ] && mib=32 # make test's time budget
		rm -f $T/vv.img && truncate -s 80M $T/vv.img
		vm vv_$tr 240 -c 2 -m 256 --virtio-transport $tr --viommu virtio -d $T/vv.img --rng -p "quiet -- \"ls /sys/kernel/iommu_groups/*/devices; blktest write /dev/vda $mib $seed && echo 3 >/proc/sys/vm/drop_caches && blktest verify /dev/vda $mib $seed; echo RNG=\$(head -c 4096 /dev/hwrng | wc -c)\""
		vvl=$T/vv_$tr.log
		check "--viommu virtio on $tr: virtio-blk and virtio-rng are in IOMMU groups in the guest" $vvl sh -c "[ \$(grep -c 'iommu_groups/[0-9]*/devices:' $vvl) -ge 2 ]"
		check "--viommu virtio on $tr: the guest writes and reads back $mib MiB through translated addresses" $vvl sh -c "grep -q 'BLKTEST write ok' $vvl && grep -q 'BLKTEST verify ok' $vvl"
		$G/blktest verify $T/vv.img $mib $seed >$T/vvh_$tr.log 2>&1
		check "--viommu virtio on $tr: the image holds every byte" $T/vvh_$tr.log has $T/vvh_$tr.log "BLKTEST verify ok"
		check "--viommu virtio on $tr: virtio-rng fills 4096 bytes" $vvl has $vvl "RNG=4096"
		check "--viommu virtio on $tr: no translation fault, status 0" $vvl sh -c "! grep -q 'page fault from EP' $vvl && [ \$(cat $T/vv_$tr.rc) = 0 ]"
	done
	net_round pci 0 userspace --viommu virtio
	net_round mmio 0 userspace --viommu virtio
	refuse "--viommu virtio with vhost=1: refused" "cannot be used with --viommu virtio" -c 1 -m 256 --viommu virtio -n mode=tap,vhost=1

	# Snapshot, kill, restore: the virtio-iommu's domains and mappings
	# come back with the devices behind them; a ping runs across it.
	seed=$(( $(date +%s) % 100000 + 13 ))
	rm -f $T/vs.img && truncate -s 40M $T/vs.img
	ip link del tap0 2>/dev/null
	armvm run --name vsnap -c 1 -m 256 --viommu virtio -d $T/vs.img --rng -n mode=tap,tapif=tap0 -p "quiet -- \"ip addr add 169.254.1.2/16 dev eth0; ip link set eth0 up; blktest write /dev/vda 16 $seed; ping -c 40 -i 0.2 -W 2 169.254.1.1 & sleep 3; echo SNAP-READY; wait; echo 3 >/proc/sys/vm/drop_caches; blktest verify /dev/vda 16 $seed; echo RNG=\$(head -c 512 /dev/hwrng | wc -c)\"" </dev/null >$T/vsnap.log 2>&1 &
	sp=$!
	for i in $(seq 100); do [ -e /sys/class/net/tap0 ] && break; sleep 0.2; done
	ip link set tap0 address 02:00:00:00:00:01; ip addr add 169.254.1.1/16 dev tap0; ip link set tap0 up
	wait_for $T/vsnap.log SNAP-READY 1 240
	armvm debug --name vsnap -i stats >$T/vsnap.stats 2>&1
	armvm snapshot --name vsnap -o $T/vsnap.snap >$T/vsnap.out 2>&1
	src=$?
	kill -9 $sp; wait $sp 2>/dev/null
	timeout 240 armvm restore $T/vsnap.snap --name vsnap-r </dev/null >$T/vsnap-r.log 2>&1 &
	sp=$!
	for i in $(seq 100); do [ -e /sys/class/net/tap0 ] && break; sleep 0.2; done
	ip link set tap0 address 02:00:00:00:00:01; ip addr add 169.254.1.1/16 dev tap0 2>/dev/null; ip link set tap0 up
	wait $sp
	rrc=$?
	got=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' $T/vsnap-r.log | tr -d '\r')
	check "--viommu virtio: snapshot of a guest with live IOMMU mappings ($(grep -o '[0-9]* mapping(s)' $T/vsnap.stats | head -1)), armvm killed, restored: status $src/$rrc" $T/vsnap-r.log sh -c "[ $src = 0 ] && [ $rrc = 0 ]"
	check "--viommu virtio: after the restore the guest reads its disk back through the restored mappings" $T/vsnap-r.log has $T/vsnap-r.log "BLKTEST verify ok"
	check "--viommu virtio: the ping over virtio-net goes on after the restore (${got:-no} of 40 replies)" $T/vsnap-r.log sh -c "grep -q 'seq=3[0-9] ' $T/vsnap-r.log && [ ${got:-0} -ge 20 ]"
	check "--viommu virtio: and virtio-rng still answers" $T/vsnap-r.log has $T/vsnap-r.log "RNG=512"
	ip link del tap0 2>/dev/null
	rm -f $T/vsnap.snap
}

# --- PCI passthrough (--vfio-pci) -----------------------------------------
# The lab host's QEMU has an NVMe controller (1b36:0010) and an edu device
# (1234:11e8) behind its SMMUv3.
pci_find() { # VENDOR:DEVICE: the lab host's function with these IDs
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor):$(cat $d/device)" = "$1" ] && { basename $d; return; }
	done
}
pci_bind() { # BDF DRIVER: bind the lab host's function to DRIVER
	pdir=/sys/bus/pci/devices/$1
	[ -e $pdir/driver ] && echo $1 >$pdir/driver/unbind
	echo $2 >$pdir/driver_override
	echo $1 >/sys/bus/pci/drivers_probe
	echo >$pdir/driver_override
	[ "$(basename "$(readlink $pdir/driver)")" = "$2" ]
}
# nvme_guest NAME SECS CMDLINE-EXTRA SCRIPT [ARMVM ARGS...]: a guest with the
# NVMe controller passed through runs SCRIPT (one shell word for init).
nvme_guest() {
	ng=$1 ns=$2 nx=$3 nscript=$4; shift 4
	vm $ng $ns -c 2 -m 256 --vfio-pci $NVME "$@" -p "quiet $nx -- \"$nscript\""
}
vfio_suite() {
	NVME=$(pci_find 0x1b36:0x0010)
	if [ -z "$NVME" ] || [ ! -e /sys/bus/pci/devices/$NVME/iommu_group ] || [ ! -e /sys/bus/pci/drivers/vfio-pci ]; then
		skip "PCI passthrough" "the lab host has no NVMe controller behind an IOMMU, or no vfio-pci"
		return
	fi
	# Bad input, while the controller is still the lab host's.
	pci_bind $NVME nvme
	refuse "--vfio-pci of a function bound to a host driver: refused, naming the driver and how to bind it" "$NVME (nvme) is bound to a host driver; bind it to vfio-pci (echo vfio-pci > /sys/bus/pci/devices/$NVME/driver_override" --vfio-pci $NVME -c 1 -m 256
	check "lab host: the NVMe controller is bound to vfio-pci" $T/refuse.log pci_bind $NVME vfio-pci
	refuse "--vfio-pci of a function that does not exist" "--vfio-pci 0000:00:1f.7: no such PCI function on this host" --vfio-pci 00:1f.7 -c 1 -m 256
	refuse "--vfio-pci with a malformed address" "expected a PCI address" --vfio-pci 0:0:0:0 -c 1 -m 256
	refuse "--vfio-pci given twice" "given twice" --vfio-pci $NVME --vfio-pci $NVME -c 1 -m 256

	# The guest's own nvme driver, MSI-X through the ITS, DMA at IOVA = GPA.
	seed=$(( $(date +%s) % 100000 ))
	nvme_guest vfio_nvme 300 "" "blktest write /dev/nvme0n1 64 $seed && echo 3 >/proc/sys/vm/drop_caches && blktest verify /dev/nvme0n1 64 $seed; grep nvme0q /proc/interrupts"
	check "--vfio-pci nvme: the guest's nvme driver writes 64 MiB" $T/vfio_nvme.log has $T/vfio_nvme.log "BLKTEST write ok"
	check "--vfio-pci nvme: the guest reads the 64 MiB back from the device, checksums equal" $T/vfio_nvme.log has $T/vfio_nvme.log "BLKTEST verify ok"
	irqs=$(sed -n 's/^ *[0-9]*: *\([0-9]*\) .*ITS-PCI-MSIX.*nvme0q[1-9].*/\1/p' $T/vfio_nvme.log | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }')
	check "--vfio-pci nvme: I/O completions arrive as MSI-X through the ITS ($irqs interrupts on the I/O queues)" $T/vfio_nvme.log test "$irqs" -gt 10
	check "--vfio-pci nvme: the guest powered off, status 0" $T/vfio_nvme.log rc_is $T/vfio_nvme.rc 0

	# armvm's exit leaves the controller usable: the lab host's own driver
	# reads what the guest wrote.
	if pci_bind $NVME nvme; then
		i=0; while [ ! -b /dev/nvme0n1 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
		$G/blktest verify /dev/nvme0n1 64 $seed >$T/vfio_host.log 2>&1
	else
		echo "cannot bind $NVME to nvme" >$T/vfio_host.log
	fi
	check "after armvm exits, the lab host's nvme driver takes the controller and reads the guest's 64 MiB" $T/vfio_host.log has $T/vfio_host.log "BLKTEST verify ok"
	pci_bind $NVME vfio-pci

	# INTx (pci=nomsi in the guest): an eventfd with a resample eventfd.
	nvme_guest vfio_intx 300 "pci=nomsi" "blktest verify /dev/nvme0n1 32 $seed; grep nvme /proc/interrupts"
	check "--vfio-pci nvme, pci=nomsi: the guest reads the first 32 MiB back on INTx" $T/vfio_intx.log has $T/vfio_intx.log "BLKTEST verify ok"
	check "--vfio-pci nvme, pci=nomsi: the interrupt is a GIC SPI, level" $T/vfio_intx.log sh -c "grep nvme $T/vfio_intx.log | grep -q 'GICv3.*Level'"

	# The guest unbinds its driver (device reset, queues torn down) and binds it again.
	nvme_guest vfio_rebind 300 "" "b=\$(ls /sys/bus/pci/drivers/nvme | grep :); echo \$b >/sys/bus/pci/drivers/nvme/unbind; ls /dev/nvme0n1 2>/dev/null; echo \$b >/sys/bus/pci/drivers/nvme/bind; i=0; while [ ! -b /dev/nvme0n1 ] && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i+1)); done; blktest verify /dev/nvme0n1 64 $seed"
	check "--vfio-pci nvme: unbind and bind the guest's driver, the data reads back" $T/vfio_rebind.log has $T/vfio_rebind.log "BLKTEST verify ok"

	# A second armvm cannot take the controller; a snapshot is refused.
	armvm run --name vfhold -c 1 -m 256 --vfio-pci $NVME -p 'quiet -- "echo HOLD-READY; sleep 60"' </dev/null >$T/vfhold.log 2>&1 &
	hp=$!
	wait_for $T/vfhold.log HOLD-READY 1 240
	refuse "--vfio-pci of a function another armvm holds: refused" "is in use by another process" --vfio-pci $NVME -c 1 -m 256
	armvm snapshot --name vfhold -o $T/vfhold.snap >$T/vfsnap.out 2>&1
	src=$?
	check "snapshot of a guest with a passed-through device: refused with the reason, no file left" $T/vfsnap.out \
		sh -c "[ $src != 0 ] && grep -q 'passed-through host device' $T/vfsnap.out && [ ! -e $T/vfhold.snap ]"
	armvm stop --name vfhold >/dev/null 2>&1
	wait $hp
	check "the guest holding the device stops cleanly" $T/vfhold.log sh -c "grep -q HOLD-READY $T/vfhold.log"
	viommu_suite
}

# --viommu vfio: the guest's DMA API maps through armvm's virtio-iommu,
# whose mappings become the host's VFIO mappings.
rebind_nvme="b=\$(ls /sys/bus/pci/drivers/nvme | grep :); echo \$b >/sys/bus/pci/drivers/nvme/unbind; echo \$b >/sys/bus/pci/drivers/nvme/bind; i=0; while [ ! -b /dev/nvme0n1 ] && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i+1)); done"
viommu_suite() {
	for tr in pci mmio; do
		seed=$(( $(date +%s) % 100000 + 7 ))
		# 64 MiB on PCI, 32 on virtio-mmio: make test's time budget.
		mib=64; [ $tr = mmio ] && mib=32
		armvm run --name vi-$tr -c 2 -m 256 --virtio-transport $tr --viommu vfio --vfio-pci $NVME -p "quiet -- \"cat /sys/kernel/iommu_groups/*/reserved_regions; blktest write /dev/nvme0n1 $mib $seed && echo 3 >/proc/sys/vm/drop_caches && blktest verify /dev/nvme0n1 $mib $seed; grep nvme0q /proc/interrupts; echo STATS-NOW; sleep 4; $rebind_nvme; blktest verify /dev/nvme0n1 $mib $seed\"" </dev/null >$T/vi-$tr.log 2>&1 &
		vp=$!
		wait_for $T/vi-$tr.log STATS-NOW 1 240
		armvm debug -a -i stats >$T/vi-$tr.stats 2>&1
		armvm debug --name vi-$tr -i stats --json >$T/vi-$tr.json 2>&1
		wait $vp
		echo $? >$T/vi-$tr.rc
		check "--viommu vfio on $tr: the guest's nvme driver writes $mib MiB through the virtio-iommu" $T/vi-$tr.log has $T/vi-$tr.log "BLKTEST write ok"
		check "--viommu vfio on $tr: and reads it all back" $T/vi-$tr.log sh -c "[ \$(grep -c 'BLKTEST verify ok' $T/vi-$tr.log) -ge 1 ]"
		check "--viommu vfio on $tr: the guest sees the ITS doorbell as an MSI region and the host's MSI window as reserved" $T/vi-$tr.log \
			sh -c "grep -q '0x000000003ffc0000 0x000000003ffcffff msi' $T/vi-$tr.log && grep -q '0x0000000008000000 0x00000000080fffff reserved' $T/vi-$tr.log"
		check "--viommu vfio on $tr: MSI-X completions arrive (the doorbell is not translated)" $T/vi-$tr.log sh -c "grep -q 'ITS-PCI-MSIX.*nvme0q1' $T/vi-$tr.log"
		maps=$(sed -n 's/.*domain [0-9]*: 1 endpoint(s), .* \([0-9][0-9]*\) map(s).*/\1/p' $T/vi-$tr.stats | head -1)
		check "armvm debug -a -i stats: the guest's domain, its mappings and map/unmap counts (${maps:-no} maps)" $T/vi-$tr.stats \
			sh -c "grep -q '^vi-$tr: virtio-iommu: 1 endpoint(s), 1 domain(s)' $T/vi-$tr.stats && [ ${maps:-0} -gt 100 ]"
		check "armvm debug --name -i stats --json" $T/vi-$tr.json grep -q '"domains": \[' $T/vi-$tr.json
		check "--viommu vfio on $tr: the guest unbinds and binds its driver (domain torn down, made again), the data reads back" $T/vi-$tr.log \
			sh -c "[ \$(grep -c 'BLKTEST verify ok' $T/vi-$tr.log) = 2 ] && [ \$(cat $T/vi-$tr.rc) = 0 ]"
	done

	# The guest's own VFIO: edu bound to vfio-pci in the guest, a buffer
	# mapped by a guest program, DMA through two IOMMUs.
	EDU=$(pci_find 0x1234:0x11e8)
	if [ -z "$EDU" ] || ! pci_bind $EDU vfio-pci; then
		skip "--viommu vfio: guest VFIO with edu" "no edu device in the lab host"
		return
	fi
	ev0=$(dmesg | grep -c 'smmuv3.*event 0x10')
	vm vi_edu 180 -c 1 -m 256 --viommu vfio --vfio-pci $EDU -p 'quiet -- "b=$(grep -l 0x1234 /sys/bus/pci/devices/*/vendor | cut -d/ -f6); echo 1 >/sys/bus/pci/devices/$b/enable; echo 1 >/sys/bus/pci/devices/$b/rom; grep -a -o ARMVM-ROM-TEST /sys/bus/pci/devices/$b/rom; echo 0 >/sys/bus/pci/devices/$b/rom; echo 0 >/sys/bus/pci/devices/$b/enable; echo 1234 11e8 >/sys/bus/pci/drivers/vfio-pci/new_id; edudma $b"'
	ev1=$(dmesg | grep -c 'smmuv3.*event 0x10')
	check "--viommu vfio: a guest program's VFIO mapping (MAP through the virtio-iommu) carries an edu DMA round trip" $T/vi_edu.log has $T/vi_edu.log "EDUDMA roundtrip ok"
	check "--viommu vfio: a DMA from an IOVA the guest never mapped does not reach memory" $T/vi_edu.log has $T/vi_edu.log "EDUDMA unmapped ok"
	check "--viommu vfio: after the guest unmaps, a DMA to the old IOVA does not reach memory" $T/vi_edu.log has $T/vi_edu.log "EDUDMA unmapped-after-unmap ok"
	check "--vfio-pci: the function's expansion ROM reads in the guest (its PCI ROM image and marker)" $T/vi_edu.log has $T/vi_edu.log "^ARMVM-ROM-TEST"
	check "--vfio-pci: the function's MSI capability, virtualised, carries edu's interrupt to the guest's VFIO eventfd" $T/vi_edu.log has $T/vi_edu.log "EDUDMA msi ok"
	check "--viommu vfio: the lab host's SMMU reported the faults ($((ev1 - ev0)) translation events), armvm and the guest carried on (status 0)" $T/vi_edu.log \
		sh -c "[ $((ev1 - ev0)) -ge 1 ] && [ \$(cat $T/vi_edu.rc) = 0 ]"
}
if [ "${1:-}" = vfio-only ]; then
	vfio_suite
	echo "1..$n"
	[ $fails = 0 ]
	exit
fi
if [ "${1:-}" = sve-only ]; then
	sve_suite other-host
	echo "1..$n"
	[ $fails = 0 ]
	exit
fi
mark "SVE"
sve_suite

# --- Boot to userspace, CPUs, memory, device tree -----------------------
mark "Boot to userspace, CPUs, memory, device tree"
vm boot 120 -c 2 -m 256 -p quiet --dump-dtb $T/guest.dtb
check "guest boots to userspace and powers off with status 0" $T/boot.log rc_is $T/boot.rc 0
check "guest init ran (marker seen)" $T/boot.log has $T/boot.log ARMVM-GUEST-UP
check "guest runs an arm64 Linux" $T/boot.log has $T/boot.log "kernel: 6\..* aarch64"
check "-c 2: two CPUs online in the guest" $T/boot.log has $T/boot.log "^cpus: 2"
mem=$(sed -n 's/^memory: \([0-9]*\) MiB.*/\1/p' $T/boot.log | tr -d '\r')
check "-m 256: the guest sees about 256 MiB (got ${mem:-none})" $T/boot.log test "${mem:-0}" -ge 200 -a "${mem:-999}" -le 256
check "--dump-dtb wrote a blob" $T/boot.log test -s $T/guest.dtb
cp $T/guest.dtb /tmp/guest.dtb 2>/dev/null

# --- The default guest ----------------------------------------------------
mark "The default guest"
vm default 120 -p "quiet -- cat /proc/cmdline; guestinfo"
check "armvm run with no kernel boots the default guest" $T/default.log rc_is $T/default.rc 0
check "default guest: kernel command line gets kvmtool's console defaults" $T/default.log has $T/default.log "^console=ttyS0 earlycon=uart8250,mmio,0x1000000 quiet"
check "default guest: one vCPU per host CPU ($(nproc))" $T/default.log has $T/default.log "^cpus: $(nproc)"
mem=$(sed -n 's/^memory: \([0-9]*\) MiB.*/\1/p' $T/default.log | tr -d '\r')
want=$((64 * ($(nproc) + 3)))
check "default memory is kvmtool's 64 MiB x (CPUs + 3) = $want MiB (guest sees ${mem:-none})" $T/default.log test "${mem:-0}" -ge $((want - 64)) -a "${mem:-999999}" -le $want

# --- --nodefaults, machine options ---------------------------------------
mark "--nodefaults, machine options"
vm nodef 120 --nodefaults -c 1 -m 256 -p "quiet -- cat /proc/cmdline"
check "--nodefaults: guest boots (console from stdout-path)" $T/nodef.log rc_is $T/nodef.rc 0
check "--nodefaults: nothing appended to the command line" $T/nodef.log has $T/nodef.log "^quiet -- cat /proc/cmdline"

vm pmu 120 --pmu --irqchip=gicv3-its -c 2 -m 256 -p "quiet -- ls /sys/bus/event_source/devices/; dmesg | grep -i -e its -e gicv3"
check "--pmu --irqchip=gicv3-its: guest boots" $T/pmu.log rc_is $T/pmu.rc 0
check "--pmu: the guest has a PMUv3 (armv8_pmuv3 event source)" $T/pmu.log has $T/pmu.log armv8_pmuv3
check "--irqchip=gicv3-its: the guest found the ITS" $T/pmu.log has $T/pmu.log "ITS.*0x0*3ffb0000"

vm gicv3 120 --irqchip gicv3 -c 1 -m 256 -p "quiet -- dmesg | grep -i -e its -e gic"
check "--irqchip gicv3: guest boots" $T/gicv3.log rc_is $T/gicv3.rc 0
check "--irqchip gicv3: a GICv3 and no ITS" $T/gicv3.log sh -c "grep -q 'GICv3' $T/gicv3.log && ! grep -q 'ITS.*3ffb0000' $T/gicv3.log"

vm gicv2 120 --irqchip=gicv2 -c 2 -m 256 -p "quiet -- guestinfo"
if grep -q "cannot create that interrupt controller" $T/gicv2.log; then
	check "--irqchip=gicv2 on a host without GICv2 emulation: refused with a message" $T/gicv2.log rc_is $T/gicv2.rc 1
else
	check "--irqchip=gicv2: guest boots with 2 CPUs" $T/gicv2.log has $T/gicv2.log "^cpus: 2"
fi

# --- Kernel formats --------------------------------------------------------
mark "Kernel formats"
if [ -f $LAB_DIR/Image.gz ]; then
	vm gzip 120 -k $LAB_DIR/Image.gz -i $LAB_DIR/guest.cpio.gz -c 1 -m 256 -p quiet
	check "gzip-compressed Image boots" $T/gzip.log rc_is $T/gzip.rc 0
	check "gzip Image: guest reached userspace" $T/gzip.log has $T/gzip.log "^kernel: "
else
	skip "gzip-compressed Image boots" "no Image.gz in the lab"
fi
# A kernel or initrd of 16 MiB or more is read into RAM in parts, one
# thread each (vm_boot_read): the guest checks a 20 MiB random member of
# its initrd (an uncompressed cpio after the default one, 4-byte aligned as
# the kernel wants) against the checksum made here.
mkdir -p $T/bigrd/big
head -c 20971520 /dev/urandom >$T/bigrd/big/big.bin
echo "$(sha256sum <$T/bigrd/big/big.bin | cut -d' ' -f1)  /big/big.bin" >$T/bigrd/big/big.sha256
(cd $T/bigrd && find big | cpio -o -H newc 2>/dev/null) >$T/big.cpio
gz=$(wc -c <$LAB_DIR/guest.cpio.gz)
{ cat $LAB_DIR/guest.cpio.gz; head -c $(((4 - gz % 4) % 4)) /dev/zero; cat $T/big.cpio; } >$T/bigrd.img
vm bigrd 120 -k $LAB_DIR/Image -i $T/bigrd.img -c 1 -m 256 -p "quiet -- sha256sum -c /big/big.sha256"
check "a 24 MiB initrd, read in parts: its 20 MiB random member is byte-exact in the guest" $T/bigrd.log has $T/bigrd.log "^/big/big.bin: OK"
rm -rf $T/bigrd $T/big.cpio $T/bigrd.img
vm flat 60 -k $LAB_DIR/flat.bin --nodefaults -c 1 -m 64
check "flat binary runs at RAM + 512 KiB and powers off" $T/flat.log rc_is $T/flat.rc 0
check "flat binary printed through the UART at 0x1000000" $T/flat.log has $T/flat.log FLAT-BINARY-OK
vm named 60 -k $LAB_DIR/flat.bin --nodefaults -c 1 -m 64 --name web-1 --loglevel info
check "--name names the guest" $T/named.log has $T/named.log "armvm: web-1: booting"
vm unnamed 60 -k $LAB_DIR/flat.bin --nodefaults -c 1 -m 64 --loglevel info
check "without --name the guest is guest-PID (kvmtool's default)" $T/unnamed.log has $T/unnamed.log "armvm: guest-[0-9][0-9]*: booting"

# --- Devices: RTC and console input ----------------------------------------
mark "Devices: RTC and console input"
vm rtc 120 -c 1 -m 256 -p "quiet -- cat /sys/class/rtc/rtc0/name; echo RTC=\$(cat /sys/class/rtc/rtc0/since_epoch)"
check "PL031 RTC is rtc0 in the guest" $T/rtc.log has $T/rtc.log "pl031"
g=$(sed -n 's/^RTC=\([0-9]*\).*/\1/p' $T/rtc.log | tr -d '\r') h=$(date +%s)
check "guest RTC reads host time (guest ${g:-none}, host $h)" $T/rtc.log test $(( ${g:-0} - h )) -le 5 -a $(( h - ${g:-0} )) -le 300

feed input 120 READY-2 'hello-from-host
' -c 1 -m 256 -p 'quiet -- echo READY-$((1+1)); read l; echo GOT=$l'
check "console input reaches the guest through the UART" $T/input.log has $T/input.log "GOT=hello-from-host"
check "console input: the guest powered off (status 0)" $T/input.log rc_is $T/input.rc 0

# --- virtio devices ------------------------------------------------------------
mark "virtio devices"
G=$LAB_DIR/guest
blk_round() { # NAME TRANSPORT ENGINE SEED: write 64 MiB in the guest, check here, read back in a new guest
	bn=$1 tr=$2 eng=$3 seed=$4
	rm -f $T/disk.img
	dd if=/dev/zero of=$T/disk.img bs=1M count=0 seek=80 2>/dev/null
	vm blkw_$bn 180 -c 2 -m 256 --virtio-transport $tr -d $T/disk.img,engine=$eng -p "quiet -- blktest write /dev/vda 64 $seed"
	check "virtio-blk $tr/$eng: guest writes 64 MiB and syncs" $T/blkw_$bn.log has $T/blkw_$bn.log "BLKTEST write ok"
	$G/blktest verify $T/disk.img 64 $seed >$T/blkh_$bn.log 2>&1
	check "virtio-blk $tr/$eng: the image holds every byte the guest wrote" $T/blkh_$bn.log has $T/blkh_$bn.log "BLKTEST verify ok"
	vm blkr_$bn 180 -c 1 -m 256 --virtio-transport $tr -d $T/disk.img,engine=$eng -p "quiet -- blktest verify /dev/vda 64 $seed"
	check "virtio-blk $tr/$eng: a second boot reads it all back" $T/blkr_$bn.log has $T/blkr_$bn.log "BLKTEST verify ok"
}
blk_round pci_uring pci io_uring 101
blk_round pci_aio pci aio 102
blk_round pci_sync pci sync 103
blk_round mmio_uring mmio io_uring 104

# O_DIRECT with fsync at queue depth 32 on every engine (a FLUSH done at
# submit time once lost its interrupt and hung the guest on the aio engine).
for eng in io_uring aio sync; do
	vm blkb_$eng 120 -c 2 -m 256 -d $T/disk.img,engine=$eng -p "quiet -- blktest bench /dev/vda 4"
	check "virtio-blk $eng: O_DIRECT writes, fsync and QD32 random reads complete" $T/blkb_$eng.log has $T/blkb_$eng.log "BLKTEST bench seq_write"
done
blk_round pci_uring2 pci io_uring 105

# A block device with few segments per request (a loop device: 128): armvm
# cuts io_uring requests to fit, and every byte still lands.
dd if=/dev/zero of=$T/loop.img bs=1M count=0 seek=80 2>/dev/null
if ld=$(losetup -f) && losetup $ld $T/loop.img; then
	vm blkl 180 -c 2 -m 256 -d $ld,direct -p "quiet -- blktest write /dev/vda 64 106"
	check "virtio-blk on a loop device (io_uring, direct): guest writes 64 MiB and syncs" $T/blkl.log has $T/blkl.log "BLKTEST write ok"
	$G/blktest verify $ld 64 106 >$T/blklh.log 2>&1
	check "virtio-blk on a loop device: the device holds every byte the guest wrote" $T/blklh.log has $T/blklh.log "BLKTEST verify ok"
	losetup -d $ld
else
	skip "virtio-blk on a loop device" "no loop device in the lab host"
fi
rm -f $T/loop.img

sum_before=$(sha256sum $T/disk.img | cut -d' ' -f1)
vm blkro 120 -c 1 -m 256 -d $T/disk.img,ro,serial=ro-disk-1 -p "quiet -- blktest write /dev/vda 1 9; echo SERIAL=\$(cat /sys/block/vda/serial); blktest verify /dev/vda 64 105"
check "read-only disk: a write fails in the guest" $T/blkro.log has $T/blkro.log "BLKTEST write FAIL"
check "read-only disk: reads still work" $T/blkro.log has $T/blkro.log "BLKTEST verify ok"
check "read-only disk: the image is unchanged" $T/blkro.log test "$(sha256sum $T/disk.img | cut -d' ' -f1)" = "$sum_before"
check "virtio-blk GET_ID gives the serial" $T/blkro.log has $T/blkro.log "SERIAL=ro-disk-1"
refuse "the same image twice is refused (locked)" "the image is in use" -c 1 -m 256 -d $T/disk.img -d $T/disk.img
refuse "a missing disk image" "--disk /nonexistent.img: No such file" -c 1 -m 256 -d /nonexistent.img
vm blkfl 120 -c 1 -m 256 -d $T/disk.img -p "quiet -- blkdiscard -o 0 -l 1048576 /dev/vda && echo DISCARD-OK; dd if=/dev/vda bs=4096 count=1 2>/dev/null | od -An -tx1 | head -1"
check "virtio-blk DISCARD: the guest's blkdiscard succeeds" $T/blkfl.log has $T/blkfl.log "DISCARD-OK"

# PCI without an ITS: no MSI-X, so interrupts are INTx (GIC SPIs).
vm rng_intx 120 -c 1 -m 256 --irqchip gicv3 --rng -p "quiet -- dd if=/dev/hwrng bs=64 count=4 2>/dev/null | od -An -tx1 | wc -l; grep virtio /proc/interrupts"
check "virtio-pci without an ITS works through INTx (a level SPI)" $T/rng_intx.log sh -c "grep -q '^ *16' $T/rng_intx.log && grep -q 'Level *virtio0' $T/rng_intx.log"

for tr in pci mmio; do
	vm rng_$tr 120 -c 1 -m 256 --rng --virtio-transport $tr -p "quiet -- cat /sys/class/misc/hw_random/rng_current; dd if=/dev/hwrng bs=256 count=4 2>/dev/null | od -An -tx1 | sort -u | wc -l"
	check "virtio-rng over $tr is the guest's hwrng" $T/rng_$tr.log has $T/rng_$tr.log "^virtio_rng"
	lines=$(grep -E '^ *[0-9]+' $T/rng_$tr.log | tail -1 | tr -d ' \r')
	check "virtio-rng over $tr returns varied bytes ($lines distinct lines of 64)" $T/rng_$tr.log test "${lines:-0}" -ge 60
done

feed hvc 120 READY-2 'hello-hvc
' -c 1 -m 256 --console virtio -p 'quiet -- echo READY-$((1+1)); read l; echo GOT=$l; cat /proc/consoles; ls /'
check "virtio console: the shell's output and input go through hvc0" $T/hvc.log sh -c "grep -q GOT=hello-hvc $T/hvc.log && grep -q '^hvc0' $T/hvc.log && grep -q 'linuxrc' $T/hvc.log"

timeout 120 armvm run -k $LAB_DIR/hostile.bin --nodefaults --virtio-transport mmio --rng -c 1 -m 64 </dev/null >$T/hostile.log 2>&1
echo $? >$T/hostile.rc
check "hostile guest: armvm survives and exits 0" $T/hostile.log rc_is $T/hostile.rc 0
for c in rings-outside-RAM queue-size-3 descriptor-cycle absurd-length buffer-outside-RAM; do
	check "hostile guest: $c gives NEEDS_RESET, logged" $T/hostile.log sh -c "grep -q 'HOSTILE $c done' $T/hostile.log && ! grep -q FAIL $T/hostile.log"
done
check "hostile guest: a well-behaved request works after a reset" $T/hostile.log has $T/hostile.log "HOSTILE well-behaved-after-reset ok"

# The hostile guest on PCI (config space, MSI-X, common config) and on
# virtio-blk requests, in C (tests/kvm/hostile_pci.c).
dd if=/dev/zero of=$T/hdisk.img bs=1M count=0 seek=4 2>/dev/null
l=$T/hostile-pci.log
timeout 120 armvm run -k $LAB_DIR/hostile-pci.bin --nodefaults --virtio-transport pci -d $T/hdisk.img -c 1 -m 64 </dev/null >$l 2>&1
echo $? >$T/hostile-pci.rc
check "hostile PCI guest: armvm survives and exits 0" $l rc_is $T/hostile-pci.rc 0
check "hostile PCI guest: it ran to its end" $l has $l "HOSTILE-PCI all done\|HOSTILE-PCI done with failures"
for c in well-behaved-first bar-sizing-reads-the-size-mask bar-onto-RAM-leaves-RAM-alone \
	bar-moves-survived-and-home-again read-only-config-unchanged config-past-the-end-ignored \
	msix-abuse-survived queue-select-out-of-range-reads-zero queue-size-above-max-needs-reset \
	well-behaved-after-reset-1 enable-twice-keeps-the-first-rings well-behaved-after-reset-2 \
	rings-outside-RAM-needs-reset well-behaved-after-reset-3 blk-writable-header-ioerr \
	blk-odd-length-ioerr blk-past-the-end-ioerr blk-unknown-type-unsupp blk-device-still-live \
	blk-readable-status-needs-reset well-behaved-after-reset-4 blk-status-outside-RAM-needs-reset \
	well-behaved-after-reset-5; do
	check "hostile PCI guest: $c" $l has $l "HOSTILE-PCI $c ok"
done
rm -f $T/hdisk.img

# The same abuse on a virtio-net transmit queue that the kernel's vhost
# serves: vhost judges the descriptors, armvm turns its error into
# NEEDS_RESET, and takes the rings back at each reset.
if [ -c /dev/vhost-net ]; then
	l=$T/hostile-net.log
	timeout 120 armvm run -k $LAB_DIR/hostile-net.bin --nodefaults --virtio-transport mmio -n mode=tap,tapif=taph,vhost=1 -c 1 -m 64 </dev/null >$l 2>&1
	echo $? >$T/hostile-net.rc
	check "hostile guest on vhost-net: armvm survives and exits 0" $l rc_is $T/hostile-net.rc 0
	for c in rings-outside-RAM queue-size-3 descriptor-cycle absurd-length buffer-outside-RAM; do
		check "hostile guest on vhost-net: $c gives NEEDS_RESET" $l sh -c "grep -q 'HOSTILE $c done' $l && ! grep -q FAIL $l"
	done
	check "hostile guest on vhost-net: vhost's refusals reach the guest as NEEDS_RESET" $l has $l "vhost refused a descriptor"
	check "hostile guest on vhost-net: a well-behaved frame goes out after a reset" $l has $l "HOSTILE well-behaved-after-reset ok"
else
	skip "hostile guest on vhost-net" "no /dev/vhost-net on this lab host"
fi

net_round() { # TRANSPORT VHOST(0|1) PATH-EXPECTED [ARMVM ARGS...]
	tr=$1 vh=$2 path=$3 w="virtio-net over $1, $3"
	shift 3
	extra="$*"
	[ -n "$extra" ] && w="$w, $extra"
	ip link del tap0 2>/dev/null
	$G/nettest recv 5001 >$T/net_h_$tr$vh.log 2>&1 &
	rpid=$!
	armvm run -c 2 -m 256 --loglevel info --virtio-transport $tr -n mode=tap,tapif=tap0,vhost=$vh $extra -p "quiet -- netround 169.254.1.1 169.254.1.2" </dev/null >$T/net_g_$tr$vh.log 2>&1 &
	vpid=$!
	for i in $(seq 100); do [ -e /sys/class/net/tap0 ] && break; sleep 0.2; done
	ip addr add 169.254.1.1/16 dev tap0
	ip link set tap0 up
	( sleep 120; kill $rpid $vpid 2>/dev/null ) &
	wpid=$!
	wait $rpid
	$G/nettest send 169.254.1.2 5002 32 12 >$T/net_hs_$tr$vh.log 2>&1
	wait $vpid
	kill $wpid 2>/dev/null
	l=$T/net_g_$tr$vh.log
	check "$w: armvm says it uses that data path" $l sh -c "grep -q '$path data path' $l && ! grep -q 'would not start' $l"
	check "$w: the guest pings the lab host (link-local)" $l sh -c "grep -v REBOUND $l | grep -q ' 0% packet loss'"
	check "$w: after the driver unbinds and binds again (device reset, vectors masked, unmasked), it still pings" $l has $l "REBOUND .* 0% packet loss"
	# Bits 0 CSUM, 1 GUEST_CSUM, 7 GUEST_TSO4, 11 HOST_TSO4, 15 MRG_RXBUF.
	f=$(sed -n 's/\r$//; s/^NETFEATURES://p' $l)
	check "$w: the guest driver took the offloads and MRG_RXBUF ($f)" $l sh -c "echo '$f' | grep -q '^11.....1...1...1'"
	g=$(grep -a "^NETTEST send" $l | cut -d' ' -f3,4) h=$(grep "^NETTEST recv" $T/net_h_$tr$vh.log | cut -d' ' -f3,4)
	check "$w: 32 MiB guest to host, checksums match ($g / $h)" $l test -n "$g" -a "$g" = "$h"
	g=$(grep -a "^NETTEST recv" $l | cut -d' ' -f3,4 | tr -d '\r') h=$(grep "^NETTEST send" $T/net_hs_$tr$vh.log | cut -d' ' -f3,4)
	check "$w: 32 MiB host to guest, checksums match ($g / $h)" $l test -n "$g" -a "$g" = "$h"
}
if [ -c /dev/vhost-net ]; then
	net_round pci 1 vhost-net
	net_round mmio 1 vhost-net
	# PCI without an ITS: vhost's interrupts come through armvm as INTx,
	# raised under the device lock (it raced the ISR read's clear).
	net_round pci 1 vhost-net --irqchip gicv3
else
	skip "virtio-net with vhost-net" "no /dev/vhost-net on this lab host"
fi
net_round pci 0 userspace
net_round mmio 0 userspace
viommu_virtio_suite
mark "PCI passthrough"
# PCI passthrough (defined above; `suite.sh vfio-only` runs it alone).
vfio_suite

# --- Ending a run: reboot, Ctrl-a x, signals -------------------------------
mark "Ending a run: reboot, Ctrl-a x, signals"
vm noreboot 120 --no-reboot -c 1 -m 256 -p "quiet -- reboot -f"
check "--no-reboot: a guest reboot ends armvm with status 0" $T/noreboot.log rc_is $T/noreboot.rc 0
# Two boots, however long they take (a fixed window flaked on a busy machine).
armvm run -c 1 -m 256 -p "quiet -- reboot -f" </dev/null >$T/reboot.log 2>&1 &
pid=$!
wait_for $T/reboot.log ARMVM-GUEST-UP 2 240
ups=$(grep -c ARMVM-GUEST-UP $T/reboot.log)
kill -TERM $pid 2>/dev/null; wait $pid
check "guest reboot restarts the machine (booted $ups times)" $T/reboot.log test "$ups" -ge 2

(sleep 10; printf '\001x') | timeout 120 armvm run -c 1 -m 256 -p "quiet -- sleep 600" >$T/quit.log 2>&1
echo $? >$T/quit.rc
check "Ctrl-a x quits with status 0" $T/quit.log rc_is $T/quit.rc 0

armvm run -c 1 -m 256 -p "quiet -- sleep 600" </dev/null >$T/term.log 2>&1 &
pid=$!
wait_for $T/term.log ARMVM-GUEST-UP 1 240
kill -TERM $pid
wait $pid
echo $? >$T/term.rc
check "SIGTERM ends armvm with status 143" $T/term.log rc_is $T/term.rc 143
check "SIGTERM: says it was terminated" $T/term.log has $T/term.log "terminated by signal 15"

# --- seccomp: every thread filtered, a forbidden call caught --------------
mark "seccomp: every thread filtered, a forbidden call caught"
# (Every other guest of this suite, with its disks, network and consoles,
# runs under the filters too: they are on by default.)
/lab/kvm/jail >$T/jail.log 2>&1
import "seccomp" $T/jail.log
dd if=/dev/zero of=$T/jdisk.img bs=1M count=0 seek=8 2>/dev/null
armvm run -c 2 -m 256 -d $T/jdisk.img --rng -p "quiet -- sleep 600" </dev/null >$T/jailrun.log 2>&1 &
pid=$!
wait_for $T/jailrun.log ARMVM-GUEST-UP 1 240
modes=$(cat /proc/$pid/task/*/status 2>/dev/null | sed -n 's/^Seccomp:[[:space:]]*//p' | sort | uniq -c | tr -s ' \n' ' ')
nthreads=$(ls /proc/$pid/task 2>/dev/null | wc -l)
comms=$(cat /proc/$pid/task/*/comm 2>/dev/null | sort | tr '\n' ' ')
kill -TERM $pid; wait $pid
check "threads are named, as ps and perf show them (got: $comms)" $T/jailrun.log sh -c "echo '$comms' | grep -q 'blk@00:0[0-9].0 .*rng@00:0[0-9].0 .*vcpu0 vcpu1 '"
check "seccomp: all $nthreads threads of a running armvm are filtered (modes:$modes)" $T/jailrun.log sh -c "[ $nthreads -ge 4 ] && echo '$modes' | grep -q '^ *$nthreads 2 *$'"
armvm run --no-seccomp -c 1 -m 256 -p "quiet -- sleep 600" </dev/null >$T/nojail.log 2>&1 &
pid=$!
wait_for $T/nojail.log ARMVM-GUEST-UP 1 240
modes=$(cat /proc/$pid/task/*/status 2>/dev/null | sed -n 's/^Seccomp:[[:space:]]*//p' | sort -u | tr '\n' ' ')
kill -TERM $pid; wait $pid
check "--no-seccomp: no thread is filtered (modes: $modes)" $T/nojail.log test "$modes" = "0 "

# --- Control plane: list, pause, resume, stop over the socket --------------
mark "Control plane: list, pause, resume, stop over the socket"
CD=$HOME/.armvm
ticker='i=0; while true; do echo TICK-$i; i=$((i+1)); sleep 0.2; done'
dd if=/dev/zero of=$T/ctld.img bs=1M count=0 seek=8 2>/dev/null
armvm run --name ctl-a -c 2 -m 256 -d $T/ctld.img -p "quiet -- dd if=/dev/vda of=/dev/null bs=1M count=4 2>/dev/null; $ticker" </dev/null >$T/ctl.log 2>&1 &
cpid=$!
wait_for $T/ctl.log TICK-3 1 240
armvm list >$T/list.out 2>&1
check "list: the guest, its pid, running, 2 vCPUs, 256 MiB" $T/list.out grep -q "^ctl-a *$cpid *running *2 *256 " $T/list.out
armvm list --json >$T/list.json 2>&1
check "list --json: a JSON array with the guest" $T/list.json sh -c "grep -q '\"name\": \"ctl-a\"' $T/list.json && head -c 1 $T/list.json | grep -q '\['"
check "the socket is 0600 in a 0700 directory" $T/list.out sh -c "[ \$(stat -c %a $CD) = 700 ] && [ \$(stat -c %a $CD/ctl-a.sock) = 600 ]"
armvm stat --name ctl-a >$T/stat.out 2>&1
check "stat: both vCPUs with their exits, the disk with its reads" $T/stat.out sh -c "grep -q '^0 *running *[1-9]' $T/stat.out && grep -q '^1 *running *[1-9]' $T/stat.out && grep -q '^virtio-blk@00:00.0 *virtio-pci' $T/stat.out"
armvm stat --name ctl-a --json >$T/stat.json 2>&1
rb=$(sed -n 's/.*"read_bytes": \([0-9]*\).*/\1/p' $T/stat.json | head -1)
check "stat --json: the disk read at least the 4 MiB the guest read (${rb:-none} bytes)" $T/stat.json test "${rb:-0}" -ge 4194304
armvm pause --name ctl-a >$T/pause.out 2>&1
rc=$?
n1=$(grep -c TICK $T/ctl.log); sleep 3; n2=$(grep -c TICK $T/ctl.log)
check "pause: status 0, and the guest makes no progress (ticks $n1 -> $n2 in 3 s)" $T/pause.out sh -c "[ $rc = 0 ] && grep -q 'ctl-a: paused' $T/pause.out && [ $n1 = $n2 ]"
armvm list >$T/list2.out 2>&1
check "list: the guest is paused" $T/list2.out grep -q "^ctl-a *$cpid *paused" $T/list2.out
armvm stat --name ctl-a >$T/stat2.out 2>&1
check "stat: every vCPU is paused" $T/stat2.out sh -c "grep -q '^ctl-a: paused' $T/stat2.out && [ \$(grep -c '^[01] *paused' $T/stat2.out) = 2 ]"
armvm resume --name ctl-a >$T/resume.out 2>&1
rc=$?
wait_for $T/ctl.log TICK- $((n2 + 5)) 60
n3=$(grep -c TICK $T/ctl.log)
check "resume: status 0, the guest goes on (ticks $n2 -> $n3)" $T/resume.out sh -c "[ $rc = 0 ] && [ $n3 -ge $((n2 + 5)) ]"
refuse "a second guest with a live guest's name" "a guest of that name is running" --name ctl-a -c 1 -m 256
G=$LAB_DIR/guest
$G/ctlsend $CD/ctl-a.sock 'not json' >$T/bad1.out 2>&1
check "a malformed request: an error reply naming it" $T/bad1.out grep -q '"ok":false,"error":"malformed request' $T/bad1.out
$G/ctlsend $CD/ctl-a.sock '{"cmd":"frob"}' >$T/bad2.out 2>&1
check "an unknown command: an error reply naming it" $T/bad2.out grep -q "unknown command 'frob'" $T/bad2.out
$G/ctlsend $CD/ctl-a.sock "$(head -c 5000 /dev/zero | tr '\0' x)" >$T/bad3.out 2>&1
check "a request longer than the limit: an error reply" $T/bad3.out grep -q "longer than 4095" $T/bad3.out
$G/ctlsend $CD/ctl-a.sock '{"cmd":"info"}' >$T/info.out 2>&1
check "after the bad requests, info still answers" $T/info.out grep -q '"ok":true,"name":"ctl-a"' $T/info.out
# Another uid behind open permissions: SO_PEERCRED refuses it.
mkdir -p /etc
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>/etc/passwd
hm=$(stat -c %a $HOME)
chmod 755 $HOME $CD; chmod 666 $CD/ctl-a.sock
su -s /bin/sh nobody -c "$G/ctlsend $CD/ctl-a.sock '{\"cmd\":\"stop\"}'" >$T/other.out 2>&1
chmod $hm $HOME; chmod 700 $CD; chmod 600 $CD/ctl-a.sock
check "a client of another uid is refused, the guest runs on" $T/other.out sh -c "grep -q 'not your guest' $T/other.out && kill -0 $cpid"
armvm pause --name nope >$T/nope.out 2>&1
rc=$?
check "pause of a guest that does not exist: status 1, one line naming it" $T/nope.out sh -c "[ $rc = 1 ] && [ \$(wc -l <$T/nope.out) = 1 ] && grep -q \"no running guest named 'nope'\" $T/nope.out"
armvm pause --name ctl-a >/dev/null 2>&1
armvm stop --name ctl-a >$T/stop.out 2>&1
rc=$?
wait $cpid
crc=$?
check "stop of a paused guest: status 0, and armvm exits 0" $T/stop.out sh -c "[ $rc = 0 ] && [ $crc = 0 ]"
check "stop: the socket is gone, list is empty" $T/stop.out sh -c "[ ! -e $CD/ctl-a.sock ] && [ \$(armvm list | wc -l) = 1 ]"
# A dead armvm's socket: list skips and removes it; the name is free.
armvm run --name ctl-b -c 1 -m 256 -p "quiet -- sleep 600" </dev/null >$T/ctlb.log 2>&1 &
bpid=$!
wait_for $T/ctlb.log ARMVM-GUEST-UP 1 240
kill -9 $bpid; wait $bpid 2>/dev/null
stale=$([ -S $CD/ctl-b.sock ] && echo yes)
armvm list >$T/list3.out 2>&1
check "a killed armvm's socket is stale; list skips it and removes it" $T/list3.out sh -c "[ '$stale' = yes ] && ! grep -q ctl-b $T/list3.out && [ ! -e $CD/ctl-b.sock ]"
vm ctlb2 120 --name ctl-b -k $LAB_DIR/flat.bin --nodefaults -c 1 -m 64
check "the stale name is free again" $T/ctlb2.log rc_is $T/ctlb2.rc 0
armvm stop --all >$T/all.out 2>&1
rc=$?
check "stop --all with no guest: status 0, nothing said" $T/all.out sh -c "[ $rc = 0 ] && [ ! -s $T/all.out ]"

mark "Snapshot and restore"
snapshot_suite

# --- Console output that does not keep up ---------------------------------
mark "Console output that does not keep up"
# A closed stdout (armvm ... | head) used to kill armvm with SIGPIPE on a
# vCPU thread; a full pipe stalled the vCPU holding the UART lock.
# (A closed pipe needs only output after head is gone: 300 lines, 11 KB;
# a full one needs more than the pipe and armvm's 64 KiB ring hold. Each
# character is an exit through the emulated UART: ~12 ms per line here.)
lines='i=0; while [ $i -lt 3000 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done'
few='i=0; while [ $i -lt 300 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done'
{ timeout 120 armvm run -c 1 -m 256 -p "quiet -- $few" 2>$T/pipe.err; echo $? >$T/pipe.rc; } | head -c 100 >/dev/null
check "stdout closed early (| head): the guest runs to its power-off, status 0" $T/pipe.err rc_is $T/pipe.rc 0
check "stdout closed early: armvm says the output was closed" $T/pipe.err has $T/pipe.err "console output closed"
rm -f $T/full.fifo && mkfifo $T/full.fifo
exec 4<>$T/full.fifo # a reader that never reads
timeout 120 armvm run -c 1 -m 256 -p "quiet -- $lines" >$T/full.fifo 2>$T/full.err
echo $? >$T/full.rc
exec 4>&-
check "stdout a full pipe nobody reads: the guest still powers off, status 0" $T/full.err rc_is $T/full.rc 0
check "stdout a full pipe: armvm says how much it dropped" $T/full.err has $T/full.err "bytes of guest output dropped"
rm -f $T/full.fifo

# --- Failures while the machine is built: one line, never a crash ----------
mark "Failures while the machine is built: one line, never a crash"
# Under a low fd limit, each of many disks with four queues fails at a
# different point (an eventfd, the I/O thread's epoll, a ring): each must
# end in one error line and status 1, or a guest that runs (status 0).
for i in 1 2 3 4 5 6; do dd if=/dev/zero of=$T/fd$i.img bs=1M count=0 seek=4 2>/dev/null; done
bad=""
for lim in 12 16 20 24 28 32 36 40 44 48 52 56 60 64 72 80 96 128; do
	(ulimit -n $lim; exec armvm run -k $LAB_DIR/flat.bin --nodefaults -c 4 -m 64 \
		-d $T/fd1.img -d $T/fd2.img -d $T/fd3.img -d $T/fd4.img -d $T/fd5.img -d $T/fd6.img) \
		</dev/null >$T/fdlim.log 2>&1
	rc=$?
	errs=$(grep -c "error:" $T/fdlim.log)
	if [ $rc = 1 ] && [ "$errs" = 1 ]; then :
	elif [ $rc = 0 ] && grep -q FLAT-BINARY-OK $T/fdlim.log; then :
	else bad="$bad $lim:rc=$rc,errors=$errs"; cp $T/fdlim.log $T/fdlim-$lim.log; fi
done
check "ulimit -n 12..128 with six disks of four queues: one error line or a running guest, no crash (bad:${bad:- none})" $T/fdlim.log test -z "$bad"
rm -f $T/fd?.img

# A disk on a file system that fills: the guest gets I/O errors, no OK.
mkdir -p $T/small && mount -t tmpfs -o size=4m tmpfs $T/small
truncate -s 64M $T/small/disk.img
vm enospc 180 -c 1 -m 256 -d $T/small/disk.img -p "quiet -- blktest write /dev/vda 16 7"
check "disk on a full file system: the guest's write fails (no silent loss)" $T/enospc.log has $T/enospc.log "BLKTEST write FAIL"
check "disk on a full file system: armvm reports the error and the guest powers off" $T/enospc.log sh -c "grep -q 'I/O error\|short transfer' $T/enospc.log && [ \$(cat $T/enospc.rc) = 0 ]"
umount $T/small

# --- Bad input: one clear line, non-zero status, no crash ------------------
mark "Bad input: one clear line, non-zero status, no crash"
refuse "missing kernel file" "cannot read kernel '/nonexistent': No such file" -k /nonexistent
refuse "kernel is a directory" "cannot read kernel '$T': Is a directory" -k $T
refuse "kernel is not a regular file" "kernel '/dev/null' is not a regular file" -k /dev/null
rm -f $T/boot.fifo && mkfifo $T/boot.fifo
refuse "kernel is a FIFO: refused at once, not blocking" "kernel '$T/boot.fifo' is not a regular file" -k $T/boot.fifo
refuse "initrd is a FIFO: refused at once" "initrd '$T/boot.fifo' is not a regular file" -i $T/boot.fifo -m 256
refuse "disk is a FIFO: refused at once" "not a regular file or block device" -d $T/boot.fifo -m 256 -c 1
rm -f $T/boot.fifo
refuse "missing initrd" "cannot read initrd '/nonexistent'" -i /nonexistent
# A file that ends before its size (what one that shrinks while armvm reads
# it looks like; sysfs says 4096 bytes and holds a few dozen).
refuse "initrd that ends before its size: named, not an I/O error" "cannot load initrd '/sys/kernel/mm/transparent_hugepage/enabled': it ended before the 4096 bytes its size gives" -i /sys/kernel/mm/transparent_hugepage/enabled -m 256 -c 1
refuse "-m 0" "at least 1 MiB" -m 0
refuse "-m more than the host has" "more memory than the host has" -m 1000000 -c 1
refuse "-c 0" "at least 1" -c 0
refuse "-c more than KVM allows" "allows at most" -c 4000 -m 256
refuse "unknown option" "unknown option '--bogus'" --bogus
armvm frob >$T/cmd.log 2>&1
rc=$?
check "unknown subcommand: status 2 and a message" $T/cmd.log sh -c "[ $rc = 2 ] && grep -q \"unknown command 'frob'\" $T/cmd.log"
head -c 4000000 $LAB_DIR/Image >$T/trunc.img
refuse "truncated Image" "truncated" -k $T/trunc.img -m 256
cp $LAB_DIR/Image $T/be.img
b=$(dd if=$T/be.img bs=1 skip=24 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $((b | 1)))" | dd of=$T/be.img bs=1 seek=24 conv=notrunc 2>/dev/null
refuse "big-endian Image" "big-endian" -k $T/be.img -m 256
rm -f $T/be.img $T/trunc.img
refuse "Image larger than RAM" "larger than guest RAM" -m 40
refuse "Image whose BSS does not fit in RAM" "needs 44 MiB" -m 43
printf '\037\213\010\000\000\000\000\000\000\003garbage-not-deflate' >$T/bad.gz
refuse "corrupt gzip kernel" "gzip kernel is" -k $T/bad.gz -m 256
refuse "--dump-dtb to an unwritable place" "--dump-dtb /proc/nope" --dump-dtb /proc/nope -m 256 -c 1
refuse "no KVM device at the given path" "no such device" --kvm-dev /dev/nonexistent -m 256 -c 1
mv /dev/kvm /dev/kvm.away
refuse "no /dev/kvm" "cannot open /dev/kvm: no such device" -m 256 -c 1
mv /dev/kvm.away /dev/kvm
mkdir -p /etc
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>/etc/passwd
chmod 600 /dev/kvm
su -s /bin/sh nobody -c "armvm run -m 256 -c 1 -k $LAB_DIR/flat.bin" </dev/null >$T/perm.log 2>&1
rc=$?
check "no permission on /dev/kvm: status 1 and a message" $T/perm.log sh -c "[ $rc = 1 ] && grep -q 'permission denied' $T/perm.log"

# --- kvmtool's probe order ---------------------------------------------------
mark "kvmtool's probe order"
# Harnesses written for kvmtool (kvm-unit-tests' arm runner among them) run
# the VMM with the machine options they want and a kernel that does not
# exist: an error about the kernel means "supported", any other is a skip.
# So everything the host and the options decide comes before the kernel.
P=/nonexistent/_NO_FILE_4Uhere_
refuse "probe: good options, missing kernel: the kernel is the complaint" "cannot read kernel '$P'" -c 1 -m 256 -k $P -i $P
refuse "probe: -c beyond KVM's limit is named before the missing kernel" "allows at most" -c 4000 -m 256 -k $P
refuse "probe: -m beyond the host is named before the missing kernel" "more memory than the host has" -m 1000000 -c 1 -k $P
if [ -n "$HOST_VLS" ]; then
	refuse "probe: an SVE length the host cannot give is named before the missing kernel" "^armvm: error: --sve-max-vl 4000: 4000 is not a multiple of 128" --sve-max-vl 4000 -c 1 -m 256 -k $P
else
	refuse "probe: --sve-vls on a host without SVE is named before the missing kernel" "offers no SVE" --sve-vls 128 -c 1 -m 256 -k $P
fi
if grep -q "cannot create that interrupt controller" $T/gicv2.log; then
	refuse "probe: --irqchip=gicv2 without GICv2 emulation is named before the missing kernel" "cannot create that interrupt controller" --irqchip=gicv2 -c 1 -m 256 -k $P
else
	refuse "probe: --irqchip=gicv2 (supported here): the kernel is the complaint" "cannot read kernel '$P'" --irqchip=gicv2 -c 1 -m 256 -k $P
fi
refuse "probe: a missing initrd is named after the options, before boot" "cannot read initrd '$P'" -c 1 -m 256 -i $P
refuse "probe: --irqchip and --pmu that the host has: the kernel is the complaint" "cannot read kernel '$P'" --irqchip=gicv3-its --pmu -c 2 -m 256 -k $P

# --- Help and version --------------------------------------------------------
mark "Help and version"
armvm run --help >$T/help.log 2>&1
rc=$?
missing=
for o in --kernel --initrd --params --mem --cpus --name --console --irqchip --pmu --network --nodefaults --dump-dtb --loglevel --debug; do
	grep -q -- "$o" $T/help.log || missing="$missing $o"
done
check "armvm run --help documents every option (missing:${missing:- none})" $T/help.log test $rc = 0 -a -z "$missing"
check "armvm help works" $T/help.log sh -c "armvm help | grep -q 'armvm COMMAND'"
check "armvm version prints a version" $T/help.log sh -c "armvm version | grep -q '^armvm '"

mark "The Debian package"
# --- The Debian package (built by suite.t with make deb), installed last: it
# replaces this armvm with the package's ---------------------------------------
if [ -f $LAB_DIR/armvm.deb ]; then
	mkdir -p /var/lib/dpkg/info /var/lib/dpkg/updates && touch /var/lib/dpkg/status
	dpkg -i $LAB_DIR/armvm.deb >$T/deb.log 2>&1
	rc=$?
	check "the Debian package installs (dpkg -i)" $T/deb.log sh -c "[ $rc = 0 ] && dpkg -l armvm 2>/dev/null | grep -q '^ii *armvm'"
	check "the installed armvm runs: armvm version names the package's version ($(armvm version 2>&1))" $T/deb.log \
		sh -c "armvm version | grep -qx 'armvm $(cat $LAB_DIR/armvm.deb.version)'"
	check "the package holds armvm(1) and the bash completion" $T/deb.log \
		test -s /usr/share/man/man1/armvm.1.gz -a -s /usr/share/bash-completion/completions/armvm
	# With no -k and no $ARMVM_GUEST_DIR, the package's guest (share/armvm
	# beside the binary) comes before /lab's.
	(unset ARMVM_GUEST_DIR; timeout 180 armvm run -c 1 -m 256 --loglevel info </dev/null >$T/deb-run.log 2>&1)
	check "armvm run without -k boots the package's default guest (/usr/share/armvm)" $T/deb-run.log \
		sh -c "grep -q 'booting /usr/bin/../share/armvm/Image' $T/deb-run.log && grep -q '^kernel: ' $T/deb-run.log"
	dpkg -r armvm >>$T/deb.log 2>&1
	check "the package removes cleanly (dpkg -r): no armvm left" $T/deb.log sh -c "! command -v armvm && [ ! -e /usr/share/armvm/Image ]"
else
	fail "the Debian package is in the lab (suite.t builds it with make deb)"
fi

mark "end"
echo "1..$n"
[ $fails = 0 ]
