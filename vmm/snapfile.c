// SPDX-License-Identifier: MIT
/*
 * The snapshot file format: see snapfile.h and docs/snapshot-format.md.
 */
#include "snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "util.h"

static const char *const sec_names[] = {
	[SNAP_SEC_HOST] = "host", [SNAP_SEC_MACHINE] = "machine", [SNAP_SEC_VCPU] = "vcpu",
	[SNAP_SEC_GIC] = "gic",	  [SNAP_SEC_DEVICES] = "devices", [SNAP_SEC_MEMORY] = "memory",
};

const char *snap_sec_name(uint32_t type)
{
	return type < ARRAY_SIZE(sec_names) && sec_names[type] ? sec_names[type] : "unknown";
}

/* A section's checksum covers its header (but the checksum) and payload. */
static uint32_t section_crc(const uint8_t *h, const uint8_t *payload, uint64_t len)
{
	uint32_t c = crc32c(0, h, 16);

	c = crc32c(c, h + 20, 4);
	return crc32c(c, payload, len);
}

/* ---- reading ------------------------------------------------------------ */

/* The position a type may take: sections come in enum order. */
static int sec_rank(uint32_t type)
{
	return type >= SNAP_SEC_HOST && type <= SNAP_SEC_MEMORY ? (int)type : -1;
}

static int parse_memory(struct snap_image *img, const struct snap_section *s, char *err,
			size_t errlen)
{
	struct snap_memory *m = &img->mem;
	uint64_t want;

	if (s->len < 32)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot: memory section too short (%llu bytes)",
			      (unsigned long long)s->len);
	m->gpa = get_le64(s->data);
	m->size = get_le64(s->data + 8);
	m->data_pages = get_le64(s->data + 16);
	if (get_le32(s->data + 24) != SNAP_CHUNK_SHIFT)
		return errmsg(err, errlen, -EINVAL, "snapshot: memory chunk size 2^%u, want 2^%u",
			      get_le32(s->data + 24), SNAP_CHUNK_SHIFT);
	m->nr_chunks = get_le32(s->data + 28);
	m->crcs = s->data + 32;
	want = (m->size + (1ull << SNAP_CHUNK_SHIFT) - 1) >> SNAP_CHUNK_SHIFT;
	if (m->size != img->mem_size || m->nr_chunks != want ||
	    s->len != 32 + 4ull * m->nr_chunks || m->data_pages > m->size / SNAP_PAGE)
		return errmsg(
			err, errlen, -EINVAL,
			"snapshot: memory section does not match the header (%llu bytes, %u chunks)",
			(unsigned long long)m->size, m->nr_chunks);
	return 0;
}

int snap_parse_header(const uint8_t *buf, size_t len, struct snap_image *img, char *err,
		      size_t errlen)
{
	uint64_t state_size;
	uint32_t version, hsize, nsec;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (len < SNAP_HEADER_SIZE || memcmp(buf, SNAP_MAGIC, 8))
		return errmsg(err, errlen, -EINVAL, "not an armvm snapshot (no ARMVMSNP magic)");
	if (crc32c(0, buf, 60) != get_le32(buf + 60))
		return errmsg(err, errlen, -EINVAL,
			      "snapshot header is corrupt (checksum mismatch)");
	version = get_le32(buf + 8);
	hsize = get_le32(buf + 12);
	if (version > SNAP_VERSION)
		return errmsg(
			err, errlen, -EINVAL,
			"snapshot format version %u is newer than this armvm reads (%u): restore it with a newer armvm",
			version, SNAP_VERSION);
	if (version < 1)
		return errmsg(err, errlen, -EINVAL, "snapshot format version %u is not valid",
			      version);
	state_size = get_le64(buf + 16);
	img->mem_offset = get_le64(buf + 24);
	img->mem_size = get_le64(buf + 32);
	nsec = get_le32(buf + 40);
	if (hsize != SNAP_HEADER_SIZE || state_size > SNAP_MAX_STATE || nsec > SNAP_MAX_SECTIONS ||
	    get_le32(buf + 44) != 0 || img->mem_offset % SNAP_MEM_ALIGN ||
	    img->mem_size % SNAP_PAGE || img->mem_offset < SNAP_HEADER_SIZE + state_size)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot header is inconsistent (sizes or offsets out of range)");
	img->version = version;
	img->state_size = (size_t)(SNAP_HEADER_SIZE + state_size);
	img->nr_sections = nsec; /* claimed; snap_parse counts the known ones */
	return 0;
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_image *img, char *err, size_t errlen)
{
	uint64_t pos, end;
	uint32_t nsec;
	int rank = 0, ret = snap_parse_header(buf, len, img, err, errlen);

	if (ret)
		return ret;
	end = img->state_size;
	nsec = img->nr_sections;
	img->nr_sections = 0;
	if (len < end)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot is truncated: %zu bytes, its sections end at %llu", len,
			      (unsigned long long)end);
	img->sec = calloc(nsec ? nsec : 1, sizeof(*img->sec));
	if (!img->sec)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	pos = SNAP_HEADER_SIZE;
	for (uint32_t i = 0; i < nsec; i++) {
		struct snap_section *s = &img->sec[img->nr_sections];
		const uint8_t *h = buf + pos;
		int r;

		if (end - pos < SNAP_SECTION_HDR) {
			ret = errmsg(err, errlen, -EINVAL, "snapshot: section %u of %u is cut off",
				     i + 1, nsec);
			goto fail;
		}
		s->type = get_le32(h);
		s->version = get_le32(h + 4);
		s->len = get_le64(h + 8);
		s->crc = get_le32(h + 16);
		s->flags = get_le32(h + 20);
		s->offset = pos + SNAP_SECTION_HDR;
		if (s->len > end - s->offset || ALIGN_UP(s->len, 8) > end - s->offset) {
			ret = errmsg(
				err, errlen, -EINVAL,
				"snapshot: %s section (%u of %u) runs past the end of the state",
				snap_sec_name(s->type), i + 1, nsec);
			goto fail;
		}
		s->data = buf + s->offset;
		/* The padding is zeros: no byte before memory escapes a check. */
		for (uint64_t k = s->len; k < ALIGN_UP(s->len, 8); k++)
			if (s->data[k])
				s->crc = ~section_crc(h, s->data, s->len);
		if (section_crc(h, s->data, s->len) != s->crc) {
			ret = errmsg(
				err, errlen, -EINVAL,
				"snapshot: %s section (%u of %u) is corrupt (checksum mismatch)",
				snap_sec_name(s->type), i + 1, nsec);
			goto fail;
		}
		pos = s->offset + ALIGN_UP(s->len, 8);
		r = sec_rank(s->type);
		if (r < 0) {
			if (s->flags & SNAP_SEC_F_OPTIONAL)
				continue; /* a later armvm's extra: skipped */
			ret = errmsg(
				err, errlen, -EINVAL,
				"snapshot: section type %u (%u of %u) is unknown to this armvm",
				s->type, i + 1, nsec);
			goto fail;
		}
		/* In order, each once, but for one VCPU section per vCPU. */
		if (r < rank || (r == rank && r != SNAP_SEC_VCPU)) {
			ret = errmsg(err, errlen, -EINVAL,
				     "snapshot: %s section (%u of %u) is out of order or repeated",
				     snap_sec_name(s->type), i + 1, nsec);
			goto fail;
		}
		for (int m = rank + 1; m < r; m++) {
			ret = errmsg(err, errlen, -EINVAL, "snapshot: the %s section is missing",
				     snap_sec_name((uint32_t)m));
			goto fail;
		}
		rank = r;
		img->nr_vcpus += s->type == SNAP_SEC_VCPU;
		img->nr_sections++;
	}
	if (pos != end) {
		ret = errmsg(err, errlen, -EINVAL,
			     "snapshot: %llu stray bytes after the last section",
			     (unsigned long long)(end - pos));
		goto fail;
	}
	if (rank != SNAP_SEC_MEMORY) {
		ret = errmsg(err, errlen, -EINVAL, "snapshot: the %s section is missing",
			     snap_sec_name((uint32_t)rank + 1));
		goto fail;
	}
	ret = parse_memory(img, snap_find(img, SNAP_SEC_MEMORY, 0), err, errlen);
	if (ret)
		goto fail;
	img->state = (uint8_t *)buf;
	return 0;
fail:
	free(img->sec);
	img->sec = NULL;
	img->nr_sections = 0;
	return ret;
}

int snap_open(const char *path, struct snap_image *img, char *err, size_t errlen)
{
	uint8_t head[SNAP_HEADER_SIZE], *buf;
	struct stat st;
	ssize_t n;
	int fd, ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	fd = file_open_stat(path, O_RDONLY | O_CLOEXEC, &st);
	if (fd == -EINVAL)
		return errmsg(err, errlen, fd, "snapshot '%s' is not a regular file", path);
	if (fd < 0)
		return errmsg(err, errlen, fd, "cannot open snapshot '%s': %s", path,
			      strerror(-fd));
	n = pread(fd, head, sizeof(head), 0);
	if (n != (ssize_t)sizeof(head)) {
		close(fd);
		if (n < 0)
			return errmsg(err, errlen, -errno, "cannot read snapshot '%s': %s", path,
				      strerror(errno));
		return errmsg(err, errlen, -EINVAL, "'%s' is not an armvm snapshot (%lld bytes)",
			      path, (long long)st.st_size);
	}
	/* Header first: a bogus size must not make us read gigabytes. */
	ret = snap_parse_header(head, sizeof(head), img, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	buf = malloc(img->state_size);
	if (!buf) {
		close(fd);
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	}
	n = pread(fd, buf, img->state_size, 0);
	if (n < 0)
		ret = errmsg(err, errlen, -errno, "cannot read snapshot '%s': %s", path,
			     strerror(errno));
	else
		ret = snap_parse(buf, (size_t)n, img, err, errlen);
	if (ret) {
		free(buf);
		close(fd);
		return ret;
	}
	img->fd = fd;
	img->file_size = (uint64_t)st.st_size;
	/* Between the sections and memory: zeros, or the file is corrupt. */
	{
		uint8_t gap[4096];
		uint64_t off = img->state_size;

		while (off < img->mem_offset && off < img->file_size) {
			size_t len = (size_t)MIN((uint64_t)sizeof(gap), img->mem_offset - off);

			n = pread(fd, gap, len, (off_t)off);
			if (n <= 0)
				break;
			for (ssize_t k = 0; k < n; k++) {
				if (gap[k]) {
					snap_close(img);
					return errmsg(
						err, errlen, -EINVAL,
						"snapshot '%s' is corrupt: stray bytes at %llu, between its sections and its memory",
						path, (unsigned long long)(off + (uint64_t)k));
				}
			}
			off += (uint64_t)n;
		}
	}
	if (img->file_size < img->mem_offset + img->mem_size) {
		uint64_t want = img->mem_offset + img->mem_size;

		snap_close(img);
		return errmsg(err, errlen, -EINVAL,
			      "snapshot '%s' is truncated: %llu bytes, its memory ends at %llu",
			      path, (unsigned long long)st.st_size, (unsigned long long)want);
	}
	return 0;
}

void snap_close(struct snap_image *img)
{
	if (img->fd >= 0) {
		close(img->fd);
		free(img->state); /* ours only when we read it */
	}
	free(img->sec);
	memset(img, 0, sizeof(*img));
	img->fd = -1;
}

const struct snap_section *snap_find(const struct snap_image *img, uint32_t type, unsigned int nth)
{
	for (unsigned int i = 0; i < img->nr_sections; i++)
		if (img->sec[i].type == type && nth-- == 0)
			return &img->sec[i];
	return NULL;
}

bool snap_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;

	/* Touched pages rarely start with zeros: a quick look first. */
	if (w[0] | w[1] | w[SNAP_PAGE / 16] | w[SNAP_PAGE / 8 - 1])
		return false;
	for (size_t i = 0; i < SNAP_PAGE / 8; i += 8) {
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
		    w[i + 7])
			return false;
	}
	return true;
}

/* A chunk's checksum: CRC32C of its non-zero pages, in order. */
static uint32_t chunk_crc(const uint8_t *p, uint64_t len, uint64_t *data_pages)
{
	uint32_t crc = 0;

	for (uint64_t off = 0; off < len; off += SNAP_PAGE) {
		if (snap_page_is_zero(p + off))
			continue;
		crc = crc32c(crc, p + off, SNAP_PAGE);
		if (data_pages)
			(*data_pages)++;
	}
	return crc;
}

int snap_verify_memory(const struct snap_image *img, snap_progress_fn progress, void *opaque,
		       char *err, size_t errlen)
{
	const uint64_t csize = 1ull << SNAP_CHUNK_SHIFT;
	uint8_t *buf = aligned_alloc(SNAP_PAGE, csize);
	int ret = 0;

	if (!buf)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t c = 0; c < img->mem.nr_chunks && !ret; c++) {
		uint64_t off = (uint64_t)c << SNAP_CHUNK_SHIFT;
		uint64_t len = MIN(csize, img->mem_size - off), got = 0;

		while (got < len) {
			ssize_t n = pread(img->fd, buf + got, len - got,
					  (off_t)(img->mem_offset + off + got));

			if (n <= 0) {
				ret = errmsg(err, errlen, n < 0 ? -errno : -EIO,
					     "snapshot memory at guest 0x%llx: %s",
					     (unsigned long long)(img->mem.gpa + off),
					     n < 0 ? strerror(errno) : "file too short");
				break;
			}
			got += (uint64_t)n;
		}
		if (!ret && chunk_crc(buf, len, NULL) != get_le32(img->mem.crcs + 4 * c))
			ret = errmsg(
				err, errlen, -EIO,
				"snapshot memory is corrupt: checksum mismatch in the MiB at guest 0x%llx",
				(unsigned long long)(img->mem.gpa + off));
		if (progress)
			progress(opaque, off + len, img->mem_size);
	}
	free(buf);
	return ret;
}

/* ---- writing ------------------------------------------------------------ */

void snapw_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	state_writer_init(&w->sb);
}

void snapw_free(struct snap_writer *w)
{
	state_free(&w->sb);
}

void snapw_section(struct snap_writer *w, uint32_t type, uint32_t version, uint32_t flags,
		   const void *data, size_t len)
{
	static const uint8_t pad[8];
	uint8_t h[SNAP_SECTION_HDR];

	if (type < w->last_type || (type == w->last_type && type != SNAP_SEC_VCPU))
		w->err = -EINVAL; /* a bug of ours: the reader would refuse it */
	w->last_type = type;
	put_le32(h, type);
	put_le32(h + 4, version);
	put_le64(h + 8, len);
	put_le32(h + 20, flags);
	put_le32(h + 16, section_crc(h, data, len));
	state_put_bytes(&w->sb, h, sizeof(h));
	state_put_bytes(&w->sb, data, len);
	state_put_bytes(&w->sb, pad, ALIGN_UP(len, 8) - len);
	w->nr_sections++;
}

/* Write the non-zero pages of [p, p + len) at file offset off. */
static int write_chunk(int fd, const uint8_t *p, uint64_t len, uint64_t off, uint64_t *stored)
{
	uint64_t run = 0, start = 0;

	for (uint64_t o = 0; o <= len; o += SNAP_PAGE) {
		bool data = o < len && !snap_page_is_zero(p + o);

		if (data) {
			if (!run)
				start = o;
			run += SNAP_PAGE;
			continue;
		}
		while (run) {
			ssize_t n = pwrite(fd, p + start, run, (off_t)(off + start));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -ENOSPC;
			*stored += (uint64_t)n;
			start += (uint64_t)n;
			run -= (uint64_t)n;
		}
	}
	return 0;
}

int snap_write_begin(struct snap_writer *w, struct snap_job *job, const char *path, uint64_t gpa,
		     uint64_t mem_size, char *err, size_t errlen)
{
	const uint64_t csize = 1ull << SNAP_CHUNK_SHIFT;
	char *copy;
	int ret, werr = w->err ? w->err : state_error(&w->sb);

	memset(job, 0, sizeof(*job));
	job->fd = -1;
	job->w = w;
	if (werr)
		return errmsg(err, errlen, werr, "snapshot: cannot assemble the state: %s",
			      strerror(-werr));
	if (mem_size % SNAP_PAGE)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot: memory size not a multiple of 4 KiB");
	job->gpa = gpa;
	job->mem_size = mem_size;
	job->nchunks = (uint32_t)((mem_size + csize - 1) >> SNAP_CHUNK_SHIFT);
	if (snprintf(job->path, sizeof(job->path), "%s", path) >= (int)sizeof(job->path))
		return errmsg(err, errlen, -ENAMETOOLONG, "snapshot path too long: %s", path);
	copy = strdup(path);
	if (!copy)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	snprintf(job->dir, sizeof(job->dir), "%s", dirname(copy));
	free(copy);
	ret = snprintf(job->tmp, sizeof(job->tmp), "%s/.%s.tmp-%d", job->dir, basename(job->path),
		       (int)getpid());
	if (ret < 0 || (size_t)ret >= sizeof(job->tmp))
		return errmsg(err, errlen, -ENAMETOOLONG, "snapshot path too long: %s", path);
	/* The MEMORY section now, its checksums filled in by the finish:
	 * from here on nothing is allocated (a forked child may finish). */
	job->msec_len = 32 + 4ull * job->nchunks;
	job->msec = calloc(1, job->msec_len);
	if (!job->msec)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	job->msec_at = w->sb.len + SNAP_SECTION_HDR;
	snapw_section(w, SNAP_SEC_MEMORY, 1, 0, job->msec, job->msec_len);
	if (w->err || state_error(&w->sb)) {
		snap_write_free(job);
		return errmsg(err, errlen, -ENOMEM, "snapshot: cannot assemble the state");
	}
	job->state_size = w->sb.len;
	job->mem_off = ALIGN_UP(SNAP_HEADER_SIZE + job->state_size, (uint64_t)SNAP_MEM_ALIGN);
	job->fd = open(job->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (job->fd < 0) {
		ret = errmsg(err, errlen, -errno, "cannot create %s: %s", job->tmp,
			     strerror(errno));
		snap_write_free(job);
		return ret;
	}
	return 0;
}

int snap_write_finish(struct snap_job *job, const uint8_t *mem, snap_progress_fn progress,
		      void *opaque, char *err, size_t errlen)
{
	const uint64_t csize = 1ull << SNAP_CHUNK_SHIFT;
	uint8_t head[SNAP_HEADER_SIZE] = { 0 }, *sec = job->w->sb.data + job->msec_at;
	uint64_t data_pages = 0;
	int ret, dfd;

	/* Memory first: its checksums go in the MEMORY section. */
	for (uint32_t c = 0; c < job->nchunks; c++) {
		uint64_t off = (uint64_t)c << SNAP_CHUNK_SHIFT,
			 len = MIN(csize, job->mem_size - off);

		put_le32(sec + 32 + 4 * c, chunk_crc(mem + off, len, &data_pages));
		ret = write_chunk(job->fd, mem + off, len, job->mem_off + off, &job->stored);
		if (ret)
			return errmsg(err, errlen, ret, "cannot write snapshot %s: %s", job->path,
				      strerror(-ret));
		if (progress)
			progress(opaque, off + len, job->mem_size);
	}
	put_le64(sec, job->gpa);
	put_le64(sec + 8, job->mem_size);
	put_le64(sec + 16, data_pages);
	put_le32(sec + 24, SNAP_CHUNK_SHIFT);
	put_le32(sec + 28, job->nchunks);
	put_le32(sec - SNAP_SECTION_HDR + 16,
		 section_crc(sec - SNAP_SECTION_HDR, sec, job->msec_len));
	memcpy(head, SNAP_MAGIC, 8);
	put_le32(head + 8, SNAP_VERSION);
	put_le32(head + 12, SNAP_HEADER_SIZE);
	put_le64(head + 16, job->state_size);
	put_le64(head + 24, job->mem_off);
	put_le64(head + 32, job->mem_size);
	put_le32(head + 40, job->w->nr_sections);
	put_le32(head + 60, crc32c(0, head, 60));
	errno = 0;
	if (pwrite(job->fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    pwrite(job->fd, job->w->sb.data, job->state_size, SNAP_HEADER_SIZE) !=
		    (ssize_t)job->state_size)
		return errmsg(err, errlen, errno ? -errno : -ENOSPC, "cannot write snapshot %s: %s",
			      job->path, strerror(errno ? errno : ENOSPC));
	/* The holes: the file ends where memory ends. */
	if (ftruncate(job->fd, (off_t)(job->mem_off + job->mem_size)) < 0 || fsync(job->fd) < 0)
		return errmsg(err, errlen, -errno, "cannot write snapshot %s: %s", job->path,
			      strerror(errno));
	ret = close(job->fd);
	job->fd = -1;
	if (ret < 0)
		return errmsg(err, errlen, -errno, "cannot write snapshot %s: %s", job->path,
			      strerror(errno));
	if (rename(job->tmp, job->path) < 0)
		return errmsg(err, errlen, -errno, "cannot rename %s to %s: %s", job->tmp,
			      job->path, strerror(errno));
	job->renamed = true;
	/* The rename is durable once the directory is. */
	dfd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL))
		job->dir_sync_errno = errno;
	if (dfd >= 0)
		close(dfd);
	return 0;
}

void snap_write_free(struct snap_job *job)
{
	if (job->fd >= 0)
		close(job->fd);
	job->fd = -1;
	if (job->tmp[0] && !job->renamed)
		unlink(job->tmp);
	job->tmp[0] = '\0';
	free(job->msec);
	job->msec = NULL;
}

int snap_write(struct snap_writer *w, const char *path, const uint8_t *mem, uint64_t gpa,
	       uint64_t mem_size, snap_progress_fn progress, void *opaque, uint64_t *bytes_out,
	       char *err, size_t errlen)
{
	struct snap_job job;
	int ret = snap_write_begin(w, &job, path, gpa, mem_size, err, errlen);

	if (ret)
		return ret;
	ret = snap_write_finish(&job, mem, progress, opaque, err, errlen);
	if (!ret && job.dir_sync_errno)
		pr_warn("snapshot %s: cannot sync its directory: %s", path,
			strerror(job.dir_sync_errno));
	if (!ret && bytes_out)
		*bytes_out = job.stored;
	snap_write_free(&job);
	return ret;
}
