// SPDX-License-Identifier: MIT
/*
 * Block device checks and measurements, run in the guest (and on the lab
 * host against the image file, so both sides use the same pattern):
 *   blktest write PATH MIB SEED    patterned data, 1 MiB writes, fsync
 *   blktest verify PATH MIB SEED   read back and compare
 *   blktest bench PATH MIB         O_DIRECT, Linux AIO syscalls: sequential
 *                                  1 MiB write and read MiB/s at queue
 *                                  depth 32 and 1, 4 KiB random-read IOPS
 *                                  at queue depth 32
 *   blktest phase PATH MIB NAME    one of those alone (w32 r32 w1 r1 rr), with
 *                                  its time per request
 * Prints "BLKTEST ... ok" or "BLKTEST ... FAIL reason"; exit status 0/1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1u << 20)

static uint64_t pattern(uint64_t seed, uint64_t off)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + off;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill(uint64_t *buf, uint64_t seed, uint64_t off)
{
	for (unsigned int i = 0; i < MIB / 8; i++)
		buf[i] = pattern(seed, off + 8 * i);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_write(const char *path, unsigned int mib, uint64_t seed)
{
	uint64_t *buf = aligned_alloc(4096, MIB);
	int fd = open(path, O_WRONLY);

	if (fd < 0 || !buf) {
		printf("BLKTEST write FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (unsigned int m = 0; m < mib; m++) {
		fill(buf, seed, (uint64_t)m * MIB);
		if (pwrite(fd, buf, MIB, (off_t)m * MIB) != MIB) {
			printf("BLKTEST write FAIL at %u MiB: %s\n", m, strerror(errno));
			return 1;
		}
	}
	if (fsync(fd) < 0) {
		printf("BLKTEST write FAIL fsync: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	printf("BLKTEST write ok %u MiB seed %llu\n", mib, (unsigned long long)seed);
	return 0;
}

static int do_verify(const char *path, unsigned int mib, uint64_t seed)
{
	uint64_t *buf = aligned_alloc(4096, MIB), *want = aligned_alloc(4096, MIB);
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !buf || !want) {
		printf("BLKTEST verify FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (unsigned int m = 0; m < mib; m++) {
		if (pread(fd, buf, MIB, (off_t)m * MIB) != MIB) {
			printf("BLKTEST verify FAIL read at %u MiB: %s\n", m, strerror(errno));
			return 1;
		}
		fill(want, seed, (uint64_t)m * MIB);
		if (memcmp(buf, want, MIB)) {
			unsigned int i = 0;

			while (buf[i] == want[i])
				i++;
			printf("BLKTEST verify FAIL mismatch at byte %llu\n",
			       (unsigned long long)m * MIB + 8ULL * i);
			return 1;
		}
	}
	printf("BLKTEST verify ok %u MiB seed %llu\n", mib, (unsigned long long)seed);
	return 0;
}

/*
 * n I/Os of bsize bytes at queue depth qd (Linux AIO): sequential from 0,
 * or at random bsize-aligned offsets below span. Returns seconds, or < 0
 * (said why) on any failure or short transfer.
 */
static double aio_run(int fd, aio_context_t ctx, uint8_t *bufs, int write, size_t bsize, long n,
		      unsigned int qd, int random, uint64_t span)
{
	struct iocb cbs[32], *ptrs[32];
	struct io_event ev[32];
	long done = 0, submitted = 0;
	uint64_t x = 88172645463325252ULL, blocks = span / bsize;
	double t = now();

	while (done < n) {
		int k = 0;

		while (submitted - done < qd && submitted < n) {
			struct iocb *cb = &cbs[submitted % qd];

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			memset(cb, 0, sizeof(*cb));
			cb->aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
			cb->aio_fildes = (uint32_t)fd;
			cb->aio_buf = (uint64_t)(uintptr_t)(bufs + bsize * (submitted % qd));
			cb->aio_nbytes = bsize;
			cb->aio_offset =
				(int64_t)((random ? x % blocks : (uint64_t)submitted) * bsize);
			ptrs[k++] = cb;
			submitted++;
		}
		if (k && syscall(SYS_io_submit, ctx, k, ptrs) != k)
			return printf("BLKTEST bench FAIL io_submit: %s\n", strerror(errno)), -1;
		k = (int)syscall(SYS_io_getevents, ctx, 1, 32, ev, NULL);
		if (k < 0)
			return printf("BLKTEST bench FAIL io_getevents: %s\n", strerror(errno)), -1;
		for (int i = 0; i < k; i++)
			if (ev[i].res != (int64_t)bsize)
				return printf("BLKTEST bench FAIL %s: %lld\n",
					      write ? "write" : "read", (long long)ev[i].res),
				       -1;
		done += k;
	}
	if (write && fsync(fd) < 0)
		return printf("BLKTEST bench FAIL fsync: %s\n", strerror(errno)), -1;
	return now() - t;
}

/*
 * O_DIRECT: sequential 1 MiB writes (then fsync) and reads at queue depth
 * 32 and at depth 1, and 4 KiB random reads at depth 32.
 */
static int do_bench(const char *path, unsigned int mib)
{
	int fd = open(path, O_RDWR | O_DIRECT);
	uint8_t *bufs = aligned_alloc(4096, 32 * (size_t)MIB);
	aio_context_t ctx = 0;
	double w32, r32, w1, r1, rr;

	if (fd < 0 || !bufs) {
		printf("BLKTEST bench FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(bufs, 0x5a, 32 * (size_t)MIB);
	if (syscall(SYS_io_setup, 32, &ctx) < 0)
		return printf("BLKTEST bench FAIL io_setup: %s\n", strerror(errno)), 1;
	if ((w32 = aio_run(fd, ctx, bufs, 1, MIB, mib, 32, 0, 0)) < 0 ||
	    (r32 = aio_run(fd, ctx, bufs, 0, MIB, mib, 32, 0, 0)) < 0 ||
	    (w1 = aio_run(fd, ctx, bufs, 1, MIB, mib, 1, 0, 0)) < 0 ||
	    (r1 = aio_run(fd, ctx, bufs, 0, MIB, mib, 1, 0, 0)) < 0 ||
	    (rr = aio_run(fd, ctx, bufs, 0, 4096, 4096, 32, 1, (uint64_t)mib * MIB)) < 0)
		return 1;
	printf("BLKTEST bench seq_write_MiBps=%.1f seq_read_MiBps=%.1f seq_write_qd1_MiBps=%.1f seq_read_qd1_MiBps=%.1f randread_4k_qd32_iops=%.0f\n",
	       mib / w32, mib / r32, mib / w1, mib / r1, 4096 / rr);
	return 0;
}

/*
 * One phase of the bench alone (for bench/blk-cost, which counts what each
 * request costs): w32, r32, w1, r1 (1 MiB, sequential, queue depth 32 or
 * 1) or rr (4 KiB random reads, depth 32).
 */
static int do_phase(const char *path, unsigned int mib, const char *name)
{
	static const struct {
		const char *name;
		int write, random;
		unsigned int bsize, qd;
	} phases[] = {
		{ "w32", 1, 0, MIB, 32 }, { "r32", 0, 0, MIB, 32 }, { "w1", 1, 0, MIB, 1 },
		{ "r1", 0, 0, MIB, 1 },	  { "rr", 0, 1, 4096, 32 },
	};
	int fd = open(path, O_RDWR | O_DIRECT);
	uint8_t *bufs = aligned_alloc(4096, 32 * (size_t)MIB);
	aio_context_t ctx = 0;

	if (fd < 0 || !bufs || syscall(SYS_io_setup, 32, &ctx) < 0) {
		printf("BLKTEST phase FAIL setup %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(bufs, 0x5a, 32 * (size_t)MIB);
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		unsigned int n = phases[i].random ? 4096 : mib;
		double t;

		if (strcmp(name, phases[i].name))
			continue;
		t = aio_run(fd, ctx, bufs, phases[i].write, phases[i].bsize, n, phases[i].qd,
			    phases[i].random, (uint64_t)mib * MIB);
		if (t < 0)
			return 1;
		printf("BLKTEST phase %s requests=%u seconds=%.4f us_per_request=%.1f\n", name, n,
		       t, t * 1e6 / n);
		return 0;
	}
	printf("BLKTEST phase FAIL no phase '%s' (w32 r32 w1 r1 rr)\n", name);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "phase"))
		return do_phase(argv[2], (unsigned)atoi(argv[3]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "write"))
		return do_write(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "verify"))
		return do_verify(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "bench"))
		return do_bench(argv[2], (unsigned)atoi(argv[3]));
	fprintf(stderr,
		"usage: blktest write|verify PATH MIB SEED | blktest bench PATH MIB | blktest phase PATH MIB NAME\n");
	return 2;
}
