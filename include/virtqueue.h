/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2 §2.7) as a device sees them, with
 * VIRTIO_F_RING_EVENT_IDX (§2.7.7, §2.7.10) and VIRTIO_RING_F_INDIRECT_DESC
 * (§2.7.5.3). Everything the guest wrote is hostile:
 *  - the layout is checked once, when the driver sets the queue ready: size
 *    a power of two up to 32768, rings aligned (§2.7: 16, 2, 4) and wholly
 *    in guest RAM;
 *  - each descriptor is copied out of guest memory once, then judged on the
 *    copy; every address and length is overflow-checked and must lie in RAM;
 *  - a chain may hold at most `size` descriptors in all (so cycles end), an
 *    indirect table at most `size` entries, no indirect inside indirect, no
 *    empty table, no device-readable buffer after a device-writable one;
 *  - an avail index more than `size` ahead of ours is a broken queue.
 * A broken queue stays broken until reset (the device then reports
 * NEEDS_RESET). No host dependency beyond guest_mem: unit-tested and fuzzed.
 */
#ifndef ARMVM_VIRTQUEUE_H
#define ARMVM_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h> /* struct vring_desc, VRING_* flags */

#include "guest_mem.h"

#define VIRTQ_MAX_SIZE 32768

/* One buffer of a chain, already checked: host points at len bytes of RAM. */
struct virtq_buf {
	void *host;
	uint32_t len;
	bool write; /* device-writable */
};

struct virtq_chain {
	uint16_t head;
	unsigned int n, cap; /* buffers filled, room in bufs */
	struct virtq_buf *bufs;
	uint64_t out_len, in_len; /* readable and writable bytes */
};

struct virtq {
	/* Set by the driver through the transport. */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx, indirect; /* negotiated features */

	/* Valid once enabled. */
	bool ready, broken;
	const struct guest_mem *mem;
	volatile struct vring_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;  /* flags, idx, then ring, avail_event */
				  /*
				   * Behind an IOMMU a ring may be IOVA-contiguous but not physically
				   * so (Linux's dma_alloc_coherent maps pages as it finds them): then
				   * each 4 KiB page of each ring (desc, avail, used) has its own host
				   * address, and the pointers above are NULL.
				   */
#define VIRTQ_RING_PAGES 16
	bool paged;
	uintptr_t pg[3][VIRTQ_RING_PAGES];
	uint16_t last_avail;	 /* next avail entry to take */
	uint16_t used_idx;	 /* next used entry to fill */
	uint16_t signalled_used; /* used idx at the last interrupt */
	bool signalled_valid;
	const char *why; /* what broke it */
};

/* Check the layout and start using the queue: 0, or -EINVAL (why set). */
int virtq_enable(struct virtq *q, const struct guest_mem *mem);
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain into c (c->bufs has c->cap entries).
 * Returns 1 with a chain, 0 if none, or -EINVAL if the guest broke the
 * queue (q->broken set, q->why says how) or the chain is longer than
 * c->cap (-E2BIG: the chain is consumed and must be returned with length
 * 0; the queue stays usable).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);
/* Give back the chain just popped, untouched (the device found no use
 * for it yet: a network device with no packet to put in it). */
void virtq_unpop(struct virtq *q);
/* Return a chain with `len` bytes written into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* After pushes: does the driver want an interrupt now? */
bool virtq_need_interrupt(struct virtq *q);
/* Are there chains to take? */
bool virtq_has_avail(struct virtq *q);
/*
 * Ask the driver to notify (again) when it adds buffers; returns true if
 * buffers arrived meanwhile (the caller then goes on popping). Used by a
 * device that drains a queue then waits.
 */
bool virtq_enable_notify(struct virtq *q);
void virtq_disable_notify(struct virtq *q);

/* Copy between a chain's buffers and a flat buffer, bounded by both. */
size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len);

/* Saved queue state for snapshots (addresses and indices). */
struct virtq_state {
	uint16_t size, last_avail, used_idx, signalled_used;
	uint8_t ready, signalled_valid;
	uint64_t desc_gpa, avail_gpa, used_gpa;
};
void virtq_get_state(const struct virtq *q, struct virtq_state *s);
int virtq_set_state(struct virtq *q, const struct virtq_state *s, const struct guest_mem *mem);

#endif
