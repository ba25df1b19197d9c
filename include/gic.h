/* SPDX-License-Identifier: MIT */
/*
 * KVM's in-kernel GIC (Documentation/virt/kvm/devices/arm-vgic-v3.rst,
 * arm-vgic.rst, arm-vgic-its.rst): created before the vCPUs, initialised
 * after them.
 */
#ifndef ARMVM_GIC_H
#define ARMVM_GIC_H

#include <stdint.h>

#include "config.h"
#include "state.h"

#define GIC_SPI_BASE 32 /* INTID of SPI 0 */
#define GIC_MAX_SPIS 988

struct gic {
	enum irqchip_type type; /* resolved */
	int fd;
	int its_fd;	  /* -1 without an ITS */
	uint32_t nr_irqs; /* set by gic_init */
};

/* Does this host's KVM offer this GIC? (KVM_CREATE_DEVICE_TEST) */
bool gic_host_supports(int vm_fd, enum irqchip_type type);
/*
 * Resolve the request against the host: AUTO picks the best offered;
 * anything else must be offered, or -ENODEV with a message in err.
 */
int gic_resolve(int vm_fd, enum irqchip_type req, unsigned int nr_cpus, enum irqchip_type *out,
		char *err, size_t errlen);
const char *gic_type_name(enum irqchip_type type);
int gic_create(struct gic *gic, int vm_fd, enum irqchip_type type, unsigned int nr_cpus);
/* After every vCPU exists: set the SPI count and initialise. */
int gic_init(struct gic *gic, unsigned int nr_spis);
void gic_destroy(struct gic *gic);
/*
 * Snapshot (arch/arm64/gic_state.c): the whole GICv3 and ITS state as a
 * list of register writes in restore order; the load checks the list and
 * replays it. Every vCPU must be out of KVM_RUN. GICv2 is refused.
 */
struct state_buf;
int gic_state_save(struct gic *gic, const uint64_t *mpidr, unsigned int nr_cpus,
		   struct state_buf *sb, char *err, size_t errlen);
int gic_state_load(struct gic *gic, const uint64_t *mpidr, unsigned int nr_cpus,
		   struct state_buf *sb, char *err, size_t errlen);
/* Drive SPI `spi` (0-based) to level, through KVM_IRQ_LINE. */
int gic_spi_set(int vm_fd, uint32_t spi, int level);

#endif
