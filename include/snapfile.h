/* SPDX-License-Identifier: MIT */
/*
 * The snapshot file (docs/snapshot-format.md): a 64-byte header, sections
 * each with type, version, length and CRC32C, then guest memory at a
 * 64 KiB-aligned offset, zero pages left as holes, so a restore maps it
 * MAP_PRIVATE and starts without reading it. Writing is atomic: a
 * temporary file beside the target, fsync, rename, fsync of the directory.
 * No KVM here: the parser is unit-tested and fuzzed (tests/fuzz).
 */
#ifndef ARMVM_SNAPFILE_H
#define ARMVM_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define SNAP_MAGIC "ARMVMSNP"
#define SNAP_VERSION 1 /* this armvm writes and reads 1 */
#define SNAP_HEADER_SIZE 64
#define SNAP_SECTION_HDR 24
#define SNAP_MEM_ALIGN 65536	   /* any arm64 host page size divides it */
#define SNAP_MAX_STATE (64u << 20) /* header and sections */
#define SNAP_MAX_SECTIONS 1024
#define SNAP_CHUNK_SHIFT 20 /* memory checksums per MiB */
#define SNAP_PAGE 4096	    /* zero pages are detected at this size */

/* Section types, in the order a file must hold them. */
enum snap_sec {
	SNAP_SEC_HOST = 1,    /* who wrote it, on what host (once) */
	SNAP_SEC_MACHINE = 2, /* the machine: options, vCPUs, RAM, GIC, SVE (once) */
	SNAP_SEC_VCPU = 3,    /* one per vCPU, in vCPU order */
	SNAP_SEC_GIC = 4,     /* distributor, redistributors, CPU interfaces, ITS (once) */
	SNAP_SEC_DEVICES = 5, /* every device's state (once) */
	SNAP_SEC_MEMORY = 6,  /* where memory is, and its checksums (once, last) */
};
#define SNAP_SEC_F_OPTIONAL 1 /* a reader that does not know it skips it */

const char *snap_sec_name(uint32_t type);

struct snap_section {
	uint32_t type, version, flags, crc;
	uint64_t offset; /* of the payload, in the file */
	uint64_t len;
	const uint8_t *data;
};

/* The MEMORY section, decoded. */
struct snap_memory {
	uint64_t gpa, size;
	uint64_t data_pages; /* 4 KiB pages stored (not holes) */
	uint32_t nr_chunks;
	const uint8_t *crcs; /* nr_chunks little-endian u32 */
};

struct snap_image {
	int fd;		/* -1 when parsed from a buffer */
	uint8_t *state; /* header and sections */
	size_t state_size;
	uint32_t version;
	uint64_t mem_offset, mem_size, file_size;
	unsigned int nr_sections, nr_vcpus;
	struct snap_section *sec;
	struct snap_memory mem;
};

/*
 * Parse a header and its sections from buf (the first bytes of a file;
 * the memory need not be there): magic, version, every checksum, the
 * order, the lengths. 0, or -EINVAL with one line in err. img borrows buf.
 */
int snap_parse(const uint8_t *buf, size_t len, struct snap_image *img, char *err, size_t errlen);
/*
 * The header alone (magic, checksum, version, sizes): 0 with
 * img->state_size (header and sections) and the claimed section count.
 */
int snap_parse_header(const uint8_t *buf, size_t len, struct snap_image *img, char *err,
		      size_t errlen);
/* Open and parse a file; checks its size holds the memory too. */
int snap_open(const char *path, struct snap_image *img, char *err, size_t errlen);
void snap_close(struct snap_image *img);
/* The nth section of type (0-based), or NULL. */
const struct snap_section *snap_find(const struct snap_image *img, uint32_t type, unsigned int nth);

typedef void (*snap_progress_fn)(void *opaque, uint64_t done, uint64_t total);

/*
 * Read the memory back and check every chunk's checksum. 0, or -EIO
 * naming the first bad chunk's guest address.
 */
int snap_verify_memory(const struct snap_image *img, snap_progress_fn progress, void *opaque,
		       char *err, size_t errlen);

/* A file being written: sections are appended, then snap_write() ends it. */
struct snap_writer {
	struct state_buf sb;
	unsigned int nr_sections;
	uint32_t last_type;
	int err;
};

void snapw_init(struct snap_writer *w);
void snapw_free(struct snap_writer *w);
/* Append a section; sections must come in the order of enum snap_sec. */
void snapw_section(struct snap_writer *w, uint32_t type, uint32_t version, uint32_t flags,
		   const void *data, size_t len);

/*
 * Write the file at path with the sections so far, then guest memory
 * (mem_size bytes at mem, guest address gpa) and its MEMORY section:
 * through a temporary file in the same directory, fsync'd and renamed over
 * path, the directory fsync'd. On failure nothing is left but what was at
 * path before. 0 or -errno with one line in err; *bytes_out (if not NULL)
 * is how many memory bytes were stored.
 */
int snap_write(struct snap_writer *w, const char *path, const uint8_t *mem, uint64_t gpa,
	       uint64_t mem_size, snap_progress_fn progress, void *opaque, uint64_t *bytes_out,
	       char *err, size_t errlen);

/*
 * snap_write() in three steps, for a save whose memory is written by a
 * forked child while the guest runs on: begin (every allocation, the
 * temporary file created), finish (no allocation: memory, header,
 * sections, fsync, rename, directory fsync), free (closes, and removes the
 * temporary file unless it was renamed).
 */
struct snap_job {
	struct snap_writer *w;
	int fd;
	char path[4096], tmp[4096 + 64], dir[4096];
	uint64_t gpa, mem_size, mem_off, state_size, stored;
	uint32_t nchunks;
	uint8_t *msec;
	size_t msec_len, msec_at;
	bool renamed;
	int dir_sync_errno;
};

int snap_write_begin(struct snap_writer *w, struct snap_job *job, const char *path, uint64_t gpa,
		     uint64_t mem_size, char *err, size_t errlen);
int snap_write_finish(struct snap_job *job, const uint8_t *mem, snap_progress_fn progress,
		      void *opaque, char *err, size_t errlen);
void snap_write_free(struct snap_job *job);

/* Is this 4 KiB page all zero? */
bool snap_page_is_zero(const uint8_t *p);

#endif
