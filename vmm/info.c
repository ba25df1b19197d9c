// SPDX-License-Identifier: MIT
/*
 * `armvm info [--json]`: what this host's KVM offers armvm. The SVE vector
 * lengths and GIC versions are read from a scratch VM (VLS needs a vCPU
 * created with the SVE feature; GICs are probed with KVM_CREATE_DEVICE_TEST).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "cli.h"
#include "gic.h"
#include "info.h"
#include "minivm.h"
#include "guest_code.h"
#include "snapshot.h"

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

static const enum irqchip_type gics[] = { IRQCHIP_GICV3_ITS, IRQCHIP_GICV3, IRQCHIP_GICV2 };

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
	struct cli_parser p;
	int p_ret;

	cli_begin(&p, "info", argc, argv, err, sizeof(err));
	while ((p_ret = cli_next(&p)) > CLI_HELP)
		json |= p_ret == OPT_JSON;
	if ((p_ret = cli_finish(&p, p_ret)) >= 0)
		return p_ret;
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
			  (size_t)(guest_idle_end - guest_idle), err, sizeof(err)) == 0) {
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
		printf("],\n  \"max_vcpus\": %d,\n  \"max_ipa_bits\": %d,\n  \"cntfrq\": %llu\n}\n",
		       max_vcpus, ipa, (unsigned long long)host_cntfrq());
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
	printf("counter frequency:    %llu Hz\n", (unsigned long long)host_cntfrq());
	printf("capabilities:\n");
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		printf("  %-30s %d\n", caps[i].name, capv[i]);
	return 0;
}

/* ---- armvm vls-common ------------------------------------------------------ */

/*
 * What every host of a fleet can honour, from each host's `armvm info
 * --json`: the largest SVE maximum up to which all their sets agree (a
 * guest run with it has the same set everywhere, so its snapshots restore
 * on any of them), and the best GIC all of them offer.
 */
int vls_common_main(int argc, char **argv)
{
	struct sve_vls sets[64];
	bool has_gic[3][64], json = false;
	const char *files[64];
	unsigned long long frq = 0;
	int n = 0, common = 0, gic = -1;
	bool frq_differs = false, no_sve = false;
	struct cli_parser p;
	char perr[256];
	int p_ret;

	cli_begin(&p, "vls-common", argc, argv, perr, sizeof(perr));
	while ((p_ret = cli_next(&p)) > CLI_HELP)
		json |= p_ret == OPT_JSON;
	if ((p_ret = cli_finish(&p, p_ret)) >= 0)
		return p_ret;
	for (n = 0; n < p.npos; n++)
		files[n] = p.pos[n];
	if (n < 1) {
		pr_err("vls-common: name each host's `armvm info --json` output: armvm vls-common A.json B.json ...");
		return 2;
	}
	for (int h = 0; h < n; h++) {
		json_error_t jerr;
		json_t *j = json_load_file(files[h], JSON_REJECT_DUPLICATES, &jerr), *v;
		size_t k;

		memset(&sets[h], 0, sizeof(sets[h]));
		if (!j || !json_is_array(json_object_get(j, "sve_vector_lengths")) ||
		    !json_is_array(json_object_get(j, "gic"))) {
			pr_err("vls-common: %s is not the output of armvm info --json%s%s",
			       files[h], j ? "" : ": ", j ? "" : jerr.text);
			json_decref(j);
			return 1;
		}
		json_array_foreach(json_object_get(j, "sve_vector_lengths"), k, v)
		{
			json_int_t bits = json_integer_value(v);

			if (bits < 128 || bits > 128 * SVE_VQ_MAX_UAPI || bits % 128) {
				pr_err("vls-common: %s: %lld is not an SVE vector length", files[h],
				       (long long)bits);
				json_decref(j);
				return 1;
			}
			sve_vls_add(&sets[h], (unsigned int)(bits / 128));
		}
		no_sve |= sve_vls_count(&sets[h]) == 0;
		for (size_t g = 0; g < ARRAY_SIZE(gics); g++) {
			has_gic[g][h] = false;
			json_array_foreach(
				json_object_get(j, "gic"), k,
				v) if (json_is_string(v) &&
				       !strcmp(json_string_value(v), gic_type_name(gics[g])))
				has_gic[g][h] = true;
		}
		v = json_object_get(j, "cntfrq");
		if (json_is_integer(v)) {
			if (frq && frq != (unsigned long long)json_integer_value(v))
				frq_differs = true;
			frq = (unsigned long long)json_integer_value(v);
		}
		json_decref(j);
	}
	if (!no_sve)
		common = (int)sve_vls_common_max(sets, (unsigned int)n);
	for (size_t g = 0; g < ARRAY_SIZE(gics) && gic < 0; g++) {
		bool all = true;

		for (int h = 0; h < n; h++)
			all &= has_gic[g][h];
		if (all)
			gic = (int)g;
	}
	if (json) {
		json_t *vl = json_array(), *out;
		char *s;

		for (int vq = 1; vq <= common; vq++)
			if (sve_vls_has(&sets[0], (unsigned int)vq))
				json_array_append_new(vl, json_integer(vq * 128));
		out = json_pack("{s:i, s:o, s:s?, s:b}", "sve_max_vl", common * 128,
				"sve_vector_lengths", vl, "irqchip",
				gic >= 0 ? gic_type_name(gics[gic]) : NULL,
				"counter_frequencies_agree", !frq_differs);
		s = out ? json_dumps(out, JSON_INDENT(2)) : NULL;
		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(out);
	} else {
		struct sve_vls cut;
		char list[160];

		sve_vls_cut(&sets[0], (unsigned int)common, &cut);
		sve_vls_format(&cut, list, sizeof(list));
		if (common)
			printf("--sve-max-vl %d    (vector lengths %s on all %d hosts)\n",
			       common * 128, list, n);
		else
			printf("--no-sve    (no SVE vector-length set is common to all %d hosts)\n",
			       n);
		if (gic >= 0)
			printf("--irqchip %s\n", gic_type_name(gics[gic]));
		else
			printf("no GIC is common to all %d hosts: no snapshot moves between all of them\n",
			       n);
	}
	if (frq_differs) {
		pr_err("vls-common: the hosts' counter frequencies differ: a snapshot restores only where CNTFRQ is the one it was taken with");
		return 1;
	}
	return gic >= 0 ? 0 : 1;
}
