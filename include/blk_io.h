/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous block I/O for one virtqueue: io_uring (liburing, the
 * default), Linux AIO (libaio), or preadv/pwritev on the I/O thread (the
 * last resort). Completions arrive on an eventfd the device's I/O loop
 * watches; blk_io_reap() hands each to a callback with its tag.
 */
#ifndef ARMVM_BLK_IO_H
#define ARMVM_BLK_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum blk_engine { BLK_ENGINE_IO_URING, BLK_ENGINE_AIO, BLK_ENGINE_SYNC };
enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH };

typedef void (*blk_done_fn)(void *opaque, void *tag, ssize_t res);

struct blk_io {
	enum blk_engine engine;
	int fd;
	int efd; /* completions; -1 for the sync engine */
	unsigned int depth, inflight;
	unsigned int queued; /* prepared, not yet all taken by the kernel */
	unsigned int sqes;   /* io_uring: SQEs of those the kernel has not taken */
	/*
	 * io_uring on a block device: at most this many iovecs per SQE (the
	 * device's max_segments; 0: no limit). io_uring tries each I/O
	 * without blocking first, and a bio the block layer would have to
	 * split cannot be (REQ_NOWAIT), so it is handed to a kernel worker
	 * thread instead; requests cut to the device's size go straight down.
	 */
	unsigned int max_iov;
	void **pending; /* AIO: the queued iocbs */
	/* Submission system calls made, and the time spent in them. */
	uint64_t stat_submits, stat_submit_ns;
	void *ctx; /* struct io_uring * or io_context_t */
	blk_done_fn done;
	void *opaque;
};

const char *blk_engine_name(enum blk_engine e);
int blk_engine_parse(const char *s, enum blk_engine *e);
int blk_io_init(struct blk_io *io, enum blk_engine e, int fd, unsigned int depth, blk_done_fn done,
		void *opaque);
void blk_io_destroy(struct blk_io *io);
/*
 * Queue an operation (the sync engine does it now and calls done). The
 * iovec array must stay as it is until blk_io_kick() has returned.
 */
int blk_io_submit(struct blk_io *io, enum blk_op op, const struct iovec *iov, int iovcnt,
		  uint64_t off, void *tag);
/* Submit what was queued, in one system call. */
void blk_io_kick(struct blk_io *io);
/* io_uring accounting (blk_io.c; exposed for its unit test): the kernel
 * took `consumed` SQEs; the queued requests are submitted once it has
 * taken all of theirs. */
void blk_io_submitted(struct blk_io *io, int consumed);
/* Deliver completions; wait for at least min_wait of them. */
void blk_io_reap(struct blk_io *io, unsigned int min_wait);

#endif
