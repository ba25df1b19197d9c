// SPDX-License-Identifier: MIT
/*
 * virtio over PCI, modern only (virtio 1.2 §4.1): vendor 0x1af4, device
 * 0x1040 + id. BAR0 holds the common configuration (0x0000), ISR (0x1000),
 * device configuration (0x2000) and notifications (0x3000 + 4 * queue,
 * each an ioeventfd); BAR1 holds the MSI-X table and PBA. With MSI-X off
 * (or no ITS), interrupts are INTx, deasserted by reading the ISR.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include "pci.h"
#include "virtio_transport.h"
#include "vm.h"

#define VPCI_COMMON 0x0000
#define VPCI_ISR 0x1000
#define VPCI_DEVICE 0x2000
#define VPCI_NOTIFY 0x3000
#define VPCI_NOTIFY_MUL 4
#define VPCI_BAR_SIZE 0x4000
/* Where each field of the common configuration is (§4.1.4.3). */
#define CC(field) offsetof(struct virtio_pci_common_cfg, field)
_Static_assert(sizeof(struct virtio_pci_common_cfg) == 0x38, "virtio 1.0's common configuration");

struct virtio_pci {
	struct pci_dev pd;
	struct virtio_dev *vd;
	struct vm *vm;
	struct virtio_notify notify;
};

static void vpci_irq(struct virtio_dev *vd, unsigned int q, bool config)
{
	struct virtio_pci *p = vd->transport.opaque;
	uint16_t v;

	if (pci_msix_enabled(&p->pd)) {
		v = config ? vd->msix_config : vd->msix_queue[q];
		if (v != VIRTIO_MSI_NO_VECTOR)
			pci_msix_notify(&p->pd, v);
		return;
	}
	pci_intx_set(&p->pd, 1);
}

static int vpci_kick_fd(struct virtio_dev *vd, unsigned int q, bool take)
{
	struct virtio_pci *p = vd->transport.opaque;

	return virtio_notify_take(&p->notify, q, take);
}

/* With MSI-X on, the queue's vector eventfd reaches the guest directly
 * (masking included: see pci_msix_vector_fd). */
static int vpci_call_fd(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_pci *p = vd->transport.opaque;

	if (!pci_msix_enabled(&p->pd) || vd->msix_queue[q] == VIRTIO_MSI_NO_VECTOR)
		return -1;
	return pci_msix_vector_fd(&p->pd, vd->msix_queue[q]);
}

/* §4.1.4.3 struct virtio_pci_common_cfg. */
static void common_access(struct virtio_pci *p, uint32_t off, uint8_t *data, unsigned int len,
			  bool w)
{
	struct virtio_dev *vd = p->vd;
	struct virtq *q = virtio_sel_queue(vd);
	uint64_t v = w ? bus_data_get(data, len) : 0, r = 0;
	uint16_t qi = (uint16_t)vd->queue_sel;

	switch (off) {
	case CC(device_feature_select):
		if (w)
			vd->dfeat_sel = (uint32_t)v;
		else
			r = vd->dfeat_sel;
		break;
	case CC(device_feature):
		if (!w)
			r = virtio_get_device_features(vd);
		break;
	case CC(guest_feature_select):
		if (w)
			vd->gfeat_sel = (uint32_t)v;
		else
			r = vd->gfeat_sel;
		break;
	case CC(guest_feature):
		if (w)
			virtio_set_driver_features(vd, (uint32_t)v);
		else
			r = virtio_get_driver_features(vd);
		break;
	case CC(msix_config):
		if (w)
			vd->msix_config = v < p->pd.msix_nr ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		else
			r = vd->msix_config;
		break;
	case CC(num_queues):
		if (!w)
			r = vd->nr_queues;
		break;
	case CC(device_status):
		if (w) {
			virtio_set_status(vd, (uint8_t)v);
			if (!v)
				pci_intx_set(&p->pd, 0);
		} else {
			r = vd->status;
		}
		break;
	case CC(config_generation):
		if (!w)
			r = (uint8_t)vd->config_gen;
		break;
	case CC(queue_select):
		if (w)
			vd->queue_sel = (uint32_t)v;
		else
			r = vd->queue_sel;
		break;
	case CC(queue_size):
		if (!q)
			break;
		if (w && !q->ready)
			q->size = (uint16_t)v;
		else if (!w)
			r = q->ready || q->size ? q->size : vd->queue_max;
		break;
	case CC(queue_msix_vector):
		if (!q)
			break;
		if (w)
			vd->msix_queue[qi] = v < p->pd.msix_nr ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		else
			r = vd->msix_queue[qi];
		break;
	case CC(queue_enable):
		if (!q)
			break;
		if (w && v == 1)
			virtio_queue_set_ready(vd, qi, true);
		else if (!w)
			r = q->ready;
		break;
	case CC(queue_notify_off):
		if (!w && q)
			r = qi;
		break;
	case CC(queue_desc_lo):
	case CC(queue_desc_hi):
	case CC(queue_avail_lo):
	case CC(queue_avail_hi):
	case CC(queue_used_lo):
	case CC(queue_used_hi): {
		uint64_t *a = !q			 ? NULL
			      : off < CC(queue_avail_lo) ? &q->desc_gpa
			      : off < CC(queue_used_lo)	 ? &q->avail_gpa
							 : &q->used_gpa;
		/* Each address is a _lo and a _hi half (or one 8-byte access). */
		unsigned int shift = (off - CC(queue_desc_lo)) % 8 ? 32 : 0;

		if (!a)
			break;
		if (w && !q->ready) {
			if (len == 8)
				*a = v;
			else
				*a = (*a & ~(0xffffffffULL << shift)) | (v & 0xffffffff) << shift;
		} else if (!w) {
			r = len == 8 ? *a : *a >> shift;
		}
		break;
	}
	default:
		break;
	}
	if (!w)
		bus_data_set(data, len, r);
}

static void bar0_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len, bool is_write)
{
	struct virtio_pci *p = opaque;
	struct virtio_dev *vd = p->vd;

	if (off >= VPCI_NOTIFY) {
		uint64_t q = (off - VPCI_NOTIFY) / VPCI_NOTIFY_MUL;

		if (is_write && q < vd->nr_queues)
			virtio_notify_kick(&p->notify, (unsigned int)q);
		else if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	if (off < VPCI_ISR) {
		common_access(p, (uint32_t)off, data, len, is_write);
	} else if (off < VPCI_DEVICE) {
		/* §4.1.4.5: reading the ISR clears it and deasserts INTx. */
		if (!is_write && off == VPCI_ISR) {
			bus_data_set(data, len, __atomic_exchange_n(&vd->isr, 0, __ATOMIC_SEQ_CST));
			pci_intx_set(&p->pd, 0);
		}
	} else {
		virtio_config_access(vd, (uint32_t)(off - VPCI_DEVICE), data, len, is_write);
	}
	pthread_mutex_unlock(&vd->lock);
}

/* BAR0 moved: move the notification ioeventfds with it. */
static void vpci_bar_moved(struct pci_dev *pd, int bar, bool mapped, uint64_t addr, uint64_t old)
{
	struct virtio_pci *p = pd->opaque;

	if (bar != 0)
		return;
	for (unsigned int q = 0; q < p->vd->nr_queues; q++) {
		uint64_t off = VPCI_NOTIFY + (uint64_t)q * VPCI_NOTIFY_MUL;

		if (!mapped)
			virtio_notify_bind(&p->notify, q, old + off, 0, false, 0, false);
		else if (virtio_notify_bind(&p->notify, q, addr + off, 0, false, 0, true))
			pr_warn("%s: no ioeventfd for queue %u: notifications take the slow path",
				p->vd->dev.name, q);
	}
}

static const struct pci_dev_ops vpci_pci_ops = {
	.bar_moved = vpci_bar_moved,
};

static void add_vcap(struct virtio_pci *p, uint8_t type, uint8_t len, uint32_t offset,
		     uint32_t length, uint8_t **out)
{
	uint8_t off = pci_cap_add(&p->pd, PCI_CAP_ID_VNDR, len);
	uint8_t *c = p->pd.cfg + off;

	/* struct virtio_pci_cap, after the id and next pointer pci_cap_add set */
	c[offsetof(struct virtio_pci_cap, cap_len)] = len;
	c[offsetof(struct virtio_pci_cap, cfg_type)] = type;
	c[offsetof(struct virtio_pci_cap, bar)] = 0; /* BAR0 */
	put_le32(c + offsetof(struct virtio_pci_cap, offset), offset);
	put_le32(c + offsetof(struct virtio_pci_cap, length), length);
	if (out)
		*out = c;
}

static int vpci_start(struct device *dev)
{
	struct virtio_pci *p = dev->priv;

	return pci_dev_start(&p->pd);
}

static void vpci_reset(struct device *dev)
{
	struct virtio_pci *p = dev->priv;

	pthread_mutex_lock(&p->vd->lock);
	virtio_set_status(p->vd, 0);
	pthread_mutex_unlock(&p->vd->lock);
	pci_intx_set(&p->pd, 0);
}

static void vpci_freeze(struct device *dev)
{
	struct virtio_pci *p = dev->priv;

	virtio_dev_freeze(p->vd);
}

static void vpci_thaw(struct device *dev)
{
	struct virtio_pci *p = dev->priv;

	virtio_dev_thaw(p->vd);
}

static int vpci_save(struct device *dev, struct state_buf *sb)
{
	struct virtio_pci *p = dev->priv;

	pthread_mutex_lock(&p->pd.lock);
	state_put_bytes(sb, p->pd.cfg, sizeof(p->pd.cfg));
	state_put_bytes(sb, p->pd.msix, sizeof(p->pd.msix));
	state_put_u64(sb, p->pd.msix_pba);
	pthread_mutex_unlock(&p->pd.lock);
	return virtio_dev_save(p->vd, sb);
}

/* Only what the guest could have written, through the write mask: the
 * command register, the BARs and the MSI-X control. */
static void vpci_cfg_apply(struct virtio_pci *p, uint8_t *cfg)
{
	uint8_t flags = (uint8_t)(p->pd.msix_cap + PCI_MSIX_FLAGS);

	pci_cfg_access(&p->pd, PCI_COMMAND, cfg + PCI_COMMAND, 2, true);
	for (int b = 0; b < PCI_STD_NUM_BARS; b++)
		pci_cfg_access(&p->pd, PCI_BASE_ADDRESS_0 + 4 * b, cfg + PCI_BASE_ADDRESS_0 + 4 * b,
			       4, true);
	if (p->pd.msix_cap)
		pci_cfg_access(&p->pd, flags, cfg + flags, 2, true);
}

/*
 * All or nothing: the whole blob is read before anything changes (BARs
 * are moved only once it is known to be whole), and if the virtio part is
 * refused the function goes back to its old configuration.
 */
static int vpci_load(struct device *dev, struct state_buf *sb, uint32_t ver)
{
	struct virtio_pci *p = dev->priv;
	uint8_t cfg[PCI_CFG_SPACE_SIZE], old_cfg[PCI_CFG_SPACE_SIZE];
	struct pci_msix_entry msix[PCI_MSIX_MAX], old_msix[PCI_MSIX_MAX];
	uint64_t pba, old_pba;
	int err;

	(void)ver;
	state_get_bytes(sb, cfg, sizeof(cfg));
	state_get_bytes(sb, msix, sizeof(msix));
	pba = state_get_u64(sb);
	if (state_error(sb))
		return -EINVAL;
	pthread_mutex_lock(&p->pd.lock);
	memcpy(old_cfg, p->pd.cfg, sizeof(old_cfg));
	memcpy(old_msix, p->pd.msix, sizeof(old_msix));
	old_pba = p->pd.msix_pba;
	memcpy(p->pd.msix, msix, sizeof(msix));
	p->pd.msix_pba = pba;
	pthread_mutex_unlock(&p->pd.lock);
	vpci_cfg_apply(p, cfg);
	err = virtio_dev_load(p->vd, sb);
	if (err) {
		pthread_mutex_lock(&p->pd.lock);
		memcpy(p->pd.msix, old_msix, sizeof(old_msix));
		p->pd.msix_pba = old_pba;
		pthread_mutex_unlock(&p->pd.lock);
		vpci_cfg_apply(p, old_cfg);
	}
	return err;
}

static void vpci_destroy(struct device *dev)
{
	struct virtio_pci *p = dev->priv;

	virtio_notify_destroy(&p->notify);
	pci_dev_destroy(&p->pd);
	virtio_dev_destroy(p->vd);
	free(p);
}

static const struct device_ops virtio_pci_ops = {
	.type = "virtio-pci",
	.state_version = 1,
	.start = vpci_start,
	.reset = vpci_reset,
	.freeze = vpci_freeze,
	.thaw = vpci_thaw,
	.save = vpci_save,
	.load = vpci_load,
	.destroy = vpci_destroy,
};

int virtio_pci_create(struct vm *vm, struct virtio_dev *vd, char *err, size_t errlen)
{
	struct virtio_pci *p = calloc(1, sizeof(*p));
	uint8_t *notify_cap;
	int ret;

	if (!p) {
		errmsg(err, errlen, -ENOMEM, "%s: out of memory", vd->dev.name);
		virtio_dev_destroy(vd);
		return -ENOMEM;
	}
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		p->notify.efd[q] = -1;
	p->vd = vd;
	p->vm = vm;
	vd->transport = (struct virtio_transport){
		.irq = vpci_irq,
		.kick_fd = vpci_kick_fd,
		.call_fd = vpci_call_fd,
		.opaque = p,
	};
	ret = pci_dev_init(&vm->pci, &p->pd, vd->dev.name, 0x1af4,
			   (uint16_t)(0x1040 + vd->ops->device_id),
			   (uint32_t)vd->ops->pci_class << 16 | 1, 0x1af4,
			   (uint16_t)vd->ops->device_id, vm_alloc_spi(vm));
	if (ret) {
		errmsg(err, errlen, ret, "no PCI slot left for %s", vd->dev.name);
		virtio_dev_destroy(vd);
		free(p);
		return ret;
	}
	/* Unique and stable for a configuration: saved state is matched by it. */
	snprintf(vd->dev.name, sizeof(vd->dev.name), "%s", p->pd.name);
	vd->ep_id = p->pd.devfn;
	p->pd.ops = &vpci_pci_ops;
	p->pd.opaque = p;
	vd->dev.ops = &virtio_pci_ops;
	vd->dev.priv = p;
	ret = pci_bar_init(&p->pd, 0, VPCI_BAR_SIZE, bar0_access, p);
	add_vcap(p, VIRTIO_PCI_CAP_COMMON_CFG, sizeof(struct virtio_pci_cap), VPCI_COMMON,
		 sizeof(struct virtio_pci_common_cfg), NULL);
	add_vcap(p, VIRTIO_PCI_CAP_NOTIFY_CFG, sizeof(struct virtio_pci_notify_cap), VPCI_NOTIFY,
		 VPCI_NOTIFY_MUL * vd->nr_queues, &notify_cap);
	put_le32(notify_cap + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier),
		 VPCI_NOTIFY_MUL);
	add_vcap(p, VIRTIO_PCI_CAP_ISR_CFG, sizeof(struct virtio_pci_cap), VPCI_ISR, 4, NULL);
	if (vd->cfg_size)
		add_vcap(p, VIRTIO_PCI_CAP_DEVICE_CFG, sizeof(struct virtio_pci_cap), VPCI_DEVICE,
			 vd->cfg_size, NULL);
	if (!ret && vm->pci.msi)
		ret = pci_msix_init(
			&p->pd, (uint16_t)MIN(vd->nr_queues + 1, (unsigned int)PCI_MSIX_MAX), 1);
	if (!ret)
		ret = virtio_notify_init(&p->notify, vd, vm->vm_fd);
	if (ret) {
		/* The message first: vpci_destroy frees vd and its name. */
		errmsg(err, errlen, ret, "cannot place %s on PCI: %s", vd->dev.name,
		       strerror(-ret));
		vpci_destroy(&vd->dev);
		return ret;
	}
	/* Decoding on from the start; the guest may move the BARs. */
	{
		uint8_t cmd[2];

		put_le16(cmd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		pci_cfg_access(&p->pd, PCI_COMMAND, cmd, 2, true);
	}
	device_list_add(&vm->devices, &vd->dev);
	return 0;
}
