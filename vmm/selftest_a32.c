// SPDX-License-Identifier: MIT
/*
 * Selftest check 5: an AArch32 (EL1_32BIT) guest that uses VFP keeps
 * working, and keeps its VFP registers, while the host and an AArch64 guest
 * use FP in the same thread between its runs (seed 003: lazy FP switching
 * and FPEXC32_EL2). Skipped where KVM does not offer KVM_CAP_ARM_EL1_32BIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "guest_code.h"
#include "minivm.h"
#include "selftest.h"

/*
 * The A32 payload (r9 = ucall address, r10 = dump buffer), assembled with
 * `clang --target=armv7a-none-eabi` (.fpu vfpv3) and kept as words so that
 * building armvm needs no 32-bit toolchain.
 */
static const uint32_t a32_vfp[] = {
	0xee110f50, /* mrc   p15, 0, r0, c1, c0, 2    CPACR */
	0xe380060f, /* orr   r0, r0, #0xf00000        cp10/cp11 full access */
	0xee010f50, /* mcr   p15, 0, r0, c1, c0, 2 */
	0xf57ff06f, /* isb   sy */
	0xe3a00101, /* mov   r0, #0x40000000 */
	0xeee80a10, /* vmsr  fpexc, r0                FPEXC.EN */
	0xeeb70b08, /* vmov.f64 d0, #1.5 */
	0xeeb01b02, /* vmov.f64 d1, #2.25 */
	0xee202b01, /* vmul.f64 d2, d0, d1 */
	0xee322b00, /* vadd.f64 d2, d2, d0            4.875 */
	0xed8a2b00, /* vstr  d2, [r10] */
	0xe3a00001, /* mov   r0, #1 */
	0xe5890000, /* str   r0, [r9]                 ucall 1 */
	0xed8a0b02, /* vstr  d0, [r10, #8] */
	0xed8a1b04, /* vstr  d1, [r10, #16] */
	0xed8a2b06, /* vstr  d2, [r10, #24] */
	0xeef11a10, /* vmrs  r1, fpscr */
	0xe3a00002, /* mov   r0, #2 */
	0xe5890000, /* str   r0, [r9]                 ucall 2 */
	0xeafffffe, /* b     . */
};

static int has_el1_32bit(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return 0;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_EL1_32BIT);
	close(fd);
	return r > 0;
}

static double dump_double(struct minivm *mv, int i)
{
	double d;

	memcpy(&d, mv->dump + 8 * i, sizeof(d));
	return d;
}

int selftest_aarch32_vfp(const char *kvm_dev, char *detail, size_t len)
{
	struct minivm a32, a64;
	uint64_t ucall;
	char err[256];
	int rc = 1;

	(void)kvm_dev;
	if (!has_el1_32bit()) {
		snprintf(detail, len,
			 "host KVM does not offer AArch32 EL1 (KVM_CAP_ARM_EL1_32BIT)");
		return 77;
	}
	if (minivm_create(&a32, 1u << KVM_ARM_VCPU_EL1_32BIT, true, NULL, (const uint8_t *)a32_vfp,
			  sizeof(a32_vfp), err, sizeof(err))) {
		snprintf(detail, len, "AArch32 vCPU: %s", err);
		return 1;
	}
	if (minivm_create(&a64, 0, true, NULL, guest_fp_clobber,
			  (size_t)(guest_fp_clobber_end - guest_fp_clobber), err, sizeof(err))) {
		snprintf(detail, len, "AArch64 vCPU: %s", err);
		minivm_destroy(&a32);
		return 1;
	}
	if (minivm_run(&a32, &ucall, err, sizeof(err)) || ucall != 1) {
		snprintf(detail, len, "AArch32 guest, first run: %s", err);
		goto out;
	}
	if (dump_double(&a32, 0) != 4.875) {
		snprintf(detail, len, "AArch32 guest computed %g, want 4.875",
			 dump_double(&a32, 0));
		goto out;
	}
	/* FP in another guest and in this thread between the two runs. */
	for (int i = 0; i < 50; i++) {
		volatile double x = i * 0.5;

		if (minivm_run(&a64, &ucall, err, sizeof(err))) {
			snprintf(detail, len, "AArch64 guest: %s", err);
			goto out;
		}
		x = x * 3.0 + 1.0;
		(void)x;
	}
	if (minivm_run(&a32, &ucall, err, sizeof(err)) || ucall != 2) {
		snprintf(detail, len, "AArch32 guest, second run: %s", err);
		goto out;
	}
	if (dump_double(&a32, 1) != 1.5 || dump_double(&a32, 2) != 2.25 ||
	    dump_double(&a32, 3) != 4.875) {
		snprintf(
			detail, len,
			"AArch32 guest's d0-d2 changed between runs: %g %g %g, want 1.5 2.25 4.875",
			dump_double(&a32, 1), dump_double(&a32, 2), dump_double(&a32, 3));
		goto out;
	}
	snprintf(detail, len, "VFP result and d0-d2 kept across 50 runs of an AArch64 FP guest");
	rc = 0;
out:
	minivm_destroy(&a64);
	minivm_destroy(&a32);
	return rc;
}
