/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM as the VMM sees it. Every guest-physical range is checked for
 * overflow and for lying wholly inside one RAM region before a host pointer
 * exists: there is no way to get a pointer from a guest address without
 * giving its length.
 */
#ifndef ARMVM_GUEST_MEM_H
#define ARMVM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	unsigned int nr_regions;
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	/*
	 * A device behind an IOMMU sees I/O virtual addresses: with xlate
	 * set, an address is first translated (for a read or a write of len
	 * bytes) to a guest-physical one in phys; nr_regions is then 0.
	 */
	int (*xlate)(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa);
	void *xlate_opaque;
	const struct guest_mem *phys;
};

/* Add a region; refuses empty, overflowing and overlapping ones (-EINVAL). */
int guest_mem_add(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host);

/* Host pointer for [gpa, gpa+len), or NULL unless it lies in one region
 * (through the IOMMU, if there is one, for reading). */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* The same for an access that writes (write) or only reads. */
void *guest_mem_ptr_dir(const struct guest_mem *gm, uint64_t addr, uint64_t len, bool write);

/* Copy to/from guest memory; -EFAULT when the range is not wholly RAM. */
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len);
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len);

#endif
