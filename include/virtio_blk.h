/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 §5.2). The request parser is pure (unit tests and
 * the fuzzer drive it): it turns a descriptor chain into an operation with
 * checked ranges, or a status to return at once.
 */
#ifndef ARMVM_VIRTIO_BLK_H
#define ARMVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h> /* the request types, statuses, layouts */

#include "blk_io.h"
#include "virtio.h"

/* Queues of 512: a 1 MiB request of 4 KiB pages (256 segments) and its
 * header and status fit one chain (at most the queue size, §2.7.5.3.1). */
#define VIRTIO_BLK_QUEUE_SIZE 512
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_ID_BYTES 20
/* What the config space advertises, and the parser enforces (§5.2.4). */
#define VIRTIO_BLK_MAX_DISCARD_SECTORS 0x3fffff
#define VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS 0x3fffff
#define BLK_SECTOR 512

struct blk_req {
	uint32_t type;
	uint64_t sector;
	uint8_t *status; /* the last writable byte */
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
	int iovcnt;
	uint64_t len; /* data bytes */
	/* DISCARD / WRITE_ZEROES: one segment */
	uint64_t seg_sector;
	uint32_t seg_sectors, seg_flags;
};

/*
 * Parse a chain. Returns VIRTIO_BLK_S_OK with req filled, or the status to
 * write back (IOERR for a malformed or out-of-range request, UNSUPP for an
 * unknown type). req->status is NULL when there is no writable byte to put
 * a status in (the chain is then returned with length 0).
 */
int blk_req_parse(const struct virtq_chain *c, uint64_t capacity, bool ro, struct blk_req *req);

/* A finished read or write: OK only if all expect bytes moved (res is
 * the engine's byte count or a negative errno). */
uint8_t blk_transfer_status(ssize_t res, uint64_t expect);

struct blk_disk_opts {
	const char *path;
	bool ro, direct;
	enum blk_engine engine;
	const char *serial;
};

/* Parse "-d PATH[,ro][,direct][,engine=...][,serial=...]". */
int blk_disk_opts_parse(const char *arg, struct blk_disk_opts *o, char *err, size_t errlen);

/* Open and lock the image, and make the device (nr_queues queues). */
struct virtio_dev *virtio_blk_new(const struct blk_disk_opts *o, unsigned int nr_queues,
				  const struct guest_mem *mem, char *err, size_t errlen);

#endif
