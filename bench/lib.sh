# Shared by the bench scripts (sourced).

# kvmtool_add SRC: build kvmtool's lkvm-static from the checkout SRC (a
# cross build on x86_64) and add it to the lab run as /usr/bin/lkvm, by
# appending to the caller's array "add".
kvmtool_add() {
	local cross=
	[ "$(uname -m)" = aarch64 ] || cross=aarch64-linux-gnu-
	make -C "$1" -s -j"$(nproc)" ARCH=arm64 CROSS_COMPILE=$cross lkvm-static >/dev/null
	add+=(--add "$1/lkvm-static:/usr/bin/lkvm")
}

# Awk functions for armvm's run summary (--loglevel info), to put before a
# bench's awk program: num(s, re) is the number in the first match of re in
# s (0 if none); run_stat(s, what) the figure named what in a "run: vCPU
# exits ..." line (exits, kmmio: MMIO the kernel handled, ummio: MMIO to
# armvm, wfi) or a "run: <device>: ..." line (notifies, interrupts).
RUN_SUMMARY_AWK='
	function num(s, re,   r) { if (!match(s, re)) return 0; r = substr(s, RSTART, RLENGTH); gsub(/[^0-9.]/, "", r); return r + 0 }
	function run_stat(s, what) {
		if (what == "exits") return num(s, "exits [0-9]+")
		if (what == "kmmio") return num(s, "MMIO [0-9]+ in")
		if (what == "ummio") return num(s, "[0-9]+ to armvm")
		if (what == "wfi") return num(s, "WFI [0-9]+")
		return num(s, "[0-9]+ " what)
	}'
