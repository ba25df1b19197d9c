// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a hostile driver's virtqueue. The input is guest RAM
 * (descriptor table, rings, indirect tables, all of it) plus a header
 * choosing the queue size, features and ring addresses. The device side
 * pops every chain, touches every byte of every buffer (ASan catches any
 * pointer outside guest RAM), pushes them back and checks interrupts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue.h"

#define RAM_GPA 0x40000000ULL
#define RAM_SIZE 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct guest_mem gm = { 0 };
	struct virtq q;
	struct virtq_buf bufs[64];
	struct virtq_chain c = { .bufs = bufs, .cap = 64 };
	uint16_t hdr[6] = { 0 };
	int rounds = 0, r;

	if (!ram)
		ram = malloc(RAM_SIZE);
	memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
	memset(ram, 0, RAM_SIZE);
	if (size > sizeof(hdr))
		memcpy(ram, data + sizeof(hdr),
		       size - sizeof(hdr) < RAM_SIZE ? size - sizeof(hdr) : RAM_SIZE);
	guest_mem_add(&gm, RAM_GPA, RAM_SIZE, ram);

	virtq_reset(&q);
	q.size = hdr[0];
	q.desc_gpa = RAM_GPA + (hdr[1] & 0xffff);
	q.avail_gpa = RAM_GPA + (hdr[2] & 0xffff);
	q.used_gpa = RAM_GPA + (hdr[3] & 0xffff) - (hdr[5] & 1 ? 0x100 : 0);
	q.event_idx = hdr[4] & 1;
	q.indirect = hdr[4] & 2;
	if (virtq_enable(&q, &gm))
		return 0;
	while (rounds++ < 64 && (r = virtq_pop(&q, &c)) != 0) {
		uint32_t written = 0;

		if (r == -EINVAL)
			break;
		for (unsigned int i = 0; i < c.n; i++) {
			volatile uint8_t *p = c.bufs[i].host, sink = 0;

			for (uint32_t k = 0; k < c.bufs[i].len; k++)
				sink ^= p[k];
			(void)sink;
			if (c.bufs[i].write)
				written += c.bufs[i].len;
		}
		virtq_push(&q, c.head, written);
		virtq_need_interrupt(&q);
		virtq_enable_notify(&q);
	}
	return 0;
}
