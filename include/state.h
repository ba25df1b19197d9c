/* SPDX-License-Identifier: MIT */
/*
 * A growable little-endian byte buffer for device and vCPU state. Writers
 * append; readers consume with bounds checks. Errors are sticky: after the
 * first one every get returns 0 and state_error() reports it, so a loader
 * can read every field and check once at the end.
 */
#ifndef ARMVM_STATE_H
#define ARMVM_STATE_H

#include <stddef.h>
#include <stdint.h>

struct state_buf {
	uint8_t *data;
	size_t len; /* bytes written, or bytes available to read */
	size_t cap; /* 0 for a reader over borrowed memory */
	size_t pos; /* read position */
	int err;
};

void state_writer_init(struct state_buf *sb);
void state_reader_init(struct state_buf *sb, const void *data, size_t len);
void state_free(struct state_buf *sb);
int state_error(const struct state_buf *sb);

void state_put_bytes(struct state_buf *sb, const void *p, size_t n);
void state_put_u8(struct state_buf *sb, uint8_t v);
void state_put_u32(struct state_buf *sb, uint32_t v);
void state_put_u64(struct state_buf *sb, uint64_t v);

void state_get_bytes(struct state_buf *sb, void *p, size_t n);
uint8_t state_get_u8(struct state_buf *sb);
uint32_t state_get_u32(struct state_buf *sb);
uint64_t state_get_u64(struct state_buf *sb);
/* -EINVAL unless every byte was consumed. */
int state_finish(struct state_buf *sb);

#endif
