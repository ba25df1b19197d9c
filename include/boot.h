/* SPDX-License-Identifier: MIT */
/*
 * Loading a kernel the way Linux's Documentation/arch/arm64/booting.rst asks:
 * parse the Image header, place the kernel, initrd and DTB in RAM, and start
 * the boot vCPU at the entry with x0 = DTB. Pure logic, no KVM: unit-tested.
 */
#ifndef ARMVM_BOOT_H
#define ARMVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* booting.rst §4: the 64-byte header at the start of an arm64 Image. */
struct arm64_image_header {
	uint32_t code0, code1;
	uint64_t text_offset;
	uint64_t image_size;
	uint64_t flags;
	uint64_t res2, res3, res4;
	uint32_t magic;
	uint32_t res5;
};

#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64" */
#define ARM64_IMAGE_FLAG_BE (1ULL << 0)

struct boot_image {
	const uint8_t *data; /* bytes to copy into RAM */
	size_t size;
	uint64_t load_offset; /* from the start of RAM */
	uint64_t mem_size;    /* bytes it owns from there (BSS included) */
	bool has_header;      /* an arm64 Image, not a flat binary */
};

struct boot_layout {
	uint64_t kernel_gpa, kernel_end;
	uint64_t initrd_gpa, initrd_size;
	uint64_t fdt_gpa;
	uint64_t entry;
};

/*
 * Classify a kernel file and say where it goes. An Image is checked for
 * truncation (its EFI/PE header, where present, gives the file's real size)
 * and refused if big-endian. Anything without the Image magic is a flat
 * binary. -EINVAL with a reason in err.
 */
int boot_image_parse(const uint8_t *buf, size_t size, struct boot_image *out, char *err,
		     size_t errlen);

/* True for a gzip stream (RFC 1952 magic). */
bool boot_is_gzip(const uint8_t *buf, size_t size);

/* Inflate a gzip file into a new buffer of at most max bytes. */
int boot_gunzip(const uint8_t *buf, size_t size, size_t max, uint8_t **out, size_t *outlen,
		char *err, size_t errlen);

/*
 * Place kernel, initrd and DTB (fdt_max bytes reserved) in RAM
 * [ram_base, ram_base + ram_size), kvmtool's way (see layout.h).
 */
int boot_plan(uint64_t ram_base, uint64_t ram_size, const struct boot_image *k,
	      uint64_t initrd_size, uint64_t fdt_max, struct boot_layout *out, char *err,
	      size_t errlen);

#endif
