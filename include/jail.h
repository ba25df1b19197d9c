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

#include <stddef.h>

enum jail_kind { JAIL_MAIN, JAIL_VCPU, JAIL_IO, JAIL_NR };

/*
 * Turn jailing on for this process (main thread, before any other thread
 * starts): the SIGSYS reporter and the table of call names. Without it,
 * jail_enter does nothing. 0, or a negative errno with err set.
 */
int jail_prepare(char *err, size_t errlen);
/* Filter the calling thread as a `kind` thread (once per thread). */
int jail_enter(enum jail_kind kind);
/* The call a jailed thread could not make, as the message names it. */
const char *jail_syscall_name(int nr);

#endif
