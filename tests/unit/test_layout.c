// SPDX-License-Identifier: MIT
/* The memory map: kvmtool's addresses, and no two regions overlap. */
#include "layout.h"
#include "tap.h"

struct region {
	const char *name;
	uint64_t base, size;
};

int main(void)
{
	static const unsigned int cpus[] = { 1, 2, 8, 64, LAYOUT_MAX_VCPUS_GICV3 };

	is_int(LAYOUT_UART_BASE, 0x1000000, "UART at kvmtool's 0x1000000 (earlycon)");
	is_int(LAYOUT_RTC_BASE, 0x1010000, "RTC at kvmtool's 0x1010000");
	is_int(LAYOUT_GIC_DIST_BASE, 0x3fff0000, "GIC distributor just below 1 GiB");
	is_int(LAYOUT_GIC_ITS_BASE, 0x3ffb0000, "ITS at kvmtool's 0x3ffb0000");
	is_int(LAYOUT_PCI_CFG_BASE, 0x40000000, "PCI ECAM at 1 GiB");
	is_int(LAYOUT_PCI_CFG_SIZE, 256ULL << 20, "ECAM is 256 MiB");
	is_int(LAYOUT_PCI_MMIO_BASE, 0x50000000, "PCI MMIO window at 0x50000000");
	is_int(LAYOUT_PCI_MMIO_BASE + LAYOUT_PCI_MMIO_SIZE, 0x80000000,
	       "PCI MMIO window ends at RAM");
	is_int(LAYOUT_RAM_BASE, 0x80000000, "RAM at 2 GiB");
	is_int(layout_ram_max(40), (1ULL << 40) - (2ULL << 30), "40-bit IPA: 1 TiB - 2 GiB of RAM");

	for (size_t c = 0; c < ARRAY_SIZE(cpus); c++) {
		unsigned int n = cpus[c];
		struct region r[] = {
			{ "ioport", LAYOUT_IOPORT_BASE, LAYOUT_IOPORT_SIZE },
			{ "uart", LAYOUT_UART_BASE, LAYOUT_UART_SIZE },
			{ "rtc", LAYOUT_RTC_BASE, LAYOUT_RTC_SIZE },
			{ "pvtime", LAYOUT_PVTIME_BASE, LAYOUT_PVTIME_SIZE },
			{ "flash", LAYOUT_FLASH_BASE, LAYOUT_FLASH_SIZE },
			{ "virtio-mmio (64 slots)", LAYOUT_VIRTIO_MMIO_BASE,
			  64 * LAYOUT_VIRTIO_MMIO_SLOT },
			{ "redistributors", layout_gic_redist_base(n), n * LAYOUT_GIC_REDIST_SIZE },
			{ "its", LAYOUT_GIC_ITS_BASE, LAYOUT_GIC_ITS_SIZE },
			{ "gicv2 cpu", LAYOUT_GIC_CPUI_BASE, LAYOUT_GIC_CPUI_SIZE },
			{ "distributor", LAYOUT_GIC_DIST_BASE, LAYOUT_GIC_DIST_SIZE },
			{ "ecam", LAYOUT_PCI_CFG_BASE, LAYOUT_PCI_CFG_SIZE },
			{ "pci mmio", LAYOUT_PCI_MMIO_BASE, LAYOUT_PCI_MMIO_SIZE },
			{ "ram", LAYOUT_RAM_BASE, layout_ram_max(40) },
		};
		int clash = 0;

		for (size_t i = 0; i < ARRAY_SIZE(r); i++)
			for (size_t j = i + 1; j < ARRAY_SIZE(r); j++)
				if (ranges_overlap(r[i].base, r[i].size, r[j].base, r[j].size)) {
					printf("# %s overlaps %s\n", r[i].name, r[j].name);
					clash++;
				}
		is_int(clash, 0, "%u vCPUs: no two regions overlap", n);
		ok(layout_gic_redist_base(n) % SZ_64K == 0, "%u vCPUs: redistributors 64K-aligned",
		   n);
	}
	return tap_done();
}
