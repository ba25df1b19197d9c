// SPDX-License-Identifier: MIT
/* The generated device tree, parsed back with libfdt. */
#include <libfdt.h>
#include <stdlib.h>

#include "devtree.h"
#include "layout.h"
#include "pl031.h"
#include "tap.h"
#include "uart8250.h"

static uint8_t blob[LAYOUT_FDT_MAX_SIZE];

static const void *prop(const char *path, const char *name, int *len)
{
	int off = fdt_path_offset(blob, path);

	return off < 0 ? NULL : fdt_getprop(blob, off, name, len);
}

static uint64_t prop_u64(const char *path, const char *name, int idx)
{
	int len = 0;
	const fdt64_t *p = prop(path, name, &len);

	fdt64_t v;

	if (!p || len < (int)((idx + 1) * sizeof(*p)))
		return ~0ULL;
	/* Properties are 4-byte aligned only (UBSan caught p[idx]). */
	memcpy(&v, (const char *)p + idx * sizeof(v), sizeof(v));
	return fdt64_to_cpu(v);
}

static uint32_t prop_u32(const char *path, const char *name, int idx)
{
	int len = 0;
	const fdt32_t *p = prop(path, name, &len);

	if (!p || len < (int)((idx + 1) * sizeof(*p)))
		return ~0u;
	return fdt32_to_cpu(p[idx]);
}

static int build(enum irqchip_type gic, unsigned int ncpu, bool pmu, uint64_t initrd,
		 uint64_t initrd_size, struct device_list *devs)
{
	static const uint64_t mpidr[4] = { 0x80000000, 0x80000001, 0x80000002, 0x80000003 };
	static const uint8_t seed[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct devtree_params p = {
		.nr_cpus = ncpu,
		.mpidr = mpidr,
		.ram_base = LAYOUT_RAM_BASE,
		.ram_size = 256ULL << 20,
		.gic = gic,
		.pmu = pmu,
		.bootargs = "console=ttyS0 quiet",
		.initrd_start = initrd,
		.initrd_size = initrd_size,
		.stdout_path = "/uart@1000000",
		.devices = devs,
		.rng_seed = seed,
		.rng_seed_len = sizeof(seed),
	};

	return devtree_build(&p, blob, sizeof(blob));
}

static void test_gicv3_machine(void)
{
	struct device_list devs;
	struct uart8250 uart;
	struct pl031 rtc;
	struct irq_line irq = { 0 };
	char path[64];
	int len;

	device_list_init(&devs);
	uart8250_init(&uart, LAYOUT_UART_BASE, 0, &irq);
	pl031_init(&rtc, LAYOUT_RTC_BASE, 1, &irq, NULL);
	device_list_add(&devs, &uart.dev);
	device_list_add(&devs, &rtc.dev);

	is_int(build(IRQCHIP_GICV3_ITS, 4, true, LAYOUT_RAM_BASE + 0x100000, 4096, &devs), 0,
	       "device tree builds");
	is_int(fdt_check_header(blob), 0, "blob has a valid header");
	ok(fdt_totalsize(blob) <= LAYOUT_FDT_MAX_SIZE, "blob within the DTB limit");
	is_str(prop("/", "compatible", NULL), "linux,dummy-virt", "root compatible");
	is_int(prop_u32("/", "#address-cells", 0), 2, "root #address-cells");
	is_int(prop_u32("/", "interrupt-parent", 0), DEVTREE_PHANDLE_GIC,
	       "root interrupt-parent is the GIC");

	is_str(prop("/chosen", "bootargs", NULL), "console=ttyS0 quiet", "chosen/bootargs");
	is_str(prop("/chosen", "stdout-path", NULL), "/uart@1000000", "chosen/stdout-path");
	is_int(prop_u64("/chosen", "linux,initrd-start", 0), LAYOUT_RAM_BASE + 0x100000,
	       "initrd-start");
	is_int(prop_u64("/chosen", "linux,initrd-end", 0), LAYOUT_RAM_BASE + 0x101000,
	       "initrd-end");
	ok(prop("/chosen", "rng-seed", &len) && len == 8, "rng-seed present");

	is_int(prop_u64("/memory@80000000", "reg", 0), LAYOUT_RAM_BASE, "memory base");
	is_int(prop_u64("/memory@80000000", "reg", 1), 256ULL << 20, "memory size");
	is_str(prop("/memory@80000000", "device_type", NULL), "memory", "memory device_type");

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/cpus/cpu@%x", i);
		is_int(prop_u32(path, "reg", 0), i, "%s reg is MPIDR affinity", path);
		is_str(prop(path, "enable-method", NULL), "psci", "%s enable-method psci", path);
	}
	ok(fdt_path_offset(blob, "/cpus/cpu@4") < 0, "no fifth CPU");

	is_str(prop("/intc@3fff0000", "compatible", NULL), "arm,gic-v3", "GICv3 compatible");
	is_int(prop_u64("/intc@3fff0000", "reg", 0), LAYOUT_GIC_DIST_BASE, "distributor base");
	is_int(prop_u64("/intc@3fff0000", "reg", 2), layout_gic_redist_base(4),
	       "redistributor base");
	is_int(prop_u64("/intc@3fff0000", "reg", 3), 4 * LAYOUT_GIC_REDIST_SIZE,
	       "redistributors for 4 vCPUs");
	is_int(prop_u64("/intc@3fff0000", "reg", 2) + 4 * LAYOUT_GIC_REDIST_SIZE,
	       LAYOUT_GIC_ITS_BASE, "redistributors end at the ITS");
	ok(prop("/intc@3fff0000/msic@3ffb0000", "msi-controller", NULL) != NULL,
	   "ITS node is an MSI controller");
	is_int(prop_u64("/intc@3fff0000/msic@3ffb0000", "reg", 0), 0x3ffb0000,
	       "ITS at kvmtool's address");

	is_int(prop_u32("/timer", "interrupts", 1), DEVTREE_TIMER_PPI_SEC, "timer secure PPI");
	is_int(prop_u32("/timer", "interrupts", 7), DEVTREE_TIMER_PPI_VIRT, "timer virtual PPI");
	is_str(prop("/pmu", "compatible", NULL), "arm,armv8-pmuv3", "PMU node with --pmu");
	is_int(prop_u32("/pmu", "interrupts", 1), DEVTREE_PMU_PPI, "PMU PPI");
	is_str(prop("/psci", "method", NULL), "hvc", "PSCI through HVC");

	is_str(prop("/uart@1000000", "compatible", NULL), "ns16550a", "UART compatible");
	is_int(prop_u64("/uart@1000000", "reg", 0), 0x1000000, "UART at kvmtool's address");
	is_int(prop_u32("/uart@1000000", "interrupts", 1), 0, "UART on SPI 0");
	is_int(prop_u32("/uart@1000000", "clock-frequency", 0), UART8250_CLOCK, "UART clock");
	is_int(prop_u64("/rtc@1010000", "reg", 0), 0x1010000, "RTC at kvmtool's address");
	is_int(prop_u32("/rtc@1010000", "interrupts", 1), 1, "RTC on SPI 1");
	is_int(prop_u32("/rtc@1010000", "clocks", 0), DEVTREE_PHANDLE_APB_PCLK,
	       "RTC clock is apb-pclk");
	is_int(prop_u32("/apb-pclk", "phandle", 0), DEVTREE_PHANDLE_APB_PCLK, "apb-pclk phandle");

	device_list_destroy(&devs);
}

static void test_variants(void)
{
	is_int(build(IRQCHIP_GICV2, 2, false, 0, 0, NULL), 0, "GICv2 tree builds");
	is_str(prop("/intc@3fff0000", "compatible", NULL), "arm,cortex-a15-gic",
	       "GICv2 compatible");
	is_int(prop_u64("/intc@3fff0000", "reg", 2), LAYOUT_GIC_CPUI_BASE, "GICv2 CPU interface");
	is_int(prop_u32("/timer", "interrupts", 2) >> 8, 0x3, "GICv2 PPI CPU mask for 2 CPUs");
	ok(fdt_path_offset(blob, "/pmu") < 0, "no PMU node without --pmu");
	ok(!prop("/chosen", "linux,initrd-start", NULL), "no initrd properties without an initrd");

	is_int(build(IRQCHIP_GICV3, 1, false, 0, 0, NULL), 0, "GICv3 without ITS builds");
	ok(fdt_path_offset(blob, "/intc@3fff0000/msic@3ffb0000") < 0, "no ITS node");
	ok(!prop("/cpus/cpu@0", "enable-method", NULL), "one CPU: no enable-method");

	is_int(build(IRQCHIP_AUTO, 1, false, 0, 0, NULL), -EINVAL, "unresolved GIC refused");
	{
		struct devtree_params p = { .nr_cpus = 1,
					    .mpidr = (uint64_t[]){ 0 },
					    .ram_base = LAYOUT_RAM_BASE,
					    .ram_size = SZ_1M,
					    .gic = IRQCHIP_GICV3 };
		is_int(devtree_build(&p, blob, 256), -ENOSPC, "too small a buffer: -ENOSPC");
	}
}

int main(void)
{
	test_gicv3_machine();
	test_variants();
	return tap_done();
}
