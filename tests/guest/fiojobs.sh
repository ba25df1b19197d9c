#!/bin/sh
# bench/blk-fio's jobs, the same in the guest and in the lab host, one fio
# terse (version 3) line each:
#   fiojobs DEV ENGINE MIB [FIO]
# w32, r32: sequential 1 MiB at queue depth 32; w1, r1: at depth 1; rr:
# 4 KiB random reads at depth 32; MIB MiB each, O_DIRECT.
dev=$1 engine=$2 mib=$3 fio=${4:-fio}
for j in w32:write:1m:32 r32:read:1m:32 w1:write:1m:1 r1:read:1m:1 rr:randread:4k:32; do
	IFS=:
	set -- $j
	unset IFS
	"$fio" --name="$1" --filename="$dev" --rw="$2" --bs="$3" --iodepth="$4" --direct=1 \
		--ioengine="$engine" --size="${mib}m" --output-format=terse --terse-version=3 || exit 1
done
