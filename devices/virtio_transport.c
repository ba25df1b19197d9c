// SPDX-License-Identifier: MIT
#include "virtio_transport.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "irq.h"
#include "util.h"

static void notify_event(void *opaque, uint32_t events)
{
	struct virtio_notify_ctx *c = opaque;
	struct virtio_dev *vd = c->n->vd;
	uint64_t v;

	(void)events;
	if (read(c->n->efd[c->q], &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&vd->lock);
	if (virtio_dev_live(vd) && vd->vqs[c->q].ready && !vd->vqs[c->q].broken) {
		vd->stat_notifies++;
		vd->ops->queue_notify(vd, c->q);
	} else if (!vd->vqs[c->q].ready)
		pr_guest(LOG_DEBUG, "%s: notification for queue %u before it is ready",
			 vd->dev.name, c->q);
	pthread_mutex_unlock(&vd->lock);
}

int virtio_notify_init(struct virtio_notify *n, struct virtio_dev *vd, int vm_fd)
{
	const char *name = vd->dev.name;
	int err;

	memset(n, 0, sizeof(*n));
	n->vd = vd;
	n->vm_fd = vm_fd;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		n->efd[q] = -1;
	/* "blk@00:01.0", "net@a000200": the thread's name has 15 characters */
	if (!strncmp(name, "virtio-", 7))
		name += 7;
	err = iothread_start(&n->io, name);
	if (err)
		return err;
	for (unsigned int q = 0; q < vd->nr_queues; q++) {
		n->efd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->efd[q] < 0)
			return -errno;
		n->ctx[q] = (struct virtio_notify_ctx){ n, q };
		err = evloop_add(&n->io.loop, n->efd[q], EPOLLIN, notify_event, &n->ctx[q]);
		if (err)
			return err;
	}
	return vd->ops->attach ? vd->ops->attach(vd, &n->io.loop) : 0;
}

void virtio_notify_destroy(struct virtio_notify *n)
{
	iothread_stop(&n->io);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (n->efd[q] >= 0)
			close(n->efd[q]);
}

int virtio_notify_bind(struct virtio_notify *n, unsigned int q, uint64_t addr, unsigned int len,
		       bool match, uint64_t data, bool assign)
{
	return irq_ioeventfd(n->vm_fd, n->efd[q], addr, len, match, data, assign);
}

void virtio_notify_kick(struct virtio_notify *n, unsigned int q)
{
	uint64_t one = 1;

	if (q < n->vd->nr_queues && write(n->efd[q], &one, sizeof(one)) < 0) {
		/* Already pending: the counter cannot overflow in practice. */
	}
}

int virtio_notify_take(struct virtio_notify *n, unsigned int q, bool take)
{
	if (q >= n->vd->nr_queues || n->efd[q] < 0 ||
	    evloop_mod(&n->io.loop, n->efd[q], take ? 0 : EPOLLIN))
		return -1;
	return n->efd[q];
}
