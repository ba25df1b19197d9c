// SPDX-License-Identifier: MIT
#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->regions);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

int bus_add(struct bus *bus, uint64_t base, uint64_t size, bus_access_fn fn, void *opaque,
	    const char *name)
{
	uint64_t end;
	unsigned int i;
	int err = 0;

	if (!size || !fn || add_overflows_u64(base, size, &end))
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	for (i = 0; i < bus->nr; i++) {
		if (ranges_overlap(base, size, bus->regions[i].base, bus->regions[i].size)) {
			err = -EBUSY;
			goto out;
		}
	}
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_region *r = realloc(bus->regions, cap * sizeof(*r));

		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		bus->regions = r;
		bus->cap = cap;
	}
	for (i = 0; i < bus->nr && bus->regions[i].base < base; i++)
		;
	memmove(&bus->regions[i + 1], &bus->regions[i], (bus->nr - i) * sizeof(bus->regions[0]));
	bus->regions[i] = (struct bus_region){ base, size, fn, opaque, name, 0 };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int bus_remove(struct bus *bus, uint64_t base)
{
	int err = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned int i = 0; i < bus->nr; i++) {
		if (bus->regions[i].base != base)
			continue;
		memmove(&bus->regions[i], &bus->regions[i + 1],
			(bus->nr - i - 1) * sizeof(bus->regions[0]));
		bus->nr--;
		err = 0;
		break;
	}
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

void bus_for_each_hits(struct bus *bus, void (*fn)(void *arg, const char *name, uint64_t hits),
		       void *arg)
{
	pthread_rwlock_rdlock(&bus->lock);
	for (unsigned int i = 0; i < bus->nr; i++)
		fn(arg, bus->regions[i].name, bus->regions[i].hits);
	pthread_rwlock_unlock(&bus->lock);
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned int len, bool is_write)
{
	struct bus_region hit = { 0 };
	unsigned int lo = 0, hi;
	bool found = false;

	if (!is_write)
		memset(data, 0, len);
	pthread_rwlock_rdlock(&bus->lock);
	hi = bus->nr;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_region *r = &bus->regions[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->size) {
			lo = mid + 1;
		} else {
			/* The whole access must lie inside the region. */
			if (len <= r->size - (addr - r->base)) {
				bus->regions[mid].hits++;
				hit = *r;
				found = true;
			}
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	/*
	 * Call the handler without the lock: a handler may move regions (a
	 * PCI BAR write). Devices outlive the running vCPUs, so the opaque
	 * pointer stays valid after the region is gone.
	 */
	if (found)
		hit.access(hit.opaque, addr - hit.base, data, len, is_write);
	return found;
}
