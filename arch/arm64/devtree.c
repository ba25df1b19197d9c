// SPDX-License-Identifier: MIT
/*
 * Device tree generation. Bindings: Documentation/devicetree/bindings in
 * Linux: arm/cpus.yaml, arm/psci.yaml, timer/arm,arch_timer.yaml,
 * interrupt-controller/arm,gic-v3.yaml and arm,gic.yaml, arm/pmu.yaml,
 * chosen.yaml (rng-seed, linux,initrd-*).
 */
#include "devtree.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"
#include "util.h"

#define GIC_FDT_SPI 0
#define GIC_FDT_PPI 1
#define IRQ_TYPE_LEVEL_HIGH 4

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int e_ = (x);                                                                      \
		if (e_)                                                                            \
			return e_ == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;                         \
	} while (0)

static int fdt_prop_u64_pair(void *fdt, const char *name, uint64_t a, uint64_t b)
{
	uint64_t v[2] = { cpu_to_fdt64(a), cpu_to_fdt64(b) };

	return fdt_property(fdt, name, v, sizeof(v));
}

static int fdt_cpus(void *fdt, const struct devtree_params *p)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_cell(fdt, "#address-cells", 1));
	TRY(fdt_property_cell(fdt, "#size-cells", 0));
	for (unsigned int i = 0; i < p->nr_cpus; i++) {
		/* reg is MPIDR_EL1's affinity fields Aff2..Aff0 (cpus.yaml). */
		uint32_t reg = (uint32_t)(p->mpidr[i] & 0xffffff);
		char name[32];

		snprintf(name, sizeof(name), "cpu@%x", reg);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_cell(fdt, "reg", reg));
		if (p->nr_cpus > 1)
			TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt) ? -EINVAL : 0;
}

static int fdt_gic(void *fdt, const struct devtree_params *p)
{
	uint64_t reg[4];
	char name[32];

	reg[0] = cpu_to_fdt64(LAYOUT_GIC_DIST_BASE);
	reg[1] = cpu_to_fdt64(LAYOUT_GIC_DIST_SIZE);
	if (p->gic == IRQCHIP_GICV2) {
		reg[2] = cpu_to_fdt64(LAYOUT_GIC_CPUI_BASE);
		reg[3] = cpu_to_fdt64(LAYOUT_GIC_CPUI_SIZE);
	} else {
		reg[2] = cpu_to_fdt64(layout_gic_redist_base(p->nr_cpus));
		reg[3] = cpu_to_fdt64((uint64_t)p->nr_cpus * LAYOUT_GIC_REDIST_SIZE);
	}
	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)LAYOUT_GIC_DIST_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible",
				p->gic == IRQCHIP_GICV2 ? "arm,cortex-a15-gic" : "arm,gic-v3"));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	TRY(fdt_property_cell(fdt, "phandle", DEVTREE_PHANDLE_GIC));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	if (p->gic == IRQCHIP_GICV3_ITS) {
		snprintf(name, sizeof(name), "msic@%llx", (unsigned long long)LAYOUT_GIC_ITS_BASE);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
		TRY(fdt_property(fdt, "msi-controller", NULL, 0));
		TRY(fdt_property_cell(fdt, "#msi-cells", 1));
		TRY(fdt_prop_u64_pair(fdt, "reg", LAYOUT_GIC_ITS_BASE, LAYOUT_GIC_ITS_SIZE));
		TRY(fdt_property_cell(fdt, "phandle", DEVTREE_PHANDLE_ITS));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt) ? -EINVAL : 0;
}

/* PPI interrupt specifier; GICv2 wants the CPU mask in the flags. */
static void fdt_ppi(uint32_t *cells, const struct devtree_params *p, uint32_t ppi, uint32_t type)
{
	uint32_t mask = 0;

	if (p->gic == IRQCHIP_GICV2)
		mask = (((1u << MIN(p->nr_cpus, 8u)) - 1) & 0xff) << 8;
	cells[0] = cpu_to_fdt32(GIC_FDT_PPI);
	cells[1] = cpu_to_fdt32(ppi);
	cells[2] = cpu_to_fdt32(type | mask);
}

static int fdt_timer_pmu(void *fdt, const struct devtree_params *p)
{
	static const uint32_t ppis[] = { DEVTREE_TIMER_PPI_SEC, DEVTREE_TIMER_PPI_PHYS,
					 DEVTREE_TIMER_PPI_VIRT, DEVTREE_TIMER_PPI_HYP };
	uint32_t irqs[3 * ARRAY_SIZE(ppis)];
	static const char timer_compat[] = "arm,armv8-timer\0arm,armv7-timer";

	for (size_t i = 0; i < ARRAY_SIZE(ppis); i++)
		fdt_ppi(&irqs[3 * i], p, ppis[i], IRQ_TYPE_LEVEL_HIGH);
	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property(fdt, "compatible", timer_compat, sizeof(timer_compat)));
	TRY(fdt_property(fdt, "interrupts", irqs, sizeof(irqs)));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	TRY(fdt_end_node(fdt));

	if (p->pmu) {
		TRY(fdt_begin_node(fdt, "pmu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,armv8-pmuv3"));
		fdt_ppi(irqs, p, DEVTREE_PMU_PPI, IRQ_TYPE_LEVEL_HIGH);
		TRY(fdt_property(fdt, "interrupts", irqs, 3 * sizeof(uint32_t)));
		TRY(fdt_end_node(fdt));
	}
	return 0;
}

static int fdt_chosen(void *fdt, const struct devtree_params *p)
{
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", p->bootargs ? p->bootargs : ""));
	if (p->stdout_path)
		TRY(fdt_property_string(fdt, "stdout-path", p->stdout_path));
	if (p->initrd_size) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", p->initrd_start + p->initrd_size));
	}
	if (p->rng_seed_len)
		TRY(fdt_property(fdt, "rng-seed", p->rng_seed, (int)p->rng_seed_len));
	return fdt_end_node(fdt) ? -EINVAL : 0;
}

int devtree_build(const struct devtree_params *p, void *buf, size_t size)
{
	static const char psci_compat[] = "arm,psci-1.0\0arm,psci-0.2";
	char name[32];
	void *fdt = buf;
	int err;

	if (p->gic == IRQCHIP_AUTO || !p->nr_cpus)
		return -EINVAL;
	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "interrupt-parent", DEVTREE_PHANDLE_GIC));

	err = fdt_chosen(fdt, p);
	if (!err)
		err = fdt_cpus(fdt, p);
	if (err)
		return err;

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)p->ram_base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(fdt_prop_u64_pair(fdt, "reg", p->ram_base, p->ram_size));
	TRY(fdt_end_node(fdt));

	err = fdt_gic(fdt, p);
	if (!err)
		err = fdt_timer_pmu(fdt, p);
	if (err)
		return err;

	/* PSCI 0.2+ is KVM's, through HVC (KVM_ARM_VCPU_PSCI_0_2). */
	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property(fdt, "compatible", psci_compat, sizeof(psci_compat)));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	TRY(fdt_end_node(fdt));

	/* The AMBA bus clock PrimeCell devices (the PL031) ask for. */
	TRY(fdt_begin_node(fdt, "apb-pclk"));
	TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
	TRY(fdt_property_cell(fdt, "#clock-cells", 0));
	TRY(fdt_property_cell(fdt, "clock-frequency", 24000000));
	TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
	TRY(fdt_property_cell(fdt, "phandle", DEVTREE_PHANDLE_APB_PCLK));
	TRY(fdt_end_node(fdt));

	for (struct device *d = p->devices ? p->devices->head : NULL; d; d = d->next) {
		if (d->ops->fdt && (err = d->ops->fdt(d, fdt)))
			return err;
	}

	TRY(fdt_end_node(fdt));
	TRY(fdt_finish(fdt));
	return 0;
}
