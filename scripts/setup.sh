#!/usr/bin/env bash
# Install what armvm needs to build and test, on Debian 12 (x86_64 or arm64).
# Idempotent: does nothing when everything is present. Needs root for apt.
#
#   scripts/setup.sh            install what is missing
#   scripts/setup.sh --dry-run  say what would be installed, and how; change nothing
#
# tests/unit/setup.t runs the missing-package path with a dpkg-query stand-in.
set -euo pipefail

dry=0
case "${1:-}" in
--dry-run | -n) dry=1 ;;
"") ;;
*) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

host=$(uname -m)
# gcc for the build machine's own tools (the man page generator), groff to
# check the man page, debhelper and lintian for the Debian package,
# clang-format for make format-check.
common="make perl cpio xz-utils kmod device-tree-compiler zstd file gzip gcc libc6-dev
	groff-base build-essential debhelper lintian clang-format"
if [ "$host" = x86_64 ]; then
	native="$common gcc-aarch64-linux-gnu libc6-dev-arm64-cross
		libfdt-dev:arm64 liburing-dev:arm64 libaio-dev:arm64 zlib1g-dev:arm64
		libjansson-dev:arm64 clang libclang-rt-14-dev
		libfdt1 liburing2 libaio1 zlib1g-dev"
	backports="qemu-system-arm qemu-user-static"
else
	native="$common gcc libc6-dev libfdt-dev liburing-dev libaio-dev zlib1g-dev
		libjansson-dev clang libclang-rt-14-dev"
	backports=""
fi

# is_installed PKG: dpkg knows PKG as installed ("ii"). dpkg-query exits 1
# for a package it has never heard of: that is an answer ("no"), not an
# error, so its status must not reach `set -e`.
is_installed() {
	local st
	st=$(dpkg-query -W -f '${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
	[ "${st:0:2}" = ii ]
}

missing=""
for p in $native $backports; do
	is_installed "$p" || missing="$missing $p"
done
# QEMU must be the backports one (>= 10): bookworm's 7.2 is 2-3x slower.
old_qemu=0
if [ "$host" = x86_64 ] &&
	! { qemu-system-aarch64 --version 2>/dev/null | grep -qE 'version (1[0-9]|[2-9][0-9])\.'; }; then
	old_qemu=1
fi
if [ -z "$missing" ] && [ "$old_qemu" = 0 ]; then
	[ "$dry" = 1 ] && echo "setup: nothing to install"
	exit 0
fi
echo "setup: missing:${missing:- }$([ "$old_qemu" = 1 ] && echo " (qemu >= 10 from bookworm-backports)")"

if [ "$dry" = 0 ] && [ "$(id -u)" != 0 ]; then
	echo "setup: need root to install packages (run: sudo $0)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# run CMD...: run it, or with --dry-run print it.
run() {
	if [ "$dry" = 1 ]; then echo "setup: would run: $*"; else "$@"; fi
}

# bookworm-backports, reusing the Debian mirror this machine already uses
# (read from the deb822 sources or the legacy sources.list).
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ]; then
		uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	fi
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	if [ "$dry" = 1 ]; then
		echo "setup: would add bookworm-backports from $uri"
	else
		cat >/etc/apt/sources.list.d/armvm-backports.sources <<EOT
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	fi
fi

if [ "$host" = x86_64 ] && ! dpkg --print-foreign-architectures 2>/dev/null | grep -qx arm64; then
	run dpkg --add-architecture arm64
fi
run apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package lists is meant
run apt-get install -y -q --no-install-recommends $native
if [ -n "$backports" ]; then
	# shellcheck disable=SC2086
	run apt-get install -y -q --no-install-recommends -t bookworm-backports $backports
fi
echo "setup: done"
