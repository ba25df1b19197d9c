// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a hostile virtio-iommu driver. The input is a stream
 * of requests (a length byte, a writable-room byte, then the request
 * bytes) against two endpoints with fake back-ends and one translated
 * endpoint; after each, the domains' tables must stay sorted and
 * disjoint, every mapping inside the input range and RAM, and the fake
 * IOVA spaces must hold exactly what their domains do. Translations of
 * fuzzed addresses must land in RAM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_iommu.h"

#define RAM_GPA 0x80000000ULL
#define RAM_SIZE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int live[2];

static int fmap(void *key, uint64_t iova, uint64_t len, void *host, bool write)
{
	unsigned int *n = key;

	(void)iova, (void)len, (void)host, (void)write;
	if (*n >= 32)
		return -ENOSPC; /* a small host limit, to be hit */
	(*n)++;
	return 0;
}

static int funmap(void *key, uint64_t iova, uint64_t len)
{
	unsigned int *n = key;

	(void)iova;
	if (len == UINT64_MAX)
		*n = 0;
	else if (*n)
		(*n)--;
	return 0;
}

static const struct viommu_backend_ops ops = { .map = fmap, .unmap = funmap };

static void check(struct viommu *vi)
{
	for (struct viommu_domain *d = vi->domains; d; d = d->next)
		for (size_t i = 0; i < d->nr_maps; i++) {
			const struct viommu_mapping *m = &d->maps[i];

			if (m->start > m->end || m->end > vi->input_end ||
			    (i && d->maps[i - 1].end >= m->start) ||
			    !guest_mem_ptr(vi->mem, m->gpa, m->end - m->start + 1))
				abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct guest_mem gm = { 0 };
	struct viommu *vi;
	uint8_t out[VIOMMU_OUT_MAX];

	if (!ram)
		ram = calloc(1, RAM_SIZE);
	guest_mem_add(&gm, RAM_GPA, RAM_SIZE, ram);
	vi = viommu_new(&gm, ~0xfffULL, 0, (1ULL << 48) - 1);
	live[0] = live[1] = 0;
	viommu_add_endpoint(vi, 8, &ops, &live[0]);
	viommu_add_endpoint(vi, 16, &ops, &live[1]);
	viommu_add_endpoint(vi, 24, &ops, &live[1]); /* shares 16's space */
	viommu_add_endpoint(vi, 0x10000, NULL, NULL);
	viommu_add_resv(vi, 0x3ffc0000, 0x3ffcffff, 1);
	vi->vd.driver_features = vi->vd.host_features;
	while (size >= 2) {
		size_t len = data[0], room = data[1] * 4u;
		uint8_t req[256];
		uint64_t gpa, iova;

		data += 2, size -= 2;
		if (len > size)
			len = size;
		memcpy(req, data, len);
		if (room > sizeof(out))
			room = sizeof(out);
		if (viommu_request(vi, req, len, out, room) > room)
			abort();
		if (len >= 12) {
			memcpy(&iova, req + 4, 8);
			bool ident = vi->eps[3].dom ? vi->eps[3].dom->bypass : vi->bypass;

			if (viommu_translate(vi, 0x10000, iova, 1u + req[3], req[2] & 1, &gpa) ==
				    0 &&
			    !ident && !guest_mem_ptr(&gm, gpa, 1u + req[3]))
				abort(); /* a translation outside RAM */
		}
		if (len == 1 && req[0] & 1) { /* the guest flips bypass */
			uint8_t b = req[0] >> 1 & 1;

			virtio_config_access(&vi->vd, 36, &b, 1, true);
		}
		check(vi);
		data += len, size -= len;
	}
	virtio_dev_destroy(&vi->vd);
	return 0;
}
