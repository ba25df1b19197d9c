/* SPDX-License-Identifier: MIT */
/*
 * SVE vector lengths, as KVM's API sees them (api.rst, KVM_REG_ARM64_SVE_VLS
 * and KVM_ARM_VCPU_FINALIZE; NOTES-KVM-SVE.md): a set of vector quanta
 * (vq, VL = 128 * vq bits, vq 1..512 in the UAPI, 1..16 in the architecture
 * today), and the rule that a guest's set must be the host's set cut at some
 * maximum, because the hardware can only cap the length (ZCR_EL2.LEN), not
 * hide one length below another. Pure logic: unit-tested without KVM.
 */
#ifndef ARMVM_SVE_H
#define ARMVM_SVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVE_VQ_BITS 128
#define SVE_VQ_MAX_UAPI 512	 /* bits in KVM_REG_ARM64_SVE_VLS */
#define SVE_VL_MAX_ARCH 2048	 /* bits: the architecture's maximum VL */
#define SVE_VLS_WORDS 8		 /* u64 words in KVM_REG_ARM64_SVE_VLS */
#define SVE_ZREG_SLICE_BYTES 256 /* KVM_REG_SIZE_U2048 */
#define SVE_PREG_SLICE_BYTES 32	 /* KVM_REG_SIZE_U256 */
#define SVE_NR_ZREGS 32
#define SVE_NR_PREGS 16

/* The VLS register's layout: bit (vq - 1) % 64 of word (vq - 1) / 64. */
struct sve_vls {
	uint64_t w[SVE_VLS_WORDS];
};

bool sve_vls_has(const struct sve_vls *v, unsigned int vq);
void sve_vls_add(struct sve_vls *v, unsigned int vq);
unsigned int sve_vls_max_vq(const struct sve_vls *v); /* 0 when empty */
unsigned int sve_vls_count(const struct sve_vls *v);
bool sve_vls_equal(const struct sve_vls *a, const struct sve_vls *b);
/* The set cut at max_vq: every vq <= max_vq. */
void sve_vls_cut(const struct sve_vls *in, unsigned int max_vq, struct sve_vls *out);
/*
 * The largest vq up to which all n sets agree (each length present in
 * every set or in none), counting only lengths all have; 0 if none. A
 * guest run with that maximum has the same set on every host.
 */
unsigned int sve_vls_common_max(const struct sve_vls *sets, unsigned int n);
/* "128,256,512" (bits), or "none". */
void sve_vls_format(const struct sve_vls *v, char *buf, size_t len);

/* What the user asked for. */
enum sve_request_kind {
	SVE_REQ_HOST, /* the host's whole set (default) */
	SVE_REQ_MAX,  /* --sve-max-vl: the host's set cut at max_vl */
	SVE_REQ_SET,  /* --sve-vls: exactly this set */
};

#define SVE_REQ_MAX_LENGTHS 32

struct sve_request {
	enum sve_request_kind kind;
	unsigned int max_vl;		      /* bits, SVE_REQ_MAX */
	unsigned int vl[SVE_REQ_MAX_LENGTHS]; /* bits, SVE_REQ_SET */
	unsigned int nr_vl;
};

/*
 * Parse a --sve-vls list ("128,256,512") into req. Only syntax is checked
 * here (numbers, at most 32); whether the lengths are possible is for
 * sve_negotiate(), which knows the host. -EINVAL with a message.
 */
int sve_request_parse_list(const char *s, struct sve_request *req, char *err, size_t errlen);

/*
 * Turn the request into the set to write to every vCPU, or refuse with a
 * message naming what was asked, what the host offers, and the nearest
 * valid choice. 0 or -EINVAL.
 */
int sve_negotiate(const struct sve_vls *host, const struct sve_request *req, struct sve_vls *out,
		  char *err, size_t errlen);

/* ONE_REG slices (2048 bits of Z, 256 of P/FFR each) for a max vq. */
unsigned int sve_nr_slices(unsigned int max_vq);

/* ONE_REG IDs (arch/arm64/include/uapi/asm/kvm.h, group 0x15). */
uint64_t sve_zreg_id(unsigned int n, unsigned int slice);
uint64_t sve_preg_id(unsigned int n, unsigned int slice);
uint64_t sve_ffr_id(unsigned int slice);
uint64_t sve_vls_id(void);
bool sve_reg_is_sve(uint64_t id); /* in group 0x15 */
/* Bytes of a ONE_REG value, from the ID's size field. */
size_t kvm_reg_size(uint64_t id);

#endif
