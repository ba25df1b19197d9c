/* SPDX-License-Identifier: MIT */
/*
 * What both virtio transports share on KVM: a queue notification is an
 * ioeventfd (the guest's write never leaves the kernel) watched by the
 * device's I/O thread, which runs the device's queue handler; an MMIO write
 * that does reach armvm (no ioeventfd) signals the same eventfd.
 */
#ifndef ARMVM_VIRTIO_TRANSPORT_H
#define ARMVM_VIRTIO_TRANSPORT_H

/* virtio-mmio endpoints' IDs for a virtio-iommu: above every PCI requester ID. */
#define VIRTIO_MMIO_EP_BASE 0x10000

#include <stdbool.h>
#include <stdint.h>

#include "iothread.h"
#include "virtio.h"

struct vm;

struct virtio_notify {
	struct virtio_dev *vd;
	struct iothread io;
	int vm_fd;
	int efd[VIRTIO_MAX_QUEUES];
	struct virtio_notify_ctx {
		struct virtio_notify *n;
		unsigned int q;
	} ctx[VIRTIO_MAX_QUEUES];
};

int virtio_notify_init(struct virtio_notify *n, struct virtio_dev *vd, int vm_fd);
void virtio_notify_destroy(struct virtio_notify *n);
/* Bind queue q's eventfd to a guest write at addr (len, datamatch). */
int virtio_notify_bind(struct virtio_notify *n, unsigned int q, uint64_t addr, unsigned int len,
		       bool match, uint64_t data, bool assign);
/* Hand queue q's eventfd to an in-kernel back-end (take: the I/O thread
 * stops watching it) or take it back; returns it, or -1. */
int virtio_notify_take(struct virtio_notify *n, unsigned int q, bool take);
/* The slow path: the write came to us. */
void virtio_notify_kick(struct virtio_notify *n, unsigned int q);

/*
 * Place a virtio device on the chosen transport (vmm/vm.c uses these).
 * Ownership, on every path: the call takes vd. On success the transport
 * frees it with the device (device_list_destroy); on failure it has been
 * freed already, and err names it. The caller never touches vd after.
 * The device is renamed for its place ("virtio-blk@00:02.0",
 * "virtio-blk@3000200"): unique in the VM, so saved state finds it.
 */
int virtio_mmio_create(struct vm *vm, struct virtio_dev *vd, char *err, size_t errlen);
int virtio_pci_create(struct vm *vm, struct virtio_dev *vd, char *err, size_t errlen);

#endif
