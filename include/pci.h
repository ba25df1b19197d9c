/* SPDX-License-Identifier: MIT */
/*
 * A PCI root bus behind a generic ECAM host bridge (the device tree's
 * "pci-host-ecam-generic" at LAYOUT_PCI_CFG_BASE): type-0 config space for
 * each function, 32-bit memory BARs that the guest may move (they are
 * mapped on the MMIO bus while memory decoding is on), legacy INTx through
 * GIC SPIs (interrupt-map), and MSI-X delivered through the GIC ITS with
 * irqfds and GSI routes carrying the requester ID as the ITS device ID.
 * Functions need not be virtio: the bus knows only config space and BARs.
 */
#ifndef ARMVM_PCI_H
#define ARMVM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/pci_regs.h> /* the register offsets and bits */

#include "bus.h"

#define PCI_MAX_DEVS 32
#define PCI_ROM_BAR 6 /* bars[6]: the expansion ROM (config 0x30) */
#define PCI_MSIX_MAX 64

struct vm;
struct pci_dev;

struct pci_bar {
	uint64_t size; /* power of two, >= 4 KiB; 0: unused */
	uint64_t addr; /* as programmed */
	bool is64;     /* 64-bit memory BAR: the next BAR is its upper half */
	bool mapped;
	bool pending; /* decoding, but its range was taken: mapped when free */
	uint64_t mapped_addr;
	bus_access_fn access;
	void *opaque;
};

struct pci_dev_ops {
	/* A BAR (PCI_ROM_BAR: the ROM) was mapped at addr (mapped) or unmapped from old. */
	void (*bar_moved)(struct pci_dev *pd, int bar, bool mapped, uint64_t addr, uint64_t old);
	/* The guest wrote config space at off (pd lock held). */
	void (*cfg_written)(struct pci_dev *pd, uint32_t off, unsigned int len);
	/* The guest turned MSI-X on or off, before any vector is bound. */
	void (*msix_enable)(struct pci_dev *pd, bool on);
};

struct pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct pci_dev {
	struct vm *vm;
	const struct pci_dev_ops *ops;
	void *opaque;
	char name[32];
	uint8_t devfn;
	pthread_mutex_t lock;
	uint8_t cfg[PCI_CFG_SPACE_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_SIZE]; /* guest-writable bits */
	uint8_t next_cap;		   /* where the next capability goes */
	struct pci_bar bars[PCI_STD_NUM_BARS + 1];
	uint32_t intx_spi;
	int intx_level;

	/* MSI-X */
	uint8_t msix_cap;
	uint16_t msix_nr;
	int msix_bar;
	struct pci_msix_entry msix[PCI_MSIX_MAX];
	uint64_t msix_pba;
	int msix_efd[PCI_MSIX_MAX];
	uint32_t msix_gsi[PCI_MSIX_MAX];
	bool msix_bound[PCI_MSIX_MAX]; /* irqfd bound: enabled and unmasked */
};

struct pci_bus {
	struct vm *vm;
	struct pci_dev *devs[PCI_MAX_DEVS];
	unsigned int nr;
	uint64_t mmio_next; /* initial BAR placement */
	bool msi;	    /* an ITS is there for MSI-X */
	/* A virtio-iommu (DEVTREE_PHANDLE_VIOMMU): the function that is it
	 * (-1: it is on virtio-mmio, or none), and the slots whose requester
	 * IDs it translates (iommu-map on the host bridge). */
	int iommu_devfn;
	uint32_t iommu_slots;
};

void pci_bus_init(struct pci_bus *bus, struct vm *vm, bool msi);
/* The ECAM window's access function (placed on the MMIO bus). */
void pci_ecam_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len, bool is_write);
/* The host bridge's device-tree node. */
int pci_bus_fdt(struct pci_bus *bus, void *fdt);

/*
 * A function on the bus at the next free slot: IDs, class, its INTx SPI.
 * pd->name becomes "NAME@00:SS.0". pci_dev_destroy takes it off the bus.
 */
int pci_dev_init(struct pci_bus *bus, struct pci_dev *pd, const char *name, uint16_t vendor,
		 uint16_t device, uint32_t class_rev, uint16_t subsys_vendor, uint16_t subsys,
		 uint32_t intx_spi);
/* A 32-bit memory BAR of size bytes (power of two) with its handler. */
int pci_bar_init(struct pci_dev *pd, int bar, uint64_t size, bus_access_fn fn, void *opaque);
/* The same with PCI_BAR_* flags: a 64-bit BAR takes bar and bar + 1 (it
 * is still placed below 4 GiB, in the 32-bit window). */
#define PCI_BAR_64 1u
#define PCI_BAR_PREFETCH 2u
int pci_bar_init_flags(struct pci_dev *pd, int bar, uint64_t size, unsigned int flags,
		       bus_access_fn fn, void *opaque);
/* An expansion ROM of size bytes (power of two, >= 4 KiB): read-only,
 * decoded while its enable bit and memory decoding are on. */
int pci_rom_init(struct pci_dev *pd, uint64_t size, bus_access_fn fn, void *opaque);
/* Reserve len bytes of capability list; returns its offset (0: full). */
uint8_t pci_cap_add(struct pci_dev *pd, uint8_t id, uint8_t len);
/* An MSI-X capability with nr vectors, table and PBA in BAR `bar`
 * (which must be one the caller did not otherwise claim). */
int pci_msix_init(struct pci_dev *pd, uint16_t nr, int bar);
/*
 * An MSI-X capability whose table and PBA sit at the given offsets of BARs
 * the caller owns (a passed-through function's layout); the caller's BAR
 * handler sends accesses there to pci_msix_table_access/pba_access, with
 * offsets relative to the table and the PBA.
 */
int pci_msix_init_at(struct pci_dev *pd, uint16_t nr, int table_bar, uint32_t table_off,
		     int pba_bar, uint32_t pba_off);
void pci_msix_table_access(struct pci_dev *pd, uint64_t off, uint8_t *data, unsigned int len,
			   bool is_write);
void pci_msix_pba_access(struct pci_dev *pd, uint64_t off, uint8_t *data, unsigned int len,
			 bool is_write);
/* After the GIC exists: eventfds, GSIs and irqfds for the vectors. */
int pci_dev_start(struct pci_dev *pd);
void pci_dev_destroy(struct pci_dev *pd);

bool pci_msix_enabled(struct pci_dev *pd);
/*
 * Vector v's eventfd (or -1): a write to it signals the vector, honouring
 * the masks (pending while masked), without armvm in the path. For
 * in-kernel back-ends (vhost) and passed-through functions.
 */
int pci_msix_vector_fd(struct pci_dev *pd, uint16_t v);
/* Signal MSI-X vector v (pending if masked). */
void pci_msix_notify(struct pci_dev *pd, uint16_t v);
/* Drive INTx (level). */
void pci_intx_set(struct pci_dev *pd, int level);
/* Config space as the guest sees it (the pd lock is taken). */
void pci_cfg_access(struct pci_dev *pd, uint32_t off, uint8_t *data, unsigned int len,
		    bool is_write);

#endif
