// SPDX-License-Identifier: MIT
/*
 * The virtio core and devices without KVM: feature negotiation and status
 * (modern only), a queue broken by the guest setting NEEDS_RESET, the
 * virtio-rng device serving a request, the device state round trip, and the
 * virtio-blk request parser (header, data, status, ranges, read-only,
 * write-only where read-only is required and the reverse).
 */
#include <stdlib.h>

#include "tap.h"
#include "util.h"
#include "virtio_blk.h"
#include "virtio_devices.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (1u << 20)

static uint8_t *ram;
static struct guest_mem gm;
static int irqs;

static void *gp(uint64_t gpa)
{
	return ram + (gpa - RAM);
}

static void count_irq(struct virtio_dev *vd, unsigned int q, bool config)
{
	(void)vd, (void)q, (void)config;
	irqs++;
}

static void set_desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	memcpy(gp(RAM + 0x1000 + 16 * i), &d, sizeof(d));
}

static void offer(uint16_t head)
{
	uint16_t *a = gp(RAM + 0x2000);

	a[2 + a[1] % 8] = head;
	a[1]++;
}

/* Negotiate like a driver, set up queue 0 with size 8. */
static void driver_up(struct virtio_dev *vd, uint64_t features)
{
	struct virtq *q;

	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd->gfeat_sel = 0;
	virtio_set_driver_features(vd, (uint32_t)features);
	vd->gfeat_sel = 1;
	virtio_set_driver_features(vd, (uint32_t)(features >> 32));
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	vd->queue_sel = 0;
	q = virtio_sel_queue(vd);
	q->size = 8;
	q->desc_gpa = RAM + 0x1000;
	q->avail_gpa = RAM + 0x2000;
	q->used_gpa = RAM + 0x3000;
	virtio_queue_set_ready(vd, 0, true);
	virtio_set_status(vd, vd->status | VIRTIO_STATUS_DRIVER_OK);
}

static void test_core_and_rng(void)
{
	struct virtio_dev *vd = virtio_rng_new(&gm), *vd2;
	struct state_buf sb, rb;
	uint8_t zero[64] = { 0 };

	vd->transport.irq = count_irq;
	vd->dfeat_sel = 1;
	ok(virtio_get_device_features(vd) & 1, "VERSION_1 offered");
	/* A legacy driver (no VERSION_1) does not get FEATURES_OK. */
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	ok(!(vd->status & VIRTIO_STATUS_FEATURES_OK), "FEATURES_OK refused without VERSION_1");
	virtio_set_status(vd, 0);
	is_int(vd->status, 0, "reset clears the status");

	memset(ram, 0, RAM_SIZE);
	driver_up(vd, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX | 1ULL << 40);
	ok(vd->status & VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK with VERSION_1");
	ok(!(vd->driver_features >> 40 & 1), "features the device lacks are dropped");
	ok(vd->vqs[0].ready && vd->vqs[0].event_idx, "queue ready with EVENT_IDX");
	ok(virtio_dev_live(vd), "device live after DRIVER_OK");

	set_desc(0, RAM + 0x10000, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	vd->ops->queue_notify(vd, 0);
	is_int(((uint16_t *)gp(RAM + 0x3000))[1], 1, "rng: request served");
	is_int(((uint32_t *)gp(RAM + 0x3004))[1], 64, "rng: 64 bytes written");
	ok(memcmp(gp(RAM + 0x10000), zero, 64), "rng: the bytes are not zero");
	is_int(irqs, 1, "rng: one interrupt");

	state_writer_init(&sb);
	is_int(virtio_dev_save(vd, &sb), 0, "virtio state saves");
	vd2 = virtio_rng_new(&gm);
	state_reader_init(&rb, sb.data, sb.len);
	is_int(virtio_dev_load(vd2, &rb), 0, "virtio state loads");
	is_int(state_finish(&rb), 0, "the whole blob is consumed");
	ok(vd2->status == vd->status && vd2->driver_features == vd->driver_features, "status and features restored");
	ok(vd2->vqs[0].ready && vd2->vqs[0].last_avail == 1 && vd2->vqs[0].used_idx == 1, "queue indices restored");
	ok(vd2->vqs[0].desc_gpa == RAM + 0x1000, "queue addresses restored");
	sb.data[0] = 0xff; /* a feature the device does not offer */
	state_reader_init(&rb, sb.data, sb.len);
	is_int(virtio_dev_load(vd2, &rb), -EINVAL, "state with unknown features refused");
	state_free(&sb);

	/* A cycle breaks the queue: NEEDS_RESET and a config interrupt. */
	set_desc(1, RAM + 0x10000, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	offer(1);
	vd->ops->queue_notify(vd, 0);
	ok(vd->status & VIRTIO_STATUS_NEEDS_RESET, "a broken queue sets NEEDS_RESET");
	ok(vd->isr & VIRTIO_ISR_CONFIG, "... with a config interrupt");
	ok(!virtio_dev_live(vd), "the device stops serving");
	virtio_set_status(vd, 0);
	ok(!(vd->status & VIRTIO_STATUS_NEEDS_RESET) && !vd->vqs[0].ready, "reset clears it");
	memset(ram, 0, RAM_SIZE);
	driver_up(vd, 1ULL << VIRTIO_F_VERSION_1);
	set_desc(0, RAM + 0x10000, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	vd->ops->queue_notify(vd, 0);
	is_int(((uint32_t *)gp(RAM + 0x3004))[1], 16, "a well-behaved queue works again after reset");
	virtio_dev_destroy(vd);
	virtio_dev_destroy(vd2);
}

/* A chain over host buffers, for the parser. */
struct chain_builder {
	struct virtq_buf bufs[8];
	struct virtq_chain c;
};

static void cb_add(struct chain_builder *b, void *p, uint32_t len, bool w)
{
	b->bufs[b->c.n++] = (struct virtq_buf){ p, len, w };
	if (w)
		b->c.in_len += len;
	else
		b->c.out_len += len;
	b->c.bufs = b->bufs;
}

static void hdr_set(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, 16);
	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)(type >> (8 * i));
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(sector >> (8 * i));
}

/*
 * A device with work in flight when a snapshot is taken: its quiesce hook
 * finishes the work before the core saves the queue indices, so the saved
 * used index counts it, and resume runs after.
 */
static int held = -1, resumed;

static void held_notify(struct virtio_dev *vd, unsigned int q)
{
	struct virtq_buf b[4];
	struct virtq_chain c = { .bufs = b, .cap = 4 };

	if (virtq_pop(&vd->vqs[q], &c) == 1)
		held = c.head; /* in flight: not pushed yet */
}

static void held_quiesce(struct virtio_dev *vd)
{
	if (held >= 0)
		virtq_push(&vd->vqs[0], (uint16_t)held, 0);
	held = -1;
}

static void held_resume(struct virtio_dev *vd)
{
	(void)vd;
	resumed++;
}

static const struct virtio_dev_ops held_ops = {
	.device_id = 4,
	.queue_notify = held_notify,
	.quiesce = held_quiesce,
	.resume = held_resume,
};

static void test_save_quiesces(void)
{
	struct virtio_dev vd, vd2;
	struct state_buf sb, rb;

	memset(ram, 0, RAM_SIZE);
	virtio_dev_init(&vd, &held_ops, "held", 1, 8, 0, 0, &gm, NULL);
	virtio_dev_init(&vd2, &held_ops, "held", 1, 8, 0, 0, &gm, NULL);
	driver_up(&vd, 1ULL << VIRTIO_F_VERSION_1);
	set_desc(0, RAM + 0x10000, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	vd.ops->queue_notify(&vd, 0);
	ok(held == 0 && vd.vqs[0].used_idx == 0, "a request is in flight");
	state_writer_init(&sb);
	is_int(virtio_dev_save(&vd, &sb), 0, "state saves with work in flight");
	is_int(vd.vqs[0].used_idx, 1, "quiesce finished the work");
	is_int(resumed, 1, "the device resumed after the save");
	state_reader_init(&rb, sb.data, sb.len);
	is_int(virtio_dev_load(&vd2, &rb), 0, "state loads");
	ok(vd2.vqs[0].used_idx == 1 && vd2.vqs[0].last_avail == 1,
	   "the saved indices include the work finished by quiesce");
	state_free(&sb);
	virtio_dev_destroy(&vd);
	virtio_dev_destroy(&vd2);
}

static void test_blk_parse(void)
{
	static struct blk_req req;
	static uint8_t hdr[16], data[4096], st, seg[16];
	struct chain_builder b;

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_IN, 10);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 4096, true);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_OK, "read request parses");
	ok(req.type == VIRTIO_BLK_T_IN && req.sector == 10 && req.len == 4096 && req.iovcnt == 1, "read: sector, length, one segment");
	ok(req.status == &st, "status is the last writable byte");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_IN, 97);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 4096, true);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "read past the end of the disk: IOERR");
	hdr_set(hdr, VIRTIO_BLK_T_IN, ~0ULL - 2);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "sector + length overflowing: IOERR");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_OUT, 0);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 512, false);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_OK, "write parses");
	ok(req.len == 512 && req.iov[0].iov_base == data, "write: data after the header");
	is_int(blk_req_parse(&b.c, 100, true, &req), VIRTIO_BLK_S_IOERR, "write to a read-only disk: IOERR");

	/* Header and data in one buffer: the header is not data. */
	memset(&b, 0, sizeof(b));
	hdr_set(data, VIRTIO_BLK_T_OUT, 1);
	cb_add(&b, data, 16 + 512, false);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_OK, "header and data in one buffer");
	ok(req.len == 512 && req.iov[0].iov_base == data + 16, "data starts after the header");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_OUT, 0);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 100, false);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "data not a multiple of 512: IOERR");

	memset(&b, 0, sizeof(b));
	cb_add(&b, hdr, 8, false);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "short header: IOERR");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_IN, 0);
	cb_add(&b, hdr, 16, true); /* header device-writable */
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "header in a write-only buffer: IOERR");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_IN, 0);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 512, false); /* read data must be writable */
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "read into a read-only buffer: IOERR");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_OUT, 0);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 512, true); /* write data must be readable */
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "write from a write-only buffer: IOERR");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_IN, 0);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, data, 512, false);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "no status byte: IOERR");
	ok(!req.status, "... and nowhere to write it");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, 99, 0);
	cb_add(&b, hdr, 16, false);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_UNSUPP, "unknown type: UNSUPP");

	memset(&b, 0, sizeof(b));
	hdr_set(hdr, VIRTIO_BLK_T_DISCARD, 0);
	memset(seg, 0, 16);
	seg[0] = 90, seg[8] = 20; /* sectors 90..109 on a 100-sector disk */
	cb_add(&b, hdr, 16, false);
	cb_add(&b, seg, 16, false);
	cb_add(&b, &st, 1, true);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_IOERR, "discard past the end: IOERR");
	seg[8] = 10;
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_OK, "discard inside the disk parses");
	seg[12] = 1; /* unmap flag on a discard */
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_UNSUPP, "discard with a flag: UNSUPP");
	hdr_set(hdr, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	is_int(blk_req_parse(&b.c, 100, false, &req), VIRTIO_BLK_S_OK, "write zeroes with unmap parses");
	is_int(blk_req_parse(&b.c, 100, true, &req), VIRTIO_BLK_S_IOERR, "write zeroes on a read-only disk: IOERR");
}

int main(void)
{
	ram = calloc(1, RAM_SIZE);
	guest_mem_add(&gm, RAM, RAM_SIZE, ram);
	log_set_level(LOG_ERROR); /* the broken-queue warning is expected */
	test_core_and_rng();
	test_save_quiesces();
	test_blk_parse();
	free(ram);
	return tap_done();
}
