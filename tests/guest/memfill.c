// SPDX-License-Identifier: MIT
/*
 * For bench/snapshot, in the guest: memfill MIB (and on the lab host,
 * `memfill now`: CLOCK_MONOTONIC in ms, for the script's timings)
 * Touch MIB MiB of memory with non-zero data (the guest's "used" memory a
 * snapshot must store), print "MEMFILL ready", then a "BEAT n gap_ms" line
 * every 50 ms, where gap_ms is the longest time between two beats so far
 * beyond the 50 ms (CLOCK_MONOTONIC): the pause the guest saw.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	size_t mib, n;
	uint64_t *p, x = 88172645463325252ull;
	double last, gap = 0;

	if (argc > 1 && !strcmp(argv[1], "now")) {
		printf("%.0f\n", now_ms());
		return 0;
	}
	mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	n = mib << 20;
	p = malloc(n);
	if (!p)
		return 1;
	for (size_t i = 0; i < n / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x | 1;
	}
	printf("MEMFILL ready %zu MiB\n", mib);
	fflush(stdout);
	last = now_ms();
	for (unsigned long b = 0;; b++) {
		double t;

		usleep(50000);
		t = now_ms();
		if (t - last - 50 > gap)
			gap = t - last - 50;
		last = t;
		printf("BEAT %lu %.1f\n", b, gap);
		fflush(stdout);
	}
}
