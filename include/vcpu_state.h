/* SPDX-License-Identifier: MIT */
/*
 * A vCPU's complete architectural state as KVM exposes it: every register
 * in KVM_GET_REG_LIST (each sized from its ID: 8 bytes for most, 16 for the
 * FPSIMD V registers, 256 for an SVE Z slice), the SVE vector-length set
 * (applied before FINALIZE, by whoever creates the vCPU), the vCPU events
 * (a pending SError or external abort) and the MP state (applied last). Capture, apply, and
 * (de)serialise: the layer snapshot and restore are built on.
 */
#ifndef ARMVM_VCPU_STATE_H
#define ARMVM_VCPU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "sve.h"

struct vcpu;

struct vcpu_state {
	uint32_t features; /* KVM_ARM_VCPU_INIT features[0] */
	bool has_sve;
	struct sve_vls vls; /* when has_sve */
	uint32_t mp_state;  /* KVM_MP_STATE_* */
	bool has_events;    /* KVM_GET_VCPU_EVENTS answered */
	uint8_t events[64]; /* struct kvm_vcpu_events, as KVM gave it */
	uint32_t nr_regs;
	uint64_t *ids;
	size_t *offsets; /* of each value in data */
	uint8_t *data;
	size_t data_len;
};

/* KVM_GET_REG_LIST into a malloc'd array. 0 or -errno. */
int vcpu_reg_list(struct vcpu *vcpu, uint64_t **ids, uint64_t *n);

int vcpu_state_capture(struct vcpu *vcpu, struct vcpu_state *st);
/*
 * Write every register but VLS (the vCPU must have been created with the
 * same features and finalized with st->vls), the events, then the MP state. The first
 * failure stops it: -errno, and *failed_id (if not NULL) names the register.
 */
int vcpu_state_apply(struct vcpu *vcpu, const struct vcpu_state *st, uint64_t *failed_id);
void vcpu_state_free(struct vcpu_state *st);
/* Pointer to the value of id in st, or NULL. */
uint8_t *vcpu_state_value(const struct vcpu_state *st, uint64_t id);

int vcpu_state_save(const struct vcpu_state *st, struct state_buf *sb);
int vcpu_state_load(struct vcpu_state *st, struct state_buf *sb);

#endif
