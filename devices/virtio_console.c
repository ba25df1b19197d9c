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

#include "console.h"
#include "util.h"
#include "virtio_devices.h"

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
	while (done < n && virtio_dev_live(vd) && q->ready &&
	       (r = virtq_pop(q, &c)) != 0) {
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

static void vcons_notify(struct virtio_dev *vd, unsigned int qi)
{
	struct virtio_console *vc = vd->priv;
	struct virtq *q = &vd->vqs[qi];
	struct virtq_chain c = { .bufs = vc->bufs, .cap = CONS_MAX_CHAIN };
	bool pushed = false;
	int r;

	if (qi == 0) { /* new receive buffers: pending input may go now */
		console_rx_ready(vc->con);
		return;
	}
	do {
		while ((r = virtq_pop(q, &c)) != 0) {
			if (r == -EINVAL) {
				virtio_queue_broken(vd, qi);
				return;
			}
			for (unsigned int i = 0; r > 0 && i < c.n; i++) {
				const uint8_t *p = c.bufs[i].host;

				for (uint32_t k = 0; !c.bufs[i].write && k < c.bufs[i].len; k++)
					console_tx(vc->con, p[k]);
			}
			virtq_push(q, c.head, 0);
			pushed = true;
		}
	} while (virtq_enable_notify(q));
	if (pushed)
		virtio_queue_interrupt(vd, qi);
}

static void vcons_config_read(struct virtio_dev *vd, uint32_t off, void *buf,
			      uint32_t len)
{
	uint8_t cfg[12] = { 80, 0, 25, 0, 1, 0, 0, 0 }; /* cols, rows, max_nr_ports */

	(void)vd;
	memcpy(buf, cfg + off, len);
}

static void vcons_destroy(struct virtio_dev *vd)
{
	free(vd->priv);
}

static const struct virtio_dev_ops virtio_console_ops = {
	.device_id = 3,
	.pci_class = 0x0780, /* communication, other */
	.config_read = vcons_config_read,
	.queue_notify = vcons_notify,
	.destroy = vcons_destroy,
};

struct virtio_dev *virtio_console_new(const struct guest_mem *mem,
				      struct console *con,
				      struct console_port *port)
{
	struct virtio_console *vc = calloc(1, sizeof(*vc));

	if (!vc)
		return NULL;
	vc->con = con;
	virtio_dev_init(&vc->vd, &virtio_console_ops, "virtio-console", 2,
			CONS_QUEUE_SIZE, 0, 12, mem, vc);
	port->rx_push = vcons_rx_push;
	port->opaque = vc;
	return &vc->vd;
}
