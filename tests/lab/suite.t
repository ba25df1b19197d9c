#!/usr/bin/env bash
# Lab tests, as TAP for prove: boots the lab host once, runs
# tests/lab/suite.sh there (it prints TAP), then checks on this side what the
# lab sent back (the guest's device tree, decompiled with dtc).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
L=$top/build/lab
mkdir -p "$L"

# A gzip-compressed Image for the gzip test, made here (fast) not in the lab.
if [ ! -f "$L/Image.gz" ] || [ "$L/Image" -nt "$L/Image.gz" ]; then
	gzip -1 -c "$L/Image" > "$L/Image.gz.tmp" && mv "$L/Image.gz.tmp" "$L/Image.gz"
fi
rm -f "$L/guest.dtb"

n=0
while IFS= read -r line; do
	case "$line" in
	"ok "*|"not ok "*) n=$((n + 1)); echo "$line" ;;
	"1.."*) ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done < <("$top/tests/lab/lab" run --add "$L/Image.gz:/lab/Image.gz" \
	--fetch "/tmp/guest.dtb:$L/guest.dtb" -- 'sh /lab/suite.sh' 2>&1; echo "@@status=$?")

if [ "$n" = 0 ]; then
	n=1
	echo "not ok 1 - the lab host ran the suite (see the console above)"
fi

# The SVE tests again on a lab host with a smaller, non-power-of-two set of
# vector lengths (128, 256, 384: QEMU's sve-max-vq=3).
m=$n
while IFS= read -r line; do
	case "$line" in
	"ok "*|"not ok "*)
		n=$((n + 1))
		echo "$line" | sed -E "s/^(not )?ok [0-9]+ - /\1ok $n - [sve-max-vq=3] /" ;;
	"1.."*) ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done < <(LAB_QEMU_CPU="max,sve-max-vq=3" "$top/tests/lab/lab" run -- 'sh /lab/suite.sh sve-only' 2>&1)
if [ "$n" = "$m" ]; then
	n=$((n + 1))
	echo "not ok $n - the lab host with sve-max-vq=3 ran the SVE suite"
fi

ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
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
