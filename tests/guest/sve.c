// SPDX-License-Identifier: MIT
/*
 * SVE as a Linux program sees it, inside the guest (or on the lab host, for
 * the benchmark's reference). Usage:
 *   sve check LIST   LIST is the negotiated set in bits ("128,256,512") or
 *                    "none"; prints one "GUESTTEST ok|not ok - ..." line per
 *                    check and exits non-zero if any failed
 *   sve bench        SVE checksum throughput over 16 MiB at the maximum VL
 *   sve hold SECS [N] N processes (default 1) each keep distinctive values
 *                    in Z0-Z31, P0-P15 and FFR at the maximum VL and check
 *                    them in a loop that never leaves the registers alone
 *                    (no system call inside a round of ~1 s); prints a
 *                    SVEHOLD line per round and one GUESTTEST line at the
 *                    end. For snapshot tests: the registers must survive
 *                    a save, a kill and a restore in another process.
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
#include <sys/wait.h>
#include <unistd.h>
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
		      "PR_SVE_SET_VL %d (not in the set) gives %d, want %d", vl * 8, got * 8,
		      want_vl * 8);
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
	printf("SVE-BENCH vl=%llu MiB/s=%.1f (checksum %llx)\n", (unsigned long long)rdvl() * 8,
	       16.0 / best, (unsigned long long)s);
	free(data);
	return 0;
}

/*
 * One round: load want (32 Z, 16 P, FFR, each at the current VL) into the
 * registers, then iters times store them all to got and compare got with
 * want using general registers only. Returns the rounds that differed.
 */
static uint64_t hold_round(const uint8_t *want, uint8_t *got, uint64_t words, uint64_t iters)
{
	uint64_t bad = 0;

	/* Unformatted: the macros inside the string defeat clang-format. */
	/* clang-format off */
	asm volatile(".arch armv8.2-a+sve\n"
		     "	addvl	x10, %[want], #31\n"
		     "	addvl	x10, x10, #1\n" /* P registers at want + 32 VL */
		     "	ldr	p0, [x10, #16, mul vl]\n"
		     "	wrffr	p0.b\n"
#define LZ(n) "	ldr	z" #n ", [%[want], #" #n ", mul vl]\n"
		     LZ(0) LZ(1) LZ(2) LZ(3) LZ(4) LZ(5) LZ(6) LZ(7) LZ(8) LZ(9) LZ(10)
		     LZ(11) LZ(12) LZ(13) LZ(14) LZ(15) LZ(16) LZ(17) LZ(18) LZ(19) LZ(20)
		     LZ(21) LZ(22) LZ(23) LZ(24) LZ(25) LZ(26) LZ(27) LZ(28) LZ(29) LZ(30) LZ(31)
#define LP(n) "	ldr	p" #n ", [x10, #" #n ", mul vl]\n"
		     LP(0) LP(1) LP(2) LP(3) LP(4) LP(5) LP(6) LP(7) LP(8) LP(9) LP(10)
		     LP(11) LP(12) LP(13) LP(14) LP(15)
		     "	addvl	x11, %[got], #31\n"
		     "	addvl	x11, x11, #1\n"
		     "3:\n"
#define SZ(n) "	str	z" #n ", [%[got], #" #n ", mul vl]\n"
		     SZ(0) SZ(1) SZ(2) SZ(3) SZ(4) SZ(5) SZ(6) SZ(7) SZ(8) SZ(9) SZ(10)
		     SZ(11) SZ(12) SZ(13) SZ(14) SZ(15) SZ(16) SZ(17) SZ(18) SZ(19) SZ(20)
		     SZ(21) SZ(22) SZ(23) SZ(24) SZ(25) SZ(26) SZ(27) SZ(28) SZ(29) SZ(30) SZ(31)
#define SP(n) "	str	p" #n ", [x11, #" #n ", mul vl]\n"
		     SP(0) SP(1) SP(2) SP(3) SP(4) SP(5) SP(6) SP(7) SP(8) SP(9) SP(10)
		     SP(11) SP(12) SP(13) SP(14) SP(15)
		     "	rdffr	p0.b\n"
		     "	str	p0, [x11, #16, mul vl]\n"
		     "	ldr	p0, [x10, #0, mul vl]\n"
		     "	mov	x12, #0\n"
		     "	mov	x14, #0\n"
		     "1:	ldr	x15, [%[want], x12, lsl #3]\n"
		     "	ldr	x16, [%[got], x12, lsl #3]\n"
		     "	eor	x15, x15, x16\n"
		     "	orr	x14, x14, x15\n"
		     "	add	x12, x12, #1\n"
		     "	cmp	x12, %[words]\n"
		     "	b.lo	1b\n"
		     "	cbz	x14, 2f\n"
		     "	add	%[bad], %[bad], #1\n"
		     "2:	subs	%[iters], %[iters], #1\n"
		     "	b.ne	3b\n"
		     : [bad] "+r"(bad), [iters] "+r"(iters)
		     : [want] "r"(want), [got] "r"(got), [words] "r"(words)
		     : "x10", "x11", "x12", "x14", "x15", "x16", "cc", "memory",
		       "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10",
		       "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20",
		       "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
	/* clang-format on */
	return bad;
}

static int hold_one(double secs, unsigned int seed)
{
	uint64_t vl, bytes, words, iters = 16, rounds = 0, bad = 0;
	uint8_t *want, *got;
	uint32_t x = 2463534242u ^ seed * 0x9e3779b9u;
	double t0, t;

	prctl(PR_SVE_SET_VL, 256); /* the maximum, capped by the kernel */
	vl = rdvl();
	bytes = 32 * vl + 17 * (vl / 8);
	words = (bytes + 7) / 8;
	want = calloc(words, 8);
	got = calloc(words, 8);
	if (!want || !got)
		return 1;
	for (uint64_t i = 0; i < 32 * vl + 16 * (vl / 8); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		want[i] = (uint8_t)x;
	}
	/* FFR must be monotonic: k ones, then zeros (one bit per byte lane). */
	{
		uint64_t k = 1 + seed % vl;
		uint8_t *ffr = want + 32 * vl + 16 * (vl / 8);

		for (uint64_t b = 0; b < k; b++)
			ffr[b / 8] |= (uint8_t)(1u << (b % 8));
	}
	/* About a second a round, whatever the machine's speed. */
	t0 = now();
	while (now() - t0 < 0.05) {
		bad += hold_round(want, got, words, iters);
		iters *= 2;
	}
	iters = (uint64_t)(iters / (now() - t0) * 0.5) + 1;
	t0 = now();
	do {
		uint64_t b = hold_round(want, got, words, iters);

		bad += b;
		rounds++;
		t = now();
		printf("SVEHOLD pid=%d vl=%llu round=%llu bad=%llu\n", (int)getpid(),
		       (unsigned long long)vl * 8, (unsigned long long)rounds,
		       (unsigned long long)b);
		fflush(stdout);
	} while (t - t0 < secs);
	check(bad == 0, "sve hold at VL %llu: %llu rounds of %llu checks, %llu bad",
	      (unsigned long long)vl * 8, (unsigned long long)rounds, (unsigned long long)iters,
	      (unsigned long long)bad);
	return bad != 0;
}

static int hold(double secs, int n)
{
	int rc = 0;

	if (!(getauxval(AT_HWCAP) & HWCAP_SVE)) {
		check(0, "sve hold: this guest has no SVE");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0)
			exit(hold_one(secs, (unsigned int)i + 1));
	}
	for (int i = 0; i < n; i++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			rc = 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "hold"))
		return hold(atof(argv[2]), argc == 4 ? atoi(argv[3]) : 1);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return strcmp(argv[2], "none") ? check_set(argv[2]) : check_none();
	if (argc == 2 && !strcmp(argv[1], "bench"))
		return bench();
	fprintf(stderr, "usage: sve check LIST|none | sve bench | sve hold SECS [N]\n");
	return 2;
}
