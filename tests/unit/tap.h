/* SPDX-License-Identifier: MIT */
/*
 * A minimal TAP producer for unit tests, read by `prove`. A failed check
 * prints file:line, what was expected and what came.
 */
#ifndef ARMVM_TAP_H
#define ARMVM_TAP_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                                                     \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (!ok(g_ == w_, __VA_ARGS__))                                                    \
			printf("#   got %lld (0x%llx), want %lld (0x%llx)\n", g_,                  \
			       (unsigned long long)g_, w_, (unsigned long long)w_);                \
	} while (0)

#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!ok(g_ && w_ && !strcmp(g_, w_), __VA_ARGS__))                                 \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)",                    \
			       w_ ? w_ : "(null)");                                                \
	} while (0)

/* err contains the fragment */
#define like(got, frag, ...)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *f_ = (frag);                                              \
		if (!ok(g_ && strstr(g_, f_), __VA_ARGS__))                                        \
			printf("#   got '%s', want it to contain '%s'\n", g_ ? g_ : "(null)", f_); \
	} while (0)

/* A check that cannot run here: counted, reported as a skip, not a pass. */
static inline void skip(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - %s # SKIP ", ++tap_n, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
