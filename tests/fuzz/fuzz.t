#!/usr/bin/env bash
# A short fuzzing pass for `make test` (TAP): each libFuzzer target runs
# for FUZZ_SECONDS (default 15) on its saved corpus; a crash, leak or
# sanitizer report fails it and leaves the reproducer in build/fuzz/.
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-15}
n=0
for t in "$top"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	bin=$top/build/fuzz/$name
	n=$((n + 1))
	if ! make -C "$top" -s "build/fuzz/$name" >/tmp/$name.build 2>&1; then
		echo "not ok $n - $name builds"; sed 's/^/#   /' /tmp/$name.build | tail -20; continue
	fi
	mkdir -p "$top/build/fuzz/corpus-$name"
	dict=
	[ -f "$top/tests/fuzz/$name.dict" ] && dict=-dict=$top/tests/fuzz/$name.dict
	if (cd "$top/build/fuzz" && "$bin" -max_total_time="$secs" $dict "corpus-$name" >/tmp/$name.log 2>&1); then
		echo "ok $n - $name: $(grep -o 'Done [0-9]* runs' /tmp/$name.log) in ${secs}s, no sanitizer report"
	else
		echo "not ok $n - $name found a crash"; grep -A15 -E 'ERROR|SUMMARY' /tmp/$name.log | sed 's/^/#   /' | head -40
	fi
done
echo "1..$n"
