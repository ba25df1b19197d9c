#!/usr/bin/env bash
# scripts/setup.sh on a machine where packages are missing, as on a fresh
# Debian 12, run here where everything is installed: stand-ins for
# dpkg-query, qemu, uname, id and apt-get on PATH decide what setup sees.
# Nothing is installed: --dry-run prints the commands, and the stand-in
# apt-get records any call.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# stand PKGSTATE ARCH UID QEMUVER: PKGSTATE "none" (dpkg-query knows no
# package: exit 1, as on a fresh machine) or "all" (every package "ii").
stand() {
	cat >"$fake/dpkg-query" <<EOF
#!/bin/sh
[ "$1" = all ] || { for a; do :; done; echo "dpkg-query: no packages found matching \$a" >&2; exit 1; }
printf 'ii '
EOF
	printf '#!/bin/sh\necho %s\n' "$2" >"$fake/uname"
	printf '#!/bin/sh\necho %s\n' "$3" >"$fake/id"
	printf '#!/bin/sh\necho "QEMU emulator version %s"\n' "$4" >"$fake/qemu-system-aarch64"
	printf '#!/bin/sh\necho "$0 $*" >> %s/called\n' "$fake" >"$fake/apt-get"
	# dpkg: queries answer "no foreign architecture"; anything else is recorded.
	printf '#!/bin/sh\n[ "$1" = --print-foreign-architectures ] && exit 0\necho "$0 $*" >> %s/called\n' "$fake" >"$fake/dpkg"
	chmod +x "$fake"/*
	rm -f "$fake/called"
}
run() { PATH=$fake:$PATH "$top/scripts/setup.sh" "$@" 2>&1; }

# 1. A fresh x86_64 machine: the missing packages are named, with the
# commands that install them, and nothing is run.
stand none x86_64 0 7.2.0
out=$(run --dry-run); rc=$?
ok $rc "dry run on a fresh x86_64 machine exits 0 (it used to stop silently under set -e)"
for p in gcc-aarch64-linux-gnu libfdt-dev:arm64 liburing-dev:arm64 libaio-dev:arm64 \
	libjansson-dev:arm64 qemu-system-arm qemu-user-static; do
	echo "$out" | grep -q "^setup: missing:.* $p\( \|$\)"; ok $? "missing $p is named"
done
echo "$out" | grep -q "would run: apt-get install .*libfdt-dev:arm64"; ok $? "it would apt-get install the arm64 libraries"
echo "$out" | grep -q "would run: apt-get install .*-t bookworm-backports qemu-system-arm qemu-user-static"
ok $? "it would install QEMU from bookworm-backports"
echo "$out" | grep -q "would run: dpkg --add-architecture arm64"; ok $? "it would add the arm64 architecture"
[ ! -e "$fake/called" ]; ok $? "a dry run calls neither apt-get nor dpkg"

# 2. The same machine, not root, for real: one line naming what is
# missing, then the reason it stops; exit 1, nothing installed.
stand none x86_64 1000 7.2.0
out=$(run); rc=$?
[ "$rc" = 1 ]; ok $? "not root: exit 1 (got $rc)"
echo "$out" | grep -q "^setup: missing: .*libfdt-dev:arm64"; ok $? "not root: the missing packages are named"
echo "$out" | grep -q "need root"; ok $? "not root: it says it needs root"
[ ! -e "$fake/called" ]; ok $? "not root: apt-get was not called"

# 3. An arm64 host: native packages, no cross compiler, no QEMU.
stand none aarch64 0 7.2.0
out=$(run --dry-run); rc=$?
ok $rc "dry run on a fresh arm64 machine exits 0"
echo "$out" | grep -q "apt-get install .* libfdt-dev liburing-dev libaio-dev"; ok $? "arm64: native libraries"
! echo "$out" | grep -q "qemu\|aarch64-linux-gnu"; ok $? "arm64: no QEMU and no cross compiler"

# 4. Everything present: silent, exit 0; an old QEMU alone is still missing.
stand all x86_64 1000 10.0.2
out=$(run); rc=$?
[ "$rc" = 0 ] && [ -z "$out" ]; ok $? "everything installed: nothing said, exit 0"
stand all x86_64 0 7.2.0
out=$(run --dry-run)
echo "$out" | grep -q "qemu >= 10"; ok $? "QEMU 7.2 installed: the backports QEMU is still wanted"

# 5. A bad option.
out=$(run --bogus); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q usage; ok $? "a bad option: usage, exit 2"
echo "1..$n"
