// SPDX-License-Identifier: MIT
/*
 * The snapshot file (vmm/snapfile.c): CRC32C, a file written and read
 * back, zero pages left as holes, memory checksums, and refusals of every
 * truncation and every single-bit flip of the header and sections, a
 * newer version, sections missing or out of order; a failed write leaves
 * the old file and no temporary one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "snapfile.h"
#include "tap.h"

#define MEM (4u << 20)

static char dir[] = "/tmp/armvm-snapXXXXXX", path[256];
static uint8_t *mem;

static void fill_mem(void)
{
	mem = aligned_alloc(4096, MEM);
	memset(mem, 0, MEM);
	for (uint32_t i = 0; i < MEM; i += 4096)
		if ((i / 4096) % 3 == 0) /* a third of the pages hold data */
			for (uint32_t k = 0; k < 4096; k += 64)
				mem[i + k] = (uint8_t)(i / 4096 + k);
}

static int write_file(const char *p, uint32_t nvcpus, char *err)
{
	struct snap_writer w;
	uint8_t payload[100];
	int ret;

	memset(payload, 0xa5, sizeof(payload));
	snapw_init(&w);
	snapw_section(&w, SNAP_SEC_HOST, 1, 0, payload, 13);
	snapw_section(&w, SNAP_SEC_MACHINE, 1, 0, payload, 21);
	for (uint32_t i = 0; i < nvcpus; i++)
		snapw_section(&w, SNAP_SEC_VCPU, 1, 0, payload, 40 + i);
	snapw_section(&w, SNAP_SEC_GIC, 1, 0, payload, 8);
	snapw_section(&w, SNAP_SEC_DEVICES, 1, 0, payload, 0);
	ret = snap_write(&w, p, mem, 0x80000000ull, MEM, NULL, NULL, NULL, err, 512);
	snapw_free(&w);
	return ret;
}

static uint8_t *read_all(const char *p, size_t *n)
{
	struct stat st;
	int fd = open(p, O_RDONLY);
	uint8_t *b;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	b = malloc((size_t)st.st_size);
	if (b && read(fd, b, (size_t)st.st_size) != st.st_size) {
		free(b);
		b = NULL;
	}
	close(fd);
	*n = (size_t)st.st_size;
	return b;
}

static void test_crc(void)
{
	uint8_t big[1000];

	is_int(crc32c(0, "123456789", 9), 0xe3069283, "CRC32C check value");
	is_int(crc32c_sw(0, "123456789", 9), 0xe3069283, "CRC32C table version, check value");
	for (int i = 0; i < 1000; i++)
		big[i] = (uint8_t)(i * 7);
	is_int(crc32c(crc32c(0, big, 333), big + 333, 667), crc32c_sw(0, big, 1000),
	       "CRC32C: hardware (if any) and table agree, and it continues across calls");
}

static void test_roundtrip(void)
{
	struct snap_image img;
	char err[512];
	struct stat st;
	int ret;

	ret = write_file(path, 2, err);
	is_int(ret, 0, "a snapshot file is written (%s)", ret ? err : "ok");
	ret = snap_open(path, &img, err, sizeof(err));
	is_int(ret, 0, "and opens (%s)", ret ? err : "ok");
	if (ret)
		return;
	is_int(img.nr_sections, 7, "seven sections");
	is_int(img.nr_vcpus, 2, "two vCPU sections");
	ok(img.mem_offset % SNAP_MEM_ALIGN == 0, "memory is 64 KiB aligned in the file");
	is_int((int)img.mem.data_pages, (MEM / 4096 + 2) / 3, "only the non-zero pages are stored");
	ok(snap_find(&img, SNAP_SEC_VCPU, 1) && snap_find(&img, SNAP_SEC_VCPU, 1)->len == 41,
	   "the second vCPU section is found, whole");
	ok(!snap_find(&img, SNAP_SEC_VCPU, 2), "there is no third");
	is_int(snap_verify_memory(&img, NULL, NULL, err, sizeof(err)), 0,
	       "memory checksums verify");
	stat(path, &st);
	ok((uint64_t)st.st_blocks * 512 < MEM / 2 + 65536 * 2,
	   "zero pages are holes (%lld bytes on disk)", (long long)st.st_blocks * 512);
	snap_close(&img);
	/* A flip in memory: only --verify sees it. */
	{
		int fd = open(path, O_RDWR);
		uint8_t b;
		off_t o = (off_t)(img.mem_offset ? 0 : 0);

		snap_open(path, &img, err, sizeof(err));
		o = (off_t)img.mem_offset + 4096 * 3 + 100;
		pread(fd, &b, 1, o);
		b ^= 4;
		pwrite(fd, &b, 1, o);
		ret = snap_verify_memory(&img, NULL, NULL, err, sizeof(err));
		ok(ret == -EIO && strstr(err, "guest 0x80000000"),
		   "a bit flipped in memory: verify names its MiB (%s)", err);
		b ^= 4;
		pwrite(fd, &b, 1, o);
		/* a data page turned into zeros */
		{
			uint8_t z[4096] = { 0 };

			pwrite(fd, z, sizeof(z), (off_t)img.mem_offset + 4096 * 3 * 100);
			ret = snap_verify_memory(&img, NULL, NULL, err, sizeof(err));
			ok(ret == -EIO, "a data page zeroed in memory: verify finds it");
		}
		close(fd);
		snap_close(&img);
		write_file(path, 2, err);
	}
}

static void test_corrupt(void)
{
	struct snap_image img;
	size_t n, state;
	uint8_t *file = read_all(path, &n), *b;
	char err[512];
	int bad = 0, flips = 0, lines = 0;

	if (!file) {
		ok(0, "read the file back");
		return;
	}
	state = (size_t)(file[16] | file[17] << 8 | file[18] << 16) + SNAP_HEADER_SIZE;
	b = malloc(n);
	/* Every truncation of the header and sections. */
	for (size_t len = 0; len < state; len++) {
		err[0] = '\0';
		if (snap_parse(file, len, &img, err, sizeof(err)) == 0) {
			bad++;
			free(img.sec);
		}
		lines += !err[0] || strchr(err, '\n');
	}
	is_int(bad, 0, "every one of %zu truncations of the header and sections is refused", state);
	is_int(lines, 0, "each with one line");
	/* Every single-bit flip of them. */
	bad = 0;
	for (size_t i = 0; i < state; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(b, file, state);
			b[i] ^= (uint8_t)(1u << bit);
			flips++;
			if (snap_parse(b, state, &img, err, sizeof(err)) == 0) {
				bad++;
				free(img.sec);
			}
		}
	}
	is_int(bad, 0, "every one of %d single-bit flips of the header and sections is refused",
	       flips);
	/* The gap between sections and memory must be zeros (snap_open). */
	{
		int fd;

		memcpy(b, file, n);
		b[state + 3] = 1;
		fd = open(path, O_WRONLY | O_TRUNC);
		write(fd, b, n);
		close(fd);
		ok(snap_open(path, &img, err, sizeof(err)) == -EINVAL && strstr(err, "stray bytes"),
		   "a byte set between the sections and memory is refused (%s)", err);
		/* Truncated memory. */
		fd = open(path, O_WRONLY | O_TRUNC);
		write(fd, file, n - 4096);
		close(fd);
		ok(snap_open(path, &img, err, sizeof(err)) == -EINVAL &&
			   strstr(err, "is truncated"),
		   "memory cut short is refused (%s)", err);
		fd = open(path, O_WRONLY | O_TRUNC);
		write(fd, file, n);
		close(fd);
	}
	/* A newer version, with a correct header checksum. */
	memcpy(b, file, state);
	b[8] = 2;
	{
		uint32_t c = crc32c(0, b, 60);

		b[60] = (uint8_t)c, b[61] = (uint8_t)(c >> 8), b[62] = (uint8_t)(c >> 16),
		b[63] = (uint8_t)(c >> 24);
	}
	ok(snap_parse(b, state, &img, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "version 2 is newer"),
	   "a newer format version is refused (%s)", err);
	free(b);
	free(file);
}

static void test_order(void)
{
	struct snap_writer w;
	char err[512];

	snapw_init(&w);
	snapw_section(&w, SNAP_SEC_MACHINE, 1, 0, "x", 1);
	snapw_section(&w, SNAP_SEC_HOST, 1, 0, "x", 1);
	ok(w.err == -EINVAL, "the writer refuses sections out of order");
	ok(snap_write(&w, path, mem, 0, MEM, NULL, NULL, NULL, err, sizeof(err)) != 0,
	   "and will not write such a file (%s)", err);
	snapw_free(&w);
	snapw_init(&w);
	snapw_section(&w, SNAP_SEC_HOST, 1, 0, "x", 1);
	snapw_section(&w, SNAP_SEC_MACHINE, 1, 0, "x", 1);
	snapw_section(&w, SNAP_SEC_GIC, 1, 0, "x", 1);
	snapw_section(&w, SNAP_SEC_DEVICES, 1, 0, "x", 1);
	{
		char p2[300];
		struct snap_image img;

		snprintf(p2, sizeof(p2), "%s/novcpu.snap", dir);
		is_int(snap_write(&w, p2, mem, 0, MEM, NULL, NULL, NULL, err, sizeof(err)), 0,
		       "a file without vCPU sections can be written");
		ok(snap_open(p2, &img, err, sizeof(err)) == -EINVAL &&
			   strstr(err, "the vcpu section is missing"),
		   "but not opened (%s)", err);
		unlink(p2);
	}
	snapw_free(&w);
}

static void test_failed_write(void)
{
	struct rlimit old, small = { 1 << 20, 1 << 20 };
	uint8_t *before, *after;
	size_t n1, n2;
	char err[512], tmpname[300];
	int ret;

	before = read_all(path, &n1);
	/* A file size limit stands in for a full disk. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	setrlimit(RLIMIT_FSIZE, &small);
	for (uint32_t i = 0; i < MEM; i += 4096)
		mem[i + 1] = 0x5a; /* every page holds data now */
	ret = write_file(path, 1, err);
	setrlimit(RLIMIT_FSIZE, &old);
	ok(ret != 0 && !strchr(err, '\n'), "a write that runs out of room fails with one line (%s)",
	   err);
	after = read_all(path, &n2);
	ok(before && after && n1 == n2 && !memcmp(before, after, n1),
	   "the file that was there is intact");
	snprintf(tmpname, sizeof(tmpname), "%s/.s.snap.tmp-%d", dir, (int)getpid());
	ok(access(tmpname, F_OK) < 0, "no temporary file is left");
	snprintf(tmpname, sizeof(tmpname), "%s/nodir/x.snap", dir);
	ret = write_file(tmpname, 1, err);
	ok(ret == -ENOENT && strstr(err, "cannot create"), "a missing directory: one line (%s)",
	   err);
	free(before);
	free(after);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/s.snap", dir);
	fill_mem();
	test_crc();
	test_roundtrip();
	test_corrupt();
	test_order();
	test_failed_write();
	unlink(path);
	rmdir(dir);
	free(mem);
	return tap_done();
}
