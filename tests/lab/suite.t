#!/usr/bin/env bash
# Lab tests, as TAP for prove: boots the lab host once, runs
# tests/lab/suite.sh there (it prints TAP), then checks on this side what the
# lab sent back (the guest's device tree, decompiled with dtc).
#
# A lab run cannot pass short: suite.sh's plan (1..N) must arrive and match
# the checks that did, and the lab's exit status must agree with them; on
# the emulated lab host (which has everything the suite uses) no check may
# be skipped, unless LAB_ALLOW_SKIP=1.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
L=${LAB_BUILD_DIR:-$top/build/lab}
# LAB_CMD: a stand-in for tests/lab/lab (tests/unit/suite-guard.t uses one).
lab=${LAB_CMD:-$top/tests/lab/lab}
mkdir -p "$L"

# A gzip-compressed Image for the gzip test, made here (fast) not in the lab.
if [ ! -f "$L/Image.gz" ] || [ "$L/Image" -nt "$L/Image.gz" ]; then
	gzip -1 -c "$L/Image" > "$L/Image.gz.tmp" && mv "$L/Image.gz.tmp" "$L/Image.gz"
fi
rm -f "$L/guest.dtb"

# Everything this prints is kept in build/lab/suite.tap too: prove shows
# only the numbers of failed checks.
exec > >(tee "$L/suite.tap")
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
emulated=1
[ "$(uname -m)" = aarch64 ] && emulated=0

# lab_suite LABEL LAB-ARGS...: run suite.sh in the lab, renumber its TAP
# into ours (LABEL prefixed when not empty), then check the run was whole.
lab_suite() {
	local label=$1 line plan="" status="" got=0 failed=0 skipped="" d pfx=""
	shift
	[ -n "$label" ] && pfx="[$label] "
	while IFS= read -r line; do
		case "$line" in
		"ok "* | "not ok "*)
			got=$((got + 1)) n=$((n + 1))
			case "$line" in "not ok"*) failed=$((failed + 1)) ;; esac
			case "$line" in *"# SKIP"*) d=${line#* - }; skipped="$skipped; ${d%% # SKIP*}" ;; esac
			echo "$line" | sed -E "s/^(not )?ok [0-9]+ - /\1ok $n - $pfx/" ;;
		"1.."*) plan=${line#1..} ;;
		"@@status="*) status=${line#@@status=} ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <("$@" 2>&1; echo "@@status=$?")
	ok "$([ -n "$plan" ] && [ "$plan" = "$got" ]; echo $?)" \
		"${pfx}the lab ran the whole suite: plan ${plan:-missing}, $got checks reported"
	# suite.sh exits 1 when a check failed; anything else is the lab dying.
	ok "$([ "$status" = 0 ] || { [ "$status" = 1 ] && [ $failed -gt 0 ]; }; echo $?)" \
		"${pfx}the lab's exit status ($status) agrees with the checks ($failed failed)"
	if [ "$emulated" = 1 ] && [ "${LAB_ALLOW_SKIP:-0}" != 1 ]; then
		ok "$([ -z "$skipped" ]; echo $?)" "${pfx}no check skipped on the emulated lab host${skipped:+ (skipped${skipped#;})}"
	fi
}

# The Debian package (cross-built on x86_64), checked with lintian here and
# installed by the suite in the lab.
deb_add=()
rm -f "$top/build/deb"/armvm_*.deb
if [ -n "${LAB_CMD:-}" ]; then
	: # a stand-in lab (suite-guard.t): no package
elif make -s -C "$top" deb >"$L/deb.log" 2>&1; then
	ok 0 "make deb: the Debian package builds and lintian finds no error"
	deb=$(ls "$top/build/deb"/armvm_*_arm64.deb | head -1)
	v=${deb##*/armvm_}
	echo "${v%_arm64.deb}" >"$L/armvm.deb.version"
	deb_add=(--add "$deb:/lab/armvm.deb" --add "$L/armvm.deb.version:/lab/armvm.deb.version")
else
	ok 1 "make deb: the Debian package builds and lintian finds no error"
	sed 's/^/# /' "$L/deb.log" | tail -n 30
fi

rm -f "$L/vls.snap.head" "$L/vls.snap.size"
lab_suite "" "$lab" run ${deb_add[@]+"${deb_add[@]}"} --add "$L/Image.gz:/lab/Image.gz" \
	--fetch "/tmp/guest.dtb:$L/guest.dtb" --fetch "/tmp/vls.snap.head:$L/vls.snap.head" \
	--fetch "/tmp/vls.snap.size:$L/vls.snap.size" -- 'sh /lab/suite.sh'

# The SVE tests again on a lab host with a smaller, non-power-of-two set of
# vector lengths (128, 256, 384: QEMU's sve-max-vq=3).
if [ "$emulated" = 1 ]; then
	# ...and a snapshot from the first run must be refused there.
	vls_add=()
	[ -f "$L/vls.snap.head" ] && [ -f "$L/vls.snap.size" ] &&
		vls_add=(--add "$L/vls.snap.head:/lab/vls.snap.head" --add "$L/vls.snap.size:/lab/vls.snap.size")
	LAB_QEMU_CPU="max,sve-max-vq=3" lab_suite "sve-max-vq=3" "$lab" run ${vls_add[@]+"${vls_add[@]}"} -- 'sh /lab/suite.sh sve-only'
fi

dts=$L/guest.dts
if dtc -I dtb -O dts -o "$dts" "$L/guest.dtb" 2>"$L/dtc.err"; then
	ok 0 "dtc decompiles the --dump-dtb blob"
	for node in "cpus {" "cpu@0 {" "cpu@1 {" "memory@80000000 {" "intc@3fff0000 {" \
		"timer {" "psci {" "uart@1000000 {" "rtc@1010000 {" "chosen {"; do
		grep -q "$node" "$dts"; ok $? "the guest's device tree has ${node% \{}"
	done
	grep -q 'bootargs = "console=ttyS0 earlycon=uart8250,mmio,0x1000000 quiet"' "$dts"
	ok $? "the device tree carries the kernel command line"
	grep -q 'reg = <0x00 0x80000000 0x00 0x10000000>' "$dts"
	ok $? "the device tree says 256 MiB of RAM at 2 GiB"
else
	ok 1 "dtc decompiles the --dump-dtb blob ($(head -c 200 "$L/dtc.err" 2>/dev/null))"
fi
echo "1..$n"
