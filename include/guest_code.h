/* SPDX-License-Identifier: MIT */
/*
 * Guest payloads and exact-register host helpers (arch/arm64/guest_code.S).
 * See that file for each payload's contract.
 */
#ifndef ARMVM_GUEST_CODE_H
#define ARMVM_GUEST_CODE_H

#include <stdint.h>

#define GUEST_PAYLOAD(name) extern const uint8_t guest_##name[], guest_##name##_end[]

GUEST_PAYLOAD(sve_regs);
GUEST_PAYLOAD(sve_hold);
GUEST_PAYLOAD(idle);
GUEST_PAYLOAD(fp_clobber);
GUEST_PAYLOAD(sve_clobber);
GUEST_PAYLOAD(probe_nosve);

/* Size of the DUMP_SVE layout for a VL in bytes: 32 Z, 16 P, FFR. */
static inline uint64_t guest_sve_dump_size(uint64_t vl)
{
	return 32 * vl + 17 * (vl / 8);
}

int st_kvm_run_fp(int fd, const uint8_t in[512], uint8_t out[512], const uint64_t ctl_in[2],
		  uint64_t ctl_out[2]);
void st_sve_spin(const uint8_t *in, uint8_t *out, uint64_t iters);
uint64_t st_rdvl(void);

#endif
