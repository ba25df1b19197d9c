// SPDX-License-Identifier: MIT
/*
 * SVE registers through ONE_REG, for every maximum vector length the host
 * offers: the host writes patterns to Z0..Z31, P0..P15 and FFR, the guest
 * dumps what it sees (checked lane by lane), the guest loads new patterns,
 * the host reads them back; bytes beyond the VL read as zero. Also the
 * API's ordering rules (api.rst, KVM_ARM_VCPU_FINALIZE): EPERM before
 * FINALIZE, EPERM writing VLS after it, EINVAL for a V register with SVE.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "guest_code.h"
#include "minivm.h"
#include "sve.h"
#include "tap.h"

#define SVE_FEATURE (1u << KVM_ARM_VCPU_SVE)
#define ZB SVE_ZREG_SLICE_BYTES
#define PB SVE_PREG_SLICE_BYTES

static uint8_t zpat(unsigned int seed, unsigned int n, unsigned int k)
{
	return (uint8_t)(seed * 31 + n * 7 + k * 13 + 1);
}

/* FFR must be monotonic (all true, then all false) to be written back by
 * WRFFR: the first `m` predicate bits set. */
static void ffr_pattern(unsigned int seed, unsigned int vl, uint8_t *ffr)
{
	unsigned int m = (seed * 37) % (vl) + 1; /* 1..VL predicate bits */

	memset(ffr, 0, PB);
	for (unsigned int b = 0; b < m; b++)
		ffr[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* The 2048-bit (and 256-bit) slice-0 images of pattern `seed`, full width:
 * bytes beyond the VL are deliberately non-zero. */
static void make_slices(unsigned int seed, unsigned int vl, uint8_t z[32][ZB], uint8_t p[17][PB])
{
	for (unsigned int n = 0; n < 32; n++)
		for (unsigned int k = 0; k < ZB; k++)
			z[n][k] = zpat(seed, n, k);
	for (unsigned int n = 0; n < 16; n++)
		for (unsigned int k = 0; k < PB; k++)
			p[n][k] = zpat(seed, n + 40, k);
	ffr_pattern(seed, vl, p[16]);
}

static uint64_t preg_or_ffr_id(unsigned int n)
{
	return n < 16 ? sve_preg_id(n, 0) : sve_ffr_id(0);
}

static void test_ordering(const struct sve_vls *host)
{
	uint8_t z[ZB], v[16];
	struct minivm mv;
	struct kvm_reg_list rl = { .n = 0 };
	char err[256];
	uint64_t vid;
	int r;

	if (minivm_create(&mv, SVE_FEATURE, false, NULL, guest_idle, guest_idle_end - guest_idle,
			  err, sizeof(err))) {
		ok(0, "SVE vCPU without FINALIZE: %s", err);
		return;
	}
	r = vcpu_get_reg(mv.vcpu, sve_zreg_id(0, 0), z);
	is_int(r, -EPERM, "Z0 before FINALIZE: EPERM");
	r = ioctl(mv.vcpu->fd, KVM_RUN, 0) < 0 ? -errno : 0;
	is_int(r, -EPERM, "KVM_RUN before FINALIZE: EPERM");
	r = ioctl(mv.vcpu->fd, KVM_GET_REG_LIST, &rl) < 0 ? -errno : 0;
	is_int(r, -EPERM, "KVM_GET_REG_LIST before FINALIZE: EPERM");
	is_int(vcpu_sve_finalize(mv.vcpu, host), 0, "FINALIZE with the host's set");
	r = vcpu_set_reg(mv.vcpu, sve_vls_id(), host->w);
	is_int(r, -EPERM, "writing VLS (even the same value) after FINALIZE: EPERM");
	is_int(vcpu_sve_finalize(mv.vcpu, NULL), -EPERM, "FINALIZE twice: EPERM");
	vid = KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE |
	      KVM_REG_ARM_CORE_REG(fp_regs.vregs[0]);
	is_int(vcpu_get_reg(mv.vcpu, vid, v), -EINVAL, "V0 core register with SVE on: EINVAL");
	is_int(vcpu_get_reg(mv.vcpu, sve_zreg_id(0, 1), z), -ENOENT,
	       "Z0 slice 1 (beyond 2048 bits): ENOENT");
	minivm_destroy(&mv);
}

static void test_max_vq(const struct sve_vls *host, unsigned int vq)
{
	static uint8_t z[32][ZB], p[17][PB], back[ZB];
	const unsigned int vl = vq * 16, pl = vl / 8;
	struct sve_vls set;
	struct minivm mv;
	uint64_t code = 0, zcr = vq - 1;
	char err[256], name[32];
	int bad = 0, nonzero = 0;

	snprintf(name, sizeof(name), "VL %u", vq * 128);
	sve_vls_cut(host, vq, &set);
	if (minivm_create(&mv, SVE_FEATURE, true, &set, guest_sve_regs,
			  guest_sve_regs_end - guest_sve_regs, err, sizeof(err))) {
		ok(0, "%s: vCPU: %s", name, err);
		return;
	}
	/* The guest runs at its maximum VL from the first instruction. */
	if (vcpu_set_reg(mv.vcpu, ARM64_ZCR_EL1, &zcr))
		bad++;
	make_slices(vq, vl, z, p);
	for (unsigned int n = 0; n < 32; n++)
		bad += vcpu_set_reg(mv.vcpu, sve_zreg_id(n, 0), z[n]) != 0;
	for (unsigned int n = 0; n < 17; n++)
		bad += vcpu_set_reg(mv.vcpu, preg_or_ffr_id(n), p[n]) != 0;
	is_int(bad, 0, "%s: host writes Z, P, FFR (and ZCR_EL1) through ONE_REG", name);

	if (minivm_run(&mv, &code, err, sizeof(err)) || code != 1) {
		ok(0, "%s: guest dumps its registers (%s)", name, err);
		goto out;
	}
	is_int(minivm_xreg(&mv, 1), vl, "%s: the guest's RDVL is the maximum VL", name);
	bad = 0;
	for (unsigned int n = 0; n < 32; n++)
		bad += memcmp(mv.dump + n * vl, z[n], vl) != 0;
	is_int(bad, 0, "%s: guest sees every Z lane the host wrote", name);
	bad = 0;
	for (unsigned int n = 0; n < 17; n++)
		bad += memcmp(mv.dump + 32 * vl + n * pl, p[n], pl) != 0;
	is_int(bad, 0, "%s: guest sees every P and FFR bit the host wrote", name);

	/* New patterns, loaded by the guest from its load buffer. */
	make_slices(vq + 100, vl, z, p);
	for (unsigned int n = 0; n < 32; n++)
		memcpy(mv.load + n * vl, z[n], vl);
	for (unsigned int n = 0; n < 17; n++)
		memcpy(mv.load + 32 * vl + n * pl, p[n], pl);
	if (minivm_run(&mv, &code, err, sizeof(err)) || code != 2) {
		ok(0, "%s: guest loads new patterns (%s)", name, err);
		goto out;
	}
	bad = 0;
	for (unsigned int n = 0; n < 49; n++) {
		size_t size = n < 32 ? ZB : PB, valid = n < 32 ? vl : pl;
		const uint8_t *want = n < 32 ? z[n] : p[n - 32];

		if (vcpu_get_reg(mv.vcpu, n < 32 ? sve_zreg_id(n, 0) : preg_or_ffr_id(n - 32),
				 back)) {
			bad++;
			continue;
		}
		bad += memcmp(back, want, valid) != 0;
		for (size_t k = valid; k < size; k++)
			nonzero += back[k] != 0;
	}
	is_int(bad, 0, "%s: host reads back every lane the guest wrote", name);
	is_int(nonzero, 0, "%s: bytes beyond the VL read as zero", name);
out:
	minivm_destroy(&mv);
}

int main(void)
{
	struct minivm mv;
	struct sve_vls host;
	char err[256], list[160];

	if (minivm_create(&mv, SVE_FEATURE, false, NULL, guest_idle, guest_idle_end - guest_idle,
			  err, sizeof(err))) {
		printf("1..0 # SKIP no SVE vCPU on this host: %s\n", err);
		return 0;
	}
	if (vcpu_sve_get_vls(mv.vcpu, &host)) {
		printf("1..0 # SKIP cannot read VLS\n");
		return 0;
	}
	minivm_destroy(&mv);
	sve_vls_format(&host, list, sizeof(list));
	printf("# host vector lengths: %s\n", list);

	test_ordering(&host);
	for (unsigned int vq = 1; vq <= SVE_VL_MAX_ARCH / 128; vq++)
		if (sve_vls_has(&host, vq))
			test_max_vq(&host, vq);
	return tap_done();
}
