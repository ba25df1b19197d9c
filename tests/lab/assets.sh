#!/usr/bin/env bash
# Fetch and unpack what the lab needs, cached under build/lab/:
#   build/lab/Image          Debian bookworm-backports 6.12 arm64 kernel (lab host and guest)
#   build/lab/modules/       its modules (.ko.xz), unpacked from the same package
#   build/lab/busybox        busybox-static for arm64
#   build/lab/guest.cpio.gz  the default guest's initramfs: busybox, init, the
#                            guest-side programs of build/guest (make builds them)
#   build/lab/l1-base.cpio.gz  the lab host's initramfs base: busybox, init, modules
# Idempotent: a second run with everything present does nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
out=${LAB_DIR:-$top/build/lab}
L=$out
mkdir -p "$out"
cd "$out"

if [ ! -f Image ] || [ ! -d modules ]; then
	# The metapackage in bookworm-backports names the current 6.12 image package.
	ver=$(apt-cache madison linux-image-arm64:arm64 | awk -F'|' '$2 ~ /bpo12/ {gsub(/ /,"",$2); print $2; exit}')
	[ -n "$ver" ] || { echo "lab: no bookworm-backports linux-image-arm64 (run scripts/setup.sh)" >&2; exit 1; }
	pkg=$(apt-cache depends "linux-image-arm64:arm64=$ver" | awk '/Depends: linux-image-6/ {print $2; exit}')
	pkg=${pkg%:arm64}
	rm -rf dl && mkdir dl
	(cd dl && apt-get download -q -o APT::Sandbox::User=root "$pkg:arm64" >/dev/null)
	rm -rf pkg && dpkg -x dl/*.deb pkg
	kv=$(ls pkg/lib/modules | head -1)
	cp pkg/boot/vmlinuz-"$kv" Image.tmp && mv Image.tmp Image
	rm -rf modules && mv pkg/lib/modules/"$kv" modules
	echo "$kv" > kernel-version
	rm -rf pkg dl
fi

if [ ! -x busybox ]; then
	rm -rf dl && mkdir dl
	(cd dl && apt-get download -q -o APT::Sandbox::User=root busybox-static:arm64 >/dev/null)
	dpkg -x dl/busybox-static_*.deb bb
	cp bb/bin/busybox busybox.tmp && mv busybox.tmp busybox
	rm -rf bb dl
fi

# pack_modules LIST DIR: decompress the modules LIST names (in load order)
# into DIR, with DIR/order for the init scripts.
pack_modules() {
	mkdir -p "$2"
	: > "$2/order"
	{ grep -v '^#' "$1" 2>/dev/null || true; } | while read -r m; do
		[ -n "$m" ] || continue
		ko=$(find "$L/modules" -name "$m.ko*" | head -1)
		[ -n "$ko" ] || { echo "lab: module $m not found" >&2; exit 1; }
		case "$ko" in
		*.xz) xz -dc "$ko" > "$2/$m.ko" ;;
		*) cp "$ko" "$2/$m.ko" ;;
		esac
		echo "$m.ko" >> "$2/order"
	done
}

# The default guest's initramfs: busybox, init, the guest-side test programs.
guest_cpio=$L/guest.cpio.gz
if [ ! -f "$guest_cpio" ] || [ -n "$(find "$top/tests/guest" "$top/tests/lab/assets.sh" "$B/guest" "$L/busybox" -newer "$guest_cpio" 2>/dev/null | head -1)" ]; then
	rm -rf "$L/guest-root" && mkdir -p "$L/guest-root"/{bin,dev,proc,sys,tmp}
	pack_modules "$top/tests/guest/modules.list" "$L/guest-root/lib/modules"
	pack_modules "$top/tests/guest/modules-extra.list" "$L/guest-root/lib/modules/extra"
	pack_modules "$top/tests/guest/modules-bench.list" "$L/guest-root/lib/modules/bench"
	cp "$L/busybox" "$L/guest-root/bin/busybox"
	install -m 755 "$top/tests/guest/init" "$L/guest-root/init"
	for p in "$B"/guest/*; do
		case "$p" in *.elf|*.bin) continue ;; esac
		install -m 755 "$p" "$L/guest-root/bin/"
	done
	for p in "$top"/tests/guest/*.sh; do
		install -m 755 "$p" "$L/guest-root/bin/$(basename "$p" .sh)"
	done
	(cd "$L/guest-root" && find . | cpio -o -H newc --quiet | gzip -9 > "$guest_cpio.tmp")
	mv "$guest_cpio.tmp" "$guest_cpio"
fi

# The lab host's initramfs base (tests/lab/lab adds the kernel and the run's files).
base=$L/l1-base.cpio.gz
if [ ! -f "$base" ] || [ "$top/tests/lab/l1-init" -nt "$base" ] || [ "$top/tests/lab/modules.list" -nt "$base" ]; then
	rm -rf "$L/l1-root" && mkdir -p "$L/l1-root"/{bin,dev,proc,sys,tmp,lab/modules}
	cp "$L/busybox" "$L/l1-root/bin/busybox"
	install -m 755 "$top/tests/lab/l1-init" "$L/l1-root/init"
	pack_modules "$top/tests/lab/modules.list" "$L/l1-root/lab/modules"
	(cd "$L/l1-root" && find . | cpio -o -H newc --quiet | gzip -1 > "$base.tmp")
	# Pad to 512 bytes: the next archive must start aligned (the kernel
	# skips the zeros between concatenated archives).
	truncate -s %512 "$base.tmp"
	mv "$base.tmp" "$base"
fi
