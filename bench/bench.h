/* SPDX-License-Identifier: MIT */
/* Shared by the bench programs run in the lab (static, one file each). */
#ifndef ARMVM_BENCH_H
#define ARMVM_BENCH_H

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorted in place), or -1 for none. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : -1;
}

/* kvmtool's lkvm is on the PATH (bench/... --kvmtool SRC put it there). */
static inline bool have_lkvm(void)
{
	return system("command -v lkvm >/dev/null 2>&1") == 0;
}

#endif
