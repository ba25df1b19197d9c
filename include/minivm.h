/* SPDX-License-Identifier: MIT */
/*
 * A one-vCPU VM without devices or GIC that runs a small payload from
 * arch/arm64/guest_code.S: the harness of the vCPU-level tests
 * (tests/kvm/) and of `armvm selftest`, in the manner of the kernel's KVM
 * selftests. The guest reports through an MMIO "ucall" (guest_code.S).
 */
#ifndef ARMVM_MINIVM_H
#define ARMVM_MINIVM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sve.h"
#include "vm.h"

#define MINIVM_RAM_SIZE (16ULL << 20)
#define MINIVM_UCALL 0x03000000ULL /* MMIO, outside RAM */
#define MINIVM_DUMP_OFF (1ULL << 20)
#define MINIVM_LOAD_OFF (4ULL << 20)

struct minivm {
	struct vm_config cfg;
	struct vm vm;
	struct vcpu *vcpu;
	uint8_t *dump, *load; /* host views of the guest's buffers */
};

/*
 * Create the VM and its vCPU with exactly `features` (KVM_ARM_VCPU_*
 * bits). With the SVE bit: stop before FINALIZE when finalize is false
 * (to test the API's ordering); otherwise write vls (NULL: keep the
 * host's) and finalize. The payload is copied to the start of RAM and the
 * vCPU set to enter it at EL1 (or in AArch32 SVC mode with EL1_32BIT).
 */
int minivm_create(struct minivm *mv, uint32_t features, bool finalize, const struct sve_vls *vls,
		  const uint8_t *code, size_t len, char *err, size_t errlen);
/* Set the entry registers (pc, pstate, x19..x22); done by create. */
int minivm_reset_regs(struct minivm *mv, uint64_t iters);
/* KVM_RUN until the next ucall; its code in *code. -errno, or -EIO on
 * any other exit (described in err). */
int minivm_run(struct minivm *mv, uint64_t *code, char *err, size_t errlen);
/* Interpret the exit of a KVM_RUN issued elsewhere (st_kvm_run_fp). */
int minivm_exit(struct minivm *mv, uint64_t *code, char *err, size_t errlen);
uint64_t minivm_xreg(struct minivm *mv, unsigned int n);
void minivm_destroy(struct minivm *mv);

/* ONE_REG IDs used with payloads. */
uint64_t arm64_core_xreg_id(unsigned int n);
uint64_t arm64_sysreg_id(unsigned int op0, unsigned int op1, unsigned int crn, unsigned int crm,
			 unsigned int op2);
#define ARM64_ZCR_EL1 arm64_sysreg_id(3, 0, 1, 2, 0)
#define ARM64_ID_AA64PFR0_EL1 arm64_sysreg_id(3, 0, 0, 4, 0)

#endif
