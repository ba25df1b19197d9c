// SPDX-License-Identifier: MIT
/*
 * virtio-blk: one queue per vCPU (VIRTIO_BLK_F_MQ), each with its own
 * asynchronous I/O context; FLUSH is fdatasync (when the guest's fsync
 * returns, the data is on stable storage); DISCARD punches holes,
 * WRITE_ZEROES zeroes ranges; GET_ID returns the serial. The image is
 * locked (OFD locks): a write lock for a writable disk, a read lock for a
 * read-only one, so two VMs cannot write one image.
 */
#include "virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evloop.h"
#include "util.h"

#define BLK_QUEUE_SIZE VIRTIO_BLK_QUEUE_SIZE
/* Requests queued to the engine before one submission system call. */
#define BLK_BATCH 8
/* The config space up to write_zeroes_may_unmap: no secure erase. */
#define BLK_CFG_SIZE offsetof(struct virtio_blk_config, max_secure_erase_sectors)
_Static_assert(BLK_CFG_SIZE == 60,
	       "virtio-blk config space: 60 bytes, as the guest has always seen");

int blk_disk_opts_parse(const char *arg, struct blk_disk_opts *o, char *err, size_t errlen)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	memset(o, 0, sizeof(*o));
	o->engine = BLK_ENGINE_IO_URING;
	if (!copy)
		return -ENOMEM;
	/* strsep, not strtok: an empty path before the first comma counts. */
	save = copy;
	o->path = strsep(&save, ",");
	if (!o->path || !*o->path) {
		free(copy);
		return errmsg(err, errlen, -EINVAL, "--disk '%s': no image path", arg);
	}
	while ((tok = strsep(&save, ","))) {
		if (!strcmp(tok, "ro")) {
			o->ro = true;
		} else if (!strcmp(tok, "direct")) {
			o->direct = true;
		} else if (!strncmp(tok, "engine=", 7)) {
			if (blk_engine_parse(tok + 7, &o->engine)) {
				errmsg(err, errlen, -EINVAL,
				       "--disk '%s': engine '%s': expected io_uring, aio or sync",
				       arg, tok + 7);
				free(copy);
				return -EINVAL;
			}
		} else if (!strncmp(tok, "serial=", 7) && strlen(tok + 7) <= VIRTIO_BLK_ID_BYTES) {
			o->serial = tok + 7;
		} else {
			errmsg(err, errlen, -EINVAL,
			       "--disk '%s': unknown option '%s' (ro, direct, engine=, serial= up to 20 characters)",
			       arg, tok);
			free(copy);
			return -EINVAL;
		}
	}
	/* The strings point into copy, which lives as long as the config. */
	return 0;
}

/* ---- the device ------------------------------------------------------------ */

struct blk_queue;

struct blk_inflight {
	struct blk_queue *bq;
	uint16_t head;
	uint32_t written;
	uint64_t expect; /* bytes the transfer must move (0 for a flush) */
	uint8_t *status;
	bool busy;
	int64_t t_submit; /* clock_monotonic_ns at submission */
};

struct blk_queue {
	struct virtio_blk *blk;
	unsigned int index;
	struct blk_io io;
	struct blk_inflight reqs[BLK_QUEUE_SIZE];
	struct virtq_buf bufs[VIRTIO_BLK_SEG_MAX + 2];
	/* Requests parsed and queued, not yet submitted (I/O thread only):
	 * their iovecs must live until submitted; io.queued of them are. */
	struct blk_req req[BLK_BATCH];
};

struct virtio_blk {
	struct virtio_dev vd;
	int fd;
	bool ro;
	uint64_t capacity; /* sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	char path[256];
	unsigned int nr_queues;
	struct blk_queue q[VIRTIO_MAX_QUEUES];
};

/*
 * The status of a finished transfer: res is what the engine moved, or a
 * negative errno. Anything short of the whole request is an error to the
 * guest (a file system that filled, an image that shrank): never OK.
 */
uint8_t blk_transfer_status(ssize_t res, uint64_t expect)
{
	return res >= 0 && (uint64_t)res == expect ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

static void blk_complete(void *opaque, void *tag, ssize_t res)
{
	struct blk_inflight *r = tag;
	struct blk_queue *bq = opaque;

	(void)bq;
	*r->status = blk_transfer_status(res, r->expect);
	if (*r->status == VIRTIO_BLK_S_OK) {
		if (r->written)
			r->bq->blk->vd.stat_read_bytes += r->expect;
		else
			r->bq->blk->vd.stat_write_bytes += r->expect;
	}
	if (res < 0)
		pr_guest(LOG_WARNING, "%s: I/O error: %s", r->bq->blk->vd.dev.name,
			 strerror((int)-res));
	else if ((uint64_t)res != r->expect)
		pr_guest(LOG_WARNING,
			 "%s: short transfer (%lld of %llu bytes): I/O error to the guest",
			 r->bq->blk->vd.dev.name, (long long)res, (unsigned long long)r->expect);
	r->bq->blk->vd.stat_reqs++;
	r->bq->blk->vd.stat_backend_ns += (uint64_t)(clock_monotonic_ns() - r->t_submit);
	/* A failed read wrote nothing the guest may use. */
	virtq_push(&r->bq->blk->vd.vqs[r->bq->index], r->head,
		   (*r->status == VIRTIO_BLK_S_OK ? r->written : 0) + 1);
	r->busy = false;
}

/* The device thread's time since t0, and the engine's share of it. */
static void blk_account(struct blk_queue *bq, int64_t t0)
{
	struct virtio_dev *vd = &bq->blk->vd;

	vd->stat_submits += bq->io.stat_submits;
	vd->stat_submit_ns += bq->io.stat_submit_ns;
	bq->io.stat_submits = bq->io.stat_submit_ns = 0;
	vd->stat_busy_ns += (uint64_t)(clock_monotonic_ns() - t0);
}

/* What the engine has completed, to the guest (interrupt if it asks). */
static void blk_hand_back(struct blk_queue *bq)
{
	blk_io_reap(&bq->io, 0);
	virtio_queue_interrupt(&bq->blk->vd, bq->index);
}

/* Completion eventfd: on the device's I/O thread. */
static void blk_io_event(void *opaque, uint32_t events)
{
	struct blk_queue *bq = opaque;
	struct virtio_dev *vd = &bq->blk->vd;
	int64_t t0 = clock_monotonic_ns();

	(void)events;
	pthread_mutex_lock(&vd->lock);
	blk_hand_back(bq);
	blk_account(bq, t0);
	pthread_mutex_unlock(&vd->lock);
}

static int blk_fallocate(struct virtio_blk *blk, const struct blk_req *req)
{
	off_t off = (off_t)(req->seg_sector * BLK_SECTOR);
	off_t len = (off_t)((uint64_t)req->seg_sectors * BLK_SECTOR);
	int mode;

	if (!len)
		return 0;
	if (req->type == VIRTIO_BLK_T_DISCARD ||
	    (req->seg_flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else
		mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	if (fallocate(blk->fd, mode, off, len) == 0)
		return 0;
	if (req->type == VIRTIO_BLK_T_DISCARD)
		return 0; /* discard is advisory */
	/* No ZERO_RANGE here (a block device?): write zeroes. */
	{
		static const uint8_t zeros[65536];

		while (len > 0) {
			ssize_t n =
				pwrite(blk->fd, zeros, (size_t)MIN(len, (off_t)sizeof(zeros)), off);

			/* 0 bytes written is no progress: an error, not success. */
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			off += n, len -= n;
		}
	}
	return 0;
}

/*
 * Submit what is queued, so bq->req[] is free again. If the engine cannot
 * take it yet (io_uring's -EBUSY: completions to reap first), reap until
 * it has: a slot whose iovecs the kernel has not read is never reused.
 */
static void blk_queue_submit(struct blk_queue *bq)
{
	blk_io_kick(&bq->io);
	while (bq->io.queued)
		blk_io_reap(&bq->io, 1);
}

static void blk_notify(struct virtio_dev *vd, unsigned int qi)
{
	struct virtio_blk *blk = vd->priv;
	struct blk_queue *bq = &blk->q[qi];
	struct virtq *q = &vd->vqs[qi];
	struct virtq_chain c = { .bufs = bq->bufs, .cap = VIRTIO_BLK_SEG_MAX + 2 };
	bool pushed = false;
	int64_t t0 = clock_monotonic_ns();
	int r;

	do {
		while ((r = virtq_pop(q, &c)) != 0) {
			struct blk_req *rq = &bq->req[bq->io.queued];
			struct blk_inflight *in;
			int st;

			if (r == -EINVAL) {
				/* The requests already queued are good ones:
				 * they go to the disk now, not at the reset. */
				virtio_queue_broken(vd, qi);
				break;
			}
			if (r == -E2BIG) {
				/* Too long to parse: returned with length 0 (no
				 * status byte of its own is known). */
				virtq_push(q, c.head, 0);
				pushed = true;
				continue;
			}
			st = blk_req_parse(&c, blk->capacity, blk->ro, rq);
			if (!rq->status) {
				virtq_push(q, c.head, 0);
				pushed = true;
				continue;
			}
			if (st != VIRTIO_BLK_S_OK) {
				*rq->status = (uint8_t)st;
				virtq_push(q, c.head, 1);
				pushed = true;
				continue;
			}
			if (rq->type == VIRTIO_BLK_T_GET_ID) {
				uint32_t n = (uint32_t)MIN(rq->len, (uint64_t)VIRTIO_BLK_ID_BYTES);

				virtq_chain_write(&c, 0, blk->serial, n);
				*rq->status = VIRTIO_BLK_S_OK;
				virtq_push(q, c.head, n + 1);
				pushed = true;
				continue;
			}
			if (rq->type == VIRTIO_BLK_T_DISCARD ||
			    rq->type == VIRTIO_BLK_T_WRITE_ZEROES) {
				*rq->status = blk_fallocate(blk, rq) ? VIRTIO_BLK_S_IOERR
								     : VIRTIO_BLK_S_OK;
				virtq_push(q, c.head, 1);
				pushed = true;
				continue;
			}
			in = &bq->reqs[c.head % BLK_QUEUE_SIZE];
			*in = (struct blk_inflight){ bq,
						     c.head,
						     rq->type == VIRTIO_BLK_T_IN ? (uint32_t)rq->len
										 : 0,
						     rq->type == VIRTIO_BLK_T_FLUSH ? 0 : rq->len,
						     rq->status,
						     true,
						     clock_monotonic_ns() };
			r = blk_io_submit(&bq->io,
					  rq->type == VIRTIO_BLK_T_IN	 ? BLK_OP_READ
					  : rq->type == VIRTIO_BLK_T_OUT ? BLK_OP_WRITE
									 : BLK_OP_FLUSH,
					  rq->iov, rq->iovcnt, rq->sector * BLK_SECTOR, in);
			if (r)
				blk_complete(bq, in, r);
			/* Done already (sync engine, AIO flush, error): tell. */
			pushed |= !in->busy;
			if (bq->io.queued == BLK_BATCH) {
				/* Hand the guest what has completed while it was
				 * submitting: it works on those and queues more
				 * while this thread submits the rest. */
				blk_queue_submit(bq);
				blk_hand_back(bq);
				pushed = false;
			}
		}
	} while (!q->broken && virtq_enable_notify(q));
	blk_queue_submit(bq);
	if (pushed)
		virtio_queue_interrupt(vd, qi);
	blk_account(bq, t0);
}

static void blk_reset_drain(struct virtio_blk *blk)
{
	for (unsigned int i = 0; i < blk->nr_queues; i++)
		while (blk->q[i].io.inflight)
			blk_io_reap(&blk->q[i].io, 1);
}

static void blk_reset(struct virtio_dev *vd)
{
	/* Drain what is in flight: its buffers belong to the old driver. */
	blk_reset_drain(vd->priv);
}

/*
 * Snapshot: drain in-flight requests first (a request half-done would be
 * lost), before the core saves the queue indices; the rest of the state is
 * the virtio core's and the image's.
 */
static void blk_quiesce(struct virtio_dev *vd)
{
	blk_reset_drain(vd->priv);
}

static int blk_save(struct virtio_dev *vd, struct state_buf *sb)
{
	struct virtio_blk *blk = vd->priv;

	state_put_u64(sb, blk->capacity);
	return state_error(sb);
}

static int blk_load(struct virtio_dev *vd, struct state_buf *sb)
{
	struct virtio_blk *blk = vd->priv;

	/* The image must still be the size the guest knew. */
	return state_get_u64(sb) == blk->capacity && !state_error(sb) ? 0 : -EINVAL;
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_blk *blk = vd->priv;
	struct virtio_blk_config cfg = {
		.capacity = htole64(blk->capacity),
		.seg_max = htole32(VIRTIO_BLK_SEG_MAX),
		.blk_size = htole32(BLK_SECTOR),
		.num_queues = htole16((uint16_t)blk->nr_queues),
		.max_discard_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS),
		.max_discard_seg = htole32(1),
		.discard_sector_alignment = htole32(8),
		.max_write_zeroes_sectors = htole32(VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS),
		.max_write_zeroes_seg = htole32(1),
		.write_zeroes_may_unmap = 1,
	};

	/* off + len <= BLK_CFG_SIZE <= sizeof(cfg): virtio.c checks */
	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

static void blk_destroy(struct virtio_dev *vd)
{
	struct virtio_blk *blk = vd->priv;

	for (unsigned int i = 0; i < blk->nr_queues; i++)
		blk_io_destroy(&blk->q[i].io);
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk);
}

static int blk_attach(struct virtio_dev *vd, struct evloop *loop)
{
	struct virtio_blk *blk = vd->priv;

	for (unsigned int i = 0; i < blk->nr_queues; i++) {
		int err;

		if (blk->q[i].io.efd < 0)
			continue;
		err = evloop_add(loop, blk->q[i].io.efd, EPOLLIN, blk_io_event, &blk->q[i]);
		if (err)
			return err;
	}
	return 0;
}

static const struct virtio_dev_ops virtio_blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x0180, /* mass storage, other */
	.config_read = blk_config_read,
	.queue_notify = blk_notify,
	.reset = blk_reset,
	.quiesce = blk_quiesce,
	.save = blk_save,
	.load = blk_load,
	.attach = blk_attach,
	.destroy = blk_destroy,
};

struct virtio_dev *virtio_blk_new(const struct blk_disk_opts *o, unsigned int nr_queues,
				  const struct guest_mem *mem, char *err, size_t errlen)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	uint64_t features, size;
	unsigned int ready = 0;
	struct stat st;
	const char *base;
	int ret;

	if (!blk) {
		errmsg(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	/* A FIFO named as a disk must not block the start-up in open(). */
	blk->fd = file_open_stat(o->path, (o->ro ? O_RDONLY : O_RDWR) | (o->direct ? O_DIRECT : 0),
				 &st);
	if (blk->fd < 0) {
		errmsg(err, errlen, blk->fd, "--disk %s: %s", o->path, strerror(-blk->fd));
		free(blk);
		return NULL;
	}
	if (!(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		errmsg(err, errlen, -EINVAL, "--disk %s: not a regular file or block device",
		       o->path);
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(blk->fd, BLKGETSIZE64, &size) < 0)
			size = 0;
	} else {
		size = (uint64_t)st.st_size;
	}
	if (size % BLK_SECTOR)
		pr_warn("--disk %s: size is not a multiple of 512; the last %llu bytes are not visible",
			o->path, (unsigned long long)(size % BLK_SECTOR));
	/* One writer or many readers per image, across processes (OFD). */
	if (o->ro)
		lk.l_type = F_RDLCK;
	if (fcntl(blk->fd, F_OFD_SETLK, &lk) < 0) {
		errmsg(err, errlen, -EBUSY,
		       "--disk %s: the image is in use (%s lock is held by another VM or --disk)",
		       o->path, o->ro ? "a write" : "a");
		goto err_close;
	}
	blk->ro = o->ro;
	blk->capacity = size / BLK_SECTOR;
	blk->nr_queues = MIN(MAX(nr_queues, 1u), (unsigned int)VIRTIO_MAX_QUEUES);
	snprintf(blk->path, sizeof(blk->path), "%s", o->path);
	base = strrchr(o->path, '/');
	{
		/* The ID is 20 bytes, NUL-padded, not necessarily terminated. */
		const char *id = o->serial ? o->serial : base ? base + 1 : o->path;

		memcpy(blk->serial, id, MIN(strlen(id), sizeof(blk->serial)));
	}
	for (; ready < blk->nr_queues; ready++) {
		struct blk_queue *bq = &blk->q[ready];

		bq->blk = blk;
		bq->index = ready;
		ret = blk_io_init(&bq->io, o->engine, blk->fd, BLK_QUEUE_SIZE, blk_complete, bq);
		if (ret) {
			errmsg(err, errlen, ret, "--disk %s: cannot set up %s: %s", o->path,
			       blk_engine_name(o->engine), strerror(-ret));
			goto err_close;
		}
	}
	features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		   1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_MQ;
	if (o->ro)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		features |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	virtio_dev_init(&blk->vd, &virtio_blk_ops, "virtio-blk", blk->nr_queues, BLK_QUEUE_SIZE,
			features, BLK_CFG_SIZE, mem, blk);
	return &blk->vd;

err_close:
	/* Only the queues set up: the others' fds are 0 (calloc), not theirs. */
	for (unsigned int i = 0; i < ready; i++)
		blk_io_destroy(&blk->q[i].io);
	close(blk->fd);
	free(blk);
	return NULL;
}
