// SPDX-License-Identifier: MIT
/*
 * For bench/exit-cost: what one exit to the VMM costs the guest work that
 * follows it, beyond the exit itself.
 *
 *   exitcost [PAGES] [ROUNDS]
 *
 * Each round reads 4 bytes of a PCI device's configuration space through
 * sysfs (the guest kernel's config access is an MMIO read of the ECAM
 * window: an exit to the VMM), then times one pass over PAGES pages of
 * memory (one load per page); then reads the same device's "vendor" file
 * (the same sysfs path in the guest kernel, a cached value: no exit) and
 * times the same pass. Prints, for both, the median call and pass time in
 * microseconds and their ratio:
 *
 *   EXITCOST pages=256 rounds=400 exit_call_us=... pass_after_exit_us=...
 *            plain_call_us=... pass_after_plain_us=... ratio=...
 *
 * On hardware the two passes cost the same (the TLB is tagged, an exit
 * leaves it); an emulator that drops its TLB at each world switch makes
 * the pass after an exit walk every page's tables again. Run on a machine
 * that is not a guest (the lab host), the "exit" is an emulated device's
 * config read there.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_us(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2] / 1e3;
}

/* The first PCI device's directory in sysfs, or NULL. */
static const char *pci_dir(void)
{
	static char path[512];
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;

	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", e->d_name);
		closedir(d);
		return path;
	}
	closedir(d);
	return NULL;
}

static int open_in(const char *dir, const char *file)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static volatile uint64_t sink;

static uint64_t pass(const volatile uint8_t *mem, unsigned int pages)
{
	uint64_t t = now_ns(), s = 0;

	for (unsigned int i = 0; i < pages; i++)
		s += mem[(size_t)i * 4096];
	sink = s;
	return now_ns() - t;
}

int main(int argc, char **argv)
{
	unsigned int pages = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 256;
	unsigned int rounds = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 0) : 400;
	const char *dir = pci_dir();
	uint64_t *v[4];
	uint8_t *mem;
	char buf[16];
	int cfg, vendor;

	if (!pages || !rounds || pages > 65536 || rounds > 100000) {
		fprintf(stderr, "exitcost: PAGES 1..65536, ROUNDS 1..100000\n");
		return 2;
	}
	if (!dir) {
		fprintf(stderr, "exitcost: no PCI device in /sys/bus/pci/devices\n");
		return 1;
	}
	cfg = open_in(dir, "config");
	vendor = open_in(dir, "vendor");
	mem = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (cfg < 0 || vendor < 0 || mem == MAP_FAILED) {
		perror("exitcost");
		return 1;
	}
	memset(mem, 1, (size_t)pages * 4096);
	for (int i = 0; i < 4; i++) {
		v[i] = calloc(rounds, sizeof(uint64_t));
		if (!v[i])
			return 1;
	}
	for (unsigned int r = 0; r < rounds; r++) {
		uint64_t t = now_ns();

		if (pread(cfg, buf, 4, 0) != 4)
			return perror("exitcost: config"), 1;
		v[0][r] = now_ns() - t;
		v[1][r] = pass(mem, pages);
		t = now_ns();
		if (pread(vendor, buf, sizeof(buf), 0) <= 0)
			return perror("exitcost: vendor"), 1;
		v[2][r] = now_ns() - t;
		v[3][r] = pass(mem, pages);
	}
	double ec = median_us(v[0], rounds), pe = median_us(v[1], rounds);
	double pc = median_us(v[2], rounds), pp = median_us(v[3], rounds);

	printf("EXITCOST pages=%u rounds=%u exit_call_us=%.1f pass_after_exit_us=%.1f "
	       "plain_call_us=%.1f pass_after_plain_us=%.1f ratio=%.2f\n",
	       pages, rounds, ec, pe, pc, pp, pp > 0 ? pe / pp : 0);
	return 0;
}
