// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a vCPU's saved registers from a hostile or corrupt
 * snapshot (vcpu_state_load). The register count and every register's
 * size come from the file; the loader must refuse what the blob cannot
 * hold without over-allocating or reading past it, and what it accepts
 * must save back to the same bytes (a load is lossless).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "vcpu_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcpu_state st;
	struct state_buf rb, wb;

	state_reader_init(&rb, data, size);
	if (vcpu_state_load(&st, &rb))
		return 0;
	state_writer_init(&wb);
	if (vcpu_state_save(&st, &wb) || wb.len != rb.pos || memcmp(wb.data, data, wb.len))
		abort(); /* accepted, but not what was read */
	state_free(&wb);
	vcpu_state_free(&st);
	return 0;
}
