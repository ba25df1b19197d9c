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
