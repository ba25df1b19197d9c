// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the virtio-blk request parser behind a hostile
 * virtqueue. Guest RAM comes from the input; the chain is whatever the
 * queue walk makes of it; the parser must reject or accept it without
 * touching anything outside the chain's buffers, and every range it
 * accepts must be inside the disk.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_blk.h"
#include "virtqueue.h"

#define RAM_GPA 0x40000000ULL
#define RAM_SIZE 16384
#define CAPACITY 2048 /* sectors */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct blk_req req;
	struct guest_mem gm = { 0 };
	struct virtq q;
	struct virtq_buf bufs[VIRTIO_BLK_SEG_MAX + 2];
	struct virtq_chain c = { .bufs = bufs, .cap = VIRTIO_BLK_SEG_MAX + 2 };
	int r, rounds = 0;

	if (!ram)
		ram = malloc(RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
	guest_mem_add(&gm, RAM_GPA, RAM_SIZE, ram);
	virtq_reset(&q);
	/* A fixed layout: 16 descriptors at 0, avail at 256, used at 512. */
	q.size = 16;
	q.desc_gpa = RAM_GPA;
	q.avail_gpa = RAM_GPA + 256;
	q.used_gpa = RAM_GPA + 512;
	q.indirect = size && (data[0] & 1);
	if (virtq_enable(&q, &gm))
		return 0;
	while (rounds++ < 16 && (r = virtq_pop(&q, &c)) != 0) {
		int st;

		if (r == -EINVAL)
			break;
		if (r < 0)
			continue;
		st = blk_req_parse(&c, CAPACITY, size > 1 && (data[1] & 1), &req);
		if (req.status)
			*req.status = (uint8_t)st;
		if (st == VIRTIO_BLK_S_OK &&
		    (req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT)) {
			if (req.sector + req.len / BLK_SECTOR > CAPACITY || req.len % BLK_SECTOR)
				abort();
			for (int i = 0; i < req.iovcnt; i++)
				memset(req.iov[i].iov_base, 0xa5, req.iov[i].iov_len);
		}
		virtq_push(&q, c.head, 1);
	}
	return 0;
}
