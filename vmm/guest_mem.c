// SPDX-License-Identifier: MIT
#include "guest_mem.h"

#include <errno.h>
#include <string.h>

#include "util.h"

int guest_mem_add(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host)
{
	uint64_t end;

	if (!size || add_overflows_u64(gpa, size, &end) || !host)
		return -EINVAL;
	if (gm->nr_regions == GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < gm->nr_regions; i++)
		if (ranges_overlap(gpa, size, gm->regions[i].gpa, gm->regions[i].size))
			return -EINVAL;
	gm->regions[gm->nr_regions++] = (struct guest_mem_region){ gpa, size, host };
	return 0;
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr_dir(gm, gpa, len, false);
}

void *guest_mem_ptr_dir(const struct guest_mem *gm, uint64_t gpa, uint64_t len, bool write)
{
	uint64_t end;

	if (gm->xlate) {
		if (gm->xlate(gm->xlate_opaque, gpa, len ? len : 1, write, &gpa))
			return NULL;
		gm = gm->phys;
	}
	/* A zero-length range still has to name a byte of RAM. */
	if (add_overflows_u64(gpa, len ? len : 1, &end))
		return NULL;
	for (unsigned int i = 0; i < gm->nr_regions; i++) {
		const struct guest_mem_region *r = &gm->regions[i];

		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len)
{
	void *p = guest_mem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len)
{
	void *p = guest_mem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}
