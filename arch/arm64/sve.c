// SPDX-License-Identifier: MIT
#include "sve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The register encoding, spelt out so it builds without arm64 UAPI headers
 * (unit tests compare it with the UAPI macros on arm64). */
#define REG_ARM64 0x6000000000000000ULL
#define REG_SIZE_SHIFT 52
#define REG_SIZE_MASK 0x00f0000000000000ULL
#define REG_SIZE_U256 0x0050000000000000ULL
#define REG_SIZE_U512 0x0060000000000000ULL
#define REG_SIZE_U2048 0x0080000000000000ULL
#define REG_COPROC_MASK 0x000000000fff0000ULL
#define REG_ARM64_SVE (0x15ULL << 16)

bool sve_vls_has(const struct sve_vls *v, unsigned int vq)
{
	if (vq < 1 || vq > SVE_VQ_MAX_UAPI)
		return false;
	return v->w[(vq - 1) / 64] >> ((vq - 1) % 64) & 1;
}

void sve_vls_add(struct sve_vls *v, unsigned int vq)
{
	if (vq >= 1 && vq <= SVE_VQ_MAX_UAPI)
		v->w[(vq - 1) / 64] |= 1ULL << ((vq - 1) % 64);
}

unsigned int sve_vls_max_vq(const struct sve_vls *v)
{
	for (unsigned int vq = SVE_VQ_MAX_UAPI; vq >= 1; vq--)
		if (sve_vls_has(v, vq))
			return vq;
	return 0;
}

unsigned int sve_vls_count(const struct sve_vls *v)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < SVE_VLS_WORDS; i++)
		n += (unsigned int)__builtin_popcountll(v->w[i]);
	return n;
}

bool sve_vls_equal(const struct sve_vls *a, const struct sve_vls *b)
{
	return !memcmp(a->w, b->w, sizeof(a->w));
}

void sve_vls_cut(const struct sve_vls *in, unsigned int max_vq, struct sve_vls *out)
{
	struct sve_vls r = { 0 };

	for (unsigned int vq = 1; vq <= max_vq && vq <= SVE_VQ_MAX_UAPI; vq++)
		if (sve_vls_has(in, vq))
			sve_vls_add(&r, vq);
	*out = r;
}

unsigned int sve_vls_common_max(const struct sve_vls *sets, unsigned int n)
{
	unsigned int common = 0;

	for (unsigned int vq = 1; n && vq <= SVE_VQ_MAX_UAPI; vq++) {
		unsigned int have = 0;

		for (unsigned int h = 0; h < n; h++)
			have += sve_vls_has(&sets[h], vq);
		if (have == n)
			common = vq;
		else if (have)
			break;
	}
	return common;
}

void sve_vls_format(const struct sve_vls *v, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned int vq = 1; vq <= SVE_VQ_MAX_UAPI; vq++) {
		int n;

		if (!sve_vls_has(v, vq))
			continue;
		n = snprintf(buf + off, len - off, "%s%u", off ? "," : "", vq * SVE_VQ_BITS);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (!off)
		snprintf(buf, len, "none");
}

int sve_request_parse_list(const char *s, struct sve_request *req, char *err, size_t errlen)
{
	const char *p = s;

	memset(req, 0, sizeof(*req));
	req->kind = SVE_REQ_SET;
	while (*p) {
		unsigned long v;
		char *end;

		if (*p < '0' || *p > '9')
			return errmsg(
				err, errlen, -EINVAL,
				"--sve-vls '%s': expected vector lengths in bits, like 128,256,512",
				s);
		v = strtoul(p, &end, 10);
		if (v > 1UL << 20 || (*end && *end != ','))
			return errmsg(
				err, errlen, -EINVAL,
				"--sve-vls '%s': expected vector lengths in bits, like 128,256,512",
				s);
		if (req->nr_vl == SVE_REQ_MAX_LENGTHS)
			return errmsg(err, errlen, -EINVAL, "--sve-vls '%s': more than %d lengths",
				      s, SVE_REQ_MAX_LENGTHS);
		req->vl[req->nr_vl++] = (unsigned int)v;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return errmsg(err, errlen, -EINVAL, "--sve-vls '%s': trailing comma", s);
	}
	return 0;
}

/* The valid choice closest to wanting lengths up to want_vl bits. */
static unsigned int nearest_max_vq(const struct sve_vls *host, unsigned int want_vl)
{
	unsigned int best = 0;

	for (unsigned int vq = 1; vq <= SVE_VQ_MAX_UAPI; vq++) {
		if (!sve_vls_has(host, vq))
			continue;
		if (!best || vq * SVE_VQ_BITS <= want_vl)
			best = vq;
	}
	return best;
}

static int refuse(const struct sve_vls *host, const struct sve_request *req, unsigned int want_vl,
		  const char *why, char *err, size_t errlen)
{
	char asked[160] = "", offers[160], choice[160];
	struct sve_vls near;
	unsigned int vq = nearest_max_vq(host, want_vl);
	size_t off = 0;

	sve_vls_format(host, offers, sizeof(offers));
	sve_vls_cut(host, vq, &near);
	if (req->kind == SVE_REQ_MAX) {
		snprintf(asked, sizeof(asked), "--sve-max-vl %u", req->max_vl);
		snprintf(choice, sizeof(choice), "--sve-max-vl %u", vq * SVE_VQ_BITS);
	} else {
		off = (size_t)snprintf(asked, sizeof(asked), "--sve-vls ");
		for (unsigned int i = 0; i < req->nr_vl && off < sizeof(asked); i++)
			off += (size_t)snprintf(asked + off, sizeof(asked) - off, "%s%u",
						i ? "," : "", req->vl[i]);
		if (!req->nr_vl)
			snprintf(asked + off, sizeof(asked) - off, "(empty)");
		memcpy(choice, "--sve-vls ", 10);
		sve_vls_format(&near, choice + 10, sizeof(choice) - 10);
	}
	return errmsg(err, errlen, -EINVAL, "%s: %s; the host offers %s; nearest valid choice: %s",
		      asked, why, offers, choice);
}

/* Check one length; fill why and return false when it is impossible. */
static bool vl_possible(const struct sve_vls *host, unsigned int vl, char *why, size_t len)
{
	if (vl == 0 || vl % SVE_VQ_BITS) {
		snprintf(why, len, "%u is not a multiple of 128", vl);
		return false;
	}
	if (vl > SVE_VL_MAX_ARCH) {
		snprintf(why, len, "%u is over the architecture's 2048-bit maximum", vl);
		return false;
	}
	if (!sve_vls_has(host, vl / SVE_VQ_BITS)) {
		snprintf(why, len, "the host lacks %u", vl);
		return false;
	}
	return true;
}

int sve_negotiate(const struct sve_vls *host, const struct sve_request *req, struct sve_vls *out,
		  char *err, size_t errlen)
{
	struct sve_vls want = { 0 }, cut;
	unsigned int max_vl = 0;
	char why[128];

	if (!sve_vls_count(host))
		return errmsg(err, errlen, -EINVAL, "the host offers no SVE vector lengths");
	switch (req->kind) {
	case SVE_REQ_HOST:
		*out = *host;
		return 0;
	case SVE_REQ_MAX:
		if (!vl_possible(host, req->max_vl, why, sizeof(why)))
			return refuse(host, req, req->max_vl, why, err, errlen);
		sve_vls_cut(host, req->max_vl / SVE_VQ_BITS, out);
		return 0;
	case SVE_REQ_SET:
		break;
	}
	if (!req->nr_vl)
		return refuse(host, req, SVE_VL_MAX_ARCH, "the set is empty", err, errlen);
	for (unsigned int i = 0; i < req->nr_vl; i++)
		max_vl = MAX(max_vl, req->vl[i]);
	for (unsigned int i = 0; i < req->nr_vl; i++) {
		if (!vl_possible(host, req->vl[i], why, sizeof(why)))
			return refuse(host, req, max_vl, why, err, errlen);
		sve_vls_add(&want, req->vl[i] / SVE_VQ_BITS);
	}
	sve_vls_cut(host, max_vl / SVE_VQ_BITS, &cut);
	if (!sve_vls_equal(&want, &cut)) {
		for (unsigned int vq = 1; vq <= max_vl / SVE_VQ_BITS; vq++) {
			if (sve_vls_has(&cut, vq) && !sve_vls_has(&want, vq)) {
				snprintf(
					why, sizeof(why),
					"it leaves out %u below its maximum %u, and KVM can only cap the host's set",
					vq * SVE_VQ_BITS, max_vl);
				break;
			}
		}
		return refuse(host, req, max_vl, why, err, errlen);
	}
	*out = want;
	return 0;
}

unsigned int sve_nr_slices(unsigned int max_vq)
{
	unsigned int bits = max_vq * SVE_VQ_BITS;

	return (bits + SVE_ZREG_SLICE_BYTES * 8 - 1) / (SVE_ZREG_SLICE_BYTES * 8);
}

uint64_t sve_zreg_id(unsigned int n, unsigned int slice)
{
	return REG_ARM64 | REG_ARM64_SVE | REG_SIZE_U2048 | 0x000 | (uint64_t)(n & 31) << 5 |
	       (slice & 31);
}

uint64_t sve_preg_id(unsigned int n, unsigned int slice)
{
	return REG_ARM64 | REG_ARM64_SVE | REG_SIZE_U256 | 0x400 | (uint64_t)(n & 15) << 5 |
	       (slice & 31);
}

uint64_t sve_ffr_id(unsigned int slice)
{
	return REG_ARM64 | REG_ARM64_SVE | REG_SIZE_U256 | 0x600 | (slice & 31);
}

uint64_t sve_vls_id(void)
{
	return REG_ARM64 | REG_ARM64_SVE | REG_SIZE_U512 | 0xffff;
}

bool sve_reg_is_sve(uint64_t id)
{
	return (id & 0xff00000000000000ULL) == REG_ARM64 && (id & REG_COPROC_MASK) == REG_ARM64_SVE;
}

size_t kvm_reg_size(uint64_t id)
{
	return (size_t)1 << ((id & REG_SIZE_MASK) >> REG_SIZE_SHIFT);
}
