// SPDX-License-Identifier: MIT
/*
 * The virtio-iommu's request parser and tables without KVM, against fake
 * back-ends that keep what is mapped in them: a table of hostile and
 * honest requests with the status each must get (virtio 1.2 §5.13.6), the
 * back-ends' contents after every step (a domain's mappings replayed into
 * a second endpoint's IOVA space, unmapped on detach), a host mapping
 * limit answered NOMEM with nothing recorded, PROBE's properties, bypass,
 * and translation with permissions.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_iommu.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "virtio_iommu.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (4u << 20)

static uint8_t *ram;
static struct guest_mem gm;

/* A fake IOVA space: up to 64 mappings, and a limit to hit. */
struct space {
	struct {
		uint64_t iova, size;
		void *host;
		bool write;
	} m[64];
	unsigned int n, limit, maps, unmaps;
};

static int fake_map(void *key, uint64_t iova, uint64_t size, void *host, bool write)
{
	struct space *s = key;

	if (s->n == s->limit)
		return -ENOSPC;
	for (unsigned int i = 0; i < s->n; i++)
		if (iova < s->m[i].iova + s->m[i].size && s->m[i].iova < iova + size)
			return -EEXIST;
	s->m[s->n].iova = iova, s->m[s->n].size = size, s->m[s->n].host = host;
	s->m[s->n++].write = write;
	s->maps++;
	return 0;
}

static int fake_unmap(void *key, uint64_t iova, uint64_t size)
{
	struct space *s = key;

	s->unmaps++;
	for (unsigned int i = 0; i < s->n;) {
		if (size == UINT64_MAX || (s->m[i].iova >= iova && s->m[i].iova - iova < size))
			s->m[i] = s->m[--s->n];
		else
			i++;
	}
	return 0;
}

static const struct viommu_backend_ops fake_ops = { .map = fake_map, .unmap = fake_unmap };

static uint8_t out[VIOMMU_OUT_MAX];

static int req(struct viommu *vi, const void *r, size_t len, size_t room)
{
	size_t n = viommu_request(vi, r, len, out, room);

	return n ? out[n - 4] : -1;
}

static int attach(struct viommu *vi, uint32_t dom, uint32_t ep, uint32_t flags)
{
	struct virtio_iommu_req_attach r = { .head.type = VIRTIO_IOMMU_T_ATTACH,
					     .domain = htole32(dom),
					     .endpoint = htole32(ep),
					     .flags = htole32(flags) };

	return req(vi, &r, sizeof(r) - sizeof(r.tail), 4);
}

static int detach(struct viommu *vi, uint32_t dom, uint32_t ep)
{
	struct virtio_iommu_req_detach r = { .head.type = VIRTIO_IOMMU_T_DETACH,
					     .domain = htole32(dom),
					     .endpoint = htole32(ep) };

	return req(vi, &r, sizeof(r) - sizeof(r.tail), 4);
}

static int map(struct viommu *vi, uint32_t dom, uint64_t start, uint64_t end, uint64_t gpa,
	       uint32_t flags)
{
	struct virtio_iommu_req_map r = { .head.type = VIRTIO_IOMMU_T_MAP,
					  .domain = htole32(dom),
					  .virt_start = htole64(start),
					  .virt_end = htole64(end),
					  .phys_start = htole64(gpa),
					  .flags = htole32(flags) };

	return req(vi, &r, sizeof(r) - sizeof(r.tail), 4);
}

static int unmap(struct viommu *vi, uint32_t dom, uint64_t start, uint64_t end)
{
	struct virtio_iommu_req_unmap r = { .head.type = VIRTIO_IOMMU_T_UNMAP,
					    .domain = htole32(dom),
					    .virt_start = htole64(start),
					    .virt_end = htole64(end) };

	return req(vi, &r, sizeof(r) - sizeof(r.tail), 4);
}

#define RW (VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define OK VIRTIO_IOMMU_S_OK

static struct viommu *fresh(struct space *a, struct space *b)
{
	struct viommu *vi = viommu_new(&gm, ~0xfffULL, 0, (1ULL << 48) - 1);

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->limit = b->limit = 64;
	viommu_add_endpoint(vi, 8, &fake_ops, a);     /* 00:01.0 */
	viommu_add_endpoint(vi, 16, &fake_ops, b);    /* 00:02.0 */
	viommu_add_endpoint(vi, 0x10000, NULL, NULL); /* emulated, translated */
	vi->vd.driver_features = vi->vd.host_features;
	return vi;
}

static void test_config(void)
{
	struct space a, b;
	struct viommu *vi = fresh(&a, &b);
	struct virtio_iommu_config cfg;

	viommu_restrict(vi, 0x40201000, (1ULL << 40) - 1);
	virtio_config_access(&vi->vd, 0, (uint8_t *)&cfg, sizeof(cfg), false);
	is_int(le64toh(cfg.page_size_mask), 0x40201000, "page_size_mask narrowed to the host's");
	ok(le64toh(cfg.input_range.end) == (1ULL << 40) - 1, "input range narrowed to the host's");
	is_int(le32toh(cfg.probe_size), VIOMMU_PROBE_SIZE, "probe_size");
	is_int(cfg.bypass, 0, "bypass off after reset (unattached endpoints blocked)");
	ok(vi->vd.host_features & (1ULL << VIRTIO_IOMMU_F_MAP_UNMAP) &&
		   vi->vd.host_features & (1ULL << VIRTIO_IOMMU_F_PROBE) &&
		   vi->vd.host_features & (1ULL << VIRTIO_IOMMU_F_BYPASS_CONFIG) &&
		   !(vi->vd.host_features & (1ULL << VIRTIO_IOMMU_F_MMIO)),
	   "features");
	viommu_restrict(vi, 0x1000 /* disjoint from nothing */, UINT64_MAX);
	virtio_config_access(&vi->vd, 0, (uint8_t *)&cfg, sizeof(cfg), false);
	is_int(le64toh(cfg.page_size_mask), 0x1000, "a second restriction intersects");
	virtio_dev_destroy(&vi->vd);
}

static void test_table(void)
{
	struct space a, b;
	struct viommu *vi = fresh(&a, &b);
	static const struct {
		uint8_t type;
		size_t len;
		int want;
		const char *what;
	} raw[] = {
		{ 0, 0, VIRTIO_IOMMU_S_UNSUPP, "empty request: UNSUPP" },
		{ 9, 32, VIRTIO_IOMMU_S_UNSUPP, "unknown type: UNSUPP" },
		{ VIRTIO_IOMMU_T_MAP, 8, VIRTIO_IOMMU_S_INVAL, "MAP cut short: INVAL" },
		{ VIRTIO_IOMMU_T_ATTACH, 19, VIRTIO_IOMMU_S_INVAL, "ATTACH one byte short: INVAL" },
		{ VIRTIO_IOMMU_T_PROBE, 71, VIRTIO_IOMMU_S_INVAL, "PROBE one byte short: INVAL" },
	};
	uint8_t junk[128] = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(raw); i++) {
		junk[0] = raw[i].type;
		is_int(req(vi, junk, raw[i].len, 4), raw[i].want, "%s", raw[i].what);
	}
	is_int((int)viommu_request(vi, junk, 20, out, 3), 0,
	       "no room for the tail: nothing written");

	is_int(attach(vi, 1, 99, 0), VIRTIO_IOMMU_S_NOENT, "ATTACH of an unknown endpoint: NOENT");
	is_int(attach(vi, 1, 8, 2), VIRTIO_IOMMU_S_INVAL, "ATTACH with an unknown flag: INVAL");
	is_int(map(vi, 1, 0, 0xfff, RAM, RW), VIRTIO_IOMMU_S_NOENT,
	       "MAP in a domain that does not exist: NOENT");
	is_int(attach(vi, 1, 8, 0), OK, "ATTACH endpoint 8 to domain 1");
	is_int(attach(vi, 1, 8, 0), OK, "ATTACH again: OK, nothing changes");
	is_int(map(vi, 1, 0x10000, 0x10fff, RAM + 0x3000, RW), OK, "MAP 4 KiB");
	ok(a.n == 1 && a.m[0].iova == 0x10000 && a.m[0].size == 0x1000 &&
		   a.m[0].host == ram + 0x3000 && a.m[0].write,
	   "the back-end got IOVA 0x10000 -> the host address of GPA RAM+0x3000, writable");
	is_int(map(vi, 1, 0x10800, 0x117ff, RAM, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP not aligned to the granule: INVAL");
	is_int(map(vi, 1, 0x10000, 0x10fff, RAM, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP over a mapping: INVAL");
	is_int(map(vi, 1, 0xf000, 0x10fff, RAM, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP overlapping its start: INVAL");
	is_int(map(vi, 1, 0x20000, 0x1ffff, RAM, RW), VIRTIO_IOMMU_S_RANGE,
	       "MAP with end before start: RANGE");
	is_int(map(vi, 1, 1ULL << 48, (1ULL << 48) + 0xfff, RAM, RW), VIRTIO_IOMMU_S_RANGE,
	       "MAP outside the input range: RANGE");
	is_int(map(vi, 1, 0x20000, 0x20fff, 0x1000, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP of memory that is not RAM: INVAL");
	is_int(map(vi, 1, 0x20000, 0x21fff, RAM + RAM_SIZE - 0x1000, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP running off the end of RAM: INVAL");
	is_int(map(vi, 1, 0x20000, 0x20fff, UINT64_MAX & ~0xfffULL, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP whose physical end wraps: INVAL");
	is_int(map(vi, 1, 0x20000, 0x20fff, RAM, 8), VIRTIO_IOMMU_S_INVAL,
	       "MAP with an unknown flag: INVAL");
	is_int(map(vi, 1, 0x20000, 0x20fff, RAM, VIRTIO_IOMMU_MAP_F_MMIO), VIRTIO_IOMMU_S_UNSUPP,
	       "MAP_F_MMIO (not offered): UNSUPP");
	is_int(a.n, 1, "refused MAPs reached no back-end");
	is_int(map(vi, 1, 0x20000, 0x21fff, RAM + 0x10000, VIRTIO_IOMMU_MAP_F_READ), OK,
	       "MAP 8 KiB read-only");
	is_int(map(vi, 1, 0x30000, 0x30fff, RAM + 0x20000, RW), OK, "MAP a third");

	/* Endpoint 16 joins: the domain's mappings are replayed into its space. */
	is_int(attach(vi, 1, 16, 0), OK, "ATTACH a second endpoint to domain 1");
	ok(b.n == 3, "its IOVA space got the domain's 3 mappings (%u)", b.n);

	is_int(unmap(vi, 1, 0x20000, 0x20fff), VIRTIO_IOMMU_S_RANGE,
	       "UNMAP cutting a mapping in two: RANGE");
	ok(a.n == 3 && b.n == 3, "... and nothing was removed");
	is_int(unmap(vi, 1, 0x40000, 0x4ffff), OK, "UNMAP where nothing is mapped: OK");
	is_int(unmap(vi, 1, 0x20000, 0x30fff), OK, "UNMAP covering two mappings whole");
	ok(a.n == 1 && b.n == 1, "both removed from both IOVA spaces");
	is_int(unmap(vi, 7, 0, 0xfff), VIRTIO_IOMMU_S_NOENT, "UNMAP in an unknown domain: NOENT");

	is_int(detach(vi, 2, 8), VIRTIO_IOMMU_S_INVAL, "DETACH from a domain it is not in: INVAL");
	is_int(detach(vi, 1, 77), VIRTIO_IOMMU_S_NOENT, "DETACH of an unknown endpoint: NOENT");
	is_int(detach(vi, 1, 8), OK, "DETACH endpoint 8");
	is_int(a.n, 0, "its IOVA space is empty (blocked)");
	is_int(b.n, 1, "the other endpoint keeps the domain's mapping");
	is_int(attach(vi, 2, 16, 0), OK,
	       "ATTACH endpoint 16 to domain 2: leaves domain 1, the last");
	is_int(b.n, 0, "domain 2 is empty: so is the IOVA space");
	is_int(map(vi, 1, 0x10000, 0x10fff, RAM, RW), VIRTIO_IOMMU_S_NOENT,
	       "domain 1 went with its last endpoint");
	virtio_dev_destroy(&vi->vd);
}

static void test_limits(void)
{
	struct space a, b;
	struct viommu *vi = fresh(&a, &b);
	int ret = OK;
	unsigned int n = 0;

	a.limit = 5;
	attach(vi, 3, 8, 0);
	while (ret == OK && n < 100)
		ret = map(vi, 3, 0x100000 + 0x1000ULL * n, 0x100fff + 0x1000ULL * n, RAM, RW), n++;
	is_int(ret, VIRTIO_IOMMU_S_NOMEM, "the host's mapping limit is NOMEM to the guest");
	is_int(n, 6, "after the 5 that fit");
	is_int(unmap(vi, 3, 0x105000, 0x105fff), OK, "the refused one was not recorded");
	is_int(vi->domains->nr_maps, 5, "5 mappings in the table");
	/* Every endpoint of one back-end shares its domain. */
	viommu_add_endpoint(vi, 24, &fake_ops, &a);
	is_int(attach(vi, 4, 24, 0), VIRTIO_IOMMU_S_INVAL,
	       "a second function of the same IOVA space in another domain: INVAL");
	is_int(attach(vi, 3, 24, 0), OK, "... in the same domain: OK");
	is_int(a.n, 5, "... and its space was not mapped twice");
	virtio_dev_destroy(&vi->vd);

	/* Domains are bounded. */
	vi = fresh(&a, &b);
	for (n = 0, ret = OK; ret == OK && n < 1000; n++)
		ret = attach(vi, n, 0x10000, 0);
	is_int(ret, OK, "an endpoint moving through 1000 domains: each freed as it leaves");
	virtio_dev_destroy(&vi->vd);
}

static void test_probe_bypass_translate(void)
{
	struct space a, b;
	struct viommu *vi = fresh(&a, &b);
	struct virtio_iommu_req_probe p = { .head.type = VIRTIO_IOMMU_T_PROBE,
					    .endpoint = htole32(8) };
	struct virtio_iommu_probe_resv_mem prop;
	uint64_t gpa = 0;

	viommu_add_resv(vi, 0x3ffc0000, 0x3ffcffff, VIRTIO_IOMMU_RESV_MEM_T_MSI);
	is_int((int)viommu_request(vi, (uint8_t *)&p, sizeof(p), out, VIOMMU_OUT_MAX),
	       VIOMMU_OUT_MAX, "PROBE answers probe_size bytes and the tail");
	is_int(out[VIOMMU_PROBE_SIZE], OK, "PROBE status OK, after the properties");
	memcpy(&prop, out, sizeof(prop));
	ok(le16toh(prop.head.type) == VIRTIO_IOMMU_PROBE_T_RESV_MEM &&
		   prop.subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI &&
		   le64toh(prop.start) == 0x3ffc0000 && le64toh(prop.end) == 0x3ffcffff &&
		   le16toh(prop.head.length) == sizeof(prop) - 4,
	   "the ITS doorbell as a RESV_MEM MSI region");
	ok(!out[sizeof(prop)] && !out[sizeof(prop) + 1], "then NONE");
	is_int(req(vi, &p, sizeof(p), 100), VIRTIO_IOMMU_S_INVAL,
	       "PROBE with too little room: INVAL");
	p.endpoint = htole32(5);
	is_int(req(vi, &p, sizeof(p), VIOMMU_OUT_MAX), VIRTIO_IOMMU_S_NOENT,
	       "PROBE of an unknown endpoint: NOENT");

	/* Bypass: unattached endpoints see RAM at IOVA = GPA. */
	virtio_config_access(&vi->vd, offsetof(struct virtio_iommu_config, bypass),
			     (uint8_t[]){ 1 }, 1, true);
	ok(a.n == 1 && a.m[0].iova == RAM && a.m[0].size == RAM_SIZE,
	   "bypass on: an unattached endpoint's space maps RAM at its GPA");
	is_int(viommu_translate(vi, 0x10000, RAM + 8, 16, true, &gpa), 0,
	       "translation in bypass: identity");
	ok(gpa == RAM + 8, "identity address");
	is_int(attach(vi, 5, 8, VIRTIO_IOMMU_ATTACH_F_BYPASS), OK, "ATTACH to a bypass domain");
	is_int(map(vi, 5, 0, 0xfff, RAM, RW), VIRTIO_IOMMU_S_INVAL,
	       "MAP in a bypass domain: INVAL");
	is_int(attach(vi, 5, 16, 0), VIRTIO_IOMMU_S_INVAL,
	       "joining a bypass domain without the flag: INVAL");
	virtio_config_access(&vi->vd, offsetof(struct virtio_iommu_config, bypass),
			     (uint8_t[]){ 0 }, 1, true);
	is_int(b.n, 0, "bypass off: an unattached endpoint is blocked again");

	/* Translation for an emulated endpoint. */
	is_int(attach(vi, 6, 0x10000, 0), OK, "ATTACH the emulated endpoint");
	is_int(map(vi, 6, 0x4000, 0x5fff, RAM + 0x8000, VIRTIO_IOMMU_MAP_F_READ), OK,
	       "MAP it 8 KiB read-only");
	is_int(viommu_translate(vi, 0x10000, 0x4ff0, 0x20, false, &gpa), 0,
	       "a read inside the mapping translates");
	ok(gpa == RAM + 0x8ff0, "to its GPA");
	is_int(viommu_translate(vi, 0x10000, 0x4ff0, 0x20, true, &gpa), -EFAULT,
	       "a write to a read-only mapping faults");
	is_int(viommu_translate(vi, 0x10000, 0x5ff0, 0x20, false, &gpa), -EFAULT,
	       "a read running off the mapping faults");
	is_int(viommu_translate(vi, 0x10000, UINT64_MAX - 4, 16, false, &gpa), -EFAULT,
	       "a wrapping range faults");
	is_int(viommu_translate(vi, 0x4242, 0x4000, 1, false, &gpa), -ENOENT,
	       "an unknown endpoint");
	is_int((int)vi->domains->st_faults, 3, "three faults counted on the domain");
	{
		char buf[512];

		viommu_stats(vi, buf, sizeof(buf));
		like(buf,
		     "domain 6: 1 endpoint(s), 1 mapping(s), 2 page(s) mapped, 1 map(s), 0 unmap(s), 3 fault(s)",
		     "stats line");
	}
	virtio_dev_destroy(&vi->vd);
}

/*
 * A queue whose rings the driver put in IOVA-contiguous pages that are not
 * physically contiguous (Linux's dma_alloc_coherent behind an IOMMU): the
 * used ring crosses from one page to another that lies elsewhere in RAM.
 */
static void test_paged_ring(void)
{
	struct space a, b;
	struct viommu *vi = fresh(&a, &b);
	struct viommu_view view;
	struct virtq q;
	struct virtq_buf bufs[4];
	struct virtq_chain c = { .bufs = bufs, .cap = 4 };
	uint8_t *desc = ram + 0x20000, *avail = ram + 0x40000;
	uint64_t d0[2] = { 0x30000, 64 | (uint64_t)VRING_DESC_F_WRITE << 32 };
	uint32_t id, len;

	memset(ram + 0x10000, 0, 0x50000);
	viommu_view_init(&view, vi, 0x10000, &gm);
	attach(vi, 9, 0x10000, 0);
	is_int(map(vi, 9, 0x10000, 0x10fff, RAM + 0x20000, RW), OK, "desc page");
	is_int(map(vi, 9, 0x11000, 0x11fff, RAM + 0x40000, RW), OK,
	       "avail and the first half of used");
	is_int(map(vi, 9, 0x12000, 0x12fff, RAM + 0x10000, RW), OK,
	       "the rest of used, elsewhere in RAM");
	is_int(map(vi, 9, 0x30000, 0x30fff, RAM + 0x50000, RW), OK, "a buffer");
	memcpy(desc, d0, sizeof(d0));
	avail[2] = 1; /* idx 1, ring[0] = descriptor 0 */
	virtq_reset(&q);
	q.size = 256, q.desc_gpa = 0x10000, q.avail_gpa = 0x11000, q.used_gpa = 0x11c00;
	is_int(virtq_enable(&q, &view.mem), 0, "the queue enables through the IOMMU");
	ok(q.paged, "page by page");
	is_int(virtq_pop(&q, &c), 1, "a chain pops");
	ok(c.n == 1 && c.bufs[0].host == ram + 0x50000 && c.bufs[0].len == 64 && c.bufs[0].write,
	   "its buffer is the host address of the buffer's GPA");
	q.used_idx = 127; /* element 127 straddles the two used pages */
	virtq_push(&q, c.head, 64);
	memcpy(&id, ram + 0x40000 + 0xc00 + 4 + 8 * 127, 4);
	memcpy(&len, ram + 0x10000, 4);
	ok(id == 0 && len == 64, "a used element across the page boundary lands in both pages");
	ok(ram[0x40c02] == 128, "the used index lands in the first page");
	/* Unmapped: the queue refuses at enable, with a fault. */
	is_int(unmap(vi, 9, 0x12000, 0x12fff), OK, "UNMAP the second used page");
	is_int(virtq_enable(&q, &view.mem), -EINVAL,
	       "the queue does not enable with part of a ring unmapped");
	is_int((int)vi->domains->st_faults, 1, "a fault for it");
	viommu_view_destroy(&view);
	virtio_dev_destroy(&vi->vd);
}

/* A saved state: one domain (id 4) with one mapping, endpoint 8 in it. */
static void put_state(struct state_buf *sb, uint8_t bypass, uint64_t start, uint64_t end,
		      uint64_t gpa, uint32_t ep0, uint32_t att0)
{
	state_writer_init(sb);
	state_put_u8(sb, bypass);
	state_put_u32(sb, 1);						 /* domains */
	state_put_u32(sb, 4), state_put_u8(sb, 0), state_put_u32(sb, 2); /* id, bypass, maps */
	state_put_u64(sb, 0x10000), state_put_u64(sb, 0x10fff), state_put_u64(sb, RAM);
	state_put_u32(sb, RW);
	state_put_u64(sb, start), state_put_u64(sb, end), state_put_u64(sb, gpa);
	state_put_u32(sb, RW);
	state_put_u32(sb, 3); /* endpoints, in order */
	state_put_u32(sb, ep0), state_put_u32(sb, att0);
	state_put_u32(sb, 16), state_put_u32(sb, UINT32_MAX);
	state_put_u32(sb, 0x10000), state_put_u32(sb, 4);
}

/* Saved state is hostile too: every table is checked as MAPs are. */
static void test_state(void)
{
	static const struct {
		uint8_t bypass;
		uint64_t start, end, gpa;
		uint32_t ep0, att0;
		const char *what;
	} bad[] = {
		{ 2, 0x20000, 0x20fff, RAM, 8, 4, "bypass neither 0 nor 1" },
		{ 0, 0x10800, 0x117ff, RAM, 8, 4, "a mapping overlapping the one before" },
		{ 0, 0x20800, 0x217ff, RAM, 8, 4, "a mapping off the granule" },
		{ 0, 0x20000, 0x20fff, 0x1000, 8, 4, "a mapping of memory that is not RAM" },
		{ 0, 0x20000, 0x1ffff, RAM, 8, 4, "a mapping that ends before it starts" },
		{ 0, 1ULL << 48, (1ULL << 48) + 0xfff, RAM, 8, 4,
		  "a mapping outside the input range" },
		{ 0, 0x20000, 0x20fff, RAM, 9, 4, "another machine's endpoint" },
		{ 0, 0x20000, 0x20fff, RAM, 8, 5, "an endpoint in a domain that is not there" },
	};
	struct space a, b;
	struct viommu *vi = fresh(&a, &b);
	struct state_buf sb, rd;
	uint64_t gpa = 0;

	put_state(&sb, 0, 0x20000, 0x20fff, RAM + 0x5000, 8, 4);
	state_reader_init(&rd, sb.data, sb.len);
	is_int(vi->vd.ops->load(&vi->vd, &rd), 0, "a saved state loads");
	state_free(&sb);
	is_int(viommu_translate(vi, 0x10000, 0x20010, 4, true, &gpa), 0, "its mapping translates");
	ok(gpa == RAM + 0x5010, "to its GPA");
	ok(a.n == 2, "endpoint 8's IOVA space got both mappings (%u)", a.n);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		put_state(&sb, bad[i].bypass, bad[i].start, bad[i].end, bad[i].gpa, bad[i].ep0,
			  bad[i].att0);
		state_reader_init(&rd, sb.data, sb.len);
		is_int(vi->vd.ops->load(&vi->vd, &rd), -EINVAL, "refused: %s", bad[i].what);
		state_free(&sb);
		ok(!viommu_translate(vi, 0x10000, 0x20010, 4, true, &gpa) && gpa == RAM + 0x5010,
		   "... and the loaded tables stay as they were");
	}
	state_writer_init(&sb);
	is_int(vi->vd.ops->save(&vi->vd, &sb), 0, "the tables save");
	state_reader_init(&rd, sb.data, sb.len);
	is_int(vi->vd.ops->load(&vi->vd, &rd), 0, "and load back");
	ok(rd.pos == rd.len, "every byte read");
	state_free(&sb);
	virtio_dev_destroy(&vi->vd);
}

int main(void)
{
	ram = calloc(1, RAM_SIZE);
	guest_mem_add(&gm, RAM, RAM_SIZE, ram);
	test_config();
	test_table();
	test_limits();
	test_probe_bypass_translate();
	test_paged_ring();
	test_state();
	free(ram);
	return tap_done();
}
