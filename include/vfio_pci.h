/* SPDX-License-Identifier: MIT */
/*
 * A host PCI function passed through to the guest (--vfio-pci), and the
 * VFIO groups and containers behind it (devices/vfio_pci.c).
 */
#ifndef ARMVM_VFIO_PCI_H
#define ARMVM_VFIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "pci.h"
#include "vfio.h"

struct vm;

/* An IOMMU group with a type-1 container of its own (one IOVA space). */
struct vfio_group {
	int id;
	int fd;
	int container;
	uint64_t iova_pgsizes; /* VFIO_IOMMU_GET_INFO */
			       /* The IOVA ranges the host's IOMMU translates (its reserved regions,
				* e.g. the host's MSI window, are the gaps). */
#define VFIO_MAX_IOVA_RANGES 16
	struct {
		uint64_t start, end;
	} iova[VFIO_MAX_IOVA_RANGES];
	unsigned int nr_iova;
	unsigned int users; /* functions of this VM in the group */
	struct vfio_group *next;
};

/* Map [iova, iova+size) to host memory for the group's devices. -errno. */
int vfio_dma_map(struct vfio_group *g, uint64_t iova, uint64_t size, void *host, bool write);
int vfio_dma_unmap(struct vfio_group *g, uint64_t iova, uint64_t size);

#define VFIO_BAR_SLOTS 4

struct vfio_slot {
	uint64_t off, size; /* within the BAR */
	int slot;	    /* KVM memory slot */
	bool live;
};

struct vfio_bar {
	bool present;
	uint64_t region_offset, region_size; /* in the device fd */
	uint8_t *map;			     /* mmap of the region, or NULL */
	unsigned int nr_slots;
	struct vfio_slot slots[VFIO_BAR_SLOTS];
};

struct vfio_pci {
	struct device dev;
	struct pci_dev pd;
	char what[32]; /* "--vfio-pci 0000:00:03.0", for messages */
	struct vfio_group *group;
	int fd;
	uint64_t cfg_offset;
	uint64_t rom_offset, rom_size; /* the expansion ROM region, if any */
	bool reset_ok, on_bus, ram_mapped, behind_viommu;
	struct vfio_bar bars[PCI_STD_NUM_BARS];
	int msix_table_bar, msix_pba_bar;
	uint32_t msix_table_off, msix_pba_off;
	int intx_efd, intx_resample_efd;
	/* MSI (one vector, 64-bit, no per-vector mask), virtualised. */
	uint8_t msi_cap;
	int msi_efd;
	uint32_t msi_gsi;
	bool msi_on, msi_irqfd;
	bool intx_irqfd, intx_on;
};

/*
 * Open the host function, check its group, give it a container, and put
 * it on the guest's PCI bus (added to vm->devices). 0, or -errno with one
 * line in err; nothing stays open or bound on failure.
 */
int vfio_pci_create(struct vm *vm, const struct pci_bdf *bdf, bool behind_viommu, char *err,
		    size_t errlen);

#endif
