// SPDX-License-Identifier: MIT
#include "virtqueue.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* Little-endian guest (virtio 1.x rings are little-endian, §2.7). */
static inline uint16_t ring_load(volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void ring_store(volatile uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int virtq_break(struct virtq *q, const char *why)
{
	q->broken = true;
	q->why = why;
	return -EINVAL;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

/* Host address of byte off of ring r (0 desc, 1 avail, 2 used). */
static inline volatile void *ring_ptr(const struct virtq *q, unsigned int r, uint64_t off)
{
	uint64_t base, a;

	if (!q->paged) {
		volatile uint8_t *flat = r == 0	  ? (volatile uint8_t *)q->desc
					 : r == 1 ? (volatile uint8_t *)q->avail
						  : (volatile uint8_t *)q->used;

		return flat + off;
	}
	base = r == 0 ? q->desc_gpa : r == 1 ? q->avail_gpa : q->used_gpa;
	a = base + off;
	return (volatile void *)(q->pg[r][(a >> 12) - (base >> 12)] + (a & 0xfff));
}

#define AVAIL(q, i) ((volatile uint16_t *)ring_ptr(q, 1, 2 * (uint64_t)(i)))
#define USED16(q, i) ((volatile uint16_t *)ring_ptr(q, 2, 2 * (uint64_t)(i)))

/*
 * A ring that is not contiguous in host memory: look up each 4 KiB page
 * (every IOMMU mapping is whole pages, so each page is contiguous).
 */
static int ring_pages(struct virtq *q, const struct guest_mem *mem, unsigned int r, uint64_t base,
		      uint64_t len, bool write)
{
	uint64_t first = base >> 12, last;

	if (base + len - 1 < base)
		return -EFAULT;
	last = (base + len - 1) >> 12;
	if (last - first >= VIRTQ_RING_PAGES)
		return -E2BIG;
	for (uint64_t k = 0; k <= last - first; k++) {
		uint64_t lo = MAX(base, (first + k) << 12),
			 hi = MIN(base + len, (first + k + 1) << 12);
		uint8_t *p = guest_mem_ptr_dir(mem, lo, hi - lo, write);

		if (!p)
			return -EFAULT;
		q->pg[r][k] = (uintptr_t)p - (lo & 0xfff);
	}
	return 0;
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem)
{
	uint64_t n = q->size;

	q->ready = false;
	q->broken = false;
	q->why = NULL;
	if (!n || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return virtq_break(q, "queue size is not a power of two up to 32768");
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return virtq_break(q, "ring misaligned");
	q->paged = false;
	q->desc = NULL, q->avail = NULL, q->used = NULL;
	if (mem->xlate) {
		/* Through an IOMMU: page by page (small rings), so a ring in
		 * pages that are not physically contiguous works. */
		int e = ring_pages(q, mem, 0, q->desc_gpa, 16 * n, false);

		if (!e)
			e = ring_pages(q, mem, 1, q->avail_gpa, 6 + 2 * n, false);
		if (!e)
			e = ring_pages(q, mem, 2, q->used_gpa, 6 + 8 * n, true);
		if (e == -EFAULT)
			return virtq_break(q, "ring outside the memory the IOMMU maps for it");
		q->paged = !e;
	}
	if (!q->paged) {
		q->desc = guest_mem_ptr(mem, q->desc_gpa, 16 * n);
		q->avail = guest_mem_ptr(mem, q->avail_gpa, 6 + 2 * n);
		q->used = guest_mem_ptr_dir(mem, q->used_gpa, 6 + 8 * n, true);
		if (!q->desc || !q->avail || !q->used)
			return virtq_break(q, "ring outside guest RAM");
	}
	q->mem = mem;
	q->last_avail = q->used_idx = 0;
	q->signalled_valid = false;
	q->ready = true;
	return 0;
}

bool virtq_has_avail(struct virtq *q)
{
	return q->ready && !q->broken && ring_load(AVAIL(q, 1)) != q->last_avail;
}

/* Copy descriptor i of table (n entries) out of guest memory, once. */
static int desc_read(volatile struct vring_desc *table, uint32_t n, uint32_t i,
		     struct vring_desc *d)
{
	if (i >= n)
		return -1;
	d->addr = table[i].addr;
	d->len = table[i].len;
	d->flags = table[i].flags;
	d->next = table[i].next;
	return 0;
}

/* The same for the queue's own table (which may be paged). */
static int qdesc_read(const struct virtq *q, uint32_t i, struct vring_desc *d)
{
	if (i >= q->size)
		return -1;
	return desc_read(ring_ptr(q, 0, 16 * (uint64_t)i), 1, 0, d);
}

static int chain_add(struct virtq *q, struct virtq_chain *c, const struct vring_desc *d,
		     bool *seen_write)
{
	bool write = d->flags & VRING_DESC_F_WRITE;
	void *host;

	if (!write && *seen_write)
		return virtq_break(q, "device-readable buffer after a writable one");
	*seen_write |= write;
	/* A zero-length buffer is legal and carries nothing. */
	host = guest_mem_ptr_dir(q->mem, d->addr, d->len, write);
	if (!host)
		return virtq_break(q, "buffer outside guest RAM");
	if (write)
		c->in_len += d->len;
	else
		c->out_len += d->len;
	if (c->n == c->cap)
		return -E2BIG;
	c->bufs[c->n++] = (struct virtq_buf){ host, d->len, write };
	return 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail_idx, head;
	struct vring_desc d;
	uint32_t i, budget;
	bool seen_write = false, too_long = false;
	int err;

	c->n = 0;
	c->out_len = c->in_len = 0;
	if (!q->ready || q->broken)
		return q->broken ? -EINVAL : 0;
	avail_idx = ring_load(AVAIL(q, 1));
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return virtq_break(q, "avail index moved past the queue size");
	head = *AVAIL(q, 2 + q->last_avail % q->size);
	if (head >= q->size)
		return virtq_break(q, "head descriptor index out of range");
	q->last_avail++;
	c->head = head;

	/* At most `size` descriptors in all, direct and indirect (§2.7.5). */
	budget = q->size;
	i = head;
	for (;;) {
		if (!budget--)
			return virtq_break(q, "descriptor chain longer than the queue (a cycle?)");
		if (qdesc_read(q, i, &d))
			return virtq_break(q, "next descriptor index out of range");
		if (d.flags & VRING_DESC_F_INDIRECT) {
			volatile struct vring_desc *table;
			uint32_t n, j;

			if (!q->indirect)
				return virtq_break(q, "indirect descriptor without the feature");
			if (d.flags & VRING_DESC_F_NEXT)
				return virtq_break(q, "indirect descriptor with NEXT");
			if (!d.len || d.len % 16 || d.len / 16 > q->size)
				return virtq_break(q, "bad indirect table length");
			n = d.len / 16;
			table = guest_mem_ptr(q->mem, d.addr, d.len);
			if (!table || d.addr % 16)
				return virtq_break(
					q, "indirect table outside guest RAM or misaligned");
			for (j = 0;;) {
				struct vring_desc id;

				if (!budget--)
					return virtq_break(
						q,
						"indirect chain longer than the queue (a cycle?)");
				if (desc_read(table, n, j, &id))
					return virtq_break(q, "indirect next index out of range");
				if (id.flags & VRING_DESC_F_INDIRECT)
					return virtq_break(
						q, "indirect table inside an indirect table");
				err = chain_add(q, c, &id, &seen_write);
				if (err == -E2BIG)
					too_long = true;
				else if (err)
					return err;
				if (!(id.flags & VRING_DESC_F_NEXT))
					break;
				j = id.next;
				if (j >= n)
					return virtq_break(q, "indirect next index out of range");
			}
			break; /* an indirect descriptor ends the chain */
		}
		err = chain_add(q, c, &d, &seen_write);
		if (err == -E2BIG)
			too_long = true;
		else if (err)
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= q->size)
			return virtq_break(q, "next descriptor index out of range");
	}
	return too_long ? -E2BIG : 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint64_t at;

	if (!q->ready || q->broken)
		return;
	at = 4 + 8 * (uint64_t)(q->used_idx % q->size); /* id, then len: 4-aligned */
	*(volatile uint32_t *)ring_ptr(q, 2, at) = head;
	*(volatile uint32_t *)ring_ptr(q, 2, at + 4) = len;
	q->used_idx++;
	/* The element must be visible before the index (§2.7.8). */
	ring_store(USED16(q, 1), q->used_idx);
}

/* §2.7.10: vring_need_event(event, new, old). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_need_interrupt(struct virtq *q)
{
	uint16_t old, new_idx = q->used_idx;
	bool valid = q->signalled_valid;

	if (!q->ready || q->broken)
		return false;
	/* Order our used-index store before reading the driver's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(ring_load(AVAIL(q, 0)) & VRING_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	q->signalled_used = new_idx;
	q->signalled_valid = true;
	return !valid || need_event(ring_load(AVAIL(q, 2 + q->size)), new_idx, old);
}

void virtq_disable_notify(struct virtq *q)
{
	if (!q->ready || q->broken || q->event_idx)
		return;
	ring_store(USED16(q, 0), VRING_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	if (q->event_idx)
		ring_store(USED16(q, 2 + 4 * q->size), q->last_avail);
	else
		ring_store(USED16(q, 0), 0);
	/* Publish before re-reading avail, or a notification can be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ring_load(AVAIL(q, 1)) != q->last_avail;
}

static size_t chain_copy(const struct virtq_chain *c, size_t off, void *flat, size_t len,
			 bool to_chain)
{
	size_t done = 0;

	for (unsigned int i = 0; i < c->n && done < len; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		size_t n;

		if (b->write != to_chain)
			continue;
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = MIN(b->len - off, len - done);
		if (to_chain)
			memcpy((uint8_t *)b->host + off, (const uint8_t *)flat + done, n);
		else
			memcpy((uint8_t *)flat + done, (const uint8_t *)b->host + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len)
{
	return chain_copy(c, off, dst, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len)
{
	return chain_copy(c, off, (void *)src, len, true);
}

void virtq_get_state(const struct virtq *q, struct virtq_state *s)
{
	*s = (struct virtq_state){
		.size = q->size,
		.last_avail = q->last_avail,
		.used_idx = q->used_idx,
		.signalled_used = q->signalled_used,
		.ready = q->ready,
		.signalled_valid = q->signalled_valid,
		.desc_gpa = q->desc_gpa,
		.avail_gpa = q->avail_gpa,
		.used_gpa = q->used_gpa,
	};
}

int virtq_set_state(struct virtq *q, const struct virtq_state *s, const struct guest_mem *mem)
{
	bool ev = q->event_idx, ind = q->indirect;
	int err;

	virtq_reset(q);
	q->event_idx = ev;
	q->indirect = ind;
	q->size = s->size;
	q->desc_gpa = s->desc_gpa;
	q->avail_gpa = s->avail_gpa;
	q->used_gpa = s->used_gpa;
	if (!s->ready)
		return 0;
	err = virtq_enable(q, mem);
	if (err)
		return err;
	q->last_avail = s->last_avail;
	q->used_idx = s->used_idx;
	q->signalled_used = s->signalled_used;
	q->signalled_valid = s->signalled_valid;
	return 0;
}
