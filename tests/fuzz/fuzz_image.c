// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the kernel loader on a hostile file. The input is a
 * kernel file (gzip-compressed or not): it is inflated (at most 8 MiB),
 * parsed as an arm64 Image or a flat binary, and placed in a RAM whose size
 * comes from the input. Whatever it says, a refusal has a reason, and an
 * accepted layout lies inside RAM with nothing overlapping.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BASE 0x80000000ULL
#define FDT_MAX (2ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_image img;
	struct boot_layout lay;
	uint8_t *inflated = NULL;
	const uint8_t *k = data;
	size_t ksize = size;
	uint64_t ram, initrd;
	char err[256] = "";

	if (size < 4)
		return 0;
	/* RAM of 1..1024 MiB and an initrd size, from the first bytes. */
	ram = (uint64_t)(1 + (data[0] | (data[1] & 3) << 8)) << 20;
	initrd = (uint64_t)data[2] << 16;
	data += 3, size -= 3;
	k = data, ksize = size;
	if (boot_is_gzip(data, size)) {
		if (boot_gunzip(data, size, 8u << 20, &inflated, &ksize, err, sizeof(err))) {
			if (!err[0])
				abort(); /* a refusal must say why */
			return 0;
		}
		k = inflated;
	}
	if (boot_image_parse(k, ksize, &img, err, sizeof(err)) == 0 &&
	    boot_plan(RAM_BASE, ram, &img, initrd, FDT_MAX, &lay, err, sizeof(err)) == 0) {
		uint64_t end = RAM_BASE + ram;

		if (img.size > ksize || lay.kernel_gpa < RAM_BASE ||
		    lay.kernel_gpa + img.size > end || lay.kernel_end > end ||
		    lay.fdt_gpa < RAM_BASE || lay.fdt_gpa + FDT_MAX > end ||
		    (initrd && (lay.initrd_gpa < lay.kernel_end || lay.initrd_gpa + initrd > end ||
				(lay.initrd_gpa < lay.fdt_gpa + FDT_MAX &&
				 lay.fdt_gpa < lay.initrd_gpa + initrd))))
			abort(); /* a layout outside RAM, or overlapping */
	} else if (!err[0]) {
		abort();
	}
	free(inflated);
	return 0;
}
