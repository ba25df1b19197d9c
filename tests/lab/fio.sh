#!/usr/bin/env bash
# fio for the lab host and the guest, for bench/blk-fio: Debian bookworm's
# fio source (apt-get source, with a private deb-src list, so the machine's
# apt configuration is left alone), built static for arm64 with only what a
# block benchmark needs (io_uring, libaio, psync; no rbd, gluster, rdma,
# pmem or http, whose libraries Debian's binary package drags in).
#   build/lab/fio               the static binary (lab host: /lab/fio)
#   build/lab/guest-fio.cpio.gz the default guest's initramfs plus bin/fio
# Cached: rebuilt only when missing or when this script or the guest's
# initramfs is newer.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
L=$top/build/lab
mkdir -p "$L"
cd "$L"

if [ ! -x fio ] || [ "$top/tests/lab/fio.sh" -nt fio ]; then
	rm -rf fio-build && mkdir -p fio-build/lists/partial
	cat > fio-build/sources.list <<'LIST'
deb-src http://deb.debian.org/debian bookworm main
LIST
	apt=(-o Dir::Etc::SourceList="$L/fio-build/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$L/fio-build/lists" -o APT::Sandbox::User=root -q)
	apt-get "${apt[@]}" update >fio-build/apt.log 2>&1 ||
		{ cat fio-build/apt.log >&2; echo "fio: cannot read Debian's source index" >&2; exit 1; }
	(cd fio-build && apt-get "${apt[@]}" source --download-only fio >>apt.log 2>&1) ||
		{ cat fio-build/apt.log >&2; echo "fio: cannot download Debian's fio source" >&2; exit 1; }
	tar -C fio-build -xzf fio-build/fio_*.orig.tar.gz
	src=$(find fio-build -mindepth 1 -maxdepth 1 -type d -name 'fio-[0-9]*' | head -1)
	(cd "$src" && ./configure --cc=aarch64-linux-gnu-gcc --build-static --disable-native \
		--disable-numa --disable-rdma --disable-rados --disable-rbd --disable-http \
		--disable-gfapi --disable-libnfs --disable-lex --disable-pmem --disable-xnvme \
		--disable-libzbc --disable-tcmalloc --disable-dfs >configure.log 2>&1 &&
		make -j"$(nproc)" fio >make.log 2>&1) ||
		{ tail -n 20 "$src"/configure.log "$src"/make.log >&2; echo "fio: build failed" >&2; exit 1; }
	grep -q 'Linux AIO support *yes' "$src/configure.log" ||
		{ echo "fio: built without libaio (libaio-dev:arm64 missing? scripts/setup.sh)" >&2; exit 1; }
	aarch64-linux-gnu-strip -o fio.tmp "$src/fio"
	mv fio.tmp fio
	rm -rf fio-build
fi

if [ ! -f guest-fio.cpio.gz ] || [ fio -nt guest-fio.cpio.gz ] || [ guest.cpio.gz -nt guest-fio.cpio.gz ]; then
	rm -rf fio-root && mkdir -p fio-root/bin && cp fio fio-root/bin/fio
	# A second archive after the first: the kernel unpacks both.
	(cat guest.cpio.gz && cd fio-root && find . | cpio -o -H newc --quiet | gzip -9) > guest-fio.cpio.gz.tmp
	mv guest-fio.cpio.gz.tmp guest-fio.cpio.gz
	rm -rf fio-root
fi
