// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the snapshot file's header and sections (snap_parse),
 * the first thing a restore reads from a file that may be corrupt or
 * hostile. With the first input byte odd, the harness writes correct
 * checksums into the header and every section it can walk before parsing,
 * so the fuzzer reaches the checks behind them (order, lengths, the memory
 * section) instead of stopping at the first CRC. Whatever is accepted must
 * describe sections inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t g32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t g64(const uint8_t *p)
{
	return g32(p) | (uint64_t)g32(p + 4) << 32;
}
static void p32(uint8_t *p, uint32_t v)
{
	p[0] = v, p[1] = v >> 8, p[2] = v >> 16, p[3] = v >> 24;
}

static void fix_crcs(uint8_t *b, size_t n)
{
	uint64_t pos = SNAP_HEADER_SIZE;

	if (n < SNAP_HEADER_SIZE)
		return;
	memcpy(b, SNAP_MAGIC, 8);
	for (uint32_t i = 0; i < g32(b + 40) && pos + SNAP_SECTION_HDR <= n; i++) {
		uint64_t len = g64(b + pos + 8);

		if (len > n - pos - SNAP_SECTION_HDR)
			break;
		p32(b + pos + 16, crc32c(crc32c(crc32c(0, b + pos, 16), b + pos + 20, 4),
					 b + pos + SNAP_SECTION_HDR, len));
		pos += SNAP_SECTION_HDR + ((len + 7) & ~7ull);
	}
	p32(b + 60, crc32c(0, b, 60));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_image img;
	char err[256];
	uint8_t *buf;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1)
		fix_crcs(buf, size - 1);
	if (snap_parse(buf, size - 1, &img, err, sizeof(err)) == 0) {
		for (unsigned int i = 0; i < img.nr_sections; i++) {
			const struct snap_section *s = &img.sec[i];

			if (s->data < buf || s->offset + s->len > img.state_size ||
			    img.state_size > size - 1)
				abort(); /* accepted a section outside the input */
		}
		if (!snap_find(&img, SNAP_SEC_MEMORY, 0) || !img.nr_vcpus ||
		    img.mem.nr_chunks * (1ull << SNAP_CHUNK_SHIFT) < img.mem_size)
			abort();
		free(img.sec);
	} else if (!err[0] || strchr(err, '\n')) {
		abort(); /* every refusal is one line */
	}
	free(buf);
	return 0;
}
