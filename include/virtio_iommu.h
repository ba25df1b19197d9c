/* SPDX-License-Identifier: MIT */
/*
 * virtio-iommu (virtio 1.2 §5.13, device 23): the guest's IOMMU. The core
 * keeps domains, their endpoints and their mapping tables; an endpoint
 * with a back-end (a passed-through function's VFIO container) has every
 * change of its domain replayed there as host DMA mappings; an endpoint
 * without one (an emulated device) asks viommu_translate() for every
 * address. No KVM here: unit-tested and fuzzed on any host.
 */
#ifndef ARMVM_VIRTIO_IOMMU_H
#define ARMVM_VIRTIO_IOMMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "state.h"
#include "virtio.h"

#define VIOMMU_MAX_EPS 64
#define VIOMMU_MAX_DOMAINS 256
#define VIOMMU_MAX_MAPPINGS 65536 /* per domain */
#define VIOMMU_MAX_RESV 16
#define VIOMMU_PROBE_SIZE 512

/* Where an endpoint's mappings go on the host. */
struct viommu_backend_ops {
	/* Map [iova, iova+size) to host memory; -errno. */
	int (*map)(void *key, uint64_t iova, uint64_t size, void *host, bool write);
	/* Unmap [iova, iova+size); size UINT64_MAX: everything. */
	int (*unmap)(void *key, uint64_t iova, uint64_t size);
};

struct viommu_domain;

struct viommu_ep {
	uint32_t id; /* PCI requester ID, or the virtio-mmio device's ID */
	struct viommu_domain *dom;
	const struct viommu_backend_ops *ops; /* NULL: translated by armvm */
	void *key;			      /* back-end: one per IOVA space */
	bool identity;			      /* back-end holds the RAM identity map */
	uint64_t faults;
};

struct viommu_mapping {
	uint64_t start, end; /* IOVA, inclusive */
	uint64_t gpa;
	uint32_t flags; /* VIRTIO_IOMMU_MAP_F_* */
};

struct viommu_domain {
	uint32_t id;
	bool bypass;
	unsigned int nr_eps;
	struct viommu_mapping *maps; /* sorted by start, disjoint */
	size_t nr_maps, cap_maps;
	uint64_t st_maps, st_unmaps, st_faults, pages; /* pages: 4 KiB mapped now */
	struct viommu_domain *next;
};

struct viommu_resv {
	uint64_t start, end;
	uint8_t subtype; /* VIRTIO_IOMMU_RESV_MEM_T_* */
};

/* A fault waiting for an eventq buffer. */
struct viommu_fault {
	uint8_t reason;
	uint32_t flags, endpoint;
	uint64_t address;
};
#define VIOMMU_MAX_PENDING_FAULTS 16

struct viommu {
	struct virtio_dev vd;
	pthread_mutex_t lock; /* the tables: requests and translations */
	const struct guest_mem *mem;
	uint64_t pgsize_mask;
	uint64_t input_start, input_end;
	uint8_t bypass; /* config: unattached endpoints bypass */
	struct viommu_ep eps[VIOMMU_MAX_EPS];
	unsigned int nr_eps;
	struct viommu_domain *domains;
	unsigned int nr_domains;
	struct viommu_resv resv[VIOMMU_MAX_RESV]; /* in every PROBE */
	unsigned int nr_resv;
	uint64_t st_requests, st_bad, st_faults_lost;
	uint64_t gen; /* bumped whenever a translation may have gone */
	struct viommu_fault pending[VIOMMU_MAX_PENDING_FAULTS];
	unsigned int nr_pending;
	struct virtq_buf bufs[16];
};

/*
 * The memory an emulated device behind the IOMMU sees: its addresses go
 * through the endpoint's domain (guest_mem's xlate), with a one-entry
 * cache of the last mapping used, dropped when a translation changes.
 */
struct viommu_view {
	struct guest_mem mem;
	struct viommu *vi;
	uint32_t ep;
	pthread_mutex_t lock;
	uint64_t c_gen, c_start, c_end, c_gpa; /* cached mapping (inclusive end) */
	uint32_t c_flags;
	bool c_valid;
};
void viommu_view_init(struct viommu_view *v, struct viommu *vi, uint32_t ep,
		      const struct guest_mem *phys);
void viommu_view_destroy(struct viommu_view *v);

/* The device, with mem for its queues. Endpoints are added before start. */
struct viommu *viommu_new(const struct guest_mem *mem, uint64_t pgsize_mask, uint64_t input_start,
			  uint64_t input_end);
int viommu_add_endpoint(struct viommu *vi, uint32_t id, const struct viommu_backend_ops *ops,
			void *key);
int viommu_add_resv(struct viommu *vi, uint64_t start, uint64_t end, uint8_t subtype);
/* Narrow the page sizes and input range (a back-end's limits). */
void viommu_restrict(struct viommu *vi, uint64_t pgsize_mask, uint64_t input_end);

/*
 * One request: req/req_len the device-readable bytes; out_room the
 * device-writable bytes the guest gave. The answer (PROBE's properties,
 * then the 4-byte tail with the status) goes to out, from the start of
 * the writable part; returns its length (0 when not even a tail fits).
 */
#define VIOMMU_OUT_MAX (VIOMMU_PROBE_SIZE + 4)
#define VIOMMU_REQ_MAX 128 /* readable bytes looked at (the largest request is 72) */
size_t viommu_request(struct viommu *vi, const uint8_t *req, size_t req_len,
		      uint8_t out[VIOMMU_OUT_MAX], size_t out_room);

/*
 * For an endpoint without a back-end: the guest-physical address of
 * [iova, iova+len) if mappings contiguous in both address spaces cover it
 * with the access wanted. -EFAULT otherwise (a fault is counted and
 * reported on the event queue); -ENOENT for an unknown endpoint.
 */
int viommu_translate(struct viommu *vi, uint32_t ep, uint64_t iova, uint64_t len, bool write,
		     uint64_t *gpa);

/* "domain 1: 2 endpoint(s), 14 mapping(s) ..." lines for `armvm debug -i stats`. */
size_t viommu_stats(struct viommu *vi, char *buf, size_t len);

#endif
