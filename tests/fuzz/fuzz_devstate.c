// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: saved device state from a hostile or corrupt file.
 * The input is a device-list blob (device_list_load's format) for a
 * machine of a UART, an RTC and a virtio-rng with a live queue over guest
 * RAM. A load is all or nothing: refused, or applied to devices that still
 * work (the rng serves its queue, within RAM, without a sanitizer report).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "evloop.h"
#include "pl031.h"
#include "uart8250.h"
#include "util.h"
#include "virtio_devices.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fixed_now(void)
{
	return 1700000000;
}

static int vrng_load(struct device *dev, struct state_buf *sb, uint32_t v)
{
	(void)v;
	return virtio_dev_load(dev->priv, sb);
}

static int vrng_save(struct device *dev, struct state_buf *sb)
{
	return virtio_dev_save(dev->priv, sb);
}

static void vrng_reset(struct device *dev)
{
	virtio_set_status(dev->priv, 0);
}

static const struct device_ops vrng_ops = {
	.type = "virtio-rng",
	.state_version = 1,
	.reset = vrng_reset,
	.save = vrng_save,
	.load = vrng_load,
};

/* A driver sets up the rng's queue: descriptors, avail, used in RAM. */
static void rng_up(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	virtio_set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vd->gfeat_sel = 1;
	virtio_set_driver_features(vd, 1); /* VERSION_1 */
	virtio_set_status(vd, vd->status | VIRTIO_CONFIG_S_FEATURES_OK);
	vd->queue_sel = 0;
	vd->vqs[0].size = 8;
	vd->vqs[0].desc_gpa = RAM + 0x1000;
	vd->vqs[0].avail_gpa = RAM + 0x2000;
	vd->vqs[0].used_gpa = RAM + 0x3000;
	virtio_queue_set_ready(vd, 0, true);
	virtio_set_status(vd, vd->status | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vd->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state_buf good;
	static uint8_t *patched;
	static uint8_t *ram;
	static struct guest_mem gm;
	static struct evloop loop;
	static struct uart8250 uart;
	static struct pl031 rtc;
	static struct virtio_dev *vd;
	static struct device vdev;
	struct device_list list;
	struct irq_line irq = { 0 };
	struct state_buf sb;

	if (!ram) {
		log_set_level(LOG_ERROR);
		ram = calloc(1, RAM_SIZE);
		guest_mem_add(&gm, RAM, RAM_SIZE, ram);
		evloop_init(&loop);
		uart8250_init(&uart, 0x1000000, 0, &irq);
		pl031_init(&rtc, 0x1010000, 1, &irq, &loop);
		rtc.now = fixed_now;
		vd = virtio_rng_new(&gm);
		vdev = (struct device){ .ops = &vrng_ops, .priv = vd };
		snprintf(vdev.name, sizeof(vdev.name), "virtio-rng@00:02.0");
		device_list_init(&list);
		device_list_add(&list, &uart.dev);
		device_list_add(&list, &rtc.dev);
		device_list_add(&list, &vdev);
		rng_up(vd);
		state_writer_init(&good);
		if (device_list_save(&list, &good))
			abort();
	}
	device_list_init(&list);
	device_list_add(&list, &uart.dev);
	device_list_add(&list, &rtc.dev);
	device_list_add(&list, &vdev);
	/*
	 * Odd first byte: a valid saved machine with the rest of the input as
	 * (offset, byte) patches, so the fuzzer starts deep inside the
	 * format; even: the input is the blob.
	 */
	if (size && (data[0] & 1)) {
		free(patched);
		patched = malloc(good.len);
		memcpy(patched, good.data, good.len);
		for (size_t i = 1; i + 2 < size; i += 3)
			patched[((size_t)data[i] << 8 | data[i + 1]) % good.len] = data[i + 2];
		state_reader_init(&sb, patched, good.len - (data[0] >> 7 ? data[0] % 17 : 0));
	} else {
		state_reader_init(&sb, data, size);
	}
	if (device_list_load(&list, &sb) == 0 && virtio_dev_live(vd)) {
		/* Applied: the rng serves whatever its queue now says. */
		pthread_mutex_lock(&vd->lock);
		for (unsigned int q = 0; q < vd->nr_queues; q++)
			if (vd->vqs[q].ready && !vd->vqs[q].broken)
				vd->ops->queue_notify(vd, q);
		pthread_mutex_unlock(&vd->lock);
	}
	uart8250_mmio(&uart, 0, (uint8_t[8]){ 0 }, 1, false);
	pl031_mmio(&rtc, 0, (uint8_t[8]){ 0 }, 4, false);
	return 0;
}
