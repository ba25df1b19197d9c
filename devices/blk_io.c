// SPDX-License-Identifier: MIT
#include "blk_io.h"
#include "util.h"

#include <errno.h>
#include <libaio.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* One request cut into several SQEs: completes when all have. */
struct blk_split {
	void *tag;
	unsigned int left;
	ssize_t res;
};

/* A block device's max_segments, from sysfs (0: not a block device). */
static unsigned int bdev_max_segments(int fd)
{
	char path[64];
	unsigned int v = 0;
	struct stat st;
	FILE *f;

	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/max_segments", major(st.st_rdev),
		 minor(st.st_rdev));
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%u", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

const char *blk_engine_name(enum blk_engine e)
{
	return e == BLK_ENGINE_IO_URING ? "io_uring" : e == BLK_ENGINE_AIO ? "aio" : "sync";
}

int blk_engine_parse(const char *s, enum blk_engine *e)
{
	if (!strcmp(s, "io_uring"))
		*e = BLK_ENGINE_IO_URING;
	else if (!strcmp(s, "aio") || !strcmp(s, "libaio"))
		*e = BLK_ENGINE_AIO;
	else if (!strcmp(s, "sync"))
		*e = BLK_ENGINE_SYNC;
	else
		return -EINVAL;
	return 0;
}

int blk_io_init(struct blk_io *io, enum blk_engine e, int fd, unsigned int depth, blk_done_fn done,
		void *opaque)
{
	int err;

	memset(io, 0, sizeof(*io));
	io->engine = e;
	io->fd = fd;
	io->depth = depth;
	io->done = done;
	io->opaque = opaque;
	io->efd = -1;
	if (e == BLK_ENGINE_SYNC)
		return 0;
	io->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->efd < 0)
		return -errno;
	if (e == BLK_ENGINE_IO_URING) {
		struct io_uring *ring = calloc(1, sizeof(*ring));

		if (!ring) {
			close(io->efd);
			io->efd = -1;
			return -ENOMEM;
		}
		err = io_uring_queue_init(depth, ring, 0);
		if (!err)
			err = io_uring_register_eventfd(ring, io->efd);
		if (err) {
			free(ring);
			close(io->efd);
			io->efd = -1;
			return err;
		}
		io->ctx = ring;
		io->max_iov = bdev_max_segments(fd);
	} else {
		io_context_t ctx = 0;

		io->pending = calloc(depth, sizeof(*io->pending));
		err = io->pending ? io_setup((int)depth, &ctx) : -ENOMEM;
		if (err) {
			free(io->pending);
			io->pending = NULL;
			close(io->efd);
			io->efd = -1;
			return err;
		}
		io->ctx = ctx;
	}
	return 0;
}

void blk_io_destroy(struct blk_io *io)
{
	blk_io_kick(io);
	if (io->inflight)
		blk_io_reap(io, io->inflight);
	free(io->pending);
	io->pending = NULL;
	if (io->engine == BLK_ENGINE_IO_URING && io->ctx) {
		io_uring_queue_exit(io->ctx);
		free(io->ctx);
	} else if (io->engine == BLK_ENGINE_AIO && io->ctx) {
		io_destroy(io->ctx);
	}
	if (io->efd >= 0)
		close(io->efd);
	io->ctx = NULL;
	io->efd = -1;
}

static ssize_t sync_op(struct blk_io *io, enum blk_op op, const struct iovec *iov, int iovcnt,
		       uint64_t off)
{
	ssize_t r;

	if (op == BLK_OP_FLUSH)
		return fdatasync(io->fd) < 0 ? -errno : 0;
	do {
		r = op == BLK_OP_READ ? preadv(io->fd, iov, iovcnt, (off_t)off)
				      : pwritev(io->fd, iov, iovcnt, (off_t)off);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

void blk_io_submitted(struct blk_io *io, int consumed)
{
	if (consumed > 0)
		io->sqes -= MIN((unsigned int)consumed, io->sqes);
	/* The queued requests' iovecs are free once the kernel has read
	 * every SQE that points at them, not before. */
	if (!io->sqes)
		io->queued = 0;
}

/* io_uring_submit, counting the SQEs the kernel took: it may take fewer
 * than are queued (an SQE it refused ends the batch); the rest stay in the
 * SQ for the next submission. */
static int uring_submit(struct blk_io *io)
{
	int64_t t0 = clock_monotonic_ns();
	int r;

	do {
		r = io_uring_submit(io->ctx);
		io->stat_submits++;
	} while (r == -EINTR || r == -EAGAIN);
	io->stat_submit_ns += (uint64_t)(clock_monotonic_ns() - t0);
	return r;
}

static struct io_uring_sqe *uring_sqe(struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(io->ctx);

	/* SQ full in the middle of a batch: make room. io->queued stays as
	 * it is until blk_io_kick, so no batch slot is freed here. */
	if (!sqe) {
		int r = uring_submit(io);

		if (r > 0) {
			io->sqes -= MIN((unsigned int)r, io->sqes);
			sqe = io_uring_get_sqe(io->ctx);
		}
	}
	if (sqe)
		io->sqes++;
	return sqe;
}

static void uring_prep(struct io_uring_sqe *sqe, int fd, enum blk_op op, const struct iovec *iov,
		       int iovcnt, uint64_t off)
{
	if (op == BLK_OP_READ)
		io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt, off);
	else if (op == BLK_OP_WRITE)
		io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt, off);
	else
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
}

/* One SQE, or one per max_iov iovecs (tagged with a blk_split). */
static int uring_queue(struct blk_io *io, enum blk_op op, const struct iovec *iov, int iovcnt,
		       uint64_t off, void *tag)
{
	unsigned int per = (unsigned int)iovcnt, parts = 1;
	struct blk_split *sp = NULL;
	void *data = tag;

	if (op != BLK_OP_FLUSH && io->max_iov && (unsigned int)iovcnt > io->max_iov) {
		per = io->max_iov;
		parts = ((unsigned int)iovcnt + per - 1) / per;
		sp = malloc(sizeof(*sp));
		if (!sp)
			return -ENOMEM;
		*sp = (struct blk_split){ tag, parts, 0 };
		data = (void *)((uintptr_t)sp | 1);
	}
	for (unsigned int i = 0; i < parts; i++) {
		struct io_uring_sqe *sqe = uring_sqe(io);
		unsigned int n = MIN(per, (unsigned int)iovcnt - i * per);

		if (!sqe) {
			/* Cannot happen with an SQ as deep as the queue; if it
			 * does, the parts not queued fail the request. */
			if (!i) {
				free(sp);
				return -EBUSY;
			}
			sp->res = -EBUSY;
			sp->left = i;
			break;
		}
		uring_prep(sqe, io->fd, op, iov + i * per, (int)n, off);
		io_uring_sqe_set_data(sqe, data);
		for (unsigned int k = 0; k < n; k++)
			off += iov[i * per + k].iov_len;
	}
	return 0;
}

int blk_io_submit(struct blk_io *io, enum blk_op op, const struct iovec *iov, int iovcnt,
		  uint64_t off, void *tag)
{
	/*
	 * The sync engine, and a flush under AIO (IOCB_CMD_FDSYNC is refused
	 * by most file systems), run here and now: when the guest's flush
	 * completes, fdatasync() has returned.
	 */
	if (io->engine == BLK_ENGINE_SYNC || (io->engine == BLK_ENGINE_AIO && op == BLK_OP_FLUSH)) {
		io->done(io->opaque, tag, sync_op(io, op, iov, iovcnt, off));
		return 0;
	}
	if (io->inflight == io->depth)
		return -EBUSY;
	if (io->engine == BLK_ENGINE_IO_URING) {
		int r = uring_queue(io, op, iov, iovcnt, off, tag);

		if (r)
			return r;
	} else {
		struct iocb *cb = calloc(1, sizeof(*cb));

		if (!cb)
			return -ENOMEM;
		if (op == BLK_OP_READ)
			io_prep_preadv(cb, io->fd, iov, iovcnt, (long long)off);
		else
			io_prep_pwritev(cb, io->fd, iov, iovcnt, (long long)off);
		io_set_eventfd(cb, io->efd);
		cb->data = tag;
		io->pending[io->queued] = cb;
	}
	io->queued++;
	io->inflight++;
	return 0;
}

void blk_io_kick(struct blk_io *io)
{
	unsigned int done = 0;

	if (!io->queued)
		return;
	if (io->engine == BLK_ENGINE_IO_URING) {
		/* What the kernel cannot start now it runs later, completing
		 * each through the CQ as usual. Fewer SQEs taken than queued,
		 * or -EBUSY (completions to reap first): io->queued stays, and
		 * blk_io_reap kicks again. */
		blk_io_submitted(io, uring_submit(io));
		return;
	}
	while (done < io->queued) {
		int64_t t0 = clock_monotonic_ns();
		int r = io_submit(io->ctx, (long)(io->queued - done),
				  (struct iocb **)io->pending + done);

		io->stat_submits++;
		io->stat_submit_ns += (uint64_t)(clock_monotonic_ns() - t0);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r <= 0) {
			/* Refused: complete the rest with the error. */
			for (; done < io->queued; done++) {
				struct iocb *cb = io->pending[done];
				void *tag = cb->data;

				free(cb);
				io->inflight--;
				io->done(io->opaque, tag, r < 0 ? r : -EIO);
			}
			break;
		}
		done += (unsigned int)r;
	}
	io->queued = 0;
}

void blk_io_reap(struct blk_io *io, unsigned int min_wait)
{
	uint64_t v;

	blk_io_kick(io); /* nothing queued may wait behind a wait */
	if (io->engine == BLK_ENGINE_SYNC)
		return;
	if (read(io->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (io->engine == BLK_ENGINE_IO_URING) {
		struct io_uring_cqe *cqe;

		for (;;) {
			int r = min_wait ? io_uring_wait_cqe(io->ctx, &cqe)
					 : io_uring_peek_cqe(io->ctx, &cqe);

			if (r < 0 || !cqe)
				break;
			void *tag = io_uring_cqe_get_data(cqe);
			ssize_t res = cqe->res;

			io_uring_cqe_seen(io->ctx, cqe);
			if ((uintptr_t)tag & 1) {
				struct blk_split *sp = (void *)((uintptr_t)tag & ~(uintptr_t)1);

				if (sp->res >= 0)
					sp->res = res < 0 ? res : sp->res + res;
				if (--sp->left)
					continue;
				tag = sp->tag, res = sp->res;
				free(sp);
			}
			io->inflight--;
			if (min_wait)
				min_wait--;
			io->done(io->opaque, tag, res);
		}
	} else {
		struct io_event ev[64];
		struct timespec zero = { 0, 0 };

		for (;;) {
			int n = io_getevents(io->ctx, min_wait ? 1 : 0, 64, ev,
					     min_wait ? NULL : &zero);

			if (n <= 0)
				break;
			for (int i = 0; i < n; i++) {
				struct iocb *cb = ev[i].obj;
				void *tag = cb->data;
				ssize_t res = (ssize_t)ev[i].res;

				free(cb);
				io->inflight--;
				if (min_wait)
					min_wait--;
				io->done(io->opaque, tag, res);
			}
		}
	}
	blk_io_kick(io);
}
