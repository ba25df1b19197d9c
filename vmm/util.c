// SPDX-License-Identifier: MIT
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_WARNING;

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static int tty = -1; /* stderr is a terminal: found once */
	static const char *const tags[] = { "error: ", "warning: ", "", "" };
	char line[1024];
	int p, n, t;

	/*
	 * Format first, then write once: lines from vCPU threads must not
	 * interleave, and stderr may be the raw-mode terminal, so end in CRLF
	 * only when it is one (a newline alone would not return the carriage).
	 * One write(2) of a stack buffer: no stdio, so no malloc (a thread's
	 * first malloc maps a whole arena), fstat or lseek per line.
	 */
	p = snprintf(line, sizeof(line), "armvm: %s", tags[level]);
	n = vsnprintf(line + p, sizeof(line) - (size_t)p - 2, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - (size_t)p - 3)
		n = (int)(sizeof(line) - (size_t)p - 3);
	n += p;
	while (n > p && line[n - 1] == '\n')
		n--;
	t = __atomic_load_n(&tty, __ATOMIC_RELAXED);
	if (t < 0) {
		t = isatty(STDERR_FILENO);
		__atomic_store_n(&tty, t, __ATOMIC_RELAXED);
	}
	if (t)
		line[n++] = '\r';
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, line + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to report it */
		off += (int)w;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	const int64_t window = 5LL * 1000 * 1000 * 1000;
	const unsigned int burst = 10;
	int64_t now = clock_monotonic_ns();
	va_list ap;

	if (level > log_level)
		return;
	/* Not exact under races between vCPU threads; it need not be. */
	if (now - rl->window_start_ns > window) {
		if (rl->suppressed)
			log_msg(level, "(%u similar messages suppressed)", rl->suppressed);
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed >= burst) {
		rl->suppressed++;
		return;
	}
	rl->printed++;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int errmsg(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}

int64_t clock_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct {
	const char *what;
	int64_t ns;
} phase_marks[32];
static unsigned int phase_nr;

void phase_mark_at(const char *what, int64_t ns)
{
	if (phase_nr < ARRAY_SIZE(phase_marks))
		phase_marks[phase_nr++] = (typeof(phase_marks[0])){ what, ns };
}

void phase_mark(const char *what)
{
	phase_mark_at(what, clock_monotonic_ns());
}

void phase_report(const char *title)
{
	char line[1024];
	size_t off = 0;

	for (unsigned int i = 1; i < phase_nr && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s %.2f",
					i > 1 ? ", " : "", phase_marks[i].what,
					(phase_marks[i].ns - phase_marks[i - 1].ns) / 1e6);
	if (phase_nr > 1)
		pr_debug("%s (ms): %s", title, line);
	phase_nr = 0;
}

int file_open_stat(const char *path, int flags, struct stat *st)
{
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC), fl, err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		goto err;
	/* Blocking again: io_uring and plain reads expect it. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto err;
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}

static int file_open_regular(const char *path, size_t max_size, int *fdp, size_t *sizep)
{
	struct stat st;
	int fd, err;

	fd = file_open_stat(path, O_RDONLY, &st);
	if (fd < 0)
		return fd;
	if (S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else if ((uint64_t)st.st_size > max_size)
		err = -EFBIG;
	else
		err = 0;
	if (err) {
		close(fd);
		return err;
	}
	*fdp = fd;
	*sizep = (size_t)st.st_size;
	return 0;
}

int file_map(const char *path, size_t max_size, uint8_t **bufp, size_t *sizep, int *fdp)
{
	static uint8_t empty[1];
	size_t size;
	void *p = empty;
	int fd, err = 0;

	err = file_open_regular(path, max_size, &fd, &size);
	if (err)
		return err;
	if (!bufp) {
		*sizep = size;
		*fdp = fd;
		return 0;
	}
	if (size) {
		p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		err = p == MAP_FAILED ? -errno : 0;
	}
	if (err || !fdp)
		close(fd);
	if (err)
		return err;
	if (size)
		madvise(p, size, MADV_SEQUENTIAL);
	*bufp = p;
	*sizep = size;
	if (fdp)
		*fdp = fd;
	return 0;
}

void file_unmap(uint8_t *buf, size_t size)
{
	if (buf && size)
		munmap(buf, size);
}

int file_read_all(const char *path, size_t max_size, uint8_t **bufp, size_t *sizep)
{
	size_t size, done = 0;
	uint8_t *buf;
	int fd, err;

	err = file_open_regular(path, max_size, &fd, &size);
	if (err)
		return err;
	buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			free(buf);
			close(fd);
			return err;
		}
		done += (size_t)n;
	}
	close(fd);
	*bufp = buf;
	*sizep = done;
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* no progress: never loop forever */
		p += n;
		len -= n;
	}
	return 0;
}

int size_parse_mib(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	uint64_t mult = SZ_1M;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			mult = SZ_1K;
			break;
		case 'M':
			mult = SZ_1M;
			break;
		case 'G':
			mult = SZ_1G;
			break;
		case 'T':
			mult = SZ_1G * 1024;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end == 'B' || *end == 'b' || (*end == 'i' && end[1] == 'B' && end++))
			end++;
		if (*end)
			return -EINVAL;
	}
	if (__builtin_mul_overflow((uint64_t)v, mult, bytes))
		return -ERANGE;
	return 0;
}
