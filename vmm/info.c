// SPDX-License-Identifier: MIT
/*
 * `armvm info [--json]`: what this host's KVM offers armvm. The SVE vector
 * lengths and GIC versions are read from a scratch VM (VLS needs a vCPU
 * created with the SVE feature; GICs are probed with KVM_CREATE_DEVICE_TEST).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "gic.h"
#include "info.h"
#include "minivm.h"
#include "guest_code.h"

#ifndef KVM_CAP_COUNTER_OFFSET
#define KVM_CAP_COUNTER_OFFSET 227
#endif

static const struct {
	const char *name;
	long cap;
} caps[] = {
	{ "KVM_CAP_ARM_PSCI_0_2", KVM_CAP_ARM_PSCI_0_2 },
	{ "KVM_CAP_ONE_REG", KVM_CAP_ONE_REG },
	{ "KVM_CAP_ARM_SVE", KVM_CAP_ARM_SVE },
	{ "KVM_CAP_ARM_PMU_V3", KVM_CAP_ARM_PMU_V3 },
	{ "KVM_CAP_ARM_EL1_32BIT", KVM_CAP_ARM_EL1_32BIT },
	{ "KVM_CAP_ARM_PTRAUTH_ADDRESS", KVM_CAP_ARM_PTRAUTH_ADDRESS },
	{ "KVM_CAP_ARM_VM_IPA_SIZE", KVM_CAP_ARM_VM_IPA_SIZE },
	{ "KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS },
	{ "KVM_CAP_NR_VCPUS", KVM_CAP_NR_VCPUS },
	{ "KVM_CAP_MP_STATE", KVM_CAP_MP_STATE },
	{ "KVM_CAP_VCPU_EVENTS", KVM_CAP_VCPU_EVENTS },
	{ "KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT },
	{ "KVM_CAP_COUNTER_OFFSET", KVM_CAP_COUNTER_OFFSET },
	{ "KVM_CAP_IRQFD", KVM_CAP_IRQFD },
	{ "KVM_CAP_IOEVENTFD", KVM_CAP_IOEVENTFD },
	{ "KVM_CAP_IRQ_ROUTING", KVM_CAP_IRQ_ROUTING },
	{ "KVM_CAP_SIGNAL_MSI", KVM_CAP_SIGNAL_MSI },
	{ "KVM_CAP_READONLY_MEM", KVM_CAP_READONLY_MEM },
	{ "KVM_CAP_ARM_NISV_TO_USER", KVM_CAP_ARM_NISV_TO_USER },
	{ "KVM_CAP_ARM_INJECT_EXT_DABT", KVM_CAP_ARM_INJECT_EXT_DABT },
};

static const enum irqchip_type gics[] = { IRQCHIP_GICV3_ITS, IRQCHIP_GICV3,
					  IRQCHIP_GICV2 };

static int cap_of(const int *capv, long cap)
{
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		if (caps[i].cap == cap)
			return capv[i];
	return 0;
}

int info_main(int argc, char **argv)
{
	bool json = false, gic_ok[ARRAY_SIZE(gics)] = { 0 };
	int capv[ARRAY_SIZE(caps)], api, kvm, vmfd, max_vcpus, ipa;
	struct sve_vls vls = { 0 };
	char vls_s[160] = "none", err[256];
	struct minivm mv;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: armvm info [--json]\n\nWhat this host's KVM offers armvm.\n");
			return 0;
		} else {
			pr_err("info: unknown option '%s' (see armvm info --help)", argv[i]);
			return 2;
		}
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		pr_err("cannot open /dev/kvm: %s", strerror(errno));
		return 1;
	}
	api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		capv[i] = ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].cap);
		if (capv[i] < 0)
			capv[i] = 0;
	}
	vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vmfd >= 0) {
		for (size_t i = 0; i < ARRAY_SIZE(gics); i++)
			gic_ok[i] = gic_host_supports(vmfd, gics[i]);
		close(vmfd);
	}
	close(kvm);
	max_vcpus = cap_of(capv, KVM_CAP_MAX_VCPUS);
	if (!max_vcpus)
		max_vcpus = cap_of(capv, KVM_CAP_NR_VCPUS);
	ipa = cap_of(capv, KVM_CAP_ARM_VM_IPA_SIZE);
	if (!ipa)
		ipa = 40; /* KVM's fixed size before the capability */
	if (cap_of(capv, KVM_CAP_ARM_SVE) > 0 &&
	    minivm_create(&mv, 1u << KVM_ARM_VCPU_SVE, false, NULL, guest_idle,
			  (size_t)(guest_idle_end - guest_idle), err,
			  sizeof(err)) == 0) {
		if (vcpu_sve_get_vls(mv.vcpu, &vls) == 0)
			sve_vls_format(&vls, vls_s, sizeof(vls_s));
		minivm_destroy(&mv);
	}

	if (json) {
		printf("{\n  \"kvm_api_version\": %d,\n  \"capabilities\": {", api);
		for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
			printf("%s\n    \"%s\": %d", i ? "," : "", caps[i].name, capv[i]);
		printf("\n  },\n  \"sve_vector_lengths\": [");
		for (unsigned int vq = 1, n = 0; vq <= SVE_VQ_MAX_UAPI; vq++)
			if (sve_vls_has(&vls, vq))
				printf("%s%u", n++ ? ", " : "", vq * 128);
		printf("],\n  \"gic\": [");
		for (size_t i = 0, n = 0; i < ARRAY_SIZE(gics); i++)
			if (gic_ok[i])
				printf("%s\"%s\"", n++ ? ", " : "", gic_type_name(gics[i]));
		printf("],\n  \"max_vcpus\": %d,\n  \"max_ipa_bits\": %d\n}\n",
		       max_vcpus, ipa);
		return 0;
	}
	printf("KVM API version:      %d\n", api);
	printf("SVE vector lengths:   %s\n", vls_s);
	printf("GIC:                 ");
	for (size_t i = 0; i < ARRAY_SIZE(gics); i++)
		if (gic_ok[i])
			printf(" %s", gic_type_name(gics[i]));
	printf("\nmaximum vCPUs:        %d\n", max_vcpus);
	printf("maximum IPA size:     %d bits\n", ipa);
	printf("capabilities:\n");
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		printf("  %-30s %d\n", caps[i].name, capv[i]);
	return 0;
}
