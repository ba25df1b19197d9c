// SPDX-License-Identifier: MIT
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void state_writer_init(struct state_buf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void state_reader_init(struct state_buf *sb, const void *data, size_t len)
{
	memset(sb, 0, sizeof(*sb));
	sb->data = (uint8_t *)data;
	sb->len = len;
}

void state_free(struct state_buf *sb)
{
	if (sb->cap)
		free(sb->data);
	memset(sb, 0, sizeof(*sb));
}

int state_error(const struct state_buf *sb)
{
	return sb->err;
}

void state_put_bytes(struct state_buf *sb, const void *p, size_t n)
{
	if (sb->err || !n)
		return;
	if (n > sb->cap - sb->len) {
		size_t cap = sb->cap ? sb->cap : 256;
		uint8_t *d;

		while (cap - sb->len < n) {
			if (cap > SIZE_MAX / 2) {
				sb->err = -ENOMEM;
				return;
			}
			cap *= 2;
		}
		d = realloc(sb->cap ? sb->data : NULL, cap);
		if (!d) {
			sb->err = -ENOMEM;
			return;
		}
		sb->data = d;
		sb->cap = cap;
	}
	memcpy(sb->data + sb->len, p, n);
	sb->len += n;
}

void state_put_u8(struct state_buf *sb, uint8_t v)
{
	state_put_bytes(sb, &v, 1);
}

void state_put_u32(struct state_buf *sb, uint32_t v)
{
	uint8_t b[4] = { v, v >> 8, v >> 16, v >> 24 };

	state_put_bytes(sb, b, sizeof(b));
}

void state_put_u64(struct state_buf *sb, uint64_t v)
{
	state_put_u32(sb, (uint32_t)v);
	state_put_u32(sb, (uint32_t)(v >> 32));
}

void state_get_bytes(struct state_buf *sb, void *p, size_t n)
{
	if (!n)
		return;
	if (!sb->err && n > sb->len - sb->pos)
		sb->err = -EINVAL;
	if (sb->err) {
		memset(p, 0, n);
		return;
	}
	memcpy(p, sb->data + sb->pos, n);
	sb->pos += n;
}

uint8_t state_get_u8(struct state_buf *sb)
{
	uint8_t v;

	state_get_bytes(sb, &v, 1);
	return v;
}

uint32_t state_get_u32(struct state_buf *sb)
{
	uint8_t b[4];

	state_get_bytes(sb, b, sizeof(b));
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t state_get_u64(struct state_buf *sb)
{
	uint64_t lo = state_get_u32(sb);

	return lo | (uint64_t)state_get_u32(sb) << 32;
}

int state_finish(struct state_buf *sb)
{
	if (!sb->err && sb->pos != sb->len)
		sb->err = -EINVAL;
	return sb->err;
}
