// SPDX-License-Identifier: MIT
#include "vhost.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

/* vhost wrote the queue's call eventfd and the transport had no direct
 * route for it: raise the interrupt from here. */
static void vhost_call_event(void *opaque, uint32_t events)
{
	struct vhost_ctx *c = opaque;
	uint64_t n;

	(void)events;
	if (read(c->vh->call_fd[c->q], &n, sizeof(n)) != sizeof(n))
		return;
	/*
	 * Under the device lock, as every other interrupt: with INTx, the
	 * guest's ISR read clears the ISR and lowers the line under it; a
	 * signal in between would leave the ISR set with the line low, and
	 * receive would stall.
	 */
	pthread_mutex_lock(&c->vh->vd->lock);
	virtio_queue_signal(c->vh->vd, c->q);
	pthread_mutex_unlock(&c->vh->vd->lock);
}

/* vhost met something it would not follow in the queue and stopped it. */
static void vhost_err_event(void *opaque, uint32_t events)
{
	struct vhost_ctx *c = opaque;
	struct virtio_dev *vd = c->vh->vd;
	uint64_t n;

	(void)events;
	if (read(c->vh->err_fd[c->q], &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&vd->lock);
	if (c->vh->running && !vd->vqs[c->q].broken) {
		vd->vqs[c->q].why = "the kernel's vhost refused a descriptor";
		virtio_queue_broken(vd, c->q);
	}
	pthread_mutex_unlock(&vd->lock);
}

int vhost_open(struct vhost *vh, const char *path, struct virtio_dev *vd, unsigned int nr_queues,
	       char *err, size_t errlen)
{
	memset(vh, 0, sizeof(*vh));
	for (unsigned int q = 0; q < VHOST_MAX_QUEUES; q++)
		vh->call_fd[q] = vh->err_fd[q] = -1;
	vh->vd = vd;
	vh->nr_queues = nr_queues;
	if (nr_queues > VHOST_MAX_QUEUES)
		return errmsg(err, errlen, -EINVAL, "vhost: %u queues is too many", nr_queues);
	vh->fd = open(path, O_RDWR | O_CLOEXEC);
	if (vh->fd < 0)
		return errmsg(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
	if (ioctl(vh->fd, VHOST_SET_OWNER) < 0 ||
	    ioctl(vh->fd, VHOST_GET_FEATURES, &vh->features) < 0) {
		int e = -errno;

		vhost_close(vh);
		return errmsg(err, errlen, e, "%s: cannot take ownership: %s", path, strerror(-e));
	}
	for (unsigned int q = 0; q < nr_queues; q++) {
		vh->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vh->err_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vh->ctx[q] = (struct vhost_ctx){ vh, q };
		if (vh->call_fd[q] < 0 || vh->err_fd[q] < 0) {
			int e = -errno;

			vhost_close(vh);
			return errmsg(err, errlen, e, "vhost: eventfd: %s", strerror(-e));
		}
	}
	return 0;
}

void vhost_close(struct vhost *vh)
{
	if (vh->fd >= 0)
		close(vh->fd);
	vh->fd = -1;
	for (unsigned int q = 0; q < VHOST_MAX_QUEUES; q++) {
		if (vh->call_fd[q] >= 0)
			close(vh->call_fd[q]);
		if (vh->err_fd[q] >= 0)
			close(vh->err_fd[q]);
		vh->call_fd[q] = vh->err_fd[q] = -1;
	}
}

static int vhost_set_mem(struct vhost *vh)
{
	const struct guest_mem *gm = vh->vd->mem;
	struct vhost_memory *m;
	int ret;

	m = calloc(1, sizeof(*m) + gm->nr_regions * sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->nregions = gm->nr_regions;
	for (unsigned int i = 0; i < gm->nr_regions; i++)
		m->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = gm->regions[i].gpa,
			.memory_size = gm->regions[i].size,
			.userspace_addr = (uintptr_t)gm->regions[i].host,
		};
	ret = ioctl(vh->fd, VHOST_SET_MEM_TABLE, m) < 0 ? -errno : 0;
	free(m);
	return ret;
}

static int vhost_start_queue(struct vhost *vh, unsigned int q)
{
	struct virtio_dev *vd = vh->vd;
	struct virtq *vq = &vd->vqs[q];
	struct vhost_vring_state num = { q, vq->size }, base = { q, vq->last_avail };
	struct vhost_vring_addr addr = {
		.index = q,
		.desc_user_addr = (uintptr_t)vq->desc,
		.avail_user_addr = (uintptr_t)vq->avail,
		.used_user_addr = (uintptr_t)vq->used,
	};
	struct vhost_vring_file kick = { q, -1 }, call = { q, -1 }, errf = { q, vh->err_fd[q] };

	if (!vq->ready || vq->broken || !vd->transport.kick_fd)
		return -EINVAL;
	kick.fd = vd->transport.kick_fd(vd, q, true);
	if (kick.fd < 0)
		return -EINVAL;
	call.fd = vd->transport.call_fd ? vd->transport.call_fd(vd, q) : -1;
	if (call.fd < 0) {
		call.fd = vh->call_fd[q];
		if (evloop_mod(vh->loop, call.fd, EPOLLIN))
			return -EIO;
	}
	if (evloop_mod(vh->loop, errf.fd, EPOLLIN))
		return -EIO;
	if (ioctl(vh->fd, VHOST_SET_VRING_NUM, &num) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_ADDR, &addr) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_ERR, &errf) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_CALL, &call) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_KICK, &kick) < 0)
		return -errno; /* errno is the failing ioctl's */
	return 0;
}

/* Unbind queue q from the kernel and read its indices back. */
static void vhost_stop_queue(struct vhost *vh, unsigned int q)
{
	struct virtio_dev *vd = vh->vd;
	struct virtq *vq = &vd->vqs[q];
	struct vhost_vring_state base = { q, 0 };
	struct vhost_vring_file none = { q, -1 };

	ioctl(vh->fd, VHOST_SET_VRING_KICK, &none);
	ioctl(vh->fd, VHOST_SET_VRING_CALL, &none);
	ioctl(vh->fd, VHOST_SET_VRING_ERR, &none);
	if (vq->ready && ioctl(vh->fd, VHOST_GET_VRING_BASE, &base) == 0) {
		vq->last_avail = (uint16_t)base.num;
		vq->used_idx = vq->used[1];
		vq->signalled_valid = false;
	}
	evloop_mod(vh->loop, vh->call_fd[q], 0);
	evloop_mod(vh->loop, vh->err_fd[q], 0);
	if (vd->transport.kick_fd)
		vd->transport.kick_fd(vd, q, false);
}

int vhost_start(struct vhost *vh, struct evloop *loop)
{
	uint64_t features = vh->vd->driver_features & vh->features;
	int err = 0;
	unsigned int q;

	if (vh->running)
		return 0;
	if (vh->loop != loop) {
		for (q = 0; q < vh->nr_queues && !err; q++) {
			err = evloop_add(loop, vh->call_fd[q], 0, vhost_call_event, &vh->ctx[q]);
			if (!err)
				err = evloop_add(loop, vh->err_fd[q], 0, vhost_err_event,
						 &vh->ctx[q]);
		}
		if (err)
			return err;
		vh->loop = loop;
	}
	if (ioctl(vh->fd, VHOST_SET_FEATURES, &features) < 0)
		return -errno;
	err = vhost_set_mem(vh);
	for (q = 0; q < vh->nr_queues && !err; q++)
		err = vhost_start_queue(vh, q);
	if (err) {
		while (q--)
			vhost_stop_queue(vh, q);
		return err;
	}
	vh->running = true;
	return 0;
}

void vhost_stop(struct vhost *vh)
{
	if (!vh->running)
		return;
	vh->running = false;
	for (unsigned int q = 0; q < vh->nr_queues; q++)
		vhost_stop_queue(vh, q);
}
