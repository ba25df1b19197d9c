// SPDX-License-Identifier: MIT
/*
 * virtio-iommu (virtio 1.2 §5.13; include/uapi/linux/virtio_iommu.h).
 *
 * Requests come from a hostile guest: each is copied out of the ring
 * whole before it is read, its length checked against its type, every
 * range checked for overflow, alignment to the granule, the input range
 * and (for MAP) lying in guest RAM; domain and endpoint IDs are looked
 * up, never indexed. A domain's mappings are a sorted array of disjoint
 * ranges (binary search); MAP refuses an overlap, UNMAP refuses to split
 * a mapping (§5.13.6.6) and removes every mapping it covers whole.
 *
 * Back-ends: a domain's mappings are replayed into the VFIO container of
 * each of its endpoints that has one (one call per IOVA space, however
 * many endpoints share it); a failing host map undoes what it did and
 * answers NOMEM (the type-1 driver's mapping limit) or DEVERR.
 */
#include "virtio_iommu.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_iommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define VIOMMU_QUEUE_SIZE 256
#define Q_REQ 0
#define Q_EVT 1
#define GRANULE_OF(mask) ((mask) & -(mask))

static struct viommu_ep *ep_find(struct viommu *vi, uint32_t id)
{
	for (unsigned int i = 0; i < vi->nr_eps; i++)
		if (vi->eps[i].id == id)
			return &vi->eps[i];
	return NULL;
}

static struct viommu_domain *dom_find(struct viommu *vi, uint32_t id)
{
	for (struct viommu_domain *d = vi->domains; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

static void dom_free(struct viommu *vi, struct viommu_domain *d)
{
	struct viommu_domain **pp = &vi->domains;

	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	vi->nr_domains--;
	free(d->maps);
	free(d);
}

/* First mapping whose end >= iova. */
static size_t map_lower(const struct viommu_domain *d, uint64_t iova)
{
	size_t lo = 0, hi = d->nr_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->maps[mid].end < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- back-ends ----------------------------------------------------------- */

/* Is another endpoint sharing ep's back-end attached to dom (so it holds
 * dom's mappings already)? */
static bool key_in_domain(struct viommu *vi, const struct viommu_ep *ep,
			  const struct viommu_domain *dom)
{
	for (unsigned int i = 0; i < vi->nr_eps; i++) {
		const struct viommu_ep *o = &vi->eps[i];

		if (o != ep && o->ops && o->key == ep->key && o->dom == dom)
			return true;
	}
	return false;
}

static const struct guest_mem_region *region_of(const struct guest_mem *m, uint64_t gpa)
{
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct guest_mem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

/* Is every byte of [gpa, gpa+size) RAM? (size > 0, no wrap.) */
static bool ram_covers(const struct guest_mem *m, uint64_t gpa, uint64_t size)
{
	uint64_t end = gpa + size - 1;

	for (;;) {
		const struct guest_mem_region *r = region_of(m, gpa);
		uint64_t rend;

		if (!r)
			return false;
		rend = r->gpa + r->size - 1;
		if (end <= rend)
			return true;
		gpa = rend + 1;
	}
}

/* Map [iova, iova+size) -> gpa on one back-end, split at RAM regions. */
static int backend_map(struct viommu *vi, const struct viommu_ep *ep, uint64_t iova, uint64_t size,
		       uint64_t gpa, bool write)
{
	uint64_t done = 0;
	int ret = 0;

	while (done < size) {
		const struct guest_mem_region *r = region_of(vi->mem, gpa + done);
		uint64_t n;

		if (!r) {
			ret = -EFAULT;
			break;
		}
		n = MIN(size - done, r->size - (gpa + done - r->gpa));
		ret = ep->ops->map(ep->key, iova + done, n, r->host + (gpa + done - r->gpa), write);
		if (ret)
			break;
		done += n;
	}
	if (ret && done)
		ep->ops->unmap(ep->key, iova, done);
	return ret;
}

/* The RAM identity map (bypass) on one back-end. */
static int backend_identity(struct viommu *vi, const struct viommu_ep *ep)
{
	for (unsigned int i = 0; i < vi->mem->nr_regions; i++) {
		const struct guest_mem_region *r = &vi->mem->regions[i];
		int ret = ep->ops->map(ep->key, r->gpa, r->size, r->host, true);

		if (ret) {
			ep->ops->unmap(ep->key, 0, UINT64_MAX);
			return ret;
		}
	}
	return 0;
}

/*
 * Bring ep's back-end in line with its state: its domain's mappings, the
 * identity map (bypass domain, or unattached with bypass on), or nothing.
 */
static int backend_sync(struct viommu *vi, struct viommu_ep *ep)
{
	bool identity = ep->dom ? ep->dom->bypass : vi->bypass;
	int ret = 0;

	if (!ep->ops)
		return 0;
	if (ep->dom && key_in_domain(vi, ep, ep->dom))
		return 0; /* the IOVA space holds this domain already */
	ep->ops->unmap(ep->key, 0, UINT64_MAX);
	ep->identity = false;
	if (identity) {
		ret = backend_identity(vi, ep);
		ep->identity = !ret;
	} else if (ep->dom) {
		for (size_t i = 0; !ret && i < ep->dom->nr_maps; i++) {
			const struct viommu_mapping *m = &ep->dom->maps[i];

			ret = backend_map(vi, ep, m->start, m->end - m->start + 1, m->gpa,
					  m->flags & VIRTIO_IOMMU_MAP_F_WRITE);
		}
		if (ret)
			ep->ops->unmap(ep->key, 0, UINT64_MAX);
	}
	return ret;
}

/* Is eps[i] the first endpoint of domain d with its back-end (one call
 * per IOVA space)? */
static bool first_of_key(const struct viommu *vi, unsigned int i, const struct viommu_domain *d)
{
	const struct viommu_ep *ep = &vi->eps[i];

	if (ep->dom != d || !ep->ops)
		return false;
	for (unsigned int j = 0; j < i; j++)
		if (vi->eps[j].dom == d && vi->eps[j].ops && vi->eps[j].key == ep->key)
			return false;
	return true;
}

static uint8_t errno_status(int err)
{
	return err == -ENOSPC || err == -ENOMEM ? VIRTIO_IOMMU_S_NOMEM : VIRTIO_IOMMU_S_DEVERR;
}

/* ---- requests -------------------------------------------------------------- */

static void ep_detach(struct viommu *vi, struct viommu_ep *ep)
{
	struct viommu_domain *d = ep->dom;

	if (!d)
		return;
	vi->gen++;
	ep->dom = NULL;
	if (!--d->nr_eps)
		dom_free(vi, d); /* its mappings go with it (§5.13.6.5) */
	if (backend_sync(vi, ep))
		pr_guest(LOG_WARNING,
			 "virtio-iommu: endpoint 0x%x: cannot restore its unattached state",
			 ep->id);
}

static uint8_t req_attach(struct viommu *vi, const struct virtio_iommu_req_attach *r)
{
	uint32_t flags = le32toh(r->flags), did = le32toh(r->domain);
	struct viommu_ep *ep = ep_find(vi, le32toh(r->endpoint));
	struct viommu_domain *d;
	bool bypass = flags & VIRTIO_IOMMU_ATTACH_F_BYPASS;
	int ret;

	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	if (flags & ~VIRTIO_IOMMU_ATTACH_F_BYPASS)
		return VIRTIO_IOMMU_S_INVAL;
	if (bypass && !virtio_feature(&vi->vd, VIRTIO_IOMMU_F_BYPASS_CONFIG))
		return VIRTIO_IOMMU_S_INVAL;
	d = dom_find(vi, did);
	if (d && d->bypass != bypass)
		return VIRTIO_IOMMU_S_INVAL; /* a domain is bypass or not, for good */
	if (d && ep->dom == d)
		return VIRTIO_IOMMU_S_OK;
	/* Endpoints sharing a back-end share an IOVA space: one domain. */
	for (unsigned int i = 0; ep->ops && i < vi->nr_eps; i++) {
		const struct viommu_ep *o = &vi->eps[i];

		if (o != ep && o->key == ep->key && o->dom && o->dom != d)
			return VIRTIO_IOMMU_S_INVAL;
	}
	if (!d) {
		if (vi->nr_domains >= VIOMMU_MAX_DOMAINS)
			return VIRTIO_IOMMU_S_NOMEM;
		d = calloc(1, sizeof(*d));
		if (!d)
			return VIRTIO_IOMMU_S_NOMEM;
		d->id = did;
		d->bypass = bypass;
		d->next = vi->domains;
		vi->domains = d;
		vi->nr_domains++;
	}
	ep_detach(vi, ep); /* from its old domain first (§5.13.6.3) */
	vi->gen++;
	ep->dom = d;
	d->nr_eps++;
	ret = backend_sync(vi, ep);
	if (ret) {
		ep->dom = NULL;
		if (!--d->nr_eps)
			dom_free(vi, d);
		backend_sync(vi, ep);
		return errno_status(ret);
	}
	return VIRTIO_IOMMU_S_OK;
}

static uint8_t req_detach(struct viommu *vi, const struct virtio_iommu_req_detach *r)
{
	struct viommu_ep *ep = ep_find(vi, le32toh(r->endpoint));

	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	if (!ep->dom || ep->dom->id != le32toh(r->domain))
		return VIRTIO_IOMMU_S_INVAL;
	ep_detach(vi, ep);
	return VIRTIO_IOMMU_S_OK;
}

static bool range_ok(struct viommu *vi, uint64_t start, uint64_t end)
{
	return start <= end && start >= vi->input_start && end <= vi->input_end;
}

static uint8_t req_map(struct viommu *vi, const struct virtio_iommu_req_map *r)
{
	uint64_t start = le64toh(r->virt_start), end = le64toh(r->virt_end);
	uint64_t gpa = le64toh(r->phys_start), size, g = GRANULE_OF(vi->pgsize_mask);
	uint32_t flags = le32toh(r->flags);
	struct viommu_domain *d = dom_find(vi, le32toh(r->domain));
	struct viommu_mapping *m;
	unsigned int done = 0;
	size_t at;
	int ret = 0;

	if (!d)
		return VIRTIO_IOMMU_S_NOENT;
	if (d->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	if (flags & ~(uint32_t)(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE |
				VIRTIO_IOMMU_MAP_F_MMIO))
		return VIRTIO_IOMMU_S_INVAL;
	if (flags & VIRTIO_IOMMU_MAP_F_MMIO)
		return VIRTIO_IOMMU_S_UNSUPP; /* F_MMIO is not offered */
	if (!range_ok(vi, start, end))
		return VIRTIO_IOMMU_S_RANGE;
	if ((start | gpa | (end + 1)) & (g - 1))
		return VIRTIO_IOMMU_S_INVAL;
	size = end - start + 1; /* 0 only for the whole 64-bit space */
	if (!size || gpa + (size - 1) < gpa || !ram_covers(vi->mem, gpa, size))
		return VIRTIO_IOMMU_S_INVAL; /* wraps, or not all RAM */
	at = map_lower(d, start);
	if (at < d->nr_maps && d->maps[at].start <= end)
		return VIRTIO_IOMMU_S_INVAL; /* overlaps a mapping */
	if (d->nr_maps >= VIOMMU_MAX_MAPPINGS)
		return VIRTIO_IOMMU_S_NOMEM;
	if (d->nr_maps == d->cap_maps) {
		size_t cap = d->cap_maps ? 2 * d->cap_maps : 16;
		struct viommu_mapping *n = realloc(d->maps, cap * sizeof(*n));

		if (!n)
			return VIRTIO_IOMMU_S_NOMEM;
		d->maps = n;
		d->cap_maps = cap;
	}
	/* Host first: nothing is recorded that the devices cannot use. */
	for (unsigned int i = 0; i < vi->nr_eps && !ret; i++) {
		if (!first_of_key(vi, i, d))
			continue;
		ret = backend_map(vi, &vi->eps[i], start, size, gpa,
				  flags & VIRTIO_IOMMU_MAP_F_WRITE);
		if (!ret)
			done = i + 1;
	}
	if (ret) {
		for (unsigned int i = 0; i < done; i++)
			if (first_of_key(vi, i, d))
				vi->eps[i].ops->unmap(vi->eps[i].key, start, size);
		return errno_status(ret);
	}
	m = &d->maps[at];
	memmove(m + 1, m, (d->nr_maps - at) * sizeof(*m));
	*m = (struct viommu_mapping){ .start = start, .end = end, .gpa = gpa, .flags = flags };
	d->nr_maps++;
	d->st_maps++;
	d->pages += size >> 12;
	return VIRTIO_IOMMU_S_OK;
}

static uint8_t req_unmap(struct viommu *vi, const struct virtio_iommu_req_unmap *r)
{
	uint64_t start = le64toh(r->virt_start), end = le64toh(r->virt_end);
	struct viommu_domain *d = dom_find(vi, le32toh(r->domain));
	size_t first, last;

	if (!d)
		return VIRTIO_IOMMU_S_NOENT;
	if (d->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	if (start > end)
		return VIRTIO_IOMMU_S_INVAL;
	first = map_lower(d, start);
	for (last = first; last < d->nr_maps && d->maps[last].start <= end; last++)
		;
	if (first == last)
		return VIRTIO_IOMMU_S_OK; /* nothing mapped there */
	/* A mapping cut in two: refuse, remove nothing (§5.13.6.6). */
	if (d->maps[first].start < start || d->maps[last - 1].end > end)
		return VIRTIO_IOMMU_S_RANGE;
	for (size_t k = first; k < last; k++) {
		const struct viommu_mapping *m = &d->maps[k];
		uint64_t size = m->end - m->start + 1;

		for (unsigned int i = 0; i < vi->nr_eps; i++) {
			if (first_of_key(vi, i, d) &&
			    vi->eps[i].ops->unmap(vi->eps[i].key, m->start, size))
				pr_guest(LOG_WARNING,
					 "virtio-iommu: host unmap of 0x%llx+0x%llx failed",
					 (unsigned long long)m->start, (unsigned long long)size);
		}
		d->pages -= size >> 12;
		d->st_unmaps++;
	}
	memmove(&d->maps[first], &d->maps[last], (d->nr_maps - last) * sizeof(d->maps[0]));
	d->nr_maps -= last - first;
	vi->gen++;
	return VIRTIO_IOMMU_S_OK;
}

/* PROBE: the reserved regions, then NONE (zeros); out holds probe_size. */
static uint8_t req_probe(struct viommu *vi, const struct virtio_iommu_req_probe *r, uint8_t *out,
			 size_t len)
{
	size_t at = 0;

	if (!ep_find(vi, le32toh(r->endpoint)))
		return VIRTIO_IOMMU_S_NOENT;
	memset(out, 0, len);
	for (unsigned int i = 0; i < vi->nr_resv; i++) {
		struct virtio_iommu_probe_resv_mem p = {
			.head.type = htole16(VIRTIO_IOMMU_PROBE_T_RESV_MEM),
			.head.length = htole16(sizeof(p) - sizeof(p.head)),
			.subtype = vi->resv[i].subtype,
			.start = htole64(vi->resv[i].start),
			.end = htole64(vi->resv[i].end),
		};

		if (len - at < sizeof(p) + sizeof(struct virtio_iommu_probe_property))
			break; /* room for the NONE that ends the list */
		memcpy(out + at, &p, sizeof(p));
		at += sizeof(p);
	}
	return VIRTIO_IOMMU_S_OK;
}

size_t viommu_request(struct viommu *vi, const uint8_t *req, size_t req_len,
		      uint8_t out[VIOMMU_OUT_MAX], size_t out_room)
{
	union {
		struct virtio_iommu_req_head head;
		struct virtio_iommu_req_attach attach;
		struct virtio_iommu_req_detach detach;
		struct virtio_iommu_req_map map;
		struct virtio_iommu_req_unmap unmap;
		struct virtio_iommu_req_probe probe;
	} r;
	const size_t tail = sizeof(struct virtio_iommu_req_tail);
	size_t body, need_out = tail;
	uint8_t status;

	if (out_room < tail)
		return 0; /* nowhere to put a status */
	memset(&r, 0, sizeof(r));
	memcpy(&r, req, MIN(req_len, sizeof(r)));
	vi->st_requests++;
	/* The readable part is the request without its tail. */
	switch (req_len >= sizeof(r.head) ? r.head.type : 0) {
	case VIRTIO_IOMMU_T_ATTACH:
		body = sizeof(r.attach) - tail;
		break;
	case VIRTIO_IOMMU_T_DETACH:
		body = sizeof(r.detach) - tail;
		break;
	case VIRTIO_IOMMU_T_MAP:
		body = sizeof(r.map) - tail;
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		body = sizeof(r.unmap) - tail;
		break;
	case VIRTIO_IOMMU_T_PROBE: /* no tail member: it follows the properties */
		body = sizeof(r.probe);
		need_out = VIOMMU_PROBE_SIZE + tail;
		break;
	default:
		body = 0;
		break;
	}
	pthread_mutex_lock(&vi->lock);
	if (!body) {
		status = VIRTIO_IOMMU_S_UNSUPP;
	} else if (req_len < body || out_room < need_out) {
		status = VIRTIO_IOMMU_S_INVAL;
	} else {
		switch (r.head.type) {
		case VIRTIO_IOMMU_T_ATTACH:
			status = req_attach(vi, &r.attach);
			break;
		case VIRTIO_IOMMU_T_DETACH:
			status = req_detach(vi, &r.detach);
			break;
		case VIRTIO_IOMMU_T_MAP:
			status = req_map(vi, &r.map);
			break;
		case VIRTIO_IOMMU_T_UNMAP:
			status = req_unmap(vi, &r.unmap);
			break;
		default:
			status = req_probe(vi, &r.probe, out, VIOMMU_PROBE_SIZE);
			break;
		}
	}
	if (status != VIRTIO_IOMMU_S_OK)
		vi->st_bad++;
	pthread_mutex_unlock(&vi->lock);
	if (log_get_level() >= LOG_DEBUG) {
		if (r.head.type == VIRTIO_IOMMU_T_MAP || r.head.type == VIRTIO_IOMMU_T_UNMAP)
			pr_guest(
				LOG_DEBUG,
				"virtio-iommu: %s domain %u 0x%llx-0x%llx -> 0x%llx flags %u: status %u",
				r.head.type == VIRTIO_IOMMU_T_MAP ? "MAP" : "UNMAP",
				le32toh(r.map.domain),
				(unsigned long long)le64toh(r.map.virt_start),
				(unsigned long long)le64toh(r.map.virt_end),
				(unsigned long long)(r.head.type == VIRTIO_IOMMU_T_MAP
							     ? le64toh(r.map.phys_start)
							     : 0),
				r.head.type == VIRTIO_IOMMU_T_MAP ? le32toh(r.map.flags) : 0,
				status);
		else
			pr_guest(
				LOG_DEBUG,
				"virtio-iommu: request %u (domain/endpoint %u, endpoint %u): status %u",
				r.head.type, le32toh(r.attach.domain), le32toh(r.attach.endpoint),
				status);
	}
	/* The tail follows the request's writable fields (PROBE's properties). */
	if (status == VIRTIO_IOMMU_S_OK && r.head.type == VIRTIO_IOMMU_T_PROBE) {
		memset(out + VIOMMU_PROBE_SIZE, 0, tail);
		out[VIOMMU_PROBE_SIZE] = status;
		return VIOMMU_PROBE_SIZE + tail;
	}
	memset(out, 0, tail);
	out[0] = status;
	return tail;
}

/* Queue a fault report (vi->lock held); delivered by viommu_post_faults. */
static void fault_note(struct viommu *vi, uint32_t ep, uint64_t iova, bool write, uint8_t reason)
{
	if (vi->nr_pending == VIOMMU_MAX_PENDING_FAULTS) {
		vi->st_faults_lost++;
		return;
	}
	vi->pending[vi->nr_pending++] = (struct viommu_fault){
		.reason = reason,
		.endpoint = ep,
		.address = iova,
		.flags = (write ? VIRTIO_IOMMU_FAULT_F_WRITE : VIRTIO_IOMMU_FAULT_F_READ) |
			 VIRTIO_IOMMU_FAULT_F_ADDRESS,
	};
}

/*
 * Put pending faults in the eventq's buffers and interrupt. Never waits
 * for the device lock: a translating device may hold its own lock while a
 * snapshot freezer holds ours (then the faults wait for the next try).
 */
static void post_faults_locked(struct viommu *vi)
{
	struct virtq *q = &vi->vd.vqs[Q_EVT];
	struct virtq_buf bufs[4];
	struct virtq_chain c = { .bufs = bufs, .cap = ARRAY_SIZE(bufs) };
	bool pushed = false;

	pthread_mutex_lock(&vi->lock);
	while (vi->nr_pending && virtio_dev_live(&vi->vd) && q->ready && !q->broken) {
		struct virtio_iommu_fault f = { 0 };
		int r = virtq_pop(q, &c);

		if (r <= 0) {
			if (r == -EINVAL)
				virtio_queue_broken(&vi->vd, Q_EVT);
			break;
		}
		f.reason = vi->pending[0].reason;
		f.flags = htole32(vi->pending[0].flags);
		f.endpoint = htole32(vi->pending[0].endpoint);
		f.address = htole64(vi->pending[0].address);
		if (c.n == 1 && c.bufs[0].write && c.bufs[0].len >= sizeof(f)) {
			memcpy(c.bufs[0].host, &f, sizeof(f));
			virtq_push(q, c.head, sizeof(f));
		} else {
			virtq_push(q, c.head, 0); /* not a buffer for a fault: give it back */
		}
		pushed = true;
		memmove(&vi->pending[0], &vi->pending[1],
			--vi->nr_pending * sizeof(vi->pending[0]));
	}
	pthread_mutex_unlock(&vi->lock);
	if (pushed)
		virtio_queue_interrupt(&vi->vd, Q_EVT);
}

static void viommu_post_faults(struct viommu *vi)
{
	if (pthread_mutex_trylock(&vi->vd.lock))
		return;
	post_faults_locked(vi);
	pthread_mutex_unlock(&vi->vd.lock);
}

/* Within d: the mapping at iova, extended over mappings contiguous in both
 * spaces with the access, to cover len bytes. */
static int dom_lookup(const struct viommu_domain *d, uint64_t iova, uint64_t len, uint32_t need,
		      uint64_t *gpa, struct viommu_mapping *hit)
{
	size_t at = map_lower(d, iova);
	uint64_t last = iova + len - 1;
	const struct viommu_mapping *m;

	if (at >= d->nr_maps || d->maps[at].start > iova || (d->maps[at].flags & need) != need)
		return -EFAULT;
	m = &d->maps[at];
	*gpa = m->gpa + (iova - m->start);
	*hit = *m;
	while (m->end < last) {
		const struct viommu_mapping *n = m + 1;

		if (n >= d->maps + d->nr_maps || n->start != m->end + 1 ||
		    n->gpa != m->gpa + (m->end - m->start + 1) || (n->flags & need) != need)
			return -EFAULT;
		m = n;
	}
	return 0;
}

/*
 * viommu_translate; when it went through a mapping, *hit (if not NULL)
 * is the mapping that holds iova and *gen the tables' generation, for a
 * view's cache (hit->flags is 0 otherwise).
 */
static int translate(struct viommu *vi, uint32_t id, uint64_t iova, uint64_t len, bool write,
		     uint64_t *gpa, struct viommu_mapping *hit, uint64_t *gen)
{
	uint32_t need = write ? VIRTIO_IOMMU_MAP_F_WRITE : VIRTIO_IOMMU_MAP_F_READ;
	struct viommu_mapping m = { .flags = 0 };
	struct viommu_ep *ep;
	int ret = -EFAULT;
	bool noted = false;

	pthread_mutex_lock(&vi->lock);
	ep = ep_find(vi, id);
	if (!ep) {
		ret = -ENOENT;
	} else if (!len || iova + len - 1 < iova) {
		ret = -EFAULT;
	} else if (ep->dom ? ep->dom->bypass : vi->bypass) {
		*gpa = iova;
		ret = 0;
	} else if (ep->dom) {
		ret = dom_lookup(ep->dom, iova, len, need, gpa, &m);
		if (ret)
			m.flags = 0;
	}
	if (hit) {
		*hit = m;
		*gen = vi->gen;
	}
	if (ret == -EFAULT && ep) {
		ep->faults++;
		if (ep->dom)
			ep->dom->st_faults++;
		fault_note(vi, id, iova, write,
			   ep->dom ? VIRTIO_IOMMU_FAULT_R_MAPPING : VIRTIO_IOMMU_FAULT_R_DOMAIN);
		noted = true;
	}
	pthread_mutex_unlock(&vi->lock);
	if (noted) {
		pr_guest(LOG_DEBUG,
			 "virtio-iommu: endpoint 0x%x: no %s translation for 0x%llx+0x%llx", id,
			 write ? "write" : "read", (unsigned long long)iova,
			 (unsigned long long)len);
		viommu_post_faults(vi);
	}
	return ret;
}

int viommu_translate(struct viommu *vi, uint32_t id, uint64_t iova, uint64_t len, bool write,
		     uint64_t *gpa)
{
	return translate(vi, id, iova, len, write, gpa, NULL, NULL);
}

/* guest_mem's xlate for a view: the cached mapping, else the tables. */
static int view_xlate(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa)
{
	struct viommu_view *v = opaque;
	struct viommu *vi = v->vi;
	uint32_t need = write ? VIRTIO_IOMMU_MAP_F_WRITE : VIRTIO_IOMMU_MAP_F_READ;
	uint64_t last = iova + len - 1, gen;
	struct viommu_mapping hit;
	int ret;

	if (!len || last < iova)
		return viommu_translate(vi, v->ep, iova, len, write, gpa);
	pthread_mutex_lock(&v->lock);
	pthread_mutex_lock(&vi->lock);
	if (v->c_valid && v->c_gen == vi->gen && iova >= v->c_start && last <= v->c_end &&
	    (v->c_flags & need) == need) {
		*gpa = v->c_gpa + (iova - v->c_start);
		pthread_mutex_unlock(&vi->lock);
		pthread_mutex_unlock(&v->lock);
		return 0;
	}
	pthread_mutex_unlock(&vi->lock);
	ret = translate(vi, v->ep, iova, len, write, gpa, &hit, &gen);
	/* Cache the single mapping that held iova, if there is one. */
	v->c_valid = !ret && hit.flags;
	if (v->c_valid) {
		v->c_gen = gen;
		v->c_start = hit.start, v->c_end = hit.end, v->c_gpa = hit.gpa;
		v->c_flags = hit.flags;
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void viommu_view_init(struct viommu_view *v, struct viommu *vi, uint32_t ep,
		      const struct guest_mem *phys)
{
	memset(v, 0, sizeof(*v));
	v->vi = vi;
	v->ep = ep;
	pthread_mutex_init(&v->lock, NULL);
	v->mem.xlate = view_xlate;
	v->mem.xlate_opaque = v;
	v->mem.phys = phys;
}

void viommu_view_destroy(struct viommu_view *v)
{
	pthread_mutex_destroy(&v->lock);
}

size_t viommu_stats(struct viommu *vi, char *buf, size_t len)
{
	size_t at = 0;
	int n;

	pthread_mutex_lock(&vi->lock);
	n = snprintf(buf, len,
		     "virtio-iommu: %u endpoint(s), %u domain(s), %llu request(s), %llu refused\n",
		     vi->nr_eps, vi->nr_domains, (unsigned long long)vi->st_requests,
		     (unsigned long long)vi->st_bad);
	at = n > 0 ? MIN((size_t)n, len) : 0;
	for (struct viommu_domain *d = vi->domains; d && at < len; d = d->next) {
		n = snprintf(
			buf + at, len - at,
			"domain %u: %u endpoint(s)%s, %zu mapping(s), %llu page(s) mapped, %llu map(s), %llu unmap(s), %llu fault(s)\n",
			d->id, d->nr_eps, d->bypass ? " (bypass)" : "", d->nr_maps,
			(unsigned long long)d->pages, (unsigned long long)d->st_maps,
			(unsigned long long)d->st_unmaps, (unsigned long long)d->st_faults);
		at += n > 0 ? MIN((size_t)n, len - at) : 0;
	}
	pthread_mutex_unlock(&vi->lock);
	return at;
}

/* ---- the virtio device ---------------------------------------------------- */

static void viommu_notify(struct virtio_dev *vd, unsigned int qi)
{
	struct viommu *vi = vd->priv;
	struct virtq *q = &vd->vqs[qi];
	struct virtq_chain c = { .bufs = vi->bufs, .cap = ARRAY_SIZE(vi->bufs) };
	bool pushed = false;
	int r;

	if (qi != Q_REQ) {
		post_faults_locked(vi); /* new eventq buffers: faults waiting? */
		return;
	}
	do {
		while ((r = virtq_pop(q, &c)) != 0) {
			uint8_t req[VIOMMU_REQ_MAX], out[VIOMMU_OUT_MAX];
			size_t rl = 0, ol = 0, wrote;

			if (r == -EINVAL) {
				virtio_queue_broken(vd, qi);
				return;
			}
			/* Gather the readable bytes, then size the writable part. */
			for (unsigned int i = 0; i < c.n; i++) {
				if (c.bufs[i].write) {
					ol += c.bufs[i].len;
				} else if (rl < sizeof(req)) {
					size_t n = MIN(c.bufs[i].len, sizeof(req) - rl);

					memcpy(req + rl, c.bufs[i].host, n);
					rl += n;
				}
			}
			wrote = viommu_request(vi, req, rl, out, ol);
			/* Scatter the answer over the writable buffers, in order. */
			for (unsigned int i = 0, off = 0; i < c.n && off < wrote; i++) {
				size_t n;

				if (!c.bufs[i].write)
					continue;
				n = MIN(c.bufs[i].len, wrote - off);
				memcpy(c.bufs[i].host, out + off, n);
				off += (unsigned int)n;
			}
			virtq_push(q, c.head, (uint32_t)wrote);
			pushed = true;
		}
	} while (virtq_enable_notify(q));
	if (pushed)
		virtio_queue_interrupt(vd, qi);
	post_faults_locked(vi);
}

static void viommu_config_read(struct virtio_dev *vd, uint32_t off, void *buf, uint32_t len)
{
	struct viommu *vi = vd->priv;
	struct virtio_iommu_config cfg = {
		.page_size_mask = htole64(vi->pgsize_mask),
		.input_range = { .start = htole64(vi->input_start), .end = htole64(vi->input_end) },
		.domain_range = { .start = 0, .end = htole32(UINT32_MAX) },
		.probe_size = htole32(VIOMMU_PROBE_SIZE),
		.bypass = vi->bypass,
	};

	memcpy(buf, (uint8_t *)&cfg + off, len);
}

static void viommu_config_write(struct virtio_dev *vd, uint32_t off, const void *buf, uint32_t len)
{
	struct viommu *vi = vd->priv;
	uint8_t v;

	if (off != offsetof(struct virtio_iommu_config, bypass) || len != 1 ||
	    !virtio_feature(vd, VIRTIO_IOMMU_F_BYPASS_CONFIG))
		return; /* the rest is read-only */
	v = *(const uint8_t *)buf ? 1 : 0;
	pthread_mutex_lock(&vi->lock);
	if (v != vi->bypass) {
		vi->bypass = v;
		vi->gen++;
		for (unsigned int i = 0; i < vi->nr_eps; i++)
			if (!vi->eps[i].dom)
				backend_sync(vi, &vi->eps[i]);
	}
	pthread_mutex_unlock(&vi->lock);
}

/* Reset: every domain goes, endpoints back to the reset bypass state. */
static void viommu_reset(struct virtio_dev *vd)
{
	struct viommu *vi = vd->priv;

	pthread_mutex_lock(&vi->lock);
	for (unsigned int i = 0; i < vi->nr_eps; i++)
		vi->eps[i].dom = NULL;
	while (vi->domains)
		dom_free(vi, vi->domains);
	vi->bypass = 0;
	vi->gen++;
	vi->nr_pending = 0;
	for (unsigned int i = 0; i < vi->nr_eps; i++)
		backend_sync(vi, &vi->eps[i]);
	pthread_mutex_unlock(&vi->lock);
}

#define VIOMMU_NO_DOMAIN UINT32_MAX

static int viommu_save(struct virtio_dev *vd, struct state_buf *sb)
{
	struct viommu *vi = vd->priv;

	pthread_mutex_lock(&vi->lock);
	state_put_u8(sb, vi->bypass);
	state_put_u32(sb, vi->nr_domains);
	for (struct viommu_domain *d = vi->domains; d; d = d->next) {
		state_put_u32(sb, d->id);
		state_put_u8(sb, d->bypass);
		state_put_u32(sb, (uint32_t)d->nr_maps);
		for (size_t i = 0; i < d->nr_maps; i++) {
			state_put_u64(sb, d->maps[i].start);
			state_put_u64(sb, d->maps[i].end);
			state_put_u64(sb, d->maps[i].gpa);
			state_put_u32(sb, d->maps[i].flags);
		}
	}
	state_put_u32(sb, vi->nr_eps);
	for (unsigned int i = 0; i < vi->nr_eps; i++) {
		state_put_u32(sb, vi->eps[i].id);
		state_put_u32(sb, vi->eps[i].dom ? vi->eps[i].dom->id : VIOMMU_NO_DOMAIN);
	}
	pthread_mutex_unlock(&vi->lock);
	return state_error(sb);
}

/*
 * Everything checked as a MAP would be (sorted, disjoint, in the input
 * range, aligned, RAM) before it replaces the tables; a refusal leaves
 * the device as it was.
 */
static int viommu_load(struct virtio_dev *vd, struct state_buf *sb)
{
	struct viommu *vi = vd->priv;
	struct viommu_domain *doms = NULL, *d;
	uint32_t nd, ne, att[VIOMMU_MAX_EPS];
	uint64_t g = GRANULE_OF(vi->pgsize_mask);
	uint8_t bypass = state_get_u8(sb);
	int err = -EINVAL;

	nd = state_get_u32(sb);
	if (bypass > 1 || nd > VIOMMU_MAX_DOMAINS)
		return -EINVAL;
	for (uint32_t k = 0; k < nd; k++) {
		uint32_t id = state_get_u32(sb), nm;
		uint8_t b = state_get_u8(sb);

		nm = state_get_u32(sb);
		if (state_error(sb) || b > 1 || nm > VIOMMU_MAX_MAPPINGS || (b && nm))
			goto out;
		for (d = doms; d; d = d->next)
			if (d->id == id)
				goto out;
		d = calloc(1, sizeof(*d));
		if (!d || (nm && !(d->maps = calloc(nm, sizeof(*d->maps))))) {
			free(d);
			err = -ENOMEM;
			goto out;
		}
		d->id = id, d->bypass = b, d->cap_maps = nm;
		d->next = doms;
		doms = d;
		for (uint32_t i = 0; i < nm; i++) {
			struct viommu_mapping *m = &d->maps[i];

			m->start = state_get_u64(sb), m->end = state_get_u64(sb);
			m->gpa = state_get_u64(sb), m->flags = state_get_u32(sb);
			if (state_error(sb) || !range_ok(vi, m->start, m->end) ||
			    ((m->start | m->gpa | (m->end + 1)) & (g - 1)) ||
			    m->end - m->start == UINT64_MAX ||
			    m->gpa + (m->end - m->start) < m->gpa ||
			    !ram_covers(vi->mem, m->gpa, m->end - m->start + 1) ||
			    (m->flags &
			     ~(uint32_t)(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)) ||
			    (i && d->maps[i - 1].end >= m->start))
				goto out;
			d->nr_maps++;
			d->pages += (m->end - m->start + 1) >> 12;
		}
	}
	ne = state_get_u32(sb);
	if (state_error(sb) || ne != vi->nr_eps)
		goto out;
	for (uint32_t i = 0; i < ne; i++) {
		if (state_get_u32(sb) != vi->eps[i].id)
			goto out; /* another machine's endpoints */
		att[i] = state_get_u32(sb);
		if (att[i] == VIOMMU_NO_DOMAIN)
			continue;
		for (d = doms; d && d->id != att[i]; d = d->next)
			;
		if (!d)
			goto out;
	}
	if (state_error(sb))
		goto out;
	/* Commit. */
	pthread_mutex_lock(&vi->lock);
	for (unsigned int i = 0; i < vi->nr_eps; i++)
		vi->eps[i].dom = NULL;
	while (vi->domains)
		dom_free(vi, vi->domains);
	vi->domains = doms;
	vi->nr_domains = nd;
	doms = NULL;
	vi->bypass = bypass;
	vi->gen++;
	for (unsigned int i = 0; i < vi->nr_eps; i++) {
		if (att[i] == VIOMMU_NO_DOMAIN)
			continue;
		for (d = vi->domains; d->id != att[i]; d = d->next)
			;
		vi->eps[i].dom = d;
		d->nr_eps++;
	}
	err = 0;
	for (unsigned int i = 0; i < vi->nr_eps && !err; i++)
		err = backend_sync(vi, &vi->eps[i]);
	pthread_mutex_unlock(&vi->lock);
out:
	while (doms) {
		d = doms->next;
		free(doms->maps);
		free(doms);
		doms = d;
	}
	return err;
}

static void viommu_destroy(struct virtio_dev *vd)
{
	struct viommu *vi = vd->priv;

	while (vi->domains)
		dom_free(vi, vi->domains);
	pthread_mutex_destroy(&vi->lock);
	free(vi);
}

static const struct virtio_dev_ops virtio_iommu_ops = {
	.device_id = VIRTIO_ID_IOMMU,
	.pci_class = 0x0806, /* system peripheral: IOMMU */
	.config_read = viommu_config_read,
	.config_write = viommu_config_write,
	.queue_notify = viommu_notify,
	.reset = viommu_reset,
	.save = viommu_save,
	.load = viommu_load,
	.destroy = viommu_destroy,
};

struct viommu *viommu_new(const struct guest_mem *mem, uint64_t pgsize_mask, uint64_t input_start,
			  uint64_t input_end)
{
	struct viommu *vi = calloc(1, sizeof(*vi));
	uint64_t features = 1ULL << VIRTIO_IOMMU_F_INPUT_RANGE |
			    1ULL << VIRTIO_IOMMU_F_DOMAIN_RANGE | 1ULL << VIRTIO_IOMMU_F_MAP_UNMAP |
			    1ULL << VIRTIO_IOMMU_F_PROBE | 1ULL << VIRTIO_IOMMU_F_BYPASS_CONFIG;

	if (!vi)
		return NULL;
	pthread_mutex_init(&vi->lock, NULL);
	vi->mem = mem;
	vi->pgsize_mask = pgsize_mask;
	vi->input_start = input_start;
	vi->input_end = input_end;
	virtio_dev_init(&vi->vd, &virtio_iommu_ops, "virtio-iommu", 2, VIOMMU_QUEUE_SIZE, features,
			sizeof(struct virtio_iommu_config), mem, vi);
	return vi;
}

int viommu_add_endpoint(struct viommu *vi, uint32_t id, const struct viommu_backend_ops *ops,
			void *key)
{
	if (vi->nr_eps == VIOMMU_MAX_EPS || ep_find(vi, id))
		return -EINVAL;
	vi->eps[vi->nr_eps++] = (struct viommu_ep){ .id = id, .ops = ops, .key = key };
	return 0;
}

int viommu_add_resv(struct viommu *vi, uint64_t start, uint64_t end, uint8_t subtype)
{
	if (vi->nr_resv == VIOMMU_MAX_RESV || start > end)
		return -EINVAL;
	vi->resv[vi->nr_resv++] =
		(struct viommu_resv){ .start = start, .end = end, .subtype = subtype };
	return 0;
}

void viommu_restrict(struct viommu *vi, uint64_t pgsize_mask, uint64_t input_end)
{
	if (vi->pgsize_mask & pgsize_mask)
		vi->pgsize_mask &= pgsize_mask;
	if (input_end < vi->input_end)
		vi->input_end = input_end;
}
