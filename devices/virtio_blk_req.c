// SPDX-License-Identifier: MIT
/*
 * The virtio-blk request parser (virtio 1.2 §5.2.6): pure, so the unit
 * tests and the fuzzer can drive it without a device.
 */
#include <endian.h>
#include <string.h>

#include "util.h"
#include "virtio_blk.h"

int blk_req_parse(const struct virtq_chain *c, uint64_t capacity, bool ro, struct blk_req *req)
{
	struct virtio_blk_outhdr hdr;
	unsigned int i, last_w = c->n;
	uint64_t data_in;

	memset(req, 0, sizeof(*req));
	/* The status byte: the last byte of the last (writable) buffer. */
	for (i = c->n; i-- > 0;) {
		if (c->bufs[i].write && c->bufs[i].len) {
			last_w = i;
			break;
		}
		if (c->bufs[i].write)
			continue;
		break;
	}
	if (last_w == c->n)
		return VIRTIO_BLK_S_IOERR; /* nowhere to say so, even */
	req->status = (uint8_t *)c->bufs[last_w].host + c->bufs[last_w].len - 1;
	if (virtq_chain_read(c, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	req->type = le32toh(hdr.type);
	req->sector = le64toh(hdr.sector);
	data_in = c->in_len - 1;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_GET_ID: {
		bool in = req->type != VIRTIO_BLK_T_OUT;
		uint64_t skip = in ? 0 : sizeof(hdr), end, sectors;

		/*
		 * Data the wrong way round (readable buffers for a read,
		 * writable ones beside the status for a write) is refused.
		 */
		if (in ? c->out_len != sizeof(hdr) : c->in_len != 1)
			return VIRTIO_BLK_S_IOERR;
		for (i = 0; i < c->n; i++) {
			const struct virtq_buf *b = &c->bufs[i];
			uint64_t len = b->len;
			uint8_t *p = b->host;

			if (b->write != in)
				continue;
			if (!in && skip) { /* the header is not data */
				uint64_t s = MIN(skip, len);

				skip -= s, p += s, len -= s;
			}
			if (in && i == last_w)
				len--; /* the status byte is not data */
			if (!len)
				continue;
			if (req->iovcnt == VIRTIO_BLK_SEG_MAX)
				return VIRTIO_BLK_S_IOERR;
			req->iov[req->iovcnt++] = (struct iovec){ p, len };
			req->len += len;
		}
		if (req->type == VIRTIO_BLK_T_GET_ID)
			return data_in ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		if (!in && ro)
			return VIRTIO_BLK_S_IOERR;
		if (req->len % BLK_SECTOR || (in && req->len != data_in))
			return VIRTIO_BLK_S_IOERR;
		sectors = req->len / BLK_SECTOR;
		if (add_overflows_u64(req->sector, sectors, &end) || end > capacity)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH:
		return c->out_len == sizeof(hdr) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct virtio_blk_discard_write_zeroes seg;
		uint64_t end;

		if (ro)
			return VIRTIO_BLK_S_IOERR;
		/* max_discard_seg = max_write_zeroes_seg = 1 */
		if (c->out_len != sizeof(hdr) + sizeof(seg) ||
		    virtq_chain_read(c, sizeof(hdr), &seg, sizeof(seg)) != sizeof(seg))
			return VIRTIO_BLK_S_IOERR;
		req->seg_sector = le64toh(seg.sector);
		req->seg_sectors = le32toh(seg.num_sectors);
		req->seg_flags = le32toh(seg.flags);
		if (add_overflows_u64(req->seg_sector, req->seg_sectors, &end) || end > capacity)
			return VIRTIO_BLK_S_IOERR;
		/* §5.2.6.2: no more sectors than the config space allows. */
		if (req->seg_sectors > (req->type == VIRTIO_BLK_T_DISCARD
						? VIRTIO_BLK_MAX_DISCARD_SECTORS
						: VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS))
			return VIRTIO_BLK_S_IOERR;
		/* §5.2.6.2: unmap is the only flag, and only for WRITE_ZEROES. */
		if (req->seg_flags & ~(uint32_t)(req->type == VIRTIO_BLK_T_WRITE_ZEROES
							 ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
							 : 0))
			return VIRTIO_BLK_S_UNSUPP;
		return VIRTIO_BLK_S_OK;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
