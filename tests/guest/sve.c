// SPDX-License-Identifier: MIT
/*
 * SVE as a Linux program sees it, inside the guest (or on the lab host, for
 * the benchmark's reference). Usage:
 *   sve check LIST   LIST is the negotiated set in bits ("128,256,512") or
 *                    "none"; prints one "GUESTTEST ok|not ok - ..." line per
 *                    check and exits non-zero if any failed
 *   sve bench        SVE checksum throughput over 16 MiB at the maximum VL
 * The SVE code is inline assembly, so the file builds without SVE flags and
 * its scalar half never uses SVE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <time.h>

#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef PR_SVE_SET_VL
#define PR_SVE_SET_VL 50
#define PR_SVE_GET_VL 51
#endif
#define VL_MASK 0xffff
#define BUF_WORDS (16u << 20) / 4

static int failures;

static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("GUESTTEST %s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failures += !cond;
}

static uint64_t rdvl(void)
{
	uint64_t vl;

	asm volatile(".arch armv8.2-a+sve\n\trdvl %0, #1" : "=r"(vl));
	return vl;
}

/* Sum of 32-bit words, SVE: one 64-bit lane per word, predicated tail. */
static uint64_t sve_sum32(const uint32_t *p, uint64_t n)
{
	uint64_t sum;

	asm volatile(".arch armv8.2-a+sve\n"
		     "	mov	x9, #0\n"
		     "	mov	z0.d, #0\n"
		     "	whilelo	p0.d, x9, %2\n"
		     "1:	ld1w	{z1.d}, p0/z, [%1, x9, lsl #2]\n"
		     "	add	z0.d, p0/m, z0.d, z1.d\n"
		     "	incd	x9\n"
		     "	whilelo	p0.d, x9, %2\n"
		     "	b.first	1b\n"
		     "	ptrue	p0.d\n"
		     "	uaddv	d0, p0, z0.d\n"
		     "	fmov	%0, d0\n"
		     : "=r"(sum)
		     : "r"(p), "r"(n)
		     : "x9", "v0", "v1", "p0", "cc", "memory");
	return sum;
}

static uint64_t scalar_sum32(const uint32_t *p, uint64_t n)
{
	volatile uint64_t sum = 0; /* volatile: keep the compiler scalar */

	for (uint64_t i = 0; i < n; i++)
		sum += p[i];
	return sum;
}

static uint32_t *make_buffer(void)
{
	uint32_t *b = malloc(BUF_WORDS * 4ull), x = 2463534242u;

	for (uint32_t i = 0; b && i < BUF_WORDS; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		b[i] = x;
	}
	return b;
}

static int in_set(const int *set, int n, int vl)
{
	for (int i = 0; i < n; i++)
		if (set[i] == vl)
			return 1;
	return 0;
}

static sigjmp_buf ill_jmp;

static void on_sigill(int sig)
{
	(void)sig;
	siglongjmp(ill_jmp, 1);
}

static int cpuinfo_has_sve(void)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int has = 0;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Features", 8) && strstr(line, " sve"))
			has = 1;
	if (f)
		fclose(f);
	return has;
}

static int check_none(void)
{
	struct sigaction sa = { .sa_handler = on_sigill };
	volatile int trapped = 0;

	check(!cpuinfo_has_sve(), "no 'sve' in /proc/cpuinfo");
	check(!(getauxval(AT_HWCAP) & HWCAP_SVE), "HWCAP_SVE clear");
	check(prctl(PR_SVE_GET_VL) < 0, "PR_SVE_GET_VL fails");
	sigaction(SIGILL, &sa, NULL);
	if (sigsetjmp(ill_jmp, 1) == 0)
		rdvl();
	else
		trapped = 1;
	check(trapped, "an SVE instruction (RDVL) raises SIGILL");
	return failures ? 1 : 0;
}

static int check_set(const char *list)
{
	int set[64], n = 0, maxvl = 0, minvl = 1 << 30, def = 0;
	char buf[32];
	uint32_t *data;
	uint64_t want;
	FILE *f;

	for (const char *p = list; *p && n < 64;) {
		set[n] = atoi(p) / 8; /* bytes */
		maxvl = set[n] > maxvl ? set[n] : maxvl;
		minvl = set[n] < minvl ? set[n] : minvl;
		n++;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	check(cpuinfo_has_sve(), "'sve' in /proc/cpuinfo");
	check(getauxval(AT_HWCAP) & HWCAP_SVE, "HWCAP_SVE set");
	f = fopen("/proc/sys/abi/sve_default_vector_length", "r");
	if (f && fgets(buf, sizeof(buf), f))
		def = atoi(buf);
	if (f)
		fclose(f);
	check(in_set(set, n, def), "default vector length %d bytes is in the set", def);

	/* Every length of the set, exactly, and RDVL agrees. */
	for (int i = 0; i < n; i++) {
		int got = prctl(PR_SVE_SET_VL, set[i]) & VL_MASK;

		check(got == set[i] && rdvl() == (uint64_t)set[i],
		      "PR_SVE_SET_VL %d gives %d, RDVL %llu", set[i] * 8, got * 8,
		      (unsigned long long)rdvl() * 8);
	}
	/* Any other request: a length of the set, rounded down. */
	for (int vl = 16; vl <= 512; vl += 16) {
		int got, want_vl = 0;

		if (in_set(set, n, vl))
			continue;
		for (int i = 0; i < n; i++)
			if (set[i] <= vl && set[i] > want_vl)
				want_vl = set[i];
		if (!want_vl)
			want_vl = minvl;
		got = prctl(PR_SVE_SET_VL, vl) & VL_MASK;
		check(in_set(set, n, got) && got == want_vl && rdvl() == (uint64_t)got,
		      "PR_SVE_SET_VL %d (not in the set) gives %d, want %d", vl * 8,
		      got * 8, want_vl * 8);
	}

	/* The same checksum from SVE code at every length and scalar code. */
	data = make_buffer();
	if (!data) {
		check(0, "16 MiB buffer");
		return 1;
	}
	want = scalar_sum32(data, BUF_WORDS);
	for (int i = 0; i < n; i++) {
		uint64_t got;

		prctl(PR_SVE_SET_VL, set[i]);
		got = sve_sum32(data, BUF_WORDS);
		check(got == want, "SVE checksum over 16 MiB at VL %d matches scalar (0x%llx)",
		      set[i] * 8, (unsigned long long)got);
	}
	free(data);
	return failures ? 1 : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench(void)
{
	uint32_t *data = make_buffer();
	double best = 1e9;
	uint64_t s = 0;

	if (!data || !(getauxval(AT_HWCAP) & HWCAP_SVE))
		return 1;
	prctl(PR_SVE_SET_VL, 256); /* the maximum, capped by the kernel */
	for (int r = 0; r < 5; r++) {
		double t = now();

		s += sve_sum32(data, BUF_WORDS);
		t = now() - t;
		best = t < best ? t : best;
	}
	printf("SVE-BENCH vl=%llu MiB/s=%.1f (checksum %llx)\n",
	       (unsigned long long)rdvl() * 8, 16.0 / best, (unsigned long long)s);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "check"))
		return strcmp(argv[2], "none") ? check_set(argv[2]) : check_none();
	if (argc == 2 && !strcmp(argv[1], "bench"))
		return bench();
	fprintf(stderr, "usage: sve check LIST|none | sve bench\n");
	return 2;
}
