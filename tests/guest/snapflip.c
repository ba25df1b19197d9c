// SPDX-License-Identifier: MIT
/*
 * Corrupt armvm snapshot files on purpose, for the lab's snapshot tests
 * (run on the lab host). It knows the format from docs/snapshot-format.md
 * alone (its own CRC32C), so it checks the document as well as armvm.
 *   snapflip flip FILE N SEED CMD...   N times: flip one random bit in the
 *        bytes before memory, run CMD (which must fail: exit 1 or 2, not a
 *        signal, exactly one line on stderr and nothing on stdout), flip
 *        it back. Prints "SNAPFLIP ok N" or the first failure.
 *   snapflip version FILE V           set the format version, header CRC fixed
 *   snapflip swap FILE A B            swap sections A and B (0-based, A < B),
 *        each left whole with its checksum
 *   snapflip drop FILE K              remove section K, header fixed
 *   snapflip vls FILE MAXBITS         cut the machine section's SVE set at
 *        MAXBITS, its checksum fixed (the vCPU sections disagree then)
 *   snapflip setreg FILE IDHEX VALUE   set a 64-bit register of the first
 *        vCPU section to VALUE, its checksum fixed
 *   snapflip info FILE                header fields, one per line
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t g32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t g64(const uint8_t *p)
{
	return g32(p) | (uint64_t)g32(p + 4) << 32;
}

static uint32_t crc32c_cont(uint32_t c, const uint8_t *p, size_t n)
{
	c = ~c;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	return crc32c_cont(0, p, n);
}

/* A section's: its header but the checksum field, then its payload. */
static uint32_t section_crc(const uint8_t *h)
{
	uint32_t c = crc32c_cont(0, h, 16);

	c = crc32c_cont(c, h + 20, 4);
	return crc32c_cont(c, h + 24, g64(h + 8));
}

static void p32(uint8_t *p, uint32_t v)
{
	p[0] = v, p[1] = v >> 8, p[2] = v >> 16, p[3] = v >> 24;
}
static void p64(uint8_t *p, uint64_t v)
{
	p32(p, (uint32_t)v), p32(p + 4, (uint32_t)(v >> 32));
}

static int fd;
static uint8_t *st; /* header and sections */
static uint64_t st_len, mem_off;

static void load(const char *path)
{
	uint8_t h[64];

	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, h, 64, 0) != 64) {
		perror(path);
		exit(2);
	}
	st_len = 64 + g64(h + 16);
	mem_off = g64(h + 24);
	st = malloc(st_len);
	if (!st || pread(fd, st, st_len, 0) != (ssize_t)st_len) {
		perror("read");
		exit(2);
	}
}

static void store(void)
{
	p32(st + 60, crc32c(st, 60));
	if (pwrite(fd, st, st_len, 0) != (ssize_t)st_len) {
		perror("write");
		exit(2);
	}
}

/* Offsets of section k's header, or 0 if there is none. */
static uint64_t section(unsigned int k)
{
	uint64_t pos = 64;

	for (unsigned int i = 0; i < g32(st + 40); i++) {
		if (i == k)
			return pos;
		pos += 24 + ((g64(st + pos + 8) + 7) & ~7ull);
	}
	return 0;
}

static int run_flip(int n, unsigned int seed, char **cmd)
{
	srand(seed);
	for (int i = 0; i < n; i++) {
		uint64_t off = (uint64_t)rand() % mem_off;
		uint8_t b, bit = (uint8_t)(1u << (rand() % 8));
		int errp[2], outp[2], status;
		char buf[4096];
		ssize_t got = 0, r, out;
		pid_t pid;
		int lines = 0;

		if (pread(fd, &b, 1, (off_t)off) != 1)
			return 2;
		b ^= bit;
		if (pwrite(fd, &b, 1, (off_t)off) != 1)
			return 2;
		if (pipe(errp) || pipe(outp))
			return 2;
		pid = fork();
		if (pid == 0) {
			dup2(errp[1], 2);
			dup2(outp[1], 1);
			execvp(cmd[0], cmd);
			_exit(127);
		}
		close(errp[1]);
		close(outp[1]);
		while ((r = read(errp[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
			got += r;
		out = read(outp[0], buf + got, 1);
		close(errp[0]);
		close(outp[0]);
		waitpid(pid, &status, 0);
		buf[got] = '\0';
		for (ssize_t k = 0; k < got; k++)
			lines += buf[k] == '\n';
		b ^= bit;
		if (pwrite(fd, &b, 1, (off_t)off) != 1)
			return 2;
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 1 && WEXITSTATUS(status) != 2) ||
		    lines != 1 || out > 0) {
			printf("SNAPFLIP FAIL flip %d: bit 0x%02x of byte %llu: %s %d, %d line(s)%s: %s\n",
			       i, bit, (unsigned long long)off,
			       WIFEXITED(status) ? "status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), lines,
			       out > 0 ? " and output" : "", buf);
			return 1;
		}
	}
	printf("SNAPFLIP ok %d\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of snapflip.c\n");
		return 2;
	}
	load(argv[2]);
	if (!strcmp(argv[1], "flip") && argc >= 6)
		return run_flip(atoi(argv[3]), (unsigned int)atoi(argv[4]), argv + 5);
	if (!strcmp(argv[1], "version") && argc == 4) {
		p32(st + 8, (uint32_t)atoi(argv[3]));
		store();
		return 0;
	}
	if (!strcmp(argv[1], "swap") && argc == 5) {
		uint64_t a = section((unsigned int)atoi(argv[3])),
			 b = section((unsigned int)atoi(argv[4]));
		uint64_t la, lb, mid;
		uint8_t *t;

		if (!a || !b || a >= b)
			return 2;
		la = 24 + ((g64(st + a + 8) + 7) & ~7ull);
		lb = 24 + ((g64(st + b + 8) + 7) & ~7ull);
		mid = b - (a + la);
		t = malloc(la + mid + lb);
		if (!t)
			return 2;
		/* [A][mid][B] -> [B][mid][A] */
		memcpy(t, st + b, lb);
		memcpy(t + lb, st + a + la, mid);
		memcpy(t + lb + mid, st + a, la);
		memcpy(st + a, t, la + mid + lb);
		store();
		return 0;
	}
	if (!strcmp(argv[1], "drop") && argc == 4) {
		uint64_t k = section((unsigned int)atoi(argv[3])), l;

		if (!k)
			return 2;
		l = 24 + ((g64(st + k + 8) + 7) & ~7ull);
		memmove(st + k, st + k + l, st_len - k - l);
		memset(st + st_len - l, 0, l);
		p64(st + 16, g64(st + 16) - l);
		p32(st + 40, g32(st + 40) - 1);
		store();
		return 0;
	}
	if (!strcmp(argv[1], "vls") && argc == 4) {
		/* MACHINE: argc, args, vcpus u32, ram u64, ipa u32, gic u32,
		 * spis u32, sve u8, pmu u8, then VLS 8 x u64. */
		uint64_t s = section(1), p = s + 24, max_vq = (uint64_t)atoi(argv[3]) / 128;
		uint32_t n = g32(st + p);

		p += 4;
		for (uint32_t i = 0; i < n; i++)
			p += 4 + g32(st + p);
		p += 4 + 8 + 4 + 4 + 4 + 1 + 1;
		for (uint64_t vq = max_vq + 1; vq <= 512; vq++)
			st[p + (vq - 1) / 8] &= (uint8_t) ~(1u << ((vq - 1) % 8));
		p32(st + s + 16, section_crc(st + s));
		store();
		return 0;
	}
	if (!strcmp(argv[1], "setreg") && argc == 5) {
		/* VCPU: features u32, sve u8, VLS 64, mp u32, events u8 + 64,
		 * count u32, then per register its u64 id and value. */
		uint64_t s = 0, p, id = strtoull(argv[3], NULL, 16),
			 val = strtoull(argv[4], NULL, 0);
		uint32_t n;

		for (unsigned int i = 0; i < g32(st + 40) && !s; i++)
			if (g32(st + section(i)) == 3)
				s = section(i);
		if (!s)
			return 2;
		p = s + 24 + 4 + 1 + 64 + 4 + 1 + 64;
		n = g32(st + p);
		p += 4;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t rid = g64(st + p), size = 1ull << ((rid >> 52) & 0xf);

			if (rid == id && size == 8) {
				p64(st + p + 8, val);
				p32(st + s + 16, section_crc(st + s));
				store();
				return 0;
			}
			p += 8 + size;
		}
		fprintf(stderr, "snapflip: no register %llx\n", (unsigned long long)id);
		return 1;
	}
	if (!strcmp(argv[1], "info")) {
		printf("version %u\nstate_end %llu\nmem_offset %llu\nmem_size %llu\nsections %u\n",
		       g32(st + 8), (unsigned long long)st_len, (unsigned long long)mem_off,
		       (unsigned long long)g64(st + 32), g32(st + 40));
		for (unsigned int i = 0; i < g32(st + 40); i++)
			printf("section %u type %u at %llu len %llu\n", i, g32(st + section(i)),
			       (unsigned long long)section(i),
			       (unsigned long long)g64(st + section(i) + 8));
		return 0;
	}
	fprintf(stderr, "snapflip: bad arguments\n");
	return 2;
}
