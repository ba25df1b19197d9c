#!/usr/bin/env bash
# Fetch and unpack what the lab needs, cached under build/lab/:
#   build/lab/Image          Debian bookworm-backports 6.12 arm64 kernel (lab host and guest)
#   build/lab/modules/       its modules (.ko.xz), unpacked from the same package
#   build/lab/busybox        busybox-static for arm64
# Idempotent: a second run with everything present does nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${LAB_DIR:-$top/build/lab}
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
