#!/usr/bin/env bash
# Install what armvm needs to build and test, on Debian 12 (x86_64 or arm64).
# Idempotent: does nothing when everything is present. Needs root for apt.
set -euo pipefail

host=$(uname -m)
common="make perl cpio xz-utils kmod device-tree-compiler zstd file gzip"
if [ "$host" = x86_64 ]; then
	want="$common gcc-aarch64-linux-gnu libc6-dev-arm64-cross libfdt-dev:arm64
		liburing-dev:arm64 libaio-dev:arm64 zlib1g-dev:arm64 clang
		libclang-rt-14-dev qemu-system-arm qemu-user-static"
else
	want="$common gcc libc6-dev libfdt-dev liburing-dev libaio-dev zlib1g-dev clang libclang-rt-14-dev"
fi
# Nothing to do when every package is installed (QEMU from backports: >= 10).
missing=$(dpkg-query -W -f '${db:Status-Abbrev} ${binary:Package}\n' $want 2>/dev/null |
	awk '$1 != "ii" {print $2}')
missing="$missing $(for p in $want; do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)"
if [ -z "${missing// /}" ] && { [ "$host" != x86_64 ] ||
	qemu-system-aarch64 --version 2>/dev/null | grep -qE 'version (1[0-9]|[2-9][0-9])\.'; }; then
	exit 0
fi
echo "setup: installing:${missing:- newer qemu}"

if [ "$(id -u)" != 0 ]; then
	echo "setup: need root to install packages (run: sudo $0)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# bookworm-backports, reusing the Debian mirror this machine already uses
# (read from the deb822 sources or the legacy sources.list).
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ]; then
		uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	fi
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	cat >/etc/apt/sources.list.d/armvm-backports.sources <<EOT
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
fi

if [ "$host" = x86_64 ]; then
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
	apt-get update -q
	apt-get install -y -q --no-install-recommends $common \
		gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		libfdt-dev:arm64 liburing-dev:arm64 libaio-dev:arm64 zlib1g-dev:arm64 \
		clang libclang-rt-14-dev
	apt-get install -y -q --no-install-recommends -t bookworm-backports \
		qemu-system-arm qemu-user-static
else
	apt-get update -q
	apt-get install -y -q --no-install-recommends $common gcc libc6-dev \
		libfdt-dev liburing-dev libaio-dev zlib1g-dev clang libclang-rt-14-dev
fi
echo "setup: done"
