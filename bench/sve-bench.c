// SPDX-License-Identifier: MIT
/*
 * SVE benchmark, run on the (lab) KVM host: the time to capture and to
 * apply the full register state of one vCPU with the largest vector length
 * against the same vCPU without SVE (a ratio: the lab is emulated, so
 * absolute times mean little). Minimum over rounds of many operations.
 */
#include <stdio.h>
#include <time.h>

#include <linux/kvm.h>

#include "guest_code.h"
#include "minivm.h"
#include "vcpu_state.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int measure(uint32_t features, double *cap_us, double *apply_us, uint32_t *nregs,
		   size_t *bytes, uint64_t *vl_bits)
{
	const int ops = 100, rounds = 5;
	struct minivm mv;
	struct vcpu_state st;
	char err[256];

	if (minivm_create(&mv, features, true, NULL, guest_idle,
			  (size_t)(guest_idle_end - guest_idle), err, sizeof(err))) {
		fprintf(stderr, "sve-bench: %s\n", err);
		return -1;
	}
	*vl_bits = 0;
	if (features) {
		struct sve_vls vls;

		vcpu_sve_get_vls(mv.vcpu, &vls);
		*vl_bits = sve_vls_max_vq(&vls) * 128ULL;
	}
	*cap_us = *apply_us = 1e18;
	for (int r = 0; r < rounds; r++) {
		double t = now_us();

		for (int i = 0; i < ops; i++) {
			if (vcpu_state_capture(mv.vcpu, &st))
				return -1;
			if (i < ops - 1)
				vcpu_state_free(&st);
		}
		t = (now_us() - t) / ops;
		*cap_us = t < *cap_us ? t : *cap_us;
		t = now_us();
		for (int i = 0; i < ops; i++)
			if (vcpu_state_apply(mv.vcpu, &st, NULL))
				return -1;
		t = (now_us() - t) / ops;
		*apply_us = t < *apply_us ? t : *apply_us;
		*nregs = st.nr_regs;
		*bytes = st.data_len;
		vcpu_state_free(&st);
	}
	minivm_destroy(&mv);
	return 0;
}

int main(void)
{
	double c0, a0, c1, a1;
	uint32_t n0, n1;
	size_t b0, b1;
	uint64_t vl0, vl1;

	if (measure(0, &c0, &a0, &n0, &b0, &vl0) ||
	    measure(1u << KVM_ARM_VCPU_SVE, &c1, &a1, &n1, &b1, &vl1))
		return 1;
	printf("vCPU state without SVE: %u registers, %zu bytes: capture %.1f us, apply %.1f us\n",
	       n0, b0, c0, a0);
	printf("vCPU state with SVE VL %llu: %u registers, %zu bytes: capture %.1f us, apply %.1f us\n",
	       (unsigned long long)vl1, n1, b1, c1, a1);
	printf("SVE/no-SVE ratio: capture %.2f, apply %.2f\n", c1 / c0, a1 / a0);
	return 0;
}
