// SPDX-License-Identifier: MIT
#include "boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "layout.h"
#include "util.h"

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

bool boot_is_gzip(const uint8_t *buf, size_t size)
{
	return size >= 3 && buf[0] == 0x1f && buf[1] == 0x8b && buf[2] == 8;
}

/*
 * An EFI-stub Image is also a PE/COFF file: the section table says how many
 * bytes of file there must be, so a cut-off download is caught here rather
 * than as a guest that dies mid-boot. Returns the size the PE header needs,
 * or 0 if there is no (sane) PE header.
 */
static uint64_t pe_file_size(const uint8_t *buf, size_t size)
{
	uint32_t pe, nsec, opt, sec;
	uint64_t need = 0;

	if (size < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return 0;
	pe = le32(buf + 0x3c);
	if (pe > size || size - pe < 24 || memcmp(buf + pe, "PE\0\0", 4))
		return 0;
	nsec = le16(buf + pe + 6);
	opt = le16(buf + pe + 20);
	sec = pe + 24 + opt;
	for (uint32_t i = 0; i < nsec; i++, sec += 40) {
		uint64_t end;

		if (sec > size || size - sec < 40)
			return UINT64_MAX; /* the table itself is cut off */
		end = (uint64_t)le32(buf + sec + 20) + le32(buf + sec + 16);
		need = MAX(need, end);
	}
	return need;
}

int boot_image_parse(const uint8_t *buf, size_t size, struct boot_image *out, char *err,
		     size_t errlen)
{
	uint64_t text_offset, image_size, flags, pe_need;

	memset(out, 0, sizeof(*out));
	if (size == 0)
		return errmsg(err, errlen, -EINVAL, "kernel file is empty");
	if (size < 64 || le32(buf + 56) != ARM64_IMAGE_MAGIC) {
		/* kvmtool: no Image header means a flat binary at RAM+512K. */
		out->data = buf;
		out->size = size;
		out->load_offset = LAYOUT_FLAT_LOAD_OFFSET;
		out->mem_size = size;
		return 0;
	}
	text_offset = le64(buf + 8);
	image_size = le64(buf + 16);
	flags = le64(buf + 24);
	if (flags & ARM64_IMAGE_FLAG_BE)
		return errmsg(
			err, errlen, -EINVAL,
			"kernel Image is big-endian (header flags bit 0); armvm boots little-endian kernels only");
	/* booting.rst: image_size 0 means a pre-3.17 kernel at 0x80000. */
	if (image_size == 0)
		text_offset = 0x80000;
	if (!IS_ALIGNED(text_offset, 4096) || text_offset >= SZ_2M)
		return errmsg(err, errlen, -EINVAL,
			      "kernel Image header has a bad text_offset 0x%llx",
			      (unsigned long long)text_offset);
	pe_need = pe_file_size(buf, size);
	if (pe_need > size)
		return errmsg(
			err, errlen, -EINVAL,
			"kernel Image is truncated: the file has %zu bytes, its header says %llu",
			size, (unsigned long long)(pe_need == UINT64_MAX ? size + 1 : pe_need));
	out->data = buf;
	out->size = size;
	out->load_offset = text_offset;
	out->mem_size = MAX(image_size, (uint64_t)size);
	out->has_header = true;
	return 0;
}

int boot_gunzip(const uint8_t *buf, size_t size, size_t max, uint8_t **outp, size_t *outlen,
		char *err, size_t errlen)
{
	z_stream zs = { 0 };
	size_t cap = MIN(max, MAX((size_t)4 * size, (size_t)SZ_1M));
	uint8_t *out = malloc(cap), *grown;
	int ret;

	if (!out)
		return -ENOMEM;
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(out);
		return errmsg(err, errlen, -EINVAL, "cannot start gzip decompression");
	}
	zs.next_in = (uint8_t *)buf;
	zs.avail_in = (uInt)MIN(size, (size_t)UINT32_MAX);
	for (;;) {
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)MIN(cap - zs.total_out, (size_t)UINT32_MAX);
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret == Z_STREAM_END)
			break;
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			inflateEnd(&zs);
			free(out);
			return errmsg(err, errlen, -EINVAL, "gzip kernel is corrupt (%s)",
				      zs.msg ? zs.msg : "inflate failed");
		}
		if (zs.avail_out == 0) {
			if (cap >= max) {
				inflateEnd(&zs);
				free(out);
				return errmsg(
					err, errlen, -EINVAL,
					"gzip kernel inflates to more than %zu MiB, more than guest RAM",
					max >> 20);
			}
			cap = MIN(max, cap * 2);
			grown = realloc(out, cap);
			if (!grown) {
				inflateEnd(&zs);
				free(out);
				return -ENOMEM;
			}
			out = grown;
		} else if (zs.avail_in == 0) {
			inflateEnd(&zs);
			free(out);
			return errmsg(err, errlen, -EINVAL, "gzip kernel is truncated");
		}
	}
	*outlen = zs.total_out;
	inflateEnd(&zs);
	*outp = out;
	return 0;
}

int boot_plan(uint64_t ram_base, uint64_t ram_size, const struct boot_image *k,
	      uint64_t initrd_size, uint64_t fdt_max, struct boot_layout *out, char *err,
	      size_t errlen)
{
	uint64_t ram_end = ram_base + ram_size;
	uint64_t window_end = MIN(ram_end, ram_base + LAYOUT_BOOT_WINDOW);
	uint64_t kernel_end, fdt_gpa, initrd_gpa;

	memset(out, 0, sizeof(*out));
	if (k->load_offset > ram_size || k->mem_size > ram_size - k->load_offset)
		return errmsg(
			err, errlen, -EINVAL,
			"kernel needs %llu MiB of RAM from its load address, the guest has %llu MiB (-m)",
			(unsigned long long)((k->load_offset + k->mem_size + SZ_1M - 1) >> 20),
			(unsigned long long)(ram_size >> 20));
	kernel_end = ram_base + k->load_offset + k->mem_size;
	/*
	 * DTB at the top of the first 256 MiB (2 MiB-aligned, booting.rst),
	 * initrd just below it; past 256 MiB only if they do not fit there.
	 */
	for (int pass = 0; pass < 2; pass++, window_end = ram_end) {
		if (window_end < fdt_max)
			continue;
		fdt_gpa = ALIGN_DOWN(window_end - fdt_max, LAYOUT_FDT_ALIGN);
		if (fdt_gpa < kernel_end)
			continue;
		initrd_gpa = ALIGN_DOWN(fdt_gpa - initrd_size, 4096);
		if (initrd_size > fdt_gpa - kernel_end || initrd_gpa < kernel_end)
			continue;
		out->kernel_gpa = ram_base + k->load_offset;
		out->kernel_end = kernel_end;
		out->fdt_gpa = fdt_gpa;
		out->initrd_gpa = initrd_size ? initrd_gpa : 0;
		out->initrd_size = initrd_size;
		out->entry = out->kernel_gpa;
		return 0;
	}
	return errmsg(
		err, errlen, -EINVAL,
		"kernel (%llu KiB), initrd (%llu KiB) and device tree do not fit in %llu MiB of RAM (-m)",
		(unsigned long long)(k->mem_size >> 10), (unsigned long long)(initrd_size >> 10),
		(unsigned long long)(ram_size >> 20));
}
