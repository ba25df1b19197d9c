// SPDX-License-Identifier: MIT
/*
 * The split virtqueue against a hostile driver, on a fake guest memory:
 * layouts, cycles, out-of-range and overflowing addresses, misordered
 * buffers, indirect tables (nested, empty, without the feature), index
 * jumps, event-index interrupt suppression, and the state round trip.
 */
#include <stdlib.h>

#include "tap.h"
#include "util.h"
#include "virtqueue.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (1u << 20)
#define QSZ 8
#define DESC (RAM + 0x1000)
#define AVAIL (RAM + 0x2000)
#define USED (RAM + 0x3000)
#define DATA (RAM + 0x10000)

static uint8_t *ram;
static struct guest_mem gm;
static struct virtq q;
static struct virtq_buf bufs[QSZ];
static struct virtq_chain ch = { .bufs = bufs, .cap = QSZ };

static void *gp(uint64_t gpa)
{
	return ram + (gpa - RAM);
}

static void set_desc(uint64_t table, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(gp(table + 16 * i), &d, sizeof(d));
}

static uint16_t *avail_ring(void)
{
	return gp(AVAIL);
}

/* Publish head as the next available entry. */
static void offer(uint16_t head)
{
	uint16_t *a = avail_ring();

	a[2 + a[1] % QSZ] = head;
	a[1]++;
}

static void fresh(bool indirect, bool event_idx)
{
	memset(ram, 0, RAM_SIZE);
	virtq_reset(&q);
	q.size = QSZ;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.indirect = indirect;
	q.event_idx = event_idx;
	virtq_enable(&q, &gm);
}

static void test_layout(void)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
		const char *what;
	} bad[] = {
		{ 0, DESC, AVAIL, USED, "size 0" },
		{ 6, DESC, AVAIL, USED, "size not a power of two" },
		{ 8, DESC + 8, AVAIL, USED, "descriptor table misaligned" },
		{ 8, DESC, AVAIL + 1, USED, "avail ring misaligned" },
		{ 8, DESC, AVAIL, USED + 2, "used ring misaligned" },
		{ 8, RAM + RAM_SIZE - 64, AVAIL, USED, "descriptor table runs past RAM" },
		{ 8, DESC, 0x1000, USED, "avail ring outside RAM" },
		{ 8, DESC, AVAIL, ~0ULL - 3, "used ring at a wrapping address" },
		{ 32768, RAM + 0x90000, AVAIL, USED, "a 32768-entry table running past RAM" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		virtq_reset(&q);
		q.size = bad[i].size;
		q.desc_gpa = bad[i].desc;
		q.avail_gpa = bad[i].avail;
		q.used_gpa = bad[i].used;
		is_int(virtq_enable(&q, &gm), -EINVAL, "refused: %s", bad[i].what);
		ok(!q.ready && q.broken && q.why, "%s: not ready, says why", bad[i].what);
	}
	fresh(false, false);
	ok(q.ready && !q.broken, "a good layout is enabled");
	is_int(virtq_pop(&q, &ch), 0, "empty queue: nothing to pop");
}

static void test_simple(void)
{
	uint32_t *used;

	fresh(false, false);
	set_desc(DESC, 0, DATA, 16, VRING_DESC_F_NEXT, 3);
	set_desc(DESC, 3, DATA + 16, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	set_desc(DESC, 5, DATA + 200, 1, VRING_DESC_F_WRITE, 0);
	memcpy(gp(DATA), "0123456789abcdef", 16);
	offer(0);
	ok(virtq_has_avail(&q), "offered chain is visible");
	is_int(virtq_pop(&q, &ch), 1, "chain popped");
	is_int(ch.head, 0, "head 0");
	is_int(ch.n, 3, "three buffers");
	is_int(ch.out_len, 16, "16 readable bytes");
	is_int(ch.in_len, 101, "101 writable bytes");
	ok(!ch.bufs[0].write && ch.bufs[1].write && ch.bufs[2].write, "directions kept");
	{
		char hdr[20] = { 0 };

		is_int(virtq_chain_read(&ch, 4, hdr, sizeof(hdr)), 12,
		       "read bounded by the readable bytes");
		ok(!memcmp(hdr, "456789abcdef", 12), "read at an offset");
		is_int(virtq_chain_write(&ch, 99, "XYZ", 3), 2,
		       "write bounded by the writable bytes");
		ok(((uint8_t *)gp(DATA + 16))[99] == 'X' && ((uint8_t *)gp(DATA + 200))[0] == 'Y',
		   "write spans buffers");
	}
	virtq_push(&q, ch.head, 42);
	used = gp(USED + 4);
	is_int(((uint16_t *)gp(USED))[1], 1, "used index advanced");
	ok(used[0] == 0 && used[1] == 42, "used element: head and length");
	is_int(virtq_pop(&q, &ch), 0, "nothing more");
	ok(virtq_need_interrupt(&q), "interrupt wanted without NO_INTERRUPT");
	avail_ring()[0] = VRING_AVAIL_F_NO_INTERRUPT;
	ok(!virtq_need_interrupt(&q), "NO_INTERRUPT suppresses it");
}

static void test_hostile(void)
{
	fresh(false, false);
	set_desc(DESC, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 8, VRING_DESC_F_NEXT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "descriptor cycle: refused");
	ok(q.broken && strstr(q.why, "cycle"), "cycle breaks the queue (%s)", q.why);
	is_int(virtq_pop(&q, &ch), -EINVAL, "a broken queue stays broken");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 8, VRING_DESC_F_NEXT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "self-loop: refused");

	fresh(false, false);
	set_desc(DESC, 0, RAM + RAM_SIZE - 4, 8, 0, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "buffer running past RAM: refused");

	fresh(false, false);
	set_desc(DESC, 0, 0x1000, 8, 0, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "buffer outside RAM: refused");

	fresh(false, false);
	set_desc(DESC, 0, ~0ULL - 15, 0x100, 0, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "address + length overflows: refused");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 0xffffffff, 0, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "absurd length: refused");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 8, 0, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "readable after writable: refused");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 8, VRING_DESC_F_NEXT, QSZ);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "next index out of range: refused");

	fresh(false, false);
	offer(QSZ + 3);
	is_int(virtq_pop(&q, &ch), -EINVAL, "head index out of range: refused");

	fresh(false, false);
	avail_ring()[1] = QSZ + 1;
	is_int(virtq_pop(&q, &ch), -EINVAL, "avail index jumps past the queue size: refused");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 64, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "indirect without the feature: refused");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 0, 0, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), 1, "a zero-length buffer is legal");
}

static void test_indirect(void)
{
	const uint64_t table = DATA + 0x1000, inner = DATA + 0x2000;

	fresh(true, false);
	set_desc(table, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, DATA + 32, 32, VRING_DESC_F_WRITE, 0);
	set_desc(DESC, 2, table, 32, VRING_DESC_F_INDIRECT, 0);
	offer(2);
	is_int(virtq_pop(&q, &ch), 1, "indirect chain popped");
	ok(ch.n == 2 && ch.out_len == 16 && ch.in_len == 32, "indirect buffers and lengths");

	fresh(true, false);
	set_desc(inner, 0, DATA, 16, 0, 0);
	set_desc(table, 0, inner, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(DESC, 0, table, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "indirect table inside an indirect table: refused");

	fresh(true, false);
	set_desc(DESC, 0, table, 0, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "zero-length indirect table: refused");

	fresh(true, false);
	set_desc(DESC, 0, table, 24, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "indirect length not a multiple of 16: refused");

	fresh(true, false);
	set_desc(DESC, 0, table, 16 * (QSZ + 1), VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "indirect table longer than the queue: refused");

	fresh(true, false);
	set_desc(table, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, DATA, 16, VRING_DESC_F_NEXT, 0);
	set_desc(DESC, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "cycle inside an indirect table: refused");

	fresh(true, false);
	set_desc(DESC, 0, table, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "indirect with NEXT: refused");

	fresh(true, false);
	set_desc(DESC, 0, RAM + RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	is_int(virtq_pop(&q, &ch), -EINVAL, "indirect table running past RAM: refused");
}

static void test_cap_and_events(void)
{
	struct virtq_buf two[2];
	struct virtq_chain small = { .bufs = two, .cap = 2 };
	struct virtq_state st;
	struct virtq q2;

	fresh(false, false);
	for (int i = 0; i < 4; i++)
		set_desc(DESC, i, DATA + 16 * i, 16, i < 3 ? VRING_DESC_F_NEXT : 0, i + 1);
	offer(0);
	is_int(virtq_pop(&q, &small), -E2BIG, "chain longer than the device takes: -E2BIG");
	ok(!q.broken, "... and the queue stays usable");
	set_desc(DESC, 5, DATA, 8, 0, 0);
	offer(5);
	is_int(virtq_pop(&q, &small), 1, "next chain pops");

	/* EVENT_IDX: interrupt only when used passes used_event. */
	fresh(false, true);
	for (int i = 0; i < 4; i++) {
		set_desc(DESC, i, DATA, 8, 0, 0);
		offer(i);
	}
	avail_ring()[2 + QSZ] = 2; /* used_event: interrupt after entry 2 */
	virtq_pop(&q, &ch);
	virtq_push(&q, ch.head, 0);
	ok(virtq_need_interrupt(&q), "EVENT_IDX: first interrupt always");
	virtq_pop(&q, &ch);
	virtq_push(&q, ch.head, 0);
	ok(!virtq_need_interrupt(&q), "EVENT_IDX: used 2 has not passed used_event 2");
	virtq_pop(&q, &ch);
	virtq_push(&q, ch.head, 0);
	ok(virtq_need_interrupt(&q), "EVENT_IDX: used 3 passed used_event 2");
	ok(virtq_enable_notify(&q), "enable_notify sees the fourth buffer");
	is_int(((uint16_t *)gp(USED))[2 + 4 * QSZ], 3, "avail_event published");
	virtq_pop(&q, &ch);
	ok(!virtq_enable_notify(&q), "enable_notify: nothing more");

	virtq_get_state(&q, &st);
	virtq_reset(&q2);
	q2.event_idx = true;
	is_int(virtq_set_state(&q2, &st, &gm), 0, "queue state restores");
	ok(q2.last_avail == q.last_avail && q2.used_idx == q.used_idx && q2.ready,
	   "indices restored");
	st.desc_gpa = 0x1000;
	is_int(virtq_set_state(&q2, &st, &gm), -EINVAL, "restored layout is checked again");
}

int main(void)
{
	ram = calloc(1, RAM_SIZE);
	guest_mem_add(&gm, RAM, RAM_SIZE, ram);
	test_layout();
	test_simple();
	test_hostile();
	test_indirect();
	test_cap_and_events();
	free(ram);
	return tap_done();
}
