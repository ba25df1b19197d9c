// SPDX-License-Identifier: MIT
/*
 * virtio over MMIO, version 2 (virtio 1.2 §4.2.2): 0x200-byte slots from
 * LAYOUT_VIRTIO_MMIO_BASE, each with an edge-triggered SPI driven through an
 * irqfd, queue notifications through ioeventfds (datamatch on the queue).
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_mmio.h> /* the register offsets */

#include "devtree.h"
#include "irq.h"
#include "layout.h"
#include "virtio_transport.h"
#include "vm.h"

#define VMMIO_MAGIC_VALUE 0x74726976 /* "virt" */
#define VMMIO_VENDOR 0x4d564d41	     /* "ARMV" */

struct virtio_mmio {
	struct virtio_dev *vd;
	struct vm *vm;
	struct virtio_notify notify;
	int irq_efd;
};

static void set_lo(uint64_t *v, uint32_t x)
{
	*v = (*v & ~0xffffffffULL) | x;
}

static void set_hi(uint64_t *v, uint32_t x)
{
	*v = (*v & 0xffffffffULL) | (uint64_t)x << 32;
}

static void vmmio_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len, bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *vd = m->vd;
	struct virtq *q;
	uint32_t v = 0;

	if (off >= VIRTIO_MMIO_CONFIG) {
		pthread_mutex_lock(&vd->lock);
		virtio_config_access(vd, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len, is_write);
		pthread_mutex_unlock(&vd->lock);
		return;
	}
	/* §4.2.2.2: the registers are 32-bit, accessed 32 bits at a time. */
	if (len != 4 || off % 4) {
		pr_guest(LOG_WARNING, "%s: %u-byte access at 0x%llx ignored", vd->dev.name, len,
			 (unsigned long long)off);
		return;
	}
	if (is_write)
		v = (uint32_t)bus_data_get(data, 4);
	if (is_write && off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		virtio_notify_kick(&m->notify, v);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	q = virtio_sel_queue(vd);
	if (!is_write) {
		switch (off) {
		case VIRTIO_MMIO_MAGIC_VALUE:
			v = VMMIO_MAGIC_VALUE;
			break;
		case VIRTIO_MMIO_VERSION:
			v = 2;
			break;
		case VIRTIO_MMIO_DEVICE_ID:
			v = vd->ops->device_id;
			break;
		case VIRTIO_MMIO_VENDOR_ID:
			v = VMMIO_VENDOR;
			break;
		case VIRTIO_MMIO_DEVICE_FEATURES:
			v = virtio_get_device_features(vd);
			break;
		case VIRTIO_MMIO_QUEUE_NUM_MAX:
			v = q ? vd->queue_max : 0;
			break;
		case VIRTIO_MMIO_QUEUE_READY:
			v = q && q->ready;
			break;
		case VIRTIO_MMIO_INTERRUPT_STATUS:
			v = __atomic_load_n(&vd->isr, __ATOMIC_SEQ_CST);
			break;
		case VIRTIO_MMIO_STATUS:
			v = vd->status;
			break;
		case VIRTIO_MMIO_CONFIG_GENERATION:
			v = vd->config_gen;
			break;
		default:
			v = 0;
			break;
		}
		bus_data_set(data, 4, v);
	} else {
		switch (off) {
		case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
			vd->dfeat_sel = v;
			break;
		case VIRTIO_MMIO_DRIVER_FEATURES:
			virtio_set_driver_features(vd, v);
			break;
		case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
			vd->gfeat_sel = v;
			break;
		case VIRTIO_MMIO_QUEUE_SEL:
			vd->queue_sel = v;
			break;
		case VIRTIO_MMIO_QUEUE_NUM:
			if (q && !q->ready)
				q->size = (uint16_t)MIN(v, 0xffffu);
			break;
		case VIRTIO_MMIO_QUEUE_READY:
			if (q)
				virtio_queue_set_ready(vd, vd->queue_sel, v & 1);
			break;
		case VIRTIO_MMIO_INTERRUPT_ACK:
			__atomic_and_fetch(&vd->isr, ~v, __ATOMIC_SEQ_CST);
			break;
		case VIRTIO_MMIO_STATUS:
			virtio_set_status(vd, (uint8_t)v);
			break;
		case VIRTIO_MMIO_QUEUE_DESC_LOW:
			if (q && !q->ready)
				set_lo(&q->desc_gpa, v);
			break;
		case VIRTIO_MMIO_QUEUE_DESC_HIGH:
			if (q && !q->ready)
				set_hi(&q->desc_gpa, v);
			break;
		case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
			if (q && !q->ready)
				set_lo(&q->avail_gpa, v);
			break;
		case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
			if (q && !q->ready)
				set_hi(&q->avail_gpa, v);
			break;
		case VIRTIO_MMIO_QUEUE_USED_LOW:
			if (q && !q->ready)
				set_lo(&q->used_gpa, v);
			break;
		case VIRTIO_MMIO_QUEUE_USED_HIGH:
			if (q && !q->ready)
				set_hi(&q->used_gpa, v);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&vd->lock);
}

/* No call_fd: an interrupt here also sets InterruptStatus, so vhost's
 * completions come through armvm (vhost.c watches its own eventfd). */
static int vmmio_kick_fd(struct virtio_dev *vd, unsigned int q, bool take)
{
	struct virtio_mmio *m = vd->transport.opaque;

	return virtio_notify_take(&m->notify, q, take);
}

static void vmmio_irq(struct virtio_dev *vd, unsigned int q, bool config)
{
	struct virtio_mmio *m = vd->transport.opaque;
	uint64_t one = 1;

	(void)q, (void)config;
	if (write(m->irq_efd, &one, sizeof(one)) < 0) {
		/* Pending already. */
	}
}

static int vmmio_fdt(struct device *dev, void *fdt)
{
	static const char compat[] = "virtio,mmio";
	/* Edge-triggered: the interrupt is an irqfd pulse. */
	int err = device_fdt_begin(dev, fdt, "virtio", compat, sizeof(compat),
				   DEVICE_IRQ_EDGE_RISING);

	struct virtio_dev *vd = virtio_dev_of(dev);

	if (!err)
		err = fdt_property(fdt, "dma-coherent", NULL, 0);
	if (!err && vd && vd->iommu_node) {
		err = fdt_property_cell(fdt, "#iommu-cells", 1);
		if (!err)
			err = fdt_property_cell(fdt, "phandle", DEVTREE_PHANDLE_VIOMMU);
	}
	if (!err && vd && vd->behind_iommu) {
		uint32_t iommus[2] = { cpu_to_fdt32(DEVTREE_PHANDLE_VIOMMU),
				       cpu_to_fdt32(vd->ep_id) };

		err = fdt_property(fdt, "iommus", iommus, sizeof(iommus));
	}
	if (!err)
		err = fdt_end_node(fdt);
	return err ? -EINVAL : 0;
}

/* After the GIC is initialised: the irqfd and the notification ioeventfds. */
static int vmmio_start(struct device *dev)
{
	struct virtio_mmio *m = dev->priv;
	int err = irq_route_spi(&m->vm->routes, dev->irq);

	if (!err)
		err = irq_irqfd(m->vm->vm_fd, m->irq_efd, dev->irq, true);
	for (unsigned int q = 0; !err && q < m->vd->nr_queues; q++)
		err = virtio_notify_bind(&m->notify, q, dev->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4,
					 true, q, true);
	return err;
}

static void vmmio_reset(struct device *dev)
{
	struct virtio_mmio *m = dev->priv;

	pthread_mutex_lock(&m->vd->lock);
	virtio_set_status(m->vd, 0);
	pthread_mutex_unlock(&m->vd->lock);
}

static void vmmio_freeze(struct device *dev)
{
	struct virtio_mmio *m = dev->priv;

	virtio_dev_freeze(m->vd);
}

static void vmmio_thaw(struct device *dev)
{
	struct virtio_mmio *m = dev->priv;

	virtio_dev_thaw(m->vd);
}

static int vmmio_save(struct device *dev, struct state_buf *sb)
{
	struct virtio_mmio *m = dev->priv;

	return virtio_dev_save(m->vd, sb);
}

static int vmmio_load(struct device *dev, struct state_buf *sb, uint32_t ver)
{
	struct virtio_mmio *m = dev->priv;

	(void)ver;
	return virtio_dev_load(m->vd, sb);
}

static void vmmio_destroy(struct device *dev)
{
	struct virtio_mmio *m = dev->priv;

	virtio_notify_destroy(&m->notify);
	if (m->irq_efd >= 0)
		close(m->irq_efd);
	virtio_dev_destroy(m->vd);
	free(m);
}

static const struct device_ops virtio_mmio_ops = {
	.type = "virtio-mmio",
	.state_version = 1,
	.fdt = vmmio_fdt,
	.start = vmmio_start,
	.reset = vmmio_reset,
	.freeze = vmmio_freeze,
	.thaw = vmmio_thaw,
	.save = vmmio_save,
	.load = vmmio_load,
	.destroy = vmmio_destroy,
};

int virtio_mmio_create(struct vm *vm, struct virtio_dev *vd, char *err, size_t errlen)
{
	uint64_t base = LAYOUT_VIRTIO_MMIO_BASE + vm->nr_virtio_mmio * LAYOUT_VIRTIO_MMIO_SLOT;
	struct virtio_mmio *m = NULL;
	int ret;

	if (base + LAYOUT_VIRTIO_MMIO_SLOT > layout_gic_redist_base(vm->nr_vcpus)) {
		errmsg(err, errlen, -ENOSPC, "no virtio-mmio slot left for %s", vd->dev.name);
		virtio_dev_destroy(vd);
		return -ENOSPC;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errmsg(err, errlen, -ENOMEM, "%s: out of memory", vd->dev.name);
		virtio_dev_destroy(vd);
		return -ENOMEM;
	}
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->notify.efd[q] = -1;
	m->vd = vd;
	m->vm = vm;
	/* Unique and stable for a configuration: saved state is matched by it. */
	{
		char type[sizeof(vd->dev.name)];

		snprintf(type, sizeof(type), "%s", vd->dev.name);
		snprintf(vd->dev.name, sizeof(vd->dev.name), "%.16s@%llx", type,
			 (unsigned long long)base);
	}
	vd->ep_id = VIRTIO_MMIO_EP_BASE + vm->nr_virtio_mmio;
	m->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vd->transport = (struct virtio_transport){
		.irq = vmmio_irq,
		.kick_fd = vmmio_kick_fd,
		.opaque = m,
	};
	ret = m->irq_efd < 0 ? -errno : virtio_notify_init(&m->notify, vd, vm->vm_fd);
	vd->dev.ops = &virtio_mmio_ops;
	vd->dev.priv = m;
	vd->dev.base = base;
	vd->dev.size = LAYOUT_VIRTIO_MMIO_SLOT;
	vd->dev.irq = vm_alloc_spi(vm);
	if (!ret)
		ret = bus_add(&vm->mmio, base, LAYOUT_VIRTIO_MMIO_SLOT, vmmio_access, m,
			      vd->dev.name);
	if (ret) {
		/* The message first: vmmio_destroy frees vd and its name. */
		errmsg(err, errlen, ret, "cannot place %s on virtio-mmio: %s", vd->dev.name,
		       strerror(-ret));
		vmmio_destroy(&vd->dev);
		return ret;
	}
	vm->nr_virtio_mmio++;
	device_list_add(&vm->devices, &vd->dev);
	return 0;
}
