/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every module: logging, arithmetic that cannot
 * overflow silently, and file reading. Nothing here touches KVM.
 */
#ifndef ARMVM_UTIL_H
#define ARMVM_UTIL_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SZ_1K 0x400ULL
#define SZ_64K 0x10000ULL
#define SZ_1M 0x100000ULL
#define SZ_2M 0x200000ULL
#define SZ_1G 0x40000000ULL

#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* Messages go to stderr, prefixed "armvm: ", one line each. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * For messages a guest can trigger at will: at most `burst` per 5 seconds per
 * call site (the state lives in the caller's static), then a count of the
 * ones suppressed.
 */
struct log_ratelimit {
	int64_t window_start_ns;
	unsigned int printed;
	unsigned int suppressed;
};
void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pr_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define pr_guest(level, ...)                                                                       \
	do {                                                                                       \
		static struct log_ratelimit rl_;                                                   \
		log_ratelimited(&rl_, level, __VA_ARGS__);                                         \
	} while (0)

/* a + b into *out; false on overflow. */
static inline bool add_overflows_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

/*
 * Little-endian fields at any alignment in byte buffers (PCI config space,
 * file headers): the value in host order, or stored from it.
 */
static inline uint16_t get_le16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void put_le16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* True when [a, a+alen) and [b, b+blen) share a byte. Lengths are > 0. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int64_t clock_monotonic_ns(void);

/*
 * Phase timing (start-up, teardown): one thread at a time marks each phase
 * as it ends (at most 32); phase_report() says them at debug level, in
 * milliseconds each, then forgets them. phase_mark_at() marks a phase that
 * ended at a time taken earlier (clock_monotonic_ns).
 */
void phase_mark(const char *what);
void phase_mark_at(const char *what, int64_t ns);
void phase_report(const char *title);

/* Format a one-line message for the user into err; returns ret. */
int errmsg(char *err, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Read a whole regular file into a malloc'd buffer (at most max_size bytes;
 * -EFBIG past it). Returns 0 or a negative errno.
 */
/*
 * open(path, flags) that never blocks in open itself (a FIFO or a device
 * whose open waits): O_NONBLOCK for the open, cleared again after it, with
 * *st filled by fstat for the caller to check the file's type. The fd, or
 * a negative errno.
 */
int file_open_stat(const char *path, int flags, struct stat *st);
int file_read_all(const char *path, size_t max_size, uint8_t **buf, size_t *size);

/*
 * Map a whole regular file read-only (private). Same errors as
 * file_read_all; an empty file maps to a non-NULL dummy. Undo with
 * file_unmap(). With fdp, the file stays open there (the caller closes
 * it): to pread what it need not touch through the mapping; with fdp and
 * no buf, it is only opened and checked.
 */
int file_map(const char *path, size_t max_size, uint8_t **buf, size_t *size, int *fdp);
void file_unmap(uint8_t *buf, size_t size);

/* Write all of buf, retrying on short writes and EINTR. 0 or -errno. */
int write_full(int fd, const void *buf, size_t len);

/* Parse a size: plain number = MiB; suffixes K, M, G, T (binary). */
int size_parse_mib(const char *s, uint64_t *bytes);

#endif
