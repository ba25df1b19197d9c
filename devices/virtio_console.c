// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.2 §5.3), one port, no MULTIPORT: receiveq (0)
 * carries terminal input to the guest's hvc0, transmitq (1) its output to
 * the terminal. Input waits in the console layer until the guest posts
 * receive buffers (console_rx_ready when it does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_console.h>

#include "console.h"
#include "util.h"
#include "virtio_devices.h"

_Static_assert(sizeof(struct virtio_console_config) == 12, "virtio-console config space");

#define CONS_QUEUE_SIZE 128
#define CONS_MAX_CHAIN 16

struct virtio_console {
	struct virtio_dev vd;
	struct console *con;
	struct virtq_buf bufs[CONS_MAX_CHAIN];
	struct virtq_buf rx_bufs[CONS_MAX_CHAIN];
};

/* Terminal input into receive buffers (main thread). */
static size_t vcons_rx_push(void *opaque, const uint8_t *buf, size_t n)
{
	struct virtio_console *vc = opaque;
	struct virtio_dev *vd = &vc->vd;
	struct virtq *q = &vd->vqs[0];
	struct virtq_chain c = { .bufs = vc->rx_bufs, .cap = CONS_MAX_CHAIN };
	size_t done = 0;
	int r;

	pthread_mutex_lock(&vd->lock);
	while (done < n && virtio_dev_live(vd) && q->ready && (r = virtq_pop(q, &c)) != 0) {
		size_t w = 0;

		if (r == -EINVAL) {
			virtio_queue_broken(vd, 0);
			break;
		}
		if (r > 0)
			w = virtq_chain_write(&c, 0, buf + done, n - done);
		virtq_push(q, c.head, (uint32_t)w);
		done += w;
	}
	if (done)
		virtio_queue_interrupt(vd, 0);
	pthread_mutex_unlock(&vd->lock);
	return done;
}

/*
 * Guest output to the terminal (device lock held). The console takes what
 * fits its ring without blocking; a chain that does not fit waits in the
 * queue (the driver still holds it) until the console has room again and
 * calls vcons_out_ready. So one notification copies at most the ring's
 * room, and a slow terminal slows hvc0 instead of losing its output. A
 * chain larger than the whole ring is written as far as it fits, the rest
 * dropped (a well-behaved driver sends at most a page).
 */
static void vcons_tx(struct virtio_console *vc)
{
	struct virtio_dev *vd = &vc->vd;
	struct virtq *q = &vd->vqs[1];
	struct virtq_chain c = { .bufs = vc->bufs, .cap = CONS_MAX_CHAIN };
	bool pushed = false;
	int r;

	if (!virtio_dev_live(vd) || !q->ready || q->broken)
		return;
	do {
		for (;;) {
			size_t room = console_out_room(vc->con);

			if (!room)
				goto out; /* vcons_out_ready resumes */
			r = virtq_pop(q, &c);
			if (!r)
				break;
			if (r == -EINVAL) {
				virtio_queue_broken(vd, 1);
				goto out;
			}
			if (r > 0 && c.out_len > room && room < CONSOLE_OUT_SIZE) {
				virtq_unpop(q);
				goto out;
			}
			for (unsigned int i = 0; r > 0 && i < c.n; i++) {
				size_t len = c.bufs[i].len, put;

				if (c.bufs[i].write)
					continue;
				put = console_write(vc->con, c.bufs[i].host, len);
				if (put < len)
					pr_guest(
						LOG_WARNING,
						"%s: a %llu-byte output chain is larger than the console's buffer; %llu bytes dropped",
						vd->dev.name, (unsigned long long)c.out_len,
						(unsigned long long)(len - put));
			}
			virtq_push(q, c.head, 0);
			pushed = true;
		}
	} while (virtq_enable_notify(q));
out:
	if (pushed)
		virtio_queue_interrupt(vd, 1);
}

/* The console has room again: take the output that waited (loop thread). */
static void vcons_out_ready(void *opaque)
{
	struct virtio_console *vc = opaque;

	pthread_mutex_lock(&vc->vd.lock);
	vcons_tx(vc);
	pthread_mutex_unlock(&vc->vd.lock);
}

static void vcons_notify(struct virtio_dev *vd, unsigned int qi)
{
	struct virtio_console *vc = vd->priv;

	if (qi == 0) { /* new receive buffers: pending input may go now */
		console_rx_ready(vc->con);
		return;
	}
	vcons_tx(vc);
}

static void vcons_config_read(struct virtio_dev *vd, uint32_t off, void *buf, uint32_t len)
{
	const struct virtio_console_config cfg = {
		.cols = htole16(80),
		.rows = htole16(25),
		.max_nr_ports = htole32(1),
	};

	(void)vd;
	/* off + len <= sizeof(cfg): virtio.c checks */
	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

static void vcons_destroy(struct virtio_dev *vd)
{
	free(vd->priv);
}

static const struct virtio_dev_ops virtio_console_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.pci_class = 0x0780, /* communication, other */
	.config_read = vcons_config_read,
	.queue_notify = vcons_notify,
	.destroy = vcons_destroy,
};

struct virtio_dev *virtio_console_new(const struct guest_mem *mem, struct console *con,
				      struct console_port *port)
{
	struct virtio_console *vc = calloc(1, sizeof(*vc));

	if (!vc)
		return NULL;
	vc->con = con;
	virtio_dev_init(&vc->vd, &virtio_console_ops, "virtio-console", 2, CONS_QUEUE_SIZE, 0,
			sizeof(struct virtio_console_config), mem, vc);
	port->rx_push = vcons_rx_push;
	port->opaque = vc;
	port->out_ready = vcons_out_ready;
	return &vc->vd;
}
