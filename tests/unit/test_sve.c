// SPDX-License-Identifier: MIT
/*
 * SVE vector-length negotiation (table-driven: host set x request ->
 * accepted set or message), VLS parsing and formatting, slice arithmetic,
 * and the ONE_REG ID encoding against the UAPI macros.
 */
#include <linux/kvm.h>

#include "sve.h"
#include "util.h"
#include <stdlib.h>

#include "tap.h"

static struct sve_vls vls_of(const char *list)
{
	struct sve_vls v = { 0 };
	struct sve_request r;
	char err[128];

	if (sve_request_parse_list(list, &r, err, sizeof(err)) == 0)
		for (unsigned int i = 0; i < r.nr_vl; i++)
			sve_vls_add(&v, r.vl[i] / 128);
	return v;
}

static void test_vls(void)
{
	struct sve_vls v = { 0 };
	char buf[256];

	sve_vls_format(&v, buf, sizeof(buf));
	is_str(buf, "none", "empty set formats as none");
	is_int(sve_vls_max_vq(&v), 0, "empty set has no maximum");
	v.w[0] = 0xffff; /* the lab host's value: vq 1..16 */
	is_int(sve_vls_count(&v), 16, "0xffff holds 16 lengths");
	is_int(sve_vls_max_vq(&v), 16, "0xffff: max vq 16 (2048 bits)");
	sve_vls_format(&v, buf, sizeof(buf));
	is_str(buf, "128,256,384,512,640,768,896,1024,1152,1280,1408,1536,1664,1792,1920,2048",
	       "0xffff formats as all lengths");
	v = (struct sve_vls){ { 0 } };
	sve_vls_add(&v, 65);
	is_int(v.w[1], 1, "vq 65 is bit 0 of word 1");
	ok(sve_vls_has(&v, 65) && !sve_vls_has(&v, 64), "has() reads across words");
	sve_vls_add(&v, 0);
	sve_vls_add(&v, 513);
	is_int(sve_vls_count(&v), 1, "out-of-range vq ignored");
	v = vls_of("128,256,512");
	is_int(v.w[0], 0xb, "128,256,512 is bits 0, 1, 3");
}

struct neg_case {
	const char *host;
	enum sve_request_kind kind;
	const char *arg;    /* list for SET, number for MAX */
	const char *want;   /* accepted set, or NULL */
	const char *msg[3]; /* fragments of the refusal */
};

static void test_negotiate(void)
{
	static const struct neg_case cases[] = {
		{ "128,256,512", SVE_REQ_HOST, "", "128,256,512", { 0 } },
		{ "128,256,384", SVE_REQ_HOST, "", "128,256,384", { 0 } },
		{ "128,256,512,1024,2048", SVE_REQ_MAX, "512", "128,256,512", { 0 } },
		{ "128,256,512", SVE_REQ_MAX, "128", "128", { 0 } },
		{ "128,256,512", SVE_REQ_MAX, "512", "128,256,512", { 0 } },
		{ "128,256,512",
		  SVE_REQ_MAX,
		  "384",
		  NULL,
		  { "--sve-max-vl 384: the host lacks 384", "the host offers 128,256,512",
		    "nearest valid choice: --sve-max-vl 256" } },
		{ "128,256,512",
		  SVE_REQ_MAX,
		  "300",
		  NULL,
		  { "300 is not a multiple of 128", "offers 128,256,512", "--sve-max-vl 256" } },
		{ "128,256,512",
		  SVE_REQ_MAX,
		  "4096",
		  NULL,
		  { "4096 is over the architecture's 2048-bit maximum", "--sve-max-vl 512" } },
		{ "256,512",
		  SVE_REQ_MAX,
		  "128",
		  NULL,
		  { "the host lacks 128", "nearest valid choice: --sve-max-vl 256" } },
		{ "128,256,512", SVE_REQ_SET, "128,256", "128,256", { 0 } },
		{ "128,256,512", SVE_REQ_SET, "256,128", "128,256", { 0 } },
		{ "128,256,384", SVE_REQ_SET, "128,256,384", "128,256,384", { 0 } },
		{ "128,256,512",
		  SVE_REQ_SET,
		  "128,512",
		  NULL,
		  { "--sve-vls 128,512", "leaves out 256 below its maximum 512",
		    "nearest valid choice: --sve-vls 128,256,512" } },
		{ "128,256,512",
		  SVE_REQ_SET,
		  "256",
		  NULL,
		  { "leaves out 128", "--sve-vls 128,256" } },
		{ "128,256,512",
		  SVE_REQ_SET,
		  "128,256,1024",
		  NULL,
		  { "the host lacks 1024", "nearest valid choice: --sve-vls 128,256,512" } },
		{ "128,256,512",
		  SVE_REQ_SET,
		  "128,200",
		  NULL,
		  { "200 is not a multiple of 128", "--sve-vls 128" } },
		{ "128,256,512",
		  SVE_REQ_SET,
		  "128,256,4096",
		  NULL,
		  { "4096 is over the architecture's 2048-bit maximum" } },
		{ "128,256,512",
		  SVE_REQ_SET,
		  "",
		  NULL,
		  { "--sve-vls (empty)", "the set is empty", "--sve-vls 128,256,512" } },
		{ "", SVE_REQ_HOST, "", NULL, { "the host offers no SVE vector lengths" } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct neg_case *c = &cases[i];
		struct sve_vls host = vls_of(c->host), out = { 0 };
		struct sve_request req = { .kind = c->kind };
		char err[512] = "", got[256];
		int r;

		if (c->kind == SVE_REQ_SET && *c->arg)
			sve_request_parse_list(c->arg, &req, err, sizeof(err));
		req.kind = c->kind;
		if (c->kind == SVE_REQ_MAX)
			req.max_vl = (unsigned int)atoi(c->arg);
		r = sve_negotiate(&host, &req, &out, err, sizeof(err));
		if (c->want) {
			is_int(r, 0, "host {%s} x request %d '%s' accepted", c->host, c->kind,
			       c->arg);
			sve_vls_format(&out, got, sizeof(got));
			is_str(got, c->want, "host {%s} x '%s' gives {%s}", c->host, c->arg,
			       c->want);
		} else {
			is_int(r, -EINVAL, "host {%s} x request %d '%s' refused", c->host, c->kind,
			       c->arg);
			for (int m = 0; m < 3 && c->msg[m]; m++)
				like(err, c->msg[m], "refusal of '%s' says '%s'", c->arg,
				     c->msg[m]);
		}
	}
}

static void test_parse(void)
{
	struct sve_request r;
	char err[256];

	is_int(sve_request_parse_list("128,256,512", &r, err, sizeof(err)), 0, "list parses");
	ok(r.kind == SVE_REQ_SET && r.nr_vl == 3 && r.vl[2] == 512, "list contents");
	is_int(sve_request_parse_list("128,,256", &r, err, sizeof(err)), -EINVAL,
	       "empty element refused");
	is_int(sve_request_parse_list("128,", &r, err, sizeof(err)), -EINVAL,
	       "trailing comma refused");
	like(err, "trailing comma", "trailing comma says so");
	is_int(sve_request_parse_list("128,abc", &r, err, sizeof(err)), -EINVAL,
	       "non-number refused");
	like(err, "expected vector lengths in bits", "non-number says what is expected");
	is_int(sve_request_parse_list("-128", &r, err, sizeof(err)), -EINVAL, "negative refused");
	is_int(sve_request_parse_list("", &r, err, sizeof(err)), 0,
	       "empty list parses (refused by negotiation)");
	is_int(r.nr_vl, 0, "empty list is empty");
}

static void test_ids(void)
{
	is_int(sve_nr_slices(1), 1, "vq 1: one slice");
	is_int(sve_nr_slices(16), 1, "vq 16 (2048 bits): one slice");
	is_int(sve_nr_slices(17), 2, "vq 17: two slices");
	is_int(sve_nr_slices(32), 2, "vq 32 (4096 bits): two slices");
	is_int(sve_nr_slices(512), 32, "vq 512: 32 slices (KVM_ARM64_SVE_MAX_SLICES)");

	for (unsigned int n = 0; n < 32; n++)
		if (sve_zreg_id(n, 0) != KVM_REG_ARM64_SVE_ZREG(n, 0) ||
		    sve_zreg_id(n, 3) != KVM_REG_ARM64_SVE_ZREG(n, 3))
			ok(0, "Z%u ID", n);
	is_int(sve_zreg_id(31, 1), KVM_REG_ARM64_SVE_ZREG(31, 1),
	       "Z31 slice 1 matches the UAPI macro");
	is_int(sve_zreg_id(0, 0), 0x6080000000150000ULL, "Z0 ID as documented");
	is_int(sve_preg_id(15, 0), KVM_REG_ARM64_SVE_PREG(15, 0), "P15 matches the UAPI macro");
	is_int(sve_preg_id(0, 0), 0x6050000000150400ULL, "P0 ID as documented");
	is_int(sve_ffr_id(0), KVM_REG_ARM64_SVE_FFR(0), "FFR matches the UAPI macro");
	is_int(sve_vls_id(), KVM_REG_ARM64_SVE_VLS, "VLS matches the UAPI macro");
	is_int(sve_vls_id(), 0x606000000015ffffULL, "VLS ID as documented");
	is_int(kvm_reg_size(sve_zreg_id(0, 0)), 256, "Z slice is 256 bytes");
	is_int(kvm_reg_size(sve_preg_id(0, 0)), 32, "P slice is 32 bytes");
	is_int(kvm_reg_size(sve_vls_id()), 64, "VLS is 64 bytes");
	is_int(kvm_reg_size(KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE), 16,
	       "U128 is 16 bytes");
	is_int(kvm_reg_size(KVM_REG_ARM64 | KVM_REG_SIZE_U32 | KVM_REG_ARM_CORE), 4,
	       "U32 is 4 bytes");
	ok(sve_reg_is_sve(sve_ffr_id(0)) && sve_reg_is_sve(sve_vls_id()),
	   "SVE IDs are in group 0x15");
	ok(!sve_reg_is_sve(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE),
	   "core registers are not SVE");
}

static void test_common_max(void)
{
	struct sve_vls s[3] = {
		vls_of("128,256,384,512,640,768,896,1024,1152,1280,1408,1536,1664,1792,1920,2048"),
		vls_of("128,256,512"), vls_of("128,256,384")
	};

	is_int(sve_vls_common_max(s, 1), 16, "one host: its own maximum");
	is_int(sve_vls_common_max(s, 2), 2, "2048 and {128,256,512}: they part at 384, so 256");
	is_int(sve_vls_common_max((struct sve_vls[]){ s[0], s[2] }, 2), 3,
	       "2048 and 384-bit hosts: 384");
	is_int(sve_vls_common_max(s, 3), 2, "all three: 256");
	s[1] = vls_of("256");
	is_int(sve_vls_common_max(s, 2), 0, "a host without 128: nothing common");
	is_int(sve_vls_common_max(s, 0), 0, "no host: 0");
}

int main(void)
{
	test_vls();
	test_common_max();
	test_negotiate();
	test_parse();
	test_ids();
	return tap_done();
}
