/* SPDX-License-Identifier: MIT */
/*
 * The transport-independent half of a virtio 1.x device (modern only):
 * feature negotiation (§2.2, §3.1.1), device status with reset and
 * NEEDS_RESET (§2.1), the queues and their enabling, the interrupt status
 * and config generation. Transports (virtio_mmio.c, virtio_pci.c) map their
 * registers onto these calls; devices (virtio_blk.c, ...) supply the ops.
 * No KVM here: devices and this core are unit-tested and fuzzed on any host.
 */
#ifndef ARMVM_VIRTIO_H
#define ARMVM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Status bits, feature bits, device IDs, ring layouts, the "no MSI-X vector" value. */
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "device.h"
#include "evloop.h"
#include "guest_mem.h"
#include "state.h"
#include "virtqueue.h"

#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

#define VIRTIO_MAX_QUEUES 64

struct virtio_dev;

struct virtio_dev_ops {
	uint32_t device_id;
	uint16_t pci_class; /* PCI class code (base << 8 | sub) */
	/* Device-specific config space: reads and writes within cfg_size. */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const void *buf, uint32_t len);
	/* The driver added buffers to queue q (on the device's I/O thread). */
	void (*queue_notify)(struct virtio_dev *vd, unsigned int q);
	/* The driver set DRIVER_OK. */
	void (*activate)(struct virtio_dev *vd);
	/* Device reset: stop and forget all work (lock held; may wait). */
	void (*reset)(struct virtio_dev *vd);
	/*
	 * Before a save (lock held): finish or hand back all work in flight,
	 * so the queue indices the core saves next are final; resume after.
	 */
	void (*quiesce)(struct virtio_dev *vd);
	void (*resume)(struct virtio_dev *vd);
	int (*save)(struct virtio_dev *vd, struct state_buf *sb);
	int (*load)(struct virtio_dev *vd, struct state_buf *sb);
	/* The device's I/O loop exists: add the device's own fds to it. */
	int (*attach)(struct virtio_dev *vd, struct evloop *loop);
	/* Free the device (its transport is gone). */
	void (*destroy)(struct virtio_dev *vd);
};

/* What a transport does for the core. */
struct virtio_transport {
	void (*irq)(struct virtio_dev *vd, unsigned int q, bool config);
	/*
	 * For an in-kernel data path (vhost): queue q's notification eventfd,
	 * which the transport stops watching (take) or watches again (!take);
	 * -1 if there is none.
	 */
	int (*kick_fd)(struct virtio_dev *vd, unsigned int q, bool take);
	/*
	 * An eventfd whose writes raise queue q's interrupt with no armvm
	 * thread in between (an MSI-X vector's irqfd), or -1.
	 */
	int (*call_fd)(struct virtio_dev *vd, unsigned int q);
	void *opaque;
};

struct virtio_dev {
	struct device dev;
	const struct virtio_dev_ops *ops;
	struct virtio_transport transport;
	const struct guest_mem *mem;
	void *priv;
	pthread_mutex_t lock;
	bool frozen; /* virtio_dev_freeze: lock held by the freezer */

	uint64_t host_features, driver_features;
	uint32_t dfeat_sel, gfeat_sel, queue_sel;
	uint8_t status;
	uint32_t config_gen;
	uint32_t isr;
	uint32_t cfg_size;
	unsigned int nr_queues;
	uint16_t queue_max;
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	uint16_t msix_queue[VIRTIO_MAX_QUEUES], msix_config;
	/* IOMMU topology (set by the transport and the VM): the endpoint ID
	 * (PCI requester ID, or 0x10000 + slot on virtio-mmio); iommu_node: this
	 * device is the virtio-iommu (its node has #iommu-cells); behind_iommu:
	 * a virtio-mmio device's node names it with `iommus`. */
	uint32_t ep_id;
	bool iommu_node, behind_iommu;

	/* For `armvm stat`: notifications served, interrupts raised, and
	 * for block devices the bytes moved (anyone reads). */
	_Atomic uint64_t stat_notifies, stat_irqs, stat_read_bytes, stat_write_bytes;
	/* Where a request's time goes, for devices that say (virtio-blk):
	 * requests that reached the backend, their summed submit-to-
	 * completion time, and the device thread's time spent handling
	 * notifications and completions (ns; the device thread writes). */
	_Atomic uint64_t stat_reqs, stat_backend_ns, stat_busy_ns;
	/* Of the busy time: system calls submitting to the backend. */
	_Atomic uint64_t stat_submits, stat_submit_ns;
};

/* The virtio device behind a placed device, or NULL if it is not one. */
struct virtio_dev *virtio_dev_of(struct device *dev);

void virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const char *name,
		     unsigned int nr_queues, uint16_t queue_max, uint64_t features,
		     uint32_t cfg_size, const struct guest_mem *mem, void *priv);
void virtio_dev_destroy(struct virtio_dev *vd);

/* Register semantics shared by the transports (lock held by the caller). */
uint32_t virtio_get_device_features(struct virtio_dev *vd);
void virtio_set_driver_features(struct virtio_dev *vd, uint32_t val);
uint32_t virtio_get_driver_features(struct virtio_dev *vd);
void virtio_set_status(struct virtio_dev *vd, uint8_t status);
void virtio_queue_set_ready(struct virtio_dev *vd, unsigned int q, bool on);
struct virtq *virtio_sel_queue(struct virtio_dev *vd); /* NULL if out of range */
void virtio_config_access(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len,
			  bool is_write);
bool virtio_feature(const struct virtio_dev *vd, unsigned int bit);

/* For devices: after pushing used buffers to queue q. */
void virtio_queue_interrupt(struct virtio_dev *vd, unsigned int q);
/* The same, unconditionally: someone else (vhost) judged it wanted. */
void virtio_queue_signal(struct virtio_dev *vd, unsigned int q);
/* For devices: the guest broke queue q; mark NEEDS_RESET and say so. */
void virtio_queue_broken(struct virtio_dev *vd, unsigned int q);
/* Is the device live (DRIVER_OK and not NEEDS_RESET)? */
bool virtio_dev_live(const struct virtio_dev *vd);

/* Common state for snapshots: features, status, queues, vectors (the
 * device lock is taken here). */
int virtio_dev_save(struct virtio_dev *vd, struct state_buf *sb);
/*
 * For a snapshot: take the device lock and quiesce the device (every
 * thread that would touch it waits) until thaw, from the same thread.
 * virtio_dev_save() of a frozen device saves it as it stands.
 */
void virtio_dev_freeze(struct virtio_dev *vd);
void virtio_dev_thaw(struct virtio_dev *vd);
int virtio_dev_load(struct virtio_dev *vd, struct state_buf *sb);

#endif
