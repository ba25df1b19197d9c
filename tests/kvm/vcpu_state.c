// SPDX-License-Identifier: MIT
/*
 * The vCPU state API: capture every register KVM lists (SVE at full
 * length included), serialise, load, apply to a fresh vCPU created with the
 * same features and vector lengths, and capture again: the same values,
 * register for register, and the guest on the new vCPU sees the state.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "guest_code.h"
#include "minivm.h"
#include "tap.h"
#include "vcpu_state.h"

#define SVE_FEATURE (1u << KVM_ARM_VCPU_SVE)

/* The counter moves on its own: compare everything else exactly. */
static bool is_live_counter(uint64_t id)
{
	return id == KVM_REG_ARM_TIMER_CNT || id == KVM_REG_ARM_PTIMER_CNT;
}

static void roundtrip(uint32_t features, const char *name)
{
	struct minivm a, b;
	struct vcpu_state st, st2, st3;
	struct state_buf sb, rb, sb2;
	uint64_t failed = 0, code, zcr = 0, vl = 16;
	char err[256];
	int diff = 0, r;

	if (minivm_create(&a, features, true, NULL, guest_sve_regs,
			  guest_sve_regs_end - guest_sve_regs, err, sizeof(err))) {
		ok(0, "%s: vCPU: %s", name, err);
		return;
	}
	if (features & SVE_FEATURE) {
		struct sve_vls vls;

		vcpu_sve_get_vls(a.vcpu, &vls);
		zcr = sve_vls_max_vq(&vls) - 1;
		vl = (zcr + 1) * 16;
		vcpu_set_reg(a.vcpu, ARM64_ZCR_EL1, &zcr);
		/* Full-width patterns in every Z/P register and FFR. */
		for (unsigned int n = 0; n < 32; n++) {
			uint8_t z[256];

			for (int k = 0; k < 256; k++)
				z[k] = (uint8_t)(n * 11 + k * 3 + 5);
			vcpu_set_reg(a.vcpu, sve_zreg_id(n, 0), z);
		}
		for (unsigned int n = 0; n < 17; n++) {
			uint8_t p[32];

			for (int k = 0; k < 32; k++)
				p[k] = n < 16 ? (uint8_t)(n * 29 + k * 7) : 0xff;
			vcpu_set_reg(a.vcpu, n < 16 ? sve_preg_id(n, 0) : sve_ffr_id(0), p);
		}
	}
	is_int(vcpu_state_capture(a.vcpu, &st), 0, "%s: capture", name);
	ok(st.nr_regs > 50, "%s: %u registers captured", name, st.nr_regs);
	is_int(st.has_sve, !!(features & SVE_FEATURE), "%s: SVE state %s", name,
	       st.has_sve ? "present" : "absent");

	state_writer_init(&sb);
	is_int(vcpu_state_save(&st, &sb), 0, "%s: serialise", name);
	state_reader_init(&rb, sb.data, sb.len);
	is_int(vcpu_state_load(&st2, &rb), 0, "%s: deserialise", name);
	is_int(state_finish(&rb), 0, "%s: the blob is consumed exactly", name);
	state_writer_init(&sb2);
	vcpu_state_save(&st2, &sb2);
	ok(sb.len == sb2.len && !memcmp(sb.data, sb2.data, sb.len), "%s: serialisation is stable",
	   name);
	state_reader_init(&rb, sb.data, sb.len - 7);
	ok(vcpu_state_load(&st3, &rb) != 0, "%s: a truncated blob is refused", name);

	/* A fresh vCPU with the same features and set, then the state. */
	if (minivm_create(&b, st2.features, true, st2.has_sve ? &st2.vls : NULL, guest_sve_regs,
			  guest_sve_regs_end - guest_sve_regs, err, sizeof(err))) {
		ok(0, "%s: second vCPU: %s", name, err);
		goto out_a;
	}
	r = vcpu_state_apply(b.vcpu, &st2, &failed);
	is_int(r, 0, "%s: apply (failed register 0x%llx)", name, (unsigned long long)failed);
	vcpu_state_free(&st3);
	is_int(vcpu_state_capture(b.vcpu, &st3), 0, "%s: capture the restored vCPU", name);
	is_int(st3.nr_regs, st.nr_regs, "%s: same register list", name);
	for (uint32_t i = 0; i < st.nr_regs && i < st3.nr_regs; i++) {
		size_t sz = kvm_reg_size(st.ids[i]);

		if (st.ids[i] != st3.ids[i]) {
			diff++;
			continue;
		}
		if (is_live_counter(st.ids[i]))
			continue;
		if (memcmp(st.data + st.offsets[i], st3.data + st3.offsets[i], sz)) {
			if (diff++ < 5)
				printf("#   register 0x%llx differs\n",
				       (unsigned long long)st.ids[i]);
		}
	}
	is_int(diff, 0, "%s: every register restored bit for bit", name);

	if (features & SVE_FEATURE) {
		if (minivm_run(&b, &code, err, sizeof(err)) || code != 1) {
			ok(0, "%s: restored guest runs (%s)", name, err);
		} else {
			int bad = 0;

			for (unsigned int n = 0; n < 32; n++)
				for (unsigned int k = 0; k < vl; k++)
					bad += b.dump[n * vl + k] != (uint8_t)(n * 11 + k * 3 + 5);
			is_int(bad, 0,
			       "%s: the guest on the restored vCPU sees every Z lane (VL %llu)",
			       name, (unsigned long long)vl * 8);
		}
	}
	minivm_destroy(&b);
out_a:
	minivm_destroy(&a);
	vcpu_state_free(&st);
	vcpu_state_free(&st2);
	vcpu_state_free(&st3);
	state_free(&sb);
	state_free(&sb2);
}

int main(void)
{
	struct minivm probe;
	char err[256];

	if (minivm_create(&probe, 0, true, NULL, guest_idle, guest_idle_end - guest_idle, err,
			  sizeof(err))) {
		printf("1..0 # SKIP no KVM: %s\n", err);
		return 0;
	}
	minivm_destroy(&probe);
	roundtrip(0, "no SVE");
	if (minivm_create(&probe, SVE_FEATURE, true, NULL, guest_idle, guest_idle_end - guest_idle,
			  err, sizeof(err)) == 0) {
		minivm_destroy(&probe);
		roundtrip(SVE_FEATURE, "SVE");
	} else {
		printf("ok %d - SVE round trip # SKIP %s\n", ++tap_n, err);
	}
	return tap_done();
}
