// SPDX-License-Identifier: MIT
/*
 * Capture and apply of a vCPU's state through ONE_REG (api.rst §4.68
 * KVM_SET_ONE_REG, §4.84 KVM_GET_REG_LIST, §4.38 KVM_GET_MP_STATE).
 */
#include "vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "vm.h"

int vcpu_reg_list(struct vcpu *vcpu, uint64_t **idsp, uint64_t *np)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;
	int err = 0;

	/* The first call fails with E2BIG and tells the count. */
	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, &probe) == 0) {
		*idsp = NULL;
		*np = 0;
		return 0;
	}
	if (errno != E2BIG)
		return -errno;
	list = malloc(sizeof(*list) + probe.n * sizeof(uint64_t));
	if (!list)
		return -ENOMEM;
	list->n = probe.n;
	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, list) < 0) {
		err = -errno;
		free(list);
		return err;
	}
	*idsp = malloc(list->n * sizeof(uint64_t) + 1);
	if (!*idsp) {
		free(list);
		return -ENOMEM;
	}
	memcpy(*idsp, list->reg, list->n * sizeof(uint64_t));
	*np = list->n;
	free(list);
	return 0;
}

void vcpu_state_free(struct vcpu_state *st)
{
	free(st->ids);
	free(st->offsets);
	free(st->data);
	memset(st, 0, sizeof(*st));
}

uint8_t *vcpu_state_value(const struct vcpu_state *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->nr_regs; i++)
		if (st->ids[i] == id)
			return st->data + st->offsets[i];
	return NULL;
}

/* Room for ids/offsets/data of n registers of total bytes. */
static int state_alloc(struct vcpu_state *st, uint32_t n, size_t bytes)
{
	st->ids = calloc(n + 1, sizeof(*st->ids));
	st->offsets = calloc(n + 1, sizeof(*st->offsets));
	st->data = calloc(1, bytes + 1);
	if (!st->ids || !st->offsets || !st->data) {
		vcpu_state_free(st);
		return -ENOMEM;
	}
	st->nr_regs = n;
	st->data_len = bytes;
	return 0;
}

int vcpu_state_capture(struct vcpu *vcpu, struct vcpu_state *st)
{
	struct kvm_mp_state mp;
	uint64_t *ids, n;
	size_t bytes = 0, off = 0;
	int err;

	memset(st, 0, sizeof(*st));
	err = vcpu_reg_list(vcpu, &ids, &n);
	if (err)
		return err;
	for (uint64_t i = 0; i < n; i++)
		bytes += kvm_reg_size(ids[i]);
	err = state_alloc(st, (uint32_t)n, bytes);
	if (err) {
		free(ids);
		return err;
	}
	st->features = vcpu->features;
	for (uint64_t i = 0; i < n; i++) {
		st->ids[i] = ids[i];
		st->offsets[i] = off;
		err = vcpu_get_reg(vcpu, ids[i], st->data + off);
		if (err)
			break;
		if (ids[i] == sve_vls_id()) {
			st->has_sve = true;
			memcpy(st->vls.w, st->data + off, sizeof(st->vls.w));
		}
		off += kvm_reg_size(ids[i]);
	}
	free(ids);
	if (!err && ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0)
		err = -errno;
	/* KVM_CAP_VCPU_EVENTS: every arm64 KVM since 4.19 has it. */
	_Static_assert(sizeof(struct kvm_vcpu_events) == sizeof(st->events), "kvm_vcpu_events");
	if (!err && ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, st->events) == 0)
		st->has_events = true;
	if (err) {
		vcpu_state_free(st);
		return err;
	}
	st->mp_state = mp.mp_state;
	return 0;
}

int vcpu_state_apply(struct vcpu *vcpu, const struct vcpu_state *st, uint64_t *failed_id)
{
	struct kvm_mp_state mp = { .mp_state = st->mp_state };

	for (uint32_t i = 0; i < st->nr_regs; i++) {
		int err;

		/* VLS was fixed at FINALIZE; writing it again is EPERM. */
		if (st->ids[i] == sve_vls_id())
			continue;
		err = vcpu_set_reg(vcpu, st->ids[i], st->data + st->offsets[i]);
		if (err) {
			if (failed_id)
				*failed_id = st->ids[i];
			return err;
		}
	}
	if (st->has_events && ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, st->events) < 0) {
		if (failed_id)
			*failed_id = 0;
		return -errno;
	}
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		if (failed_id)
			*failed_id = 0;
		return -errno;
	}
	return 0;
}

/*
 * Serialised form (little-endian): features u32, has_sve u8, VLS 8 x u64,
 * mp_state u32, has_events u8, events 64 bytes, nr_regs u32, then per
 * register id u64 and its value, whose size comes from the id.
 */
int vcpu_state_save(const struct vcpu_state *st, struct state_buf *sb)
{
	state_put_u32(sb, st->features);
	state_put_u8(sb, st->has_sve);
	for (unsigned int i = 0; i < SVE_VLS_WORDS; i++)
		state_put_u64(sb, st->vls.w[i]);
	state_put_u32(sb, st->mp_state);
	state_put_u8(sb, st->has_events);
	state_put_bytes(sb, st->events, sizeof(st->events));
	state_put_u32(sb, st->nr_regs);
	for (uint32_t i = 0; i < st->nr_regs; i++) {
		state_put_u64(sb, st->ids[i]);
		state_put_bytes(sb, st->data + st->offsets[i], kvm_reg_size(st->ids[i]));
	}
	return state_error(sb);
}

int vcpu_state_load(struct vcpu_state *st, struct state_buf *sb)
{
	uint32_t n;
	size_t start, bytes = 0, off = 0;
	uint8_t has_sve, has_events;
	int err;

	memset(st, 0, sizeof(*st));
	st->features = state_get_u32(sb);
	/* A flag is 0 or 1: anything else is a corrupt file (fuzz_vcpu_state). */
	has_sve = state_get_u8(sb);
	if (has_sve > 1)
		return -EINVAL;
	st->has_sve = has_sve;
	for (unsigned int i = 0; i < SVE_VLS_WORDS; i++)
		st->vls.w[i] = state_get_u64(sb);
	st->mp_state = state_get_u32(sb);
	has_events = state_get_u8(sb);
	if (has_events > 1)
		return -EINVAL;
	st->has_events = has_events;
	state_get_bytes(sb, st->events, sizeof(st->events));
	n = state_get_u32(sb);
	if (state_error(sb))
		return state_error(sb);
	/* Size the data from the IDs, refusing a count the blob cannot hold. */
	start = sb->pos;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = state_get_u64(sb);
		size_t sz = kvm_reg_size(id);

		if (state_error(sb) || sz > sb->len - sb->pos)
			return -EINVAL;
		sb->pos += sz;
		bytes += sz;
	}
	sb->pos = start;
	err = state_alloc(st, n, bytes);
	if (err)
		return err;
	st->nr_regs = n;
	for (uint32_t i = 0; i < n; i++) {
		st->ids[i] = state_get_u64(sb);
		st->offsets[i] = off;
		state_get_bytes(sb, st->data + off, kvm_reg_size(st->ids[i]));
		off += kvm_reg_size(st->ids[i]);
	}
	err = state_error(sb);
	if (err)
		vcpu_state_free(st);
	return err;
}
