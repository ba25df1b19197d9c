/* SPDX-License-Identifier: MIT */
/*
 * An in-kernel virtio data path (vhost, Documentation/virtio in Linux;
 * drivers/vhost/): armvm keeps the device's control half (features,
 * status, config, the queues' layout as the guest set it) and hands the
 * rings to the kernel while the device is live:
 *  - the memory table is guest RAM's regions (guest-physical to host VA);
 *  - per queue: its size, the next avail index (VRING_BASE), the rings'
 *    host addresses, KICK = the transport's notification eventfd (the
 *    transport stops watching it), CALL = an eventfd whose writes raise
 *    the queue's interrupt without armvm (an MSI-X vector's irqfd) or, when
 *    the transport has none (virtio-mmio, INTx), one armvm watches, and
 *    ERR = an eventfd armvm watches: vhost found the queue broken;
 *  - stopping reads the indices back (GET_VRING_BASE and the used ring),
 *    so the userspace path, a snapshot or the next start goes on from them.
 * The back-end's own attach (VHOST_NET_SET_BACKEND, ...) is the device's.
 */
#ifndef ARMVM_VHOST_H
#define ARMVM_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VHOST_MAX_QUEUES 8

struct vhost {
	int fd;
	uint64_t features; /* what the kernel back-end offers */
	unsigned int nr_queues;
	struct virtio_dev *vd;
	struct evloop *loop;
	bool running;
	int call_fd[VHOST_MAX_QUEUES]; /* ours, when the transport has none */
	int err_fd[VHOST_MAX_QUEUES];
	struct vhost_ctx {
		struct vhost *vh;
		unsigned int q;
	} ctx[VHOST_MAX_QUEUES];
};

/* Open a vhost device node (SET_OWNER, GET_FEATURES); -errno, err set. */
int vhost_open(struct vhost *vh, const char *path, struct virtio_dev *vd, unsigned int nr_queues,
	       char *err, size_t errlen);
void vhost_close(struct vhost *vh);
/* The device is live: hand the queues to the kernel (vd lock held). */
int vhost_start(struct vhost *vh, struct evloop *loop);
/* Take the queues back, their indices read into vd's queues (lock held). */
void vhost_stop(struct vhost *vh);

#endif
