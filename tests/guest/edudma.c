// SPDX-License-Identifier: MIT
/*
 * A DMA round trip through QEMU's edu device, driven from userspace with
 * VFIO type-1 in the guest: the guest's own IOMMU (armvm's virtio-iommu)
 * turns this program's VFIO_IOMMU_MAP_DMA into MAP requests, which armvm
 * makes host VFIO mappings. Used in the guest and in the lab host alike.
 *   edudma BDF bench N   N rounds of VFIO_IOMMU_MAP_DMA + UNMAP_DMA of 4 KiB,
 *                  timed: "EDUDMA bench rounds=N per_s=X"
 *   edudma BDF     map a buffer at IOVA 0x100000, copy 2048 bytes to the
 *                  device and back to IOVA 0x101000, compare; then DMA
 *                  from an IOVA nobody mapped (0x200000), which must not
 *                  bring the pattern back; then the same with a mapping
 *                  removed; then an interrupt the device raises as MSI
 *                  reaches an eventfd. Prints "EDUDMA ... ok" or "EDUDMA FAIL why".
 * edu (QEMU hw/misc/edu.c): BAR0 0x00 id, 0x80 src, 0x88 dst, 0x90 count,
 * 0x98 command (1 start, 2 device to RAM); its buffer at 0x40000.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_BUF 0x40000
#define LEN 2048
#define IOVA 0x100000ULL
#define IOVA_BAD 0x200000ULL

static volatile uint8_t *bar;

static int fail(const char *what)
{
	printf("EDUDMA FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

static void w64(unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static uint64_t r64(unsigned int off)
{
	return *(volatile uint64_t *)(bar + off);
}

/* One transfer; 0 when the device says it finished. */
static int dma(uint64_t src, uint64_t dst, int to_ram)
{
	struct timespec t = { 0, 1000000 };

	w64(0x80, src);
	w64(0x88, dst);
	w64(0x90, LEN);
	w64(0x98, 1 | (to_ram ? 2 : 0));
	for (int i = 0; i < 5000; i++) {
		if (!(r64(0x98) & 1))
			return 0;
		nanosleep(&t, NULL);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_region_info bar0 = { .argsz = sizeof(bar0),
					 .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
					.index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map),
						.flags = VFIO_DMA_MAP_FLAG_READ |
							 VFIO_DMA_MAP_FLAG_WRITE,
						.iova = IOVA,
						.size = 8192 };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap),
						    .iova = IOVA,
						    .size = 8192 };
	char path[256], link[256];
	uint8_t *buf;
	uint16_t cmd;
	ssize_t n;
	int ct, grp, dev;

	if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "bench"))) {
		fprintf(stderr, "usage: edudma BDF [bench N]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", argv[1]);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return fail("no IOMMU group");
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	ct = open("/dev/vfio/vfio", O_RDWR);
	grp = open(path, O_RDWR);
	if (ct < 0 || grp < 0)
		return fail("open /dev/vfio");
	if (ioctl(grp, VFIO_GROUP_GET_STATUS, &st) < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail("group not viable");
	if (ioctl(grp, VFIO_GROUP_SET_CONTAINER, &ct) < 0 ||
	    ioctl(ct, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		return fail("container");
	dev = ioctl(grp, VFIO_GROUP_GET_DEVICE_FD, argv[1]);
	if (dev < 0 || ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0) < 0 ||
	    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0)
		return fail("device");
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)bar0.offset);
	if (bar == MAP_FAILED)
		return fail("mmap BAR0");
	if ((*(volatile uint32_t *)bar & 0xff) != 0xed) {
		printf("EDUDMA FAIL id register reads 0x%x\n", *(volatile uint32_t *)bar);
		return 1;
	}
	if (pread(dev, &cmd, 2, (off_t)cfg.offset + 4) != 2)
		return fail("config read");
	cmd |= 0x6; /* memory, bus master */
	if (pwrite(dev, &cmd, 2, (off_t)cfg.offset + 4) != 2)
		return fail("config write");
	buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return fail("mmap");
	for (int i = 0; i < LEN; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	map.vaddr = (uint64_t)(uintptr_t)buf;
	if (argc == 4) {
		long rounds = strtol(argv[3], NULL, 10);
		struct timespec t0, t1;
		double s;

		map.size = unmap.size = 4096;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < rounds; i++)
			if (ioctl(ct, VFIO_IOMMU_MAP_DMA, &map) < 0 ||
			    ioctl(ct, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
				return fail("MAP/UNMAP");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("EDUDMA bench rounds=%ld per_s=%.0f\n", rounds, (double)rounds / s);
		return 0;
	}
	if (ioctl(ct, VFIO_IOMMU_MAP_DMA, &map) < 0)
		return fail("VFIO_IOMMU_MAP_DMA");
	if (dma(IOVA, EDU_BUF, 0) || dma(EDU_BUF, IOVA + 4096, 1))
		return fail("DMA did not finish");
	if (memcmp(buf, buf + 4096, LEN)) {
		printf("EDUDMA FAIL round trip: the bytes came back different\n");
		return 1;
	}
	printf("EDUDMA roundtrip ok: %d bytes to the device and back through IOVA 0x%llx\n", LEN,
	       (unsigned long long)IOVA);
	/* From an IOVA nobody mapped: the device buffer must not keep the pattern. */
	memset(buf + 4096, 0, LEN);
	if (dma(IOVA_BAD, EDU_BUF, 0) || dma(EDU_BUF, IOVA + 4096, 1))
		return fail("DMA did not finish");
	printf("EDUDMA unmapped %s: a read of IOVA 0x%llx %s\n",
	       memcmp(buf, buf + 4096, LEN) ? "ok" : "FAIL", (unsigned long long)IOVA_BAD,
	       memcmp(buf, buf + 4096, LEN) ? "did not bring the pattern back"
					    : "returned the pattern");
	/* After UNMAP the old IOVA is gone too. */
	if (dma(IOVA, EDU_BUF, 0))
		return fail("DMA did not finish");
	if (ioctl(ct, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
		return fail("VFIO_IOMMU_UNMAP_DMA");
	memset(buf + 4096, 0xa5, LEN);
	if (dma(EDU_BUF, IOVA + 4096, 1))
		return fail("DMA did not finish");
	printf("EDUDMA unmapped-after-unmap %s: the write to IOVA 0x%llx %s\n",
	       buf[4096] == 0xa5 && !memcmp(buf + 4096, buf + 4097, LEN - 1) ? "ok" : "FAIL",
	       (unsigned long long)(IOVA + 4096),
	       buf[4096] == 0xa5 ? "did not reach the old buffer" : "reached the old buffer");
	/* MSI: the device raises an interrupt (0x60), an eventfd hears it. */
	{
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSI_IRQ_INDEX };
		size_t sz = sizeof(struct vfio_irq_set) + sizeof(int32_t);
		struct vfio_irq_set *set = calloc(1, sz);
		int efd = eventfd(0, EFD_CLOEXEC);
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		int32_t fd32 = efd;
		uint64_t cnt = 0;

		if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0 || !ii.count) {
			printf("EDUDMA msi FAIL: the function offers no MSI\n");
			return 1;
		}
		*set = (struct vfio_irq_set){ .argsz = (uint32_t)sz,
					      .index = VFIO_PCI_MSI_IRQ_INDEX,
					      .flags = VFIO_IRQ_SET_DATA_EVENTFD |
						       VFIO_IRQ_SET_ACTION_TRIGGER,
					      .count = 1 };
		memcpy(set->data, &fd32, sizeof(fd32));
		if (efd < 0 || ioctl(dev, VFIO_DEVICE_SET_IRQS, set) < 0)
			return fail("VFIO_DEVICE_SET_IRQS (MSI)");
		*(volatile uint32_t *)(bar + 0x60) = 1;
		if (poll(&pfd, 1, 5000) == 1 && read(efd, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt)
			printf("EDUDMA msi ok: the device's MSI reached the eventfd\n");
		else
			printf("EDUDMA msi FAIL: no interrupt within 5 s (status 0x%x)\n",
			       *(volatile uint32_t *)(bar + 0x24));
		*(volatile uint32_t *)(bar + 0x64) = *(volatile uint32_t *)(bar + 0x24);
		free(set);
	}
	return 0;
}
