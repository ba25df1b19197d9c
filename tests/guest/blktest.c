// SPDX-License-Identifier: MIT
/*
 * Block device checks and measurements, run in the guest (and on the lab
 * host against the image file, so both sides use the same pattern):
 *   blktest write PATH MIB SEED    patterned data, 1 MiB writes, fsync
 *   blktest verify PATH MIB SEED   read back and compare
 *   blktest bench PATH MIB         O_DIRECT: sequential 1 MiB read and
 *                                  write MiB/s, 4 KiB random-read IOPS at
 *                                  queue depth 32 (Linux AIO syscalls)
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


static int do_bench(const char *path, unsigned int mib)
{
	int fd = open(path, O_RDWR | O_DIRECT);
	uint8_t *buf = aligned_alloc(4096, MIB);
	aio_context_t ctx = 0;
	struct iocb cbs[32], *ptrs[32];
	struct io_event ev[32];
	double t, wr, rd, iops;
	long done = 0, submitted = 0, total = 4096;
	uint64_t blocks = (uint64_t)mib * MIB / 4096, x = 88172645463325252ULL;

	if (fd < 0 || !buf) {
		printf("BLKTEST bench FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(buf, 0x5a, MIB);
	t = now();
	for (unsigned int m = 0; m < mib; m++)
		if (pwrite(fd, buf, MIB, (off_t)m * MIB) != MIB)
			return printf("BLKTEST bench FAIL write: %s\n", strerror(errno)), 1;
	fsync(fd);
	wr = mib / (now() - t);
	t = now();
	for (unsigned int m = 0; m < mib; m++)
		if (pread(fd, buf, MIB, (off_t)m * MIB) != MIB)
			return printf("BLKTEST bench FAIL read: %s\n", strerror(errno)), 1;
	rd = mib / (now() - t);
	if (syscall(SYS_io_setup, 32, &ctx) < 0)
		return printf("BLKTEST bench FAIL io_setup: %s\n", strerror(errno)), 1;
	t = now();
	while (done < total) {
		int n = 0;

		while (submitted - done < 32 && submitted < total) {
			struct iocb *cb = &cbs[submitted % 32];

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			memset(cb, 0, sizeof(*cb));
			cb->aio_lio_opcode = IOCB_CMD_PREAD;
			cb->aio_fildes = (uint32_t)fd;
			cb->aio_buf = (uint64_t)(uintptr_t)(buf + 4096 * (submitted % 32));
			cb->aio_nbytes = 4096;
			cb->aio_offset = (int64_t)(x % blocks) * 4096;
			ptrs[n++] = cb;
			submitted++;
		}
		if (n && syscall(SYS_io_submit, ctx, n, ptrs) != n)
			return printf("BLKTEST bench FAIL io_submit: %s\n", strerror(errno)), 1;
		n = (int)syscall(SYS_io_getevents, ctx, 1, 32, ev, NULL);
		if (n < 0)
			return printf("BLKTEST bench FAIL io_getevents\n"), 1;
		done += n;
	}
	iops = total / (now() - t);
	printf("BLKTEST bench seq_write_MiBps=%.1f seq_read_MiBps=%.1f randread_4k_qd32_iops=%.0f\n",
	       wr, rd, iops);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "write"))
		return do_write(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "verify"))
		return do_verify(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "bench"))
		return do_bench(argv[2], (unsigned)atoi(argv[3]));
	fprintf(stderr, "usage: blktest write|verify PATH MIB SEED | blktest bench PATH MIB\n");
	return 2;
}
