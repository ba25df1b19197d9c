// SPDX-License-Identifier: MIT
/* Image header parsing, gzip, and the placement of kernel, initrd and DTB. */
#include <stdlib.h>
#include <zlib.h>

#include "boot.h"
#include "layout.h"
#include "tap.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* An Image of `size` file bytes: header with text_offset, image_size, flags. */
static uint8_t *make_image(size_t size, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	uint8_t *b = calloc(1, size);

	put64(b + 8, text_offset);
	put64(b + 16, image_size);
	put64(b + 24, flags);
	put32(b + 56, ARM64_IMAGE_MAGIC);
	return b;
}

/* Make it an EFI-stub Image: MZ + a PE header with one section. */
static void add_pe(uint8_t *b, uint32_t raw_off, uint32_t raw_size)
{
	uint32_t pe = 0x40;

	b[0] = 'M', b[1] = 'Z';
	put32(b + 0x3c, pe);
	memcpy(b + pe, "PE\0\0", 4);
	b[pe + 6] = 1;	/* one section */
	b[pe + 20] = 0; /* no optional header */
	put32(b + pe + 24 + 16, raw_size);
	put32(b + pe + 24 + 20, raw_off);
}

static void test_parse(void)
{
	struct boot_image img;
	char err[256] = "";
	uint8_t *b;

	b = make_image(4096, 0, 1 << 20, 0);
	is_int(boot_image_parse(b, 4096, &img, err, sizeof(err)), 0, "valid Image parses");
	ok(img.has_header, "Image has a header");
	is_int(img.load_offset, 0, "text_offset 0 loads at RAM start");
	is_int(img.mem_size, 1 << 20, "mem_size is image_size (BSS included)");
	free(b);

	b = make_image(4096, 0x80000, 0, 0);
	is_int(boot_image_parse(b, 4096, &img, err, sizeof(err)), 0,
	       "image_size 0 (old kernel) parses");
	is_int(img.load_offset, 0x80000, "old kernel: text_offset forced to 0x80000");
	is_int(img.mem_size, 4096, "old kernel: mem_size from the file");
	free(b);

	b = make_image(4096, 0, 1 << 20, ARM64_IMAGE_FLAG_BE);
	is_int(boot_image_parse(b, 4096, &img, err, sizeof(err)), -EINVAL,
	       "big-endian Image refused");
	like(err, "big-endian", "big-endian refusal says why");
	free(b);

	b = make_image(4096, 0x1001, 1 << 20, 0);
	is_int(boot_image_parse(b, 4096, &img, err, sizeof(err)), -EINVAL,
	       "unaligned text_offset refused");
	like(err, "text_offset", "text_offset refusal says why");
	free(b);

	b = make_image(8192, 0, 1 << 20, 0);
	add_pe(b, 0x1000, 0x1000);
	is_int(boot_image_parse(b, 8192, &img, err, sizeof(err)), 0,
	       "complete EFI-stub Image parses");
	add_pe(b, 0x1000, 0x3000);
	is_int(boot_image_parse(b, 8192, &img, err, sizeof(err)), -EINVAL,
	       "truncated EFI-stub Image refused");
	like(err, "truncated", "truncation refusal says so");
	like(err, "8192", "truncation refusal gives the file size");
	free(b);

	b = calloc(1, 100);
	memcpy(b, "not an image", 12);
	is_int(boot_image_parse(b, 100, &img, err, sizeof(err)), 0,
	       "headerless file is a flat binary");
	ok(!img.has_header, "flat binary has no header");
	is_int(img.load_offset, LAYOUT_FLAT_LOAD_OFFSET, "flat binary at RAM + 512K");
	is_int(img.mem_size, 100, "flat binary owns its size");
	is_int(boot_image_parse(b, 0, &img, err, sizeof(err)), -EINVAL, "empty kernel refused");
	like(err, "empty", "empty refusal says so");
	free(b);
}

static void test_gzip(void)
{
	size_t n = 256 * 1024, zn = compressBound(n) + 64, outlen = 0;
	uint8_t *raw = make_image(n, 0, n, 0), *z = malloc(zn), *out = NULL;
	char err[256] = "";
	z_stream zs = { 0 };

	for (size_t i = 64; i < n; i++)
		raw[i] = (uint8_t)(i * 7 + (i >> 9));
	deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = raw, zs.avail_in = (uInt)n;
	zs.next_out = z, zs.avail_out = (uInt)zn;
	deflate(&zs, Z_FINISH);
	zn = zs.total_out;
	deflateEnd(&zs);

	ok(boot_is_gzip(z, zn), "gzip stream recognised");
	ok(!boot_is_gzip(raw, n), "Image is not gzip");
	is_int(boot_gunzip(z, zn, 1 << 20, &out, &outlen, err, sizeof(err)), 0,
	       "gzip Image inflates");
	ok(outlen == n && out && !memcmp(out, raw, n), "inflated bytes match");
	free(out);
	out = NULL;
	is_int(boot_gunzip(z, zn, 64 * 1024, &out, &outlen, err, sizeof(err)), -EINVAL,
	       "inflating past the RAM limit refused");
	like(err, "more than", "limit refusal says why");
	is_int(boot_gunzip(z, zn / 2, 1 << 20, &out, &outlen, err, sizeof(err)), -EINVAL,
	       "truncated gzip refused");
	like(err, "truncated", "truncated gzip refusal says so");
	z[zn / 2] ^= 0xff;
	z[zn / 2 + 1] ^= 0xff;
	ok(boot_gunzip(z, zn, 1 << 20, &out, &outlen, err, sizeof(err)) < 0,
	   "corrupt gzip refused");
	free(raw);
	free(z);
}

static void test_plan(void)
{
	const uint64_t ram = LAYOUT_RAM_BASE;
	struct boot_image img = { .load_offset = 0, .mem_size = 40 << 20, .has_header = true };
	struct boot_layout lay;
	char err[256];

	is_int(boot_plan(ram, 512 << 20, &img, 8 << 20, SZ_64K, &lay, err, sizeof(err)), 0,
	       "512M guest: plan fits");
	is_int(lay.kernel_gpa, ram, "kernel at RAM start + text_offset");
	is_int(lay.entry, ram, "entry is the load address");
	ok(lay.fdt_gpa % SZ_2M == 0, "DTB 2 MiB-aligned");
	ok(lay.fdt_gpa + SZ_64K <= ram + LAYOUT_BOOT_WINDOW, "DTB inside the first 256 MiB");
	ok(lay.fdt_gpa >= ram + LAYOUT_BOOT_WINDOW - SZ_2M, "DTB at the top of the window");
	ok(lay.initrd_gpa + lay.initrd_size <= lay.fdt_gpa, "initrd below the DTB");
	ok(lay.initrd_gpa >= lay.kernel_end, "initrd above the kernel");
	ok(lay.initrd_gpa % 4096 == 0, "initrd page-aligned");

	is_int(boot_plan(ram, 64 << 20, &img, 8 << 20, SZ_64K, &lay, err, sizeof(err)), 0,
	       "64M guest: plan fits");
	ok(lay.fdt_gpa + SZ_64K <= ram + (64 << 20), "small guest: DTB inside RAM");

	is_int(boot_plan(ram, 32 << 20, &img, 0, SZ_64K, &lay, err, sizeof(err)), -EINVAL,
	       "kernel larger than RAM refused");
	like(err, "needs 40 MiB", "refusal names the need");
	like(err, "has 32 MiB", "refusal names the RAM");

	is_int(boot_plan(ram, 48 << 20, &img, 16 << 20, SZ_64K, &lay, err, sizeof(err)), -EINVAL,
	       "kernel + initrd too big refused");
	like(err, "do not fit", "refusal says they do not fit");

	/* A 300 MiB initrd does not fit under 256 MiB: placed higher. */
	is_int(boot_plan(ram, 1024 << 20, &img, 300 << 20, SZ_64K, &lay, err, sizeof(err)), 0,
	       "big initrd placed past the window");
	ok(lay.initrd_gpa >= lay.kernel_end && lay.initrd_gpa + lay.initrd_size <= lay.fdt_gpa,
	   "big initrd between kernel and DTB");
	ok(lay.fdt_gpa + SZ_64K <= ram + (1024ULL << 20), "DTB inside RAM");

	img = (struct boot_image){ .load_offset = LAYOUT_FLAT_LOAD_OFFSET, .mem_size = 100 };
	is_int(boot_plan(ram, 16 << 20, &img, 0, SZ_64K, &lay, err, sizeof(err)), 0,
	       "flat binary plan");
	is_int(lay.entry, ram + 0x80000, "flat binary entry at RAM + 512K");
	is_int(lay.initrd_gpa, 0, "no initrd: address 0");
}

int main(void)
{
	test_parse();
	test_gzip();
	test_plan();
	return tap_done();
}
