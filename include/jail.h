/* SPDX-License-Identifier: MIT */
/*
 * Least privilege after set-up: a seccomp filter per thread kind, each
 * allowing only the system calls that kind of thread makes (Firecracker's
 * per-thread filters are the model). A call outside the list is not
 * executed: the thread gets SIGSYS, armvm prints which thread made which
 * call, restores the terminal, and dies of SIGSYS. `--no-seccomp` leaves
 * every thread unfiltered (for debugging).
 *
 * Filters stack and are inherited by threads created later, so the main
 * thread's list (it builds a fresh machine on a guest reboot) holds the
 * others: an I/O or vCPU thread it starts keeps the stricter of the two.
 */
#ifndef ARMVM_JAIL_H
#define ARMVM_JAIL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

enum jail_kind { JAIL_MAIN, JAIL_VCPU, JAIL_IO, JAIL_NR };

/* Calls the filters know by number (arm64 has ~460); any above: refused. */
#define JAIL_MAX_NR 512
/* The longest program jail_build writes. */
#define JAIL_PROG_MAX 72

/*
 * Turn jailing on for this process (main thread, before any other thread
 * starts): the three programs and the SIGSYS reporter. Without it,
 * jail_enter does nothing. 0, or a negative errno with err set.
 */
int jail_prepare(char *err, size_t errlen);
/* Filter the calling thread as a `kind` thread (once per thread). */
int jail_enter(enum jail_kind kind);
/* The call a jailed thread could not make, as the message names it. */
const char *jail_syscall_name(int nr);
/* Whether a `kind` thread may make call nr (from the lists, not the program). */
bool jail_allows(enum jail_kind kind, int nr);
/*
 * Write `kind`'s seccomp program (classic BPF) to p, which has room for
 * cap >= JAIL_PROG_MAX instructions: allow the kind's calls, SIGSYS for
 * any other, kill the process for another architecture's calls. Its
 * length, or 0 for a bad kind or a short buffer.
 */
size_t jail_build(enum jail_kind kind, struct sock_filter *p, size_t cap);

#endif
