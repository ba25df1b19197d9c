/* SPDX-License-Identifier: MIT */
/*
 * The MMIO bus: guest-physical ranges owned by devices. vCPU threads
 * dispatch KVM_EXIT_MMIO here. Regions may be added and removed while the
 * guest runs (PCI BARs move), so lookups take a read lock.
 */
#ifndef ARMVM_BUS_H
#define ARMVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * An access of len (1, 2, 4 or 8) bytes at offset within the region. data
 * is little-endian guest data; a read handler fills it, and data starts
 * zeroed so a handler that ignores a register reads as zero.
 */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			      bool is_write);

struct bus_region {
	uint64_t base;
	uint64_t size;
	bus_access_fn access;
	void *opaque;
	const char *name;
	_Atomic uint64_t hits; /* accesses dispatched here (since it was added) */
};

struct bus {
	pthread_rwlock_t lock;
	unsigned int nr, cap;
	struct bus_region *regions; /* sorted by base, never overlapping */
};

int bus_init(struct bus *bus);
void bus_destroy(struct bus *bus);
/* -EINVAL for an empty or wrapping range, -EBUSY if it overlaps another. */
int bus_add(struct bus *bus, uint64_t base, uint64_t size, bus_access_fn fn, void *opaque,
	    const char *name);
int bus_remove(struct bus *bus, uint64_t base);
/* Dispatch an access; false if no region covers all of it. */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned int len, bool is_write);

/* Call fn for each region with its name and hits, in address order. */
void bus_for_each_hits(struct bus *bus, void (*fn)(void *arg, const char *name, uint64_t hits),
		       void *arg);

/* Little-endian helpers for handlers. */
static inline uint64_t bus_data_get(const uint8_t *data, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static inline void bus_data_set(uint8_t *data, unsigned int len, uint64_t v)
{
	for (unsigned int i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

#endif
