/* SPDX-License-Identifier: MIT */
/*
 * The guest's device tree, built at start-up with libfdt from what the VM
 * has: CPUs, memory, GIC, timer, PSCI, PMU, then every registered device
 * (each writes its own node). Pure: unit tests parse the blob back.
 */
#ifndef ARMVM_DEVTREE_H
#define ARMVM_DEVTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"

#define DEVTREE_PHANDLE_GIC 1
#define DEVTREE_PHANDLE_ITS 2
#define DEVTREE_PHANDLE_APB_PCLK 3
#define DEVTREE_PHANDLE_VIOMMU 4

/* PPIs (INTID - 16) for the arch timer and the PMU, as kvmtool uses. */
#define DEVTREE_TIMER_PPI_SEC 13
#define DEVTREE_TIMER_PPI_PHYS 14
#define DEVTREE_TIMER_PPI_VIRT 11
#define DEVTREE_TIMER_PPI_HYP 10
#define DEVTREE_PMU_PPI 7

struct devtree_params {
	unsigned int nr_cpus;
	const uint64_t *mpidr; /* MPIDR_EL1 of each vCPU, from KVM */
	uint64_t ram_base, ram_size;
	enum irqchip_type gic; /* resolved: never IRQCHIP_AUTO */
	bool pmu;
	const char *bootargs;
	uint64_t initrd_start, initrd_size; /* size 0: none */
	const char *stdout_path;	    /* NULL: none */
	struct device_list *devices;
	const uint8_t *rng_seed;
	size_t rng_seed_len;
};

/* Build into buf (size bytes). 0, or -ENOSPC / -EINVAL. */
int devtree_build(const struct devtree_params *p, void *buf, size_t size);

#endif
