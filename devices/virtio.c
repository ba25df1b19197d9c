// SPDX-License-Identifier: MIT
#include "virtio.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const char *name,
		     unsigned int nr_queues, uint16_t queue_max, uint64_t features,
		     uint32_t cfg_size, const struct guest_mem *mem, void *priv)
{
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->mem = mem;
	vd->priv = priv;
	vd->nr_queues = MIN(nr_queues, (unsigned int)VIRTIO_MAX_QUEUES);
	vd->queue_max = queue_max;
	vd->cfg_size = cfg_size;
	/* Modern only, and our queues support both ring features. */
	vd->host_features = features | 1ULL << VIRTIO_F_VERSION_1 |
			    1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	vd->msix_config = VIRTIO_MSI_NO_VECTOR;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->msix_queue[i] = VIRTIO_MSI_NO_VECTOR;
	snprintf(vd->dev.name, sizeof(vd->dev.name), "%s", name);
	pthread_mutex_init(&vd->lock, NULL);
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	pthread_mutex_destroy(&vd->lock);
	if (vd->ops->destroy)
		vd->ops->destroy(vd);
}

bool virtio_feature(const struct virtio_dev *vd, unsigned int bit)
{
	return vd->driver_features >> bit & 1;
}

bool virtio_dev_live(const struct virtio_dev *vd)
{
	return (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

uint32_t virtio_get_device_features(struct virtio_dev *vd)
{
	return vd->dfeat_sel < 2 ? (uint32_t)(vd->host_features >> (32 * vd->dfeat_sel)) : 0;
}

void virtio_set_driver_features(struct virtio_dev *vd, uint32_t val)
{
	/* §2.2: only before FEATURES_OK; bits the device lacks are ignored. */
	if (vd->gfeat_sel >= 2 || (vd->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	vd->driver_features &= ~(0xffffffffULL << (32 * vd->gfeat_sel));
	vd->driver_features |= ((uint64_t)val << (32 * vd->gfeat_sel)) & vd->host_features;
}

uint32_t virtio_get_driver_features(struct virtio_dev *vd)
{
	return vd->gfeat_sel < 2 ? (uint32_t)(vd->driver_features >> (32 * vd->gfeat_sel)) : 0;
}

static void virtio_reset(struct virtio_dev *vd)
{
	if (vd->ops->reset)
		vd->ops->reset(vd);
	for (unsigned int i = 0; i < vd->nr_queues; i++) {
		virtq_reset(&vd->vqs[i]);
		vd->msix_queue[i] = VIRTIO_MSI_NO_VECTOR;
	}
	vd->msix_config = VIRTIO_MSI_NO_VECTOR;
	vd->driver_features = 0;
	vd->dfeat_sel = vd->gfeat_sel = vd->queue_sel = 0;
	vd->status = 0;
	vd->isr = 0;
	vd->config_gen++;
}

void virtio_set_status(struct virtio_dev *vd, uint8_t status)
{
	if (status == 0) {
		virtio_reset(vd);
		return;
	}
	/* §3.1.1: a modern driver must accept VERSION_1; else no FEATURES_OK. */
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) && !(vd->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !virtio_feature(vd, VIRTIO_F_VERSION_1))
		status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	/* NEEDS_RESET is the device's to set, the driver's to clear by reset. */
	status = (status & ~VIRTIO_CONFIG_S_NEEDS_RESET) |
		 (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) && !(vd->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		vd->status = status;
		if (vd->ops->activate)
			vd->ops->activate(vd);
		return;
	}
	vd->status = status;
}

struct virtq *virtio_sel_queue(struct virtio_dev *vd)
{
	return vd->queue_sel < vd->nr_queues ? &vd->vqs[vd->queue_sel] : NULL;
}

void virtio_queue_set_ready(struct virtio_dev *vd, unsigned int q, bool on)
{
	struct virtq *vq = &vd->vqs[q];

	if (q >= vd->nr_queues)
		return;
	if (!on) {
		vq->ready = false;
		return;
	}
	vq->event_idx = virtio_feature(vd, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = virtio_feature(vd, VIRTIO_RING_F_INDIRECT_DESC);
	if (vq->size > vd->queue_max)
		vq->size = 0; /* fails below: bigger than we offered */
	if (virtq_enable(vq, vd->mem))
		virtio_queue_broken(vd, q);
}

void virtio_config_access(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	if (off >= vd->cfg_size || len > vd->cfg_size - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		if (vd->ops->config_write)
			vd->ops->config_write(vd, off, data, len);
	} else if (vd->ops->config_read) {
		vd->ops->config_read(vd, off, data, len);
	}
}

void virtio_queue_interrupt(struct virtio_dev *vd, unsigned int q)
{
	if (virtq_need_interrupt(&vd->vqs[q]))
		virtio_queue_signal(vd, q);
}

struct virtio_dev *virtio_dev_of(struct device *dev)
{
	/* The transports name their ops "virtio-pci" and "virtio-mmio". */
	if (!dev->ops || !dev->ops->type || strncmp(dev->ops->type, "virtio-", 7))
		return NULL;
	return (struct virtio_dev *)((char *)dev - offsetof(struct virtio_dev, dev));
}

void virtio_queue_signal(struct virtio_dev *vd, unsigned int q)
{
	vd->stat_irqs++;
	__atomic_or_fetch(&vd->isr, VIRTIO_ISR_QUEUE, __ATOMIC_SEQ_CST);
	if (vd->transport.irq)
		vd->transport.irq(vd, q, false);
}

void virtio_queue_broken(struct virtio_dev *vd, unsigned int q)
{
	pr_guest(LOG_WARNING, "%s: queue %u broken by the guest (%s); device needs reset",
		 vd->dev.name, q, vd->vqs[q].why ? vd->vqs[q].why : "?");
	vd->vqs[q].broken = true;
	if (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vd->config_gen++;
	/* §2.1.2: tell a DRIVER_OK driver through a config interrupt. */
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		__atomic_or_fetch(&vd->isr, VIRTIO_ISR_CONFIG, __ATOMIC_SEQ_CST);
		if (vd->transport.irq)
			vd->transport.irq(vd, 0, true);
	}
}

static int virtio_dev_save_locked(struct virtio_dev *vd, struct state_buf *sb)
{
	state_put_u64(sb, vd->driver_features);
	state_put_u8(sb, vd->status);
	state_put_u32(sb, vd->config_gen);
	state_put_u32(sb, vd->isr);
	state_put_u32(sb, vd->nr_queues);
	state_put_u32(sb, vd->msix_config);
	for (unsigned int i = 0; i < vd->nr_queues; i++) {
		struct virtq_state s;

		virtq_get_state(&vd->vqs[i], &s);
		state_put_u32(sb, s.size);
		state_put_u32(sb, s.last_avail);
		state_put_u32(sb, s.used_idx);
		state_put_u32(sb, s.signalled_used);
		state_put_u8(sb, s.ready);
		state_put_u8(sb, s.signalled_valid);
		state_put_u64(sb, s.desc_gpa);
		state_put_u64(sb, s.avail_gpa);
		state_put_u64(sb, s.used_gpa);
		state_put_u32(sb, vd->msix_queue[i]);
	}
	if (vd->ops->save) {
		int err = vd->ops->save(vd, sb);

		if (err)
			return err;
	}
	return state_error(sb);
}

static int virtio_dev_save_quiesced(struct virtio_dev *vd, struct state_buf *sb)
{
	int err;

	if (vd->ops->quiesce)
		vd->ops->quiesce(vd);
	err = virtio_dev_save_locked(vd, sb);

	if (vd->ops->resume)
		vd->ops->resume(vd);
	return err;
}

/*
 * All or nothing: the blob is read and every queue checked on copies
 * before anything of the device changes; if the device's own part is then
 * refused, the core state goes back to what it was.
 */
static int virtio_dev_load_locked(struct virtio_dev *vd, struct state_buf *sb)
{
	uint64_t features = state_get_u64(sb), old_features = vd->driver_features;
	uint8_t status = state_get_u8(sb), old_status = vd->status;
	uint32_t gen = state_get_u32(sb), isr = state_get_u32(sb);
	uint32_t nq = state_get_u32(sb), msix_config = state_get_u32(sb);
	uint32_t old_gen = vd->config_gen, old_isr = vd->isr;
	uint16_t old_msix_config = vd->msix_config;
	uint16_t msix[VIRTIO_MAX_QUEUES], old_msix[VIRTIO_MAX_QUEUES];
	struct virtq *vqs = NULL, *old_vqs = NULL;
	int err = -EINVAL;

	if (state_error(sb) || nq != vd->nr_queues || (features & ~vd->host_features))
		return -EINVAL;
	vqs = calloc(nq ? nq : 1, sizeof(*vqs));
	old_vqs = calloc(nq ? nq : 1, sizeof(*old_vqs));
	if (!vqs || !old_vqs) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < nq; i++) {
		struct virtq_state s;

		s.size = (uint16_t)state_get_u32(sb);
		s.last_avail = (uint16_t)state_get_u32(sb);
		s.used_idx = (uint16_t)state_get_u32(sb);
		s.signalled_used = (uint16_t)state_get_u32(sb);
		s.ready = state_get_u8(sb);
		s.signalled_valid = state_get_u8(sb);
		s.desc_gpa = state_get_u64(sb);
		s.avail_gpa = state_get_u64(sb);
		s.used_gpa = state_get_u64(sb);
		msix[i] = (uint16_t)state_get_u32(sb);
		/* No bigger than offered: the devices size their tables by it. */
		if (state_error(sb) || s.size > vd->queue_max)
			goto out;
		vqs[i].event_idx = features >> VIRTIO_RING_F_EVENT_IDX & 1;
		vqs[i].indirect = features >> VIRTIO_RING_F_INDIRECT_DESC & 1;
		if (virtq_set_state(&vqs[i], &s, vd->mem))
			goto out;
	}
	/* Commit, keeping the old state for a refusal below. */
	memcpy(old_vqs, vd->vqs, nq * sizeof(*old_vqs));
	memcpy(old_msix, vd->msix_queue, sizeof(old_msix));
	vd->driver_features = features;
	vd->status = status;
	vd->config_gen = gen;
	vd->isr = isr;
	vd->msix_config = (uint16_t)msix_config;
	memcpy(vd->vqs, vqs, nq * sizeof(*vqs));
	memcpy(vd->msix_queue, msix, nq * sizeof(*msix));
	err = vd->ops->load ? vd->ops->load(vd, sb) : 0;
	if (!err)
		err = state_error(sb);
	if (err) {
		vd->driver_features = old_features;
		vd->status = old_status;
		vd->config_gen = old_gen;
		vd->isr = old_isr;
		vd->msix_config = old_msix_config;
		memcpy(vd->vqs, old_vqs, nq * sizeof(*old_vqs));
		memcpy(vd->msix_queue, old_msix, sizeof(old_msix));
	}
out:
	free(vqs);
	free(old_vqs);
	return err;
}

void virtio_dev_freeze(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	vd->frozen = true;
	if (vd->ops->quiesce)
		vd->ops->quiesce(vd);
}

void virtio_dev_thaw(struct virtio_dev *vd)
{
	if (!vd->frozen)
		return;
	if (vd->ops->resume)
		vd->ops->resume(vd);
	vd->frozen = false;
	pthread_mutex_unlock(&vd->lock);
}

int virtio_dev_save(struct virtio_dev *vd, struct state_buf *sb)
{
	int err;

	if (vd->frozen)
		return virtio_dev_save_locked(vd, sb);
	pthread_mutex_lock(&vd->lock);
	err = virtio_dev_save_quiesced(vd, sb);
	pthread_mutex_unlock(&vd->lock);
	return err;
}

int virtio_dev_load(struct virtio_dev *vd, struct state_buf *sb)
{
	int err;

	pthread_mutex_lock(&vd->lock);
	err = virtio_dev_load_locked(vd, sb);
	/*
	 * Buffers the saved device had used but not yet signalled (completions
	 * a snapshot's quiesce drained after the last interrupt): the live
	 * device would have raised it after the thaw, so the restored one
	 * does, where the driver asks (EVENT_IDX decides, as always).
	 */
	if (!err && (vd->status & VIRTIO_CONFIG_S_DRIVER_OK))
		for (unsigned int q = 0; q < vd->nr_queues; q++)
			virtio_queue_interrupt(vd, q);
	pthread_mutex_unlock(&vd->lock);
	return err;
}
