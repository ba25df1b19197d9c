// SPDX-License-Identifier: MIT
#include "gic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "layout.h"
#include "util.h"

static uint32_t gic_kvm_type(enum irqchip_type type)
{
	return type == IRQCHIP_GICV2 ? KVM_DEV_TYPE_ARM_VGIC_V2 : KVM_DEV_TYPE_ARM_VGIC_V3;
}

static bool kvm_device_testable(int vm_fd, uint32_t type)
{
	struct kvm_create_device cd = { .type = type, .flags = KVM_CREATE_DEVICE_TEST };

	return ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) == 0;
}

bool gic_host_supports(int vm_fd, enum irqchip_type type)
{
	if (!kvm_device_testable(vm_fd, gic_kvm_type(type)))
		return false;
	if (type == IRQCHIP_GICV3_ITS)
		return kvm_device_testable(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS);
	return true;
}

const char *gic_type_name(enum irqchip_type type)
{
	switch (type) {
	case IRQCHIP_GICV2:
		return "gicv2";
	case IRQCHIP_GICV3:
		return "gicv3";
	case IRQCHIP_GICV3_ITS:
		return "gicv3-its";
	default:
		return "auto";
	}
}

int gic_resolve(int vm_fd, enum irqchip_type req, unsigned int nr_cpus, enum irqchip_type *out,
		char *err, size_t errlen)
{
	static const enum irqchip_type prefer[] = { IRQCHIP_GICV3_ITS, IRQCHIP_GICV3,
						    IRQCHIP_GICV2 };

	if (req != IRQCHIP_AUTO) {
		if (!gic_host_supports(vm_fd, req)) {
			snprintf(
				err, errlen,
				"--irqchip=%s: this host's KVM cannot create that interrupt controller",
				gic_type_name(req));
			return -ENODEV;
		}
		*out = req;
	} else {
		*out = IRQCHIP_AUTO;
		for (size_t i = 0; i < ARRAY_SIZE(prefer); i++) {
			if (gic_host_supports(vm_fd, prefer[i])) {
				*out = prefer[i];
				break;
			}
		}
		if (*out == IRQCHIP_AUTO) {
			snprintf(err, errlen,
				 "this host's KVM offers no in-kernel GIC (GICv2 or GICv3)");
			return -ENODEV;
		}
	}
	/* GICv2 has 8 CPU interfaces (GIC architecture v2, §1.3). */
	if (*out == IRQCHIP_GICV2 && nr_cpus > 8) {
		snprintf(err, errlen, "-c %u: a GICv2 guest can have at most 8 vCPUs", nr_cpus);
		return -EINVAL;
	}
	return 0;
}

static int dev_set_attr(int fd, uint32_t group, uint64_t attr, void *addr)
{
	struct kvm_device_attr a = { .group = group,
				     .attr = attr,
				     .addr = (uint64_t)(uintptr_t)addr };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

int gic_create(struct gic *gic, int vm_fd, enum irqchip_type type, unsigned int nr_cpus)
{
	struct kvm_create_device cd = { .type = gic_kvm_type(type) };
	uint64_t dist = LAYOUT_GIC_DIST_BASE, cpui = LAYOUT_GIC_CPUI_BASE;
	uint64_t redist = layout_gic_redist_base(nr_cpus);
	uint64_t its = LAYOUT_GIC_ITS_BASE;
	int err;

	gic->type = type;
	gic->fd = gic->its_fd = -1;
	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
		return -errno;
	gic->fd = (int)cd.fd;
	if (type == IRQCHIP_GICV2) {
		err = dev_set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST,
				   &dist);
		if (!err)
			err = dev_set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
					   KVM_VGIC_V2_ADDR_TYPE_CPU, &cpui);
	} else {
		err = dev_set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST,
				   &dist);
		if (!err)
			err = dev_set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
					   KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist);
	}
	if (err)
		goto err_close;
	if (type == IRQCHIP_GICV3_ITS) {
		struct kvm_create_device itsd = { .type = KVM_DEV_TYPE_ARM_VGIC_ITS };

		if (ioctl(vm_fd, KVM_CREATE_DEVICE, &itsd) < 0) {
			err = -errno;
			goto err_close;
		}
		gic->its_fd = (int)itsd.fd;
		err = dev_set_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE,
				   &its);
		if (err)
			goto err_close;
	}
	return 0;

err_close:
	gic_destroy(gic);
	return err;
}

int gic_init(struct gic *gic, unsigned int nr_spis)
{
	/* NR_IRQS counts the 32 private interrupts; a multiple of 32. */
	uint32_t nr_irqs = ALIGN_UP(nr_spis, 32u) + GIC_SPI_BASE;
	int err;

	if (nr_irqs < 64)
		nr_irqs = 64;
	gic->nr_irqs = nr_irqs;
	err = dev_set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (!err)
		err = dev_set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
				   NULL);
	if (!err && gic->its_fd >= 0)
		err = dev_set_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
				   KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	return err;
}

void gic_destroy(struct gic *gic)
{
	if (gic->its_fd >= 0)
		close(gic->its_fd);
	if (gic->fd >= 0)
		close(gic->fd);
	gic->fd = gic->its_fd = -1;
}

int gic_spi_set(int vm_fd, uint32_t spi, int level)
{
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) |
		       ((spi + GIC_SPI_BASE) & KVM_ARM_IRQ_NUM_MASK),
		.level = !!level,
	};

	if (spi >= GIC_MAX_SPIS)
		return -EINVAL;
	return ioctl(vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}
