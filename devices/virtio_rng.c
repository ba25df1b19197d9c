// SPDX-License-Identifier: MIT
/* virtio-rng (virtio 1.2 §5.4): one request queue filled from getrandom(). */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util.h"
#include "virtio_devices.h"

#define RNG_QUEUE_SIZE 256
#define RNG_MAX_CHAIN 64
#define RNG_MAX_BYTES (64 * 1024) /* per request: a guest cannot make us spin */

struct virtio_rng {
	struct virtio_dev vd;
	struct virtq_buf bufs[RNG_MAX_CHAIN];
};

static void rng_notify(struct virtio_dev *vd, unsigned int qi)
{
	struct virtio_rng *rng = vd->priv;
	struct virtq *q = &vd->vqs[qi];
	struct virtq_chain c = { .bufs = rng->bufs, .cap = RNG_MAX_CHAIN };
	bool pushed = false;
	int r;

	do {
		while ((r = virtq_pop(q, &c)) != 0) {
			uint32_t done = 0;

			if (r == -EINVAL) {
				virtio_queue_broken(vd, qi);
				return;
			}
			for (unsigned int i = 0; r > 0 && i < c.n; i++) {
				uint32_t want = MIN(c.bufs[i].len, RNG_MAX_BYTES - done);
				ssize_t n;

				if (!c.bufs[i].write || !want)
					continue;
				n = getrandom(c.bufs[i].host, want, 0);
				if (n <= 0)
					break;
				done += (uint32_t)n;
			}
			virtq_push(q, c.head, done);
			pushed = true;
		}
	} while (virtq_enable_notify(q));
	if (pushed)
		virtio_queue_interrupt(vd, qi);
}

static void rng_destroy(struct virtio_dev *vd)
{
	free(vd->priv);
}

static const struct virtio_dev_ops virtio_rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.pci_class = 0xff00, /* unclassified device */
	.queue_notify = rng_notify,
	.destroy = rng_destroy,
};

struct virtio_dev *virtio_rng_new(const struct guest_mem *mem)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));

	if (!rng)
		return NULL;
	virtio_dev_init(&rng->vd, &virtio_rng_ops, "virtio-rng", 1, RNG_QUEUE_SIZE, 0, 0, mem, rng);
	return &rng->vd;
}
