// SPDX-License-Identifier: MIT
/*
 * seccomp filters per thread kind (see jail.h). The lists are what each
 * kind of thread calls, read from the code and checked in the lab: every
 * lab guest (disks on each engine, net on vhost and in armvm, both
 * consoles, reboot, signals) runs under them.
 *
 * Each filter is a classic BPF program that armvm writes itself (an allow
 * list needs no compiler): check the architecture, then look the call's
 * number up in a 512-bit map of the kind's calls, 32 bits at a time. The
 * program is ~60 instructions and runs ~20 per call; building all three
 * takes microseconds where libseccomp took milliseconds of the start-up
 * path (and the kernel takes less to check and load a short program).
 */
#include "jail.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

#if defined(__aarch64__)
#define JAIL_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "armvm's seccomp filters are written for arm64"
#endif

/* Every thread: memory, locks, time, signals, its own end, logging. */
static const int jail_common[] = {
	__NR_read,
	__NR_write,
	__NR_readv,
	__NR_writev,
	__NR_close,
	__NR_futex,
	__NR_brk,
	__NR_mmap,
	__NR_munmap,
	__NR_mremap,
	__NR_madvise,
	__NR_mprotect,
	__NR_clock_gettime,
	__NR_clock_nanosleep,
	__NR_nanosleep,
	__NR_getpid,
	__NR_gettid,
	__NR_tgkill,
	__NR_rt_sigreturn,
	__NR_rt_sigprocmask,
	__NR_rt_sigaction,
	__NR_sigaltstack,
	__NR_restart_syscall,
	__NR_exit,
	__NR_exit_group,
	__NR_sched_yield,
	__NR_epoll_ctl,
	__NR_ioctl,
	__NR_getrandom,
	__NR_sendto,
	__NR_fstat,
	__NR_newfstatat,
	__NR_statx,
	__NR_set_robust_list,
	__NR_rseq,
	__NR_sched_getaffinity,
	__NR_lseek, /* stdio on a redirected stderr, from any thread's log line */
	-1,
};

/*
 * A vCPU thread: KVM_RUN and the ioctls of its exits (ioctl is in the
 * common list: KVM, vhost and tap ioctls are all on fds armvm opened), and
 * the device work an exit can start: a device reset drains its block I/O,
 * an RTC write re-arms a timer.
 */
static const int jail_vcpu[] = {
	__NR_io_uring_enter,  __NR_io_getevents,
	__NR_io_pgetevents,   __NR_io_submit,
	__NR_timerfd_settime, __NR_timerfd_gettime,
	__NR_ppoll,	      __NR_pread64,
	__NR_pwrite64,	      -1,
};

/* An I/O thread: the event loop and the block and network back-ends. */
static const int jail_io[] = {
	__NR_epoll_pwait,
	__NR_io_uring_enter,
	__NR_io_getevents,
	__NR_io_pgetevents,
	__NR_io_submit,
	__NR_preadv,
	__NR_pwritev,
	__NR_preadv2,
	__NR_pwritev2,
	__NR_pread64,
	__NR_pwrite64,
	__NR_fdatasync,
	__NR_fsync,
	__NR_fallocate,
	__NR_fcntl,
	__NR_timerfd_settime,
	__NR_timerfd_gettime,
	__NR_ppoll,
	-1,
};

/*
 * The main thread: the I/O loop of the console and signals, the end of
 * the run, and a whole new machine on a guest reboot (files, KVM, memory,
 * threads, rings, the tap).
 */
static const int jail_main[] = {
	__NR_epoll_pwait,
	__NR_epoll_create1,
	__NR_eventfd2,
	__NR_signalfd4,
	__NR_timerfd_create,
	__NR_timerfd_settime,
	__NR_timerfd_gettime,
	__NR_openat,
	__NR_faccessat,
	__NR_faccessat2,
	__NR_readlinkat,
	__NR_getdents64,
	__NR_lseek,
	__NR_pread64,
	__NR_pwrite64,
	__NR_preadv,
	__NR_pwritev,
	__NR_fcntl,
	__NR_dup,
	__NR_dup3,
	__NR_pipe2,
	__NR_ppoll,
	__NR_pselect6,
	__NR_fsync,
	__NR_fdatasync,
	__NR_fallocate,
	__NR_unlinkat,
	__NR_renameat,
	__NR_renameat2,
	__NR_mkdirat,
	__NR_clone,
	__NR_clone3,
	__NR_wait4,
	__NR_kill,
	__NR_prctl,
	__NR_sysinfo,
	__NR_uname,
	__NR_getuid,
	__NR_geteuid,
	__NR_getgid,
	__NR_getegid,
	__NR_prlimit64,
	__NR_socket,
	__NR_io_uring_setup,
	__NR_io_uring_enter,
	__NR_io_uring_register,
	__NR_io_setup,
	__NR_io_destroy,
	__NR_io_submit,
	__NR_io_getevents,
	__NR_io_pgetevents,
	__NR_tkill,
	__NR_ftruncate,
	__NR_sched_setaffinity,
	__NR_membarrier,
	/* threads it starts after a reboot install their own filters */
	__NR_seccomp,
	/* the control socket's clients */
	__NR_accept4,
	__NR_getsockopt,
	__NR_recvfrom,
	-1,
};

static const int *const jail_lists[JAIL_NR][3] = {
	[JAIL_MAIN] = { jail_common, jail_main, jail_io },
	[JAIL_VCPU] = { jail_common, jail_vcpu, NULL },
	[JAIL_IO] = { jail_common, jail_io, NULL },
};

static const char *const jail_kind_names[JAIL_NR] = { "main", "vCPU", "I/O" };

/* Every call this architecture has, by number, for the SIGSYS report
 * (build/gen/syscall_names.h: made from <asm/unistd.h> by the Makefile). */
static const char *const jail_names[JAIL_MAX_NR] = {
#include "syscall_names.h"
};

/*
 * The programs, built by jail_prepare before any other thread starts and
 * only read after. Process-wide by nature (one seccomp policy per
 * process); the SIGSYS handler reads which kind the thread is.
 */
static bool jail_on;
static struct sock_filter jail_code[JAIL_NR][JAIL_PROG_MAX];
static struct sock_fprog jail_progs[JAIL_NR];
static __thread int jail_kind_of_thread = -1;

const char *jail_syscall_name(int nr)
{
	return nr >= 0 && nr < JAIL_MAX_NR && jail_names[nr] ? jail_names[nr] : "?";
}

bool jail_allows(enum jail_kind kind, int nr)
{
	for (int l = 0; kind < JAIL_NR && l < 3; l++) {
		for (const int *c = jail_lists[kind][l]; c && *c >= 0; c++) {
			if (*c == nr)
				return true;
		}
	}
	return false;
}

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))

size_t jail_build(enum jail_kind kind, struct sock_filter *p, size_t cap)
{
	uint32_t map[JAIL_MAX_NR / 32] = { 0 };
	size_t n = 0, test;

	if (kind >= JAIL_NR || cap < JAIL_PROG_MAX)
		return 0;
	for (int l = 0; l < 3; l++) {
		for (const int *c = jail_lists[kind][l]; c && *c >= 0; c++) {
			if (*c < JAIL_MAX_NR)
				map[*c / 32] |= 1u << (*c % 32);
		}
	}
	/* Another architecture's calls have other numbers: kill outright. */
	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, JAIL_AUDIT_ARCH, 1, 0);
	p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	p[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, JAIL_MAX_NR, 0, 1);
	p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	/* X = the call's bit in its word, A = the word's index. */
	p[n++] = STMT(BPF_ST, 0);
	p[n++] = STMT(BPF_ALU | BPF_AND | BPF_K, 31);
	p[n++] = STMT(BPF_MISC | BPF_TAX, 0);
	p[n++] = STMT(BPF_LD | BPF_MEM, 0);
	p[n++] = STMT(BPF_ALU | BPF_RSH | BPF_K, 5);
	/* Each word with a call in it: load it, then test the bit. */
	test = n;
	for (uint32_t w = 0; w < JAIL_MAX_NR / 32; w++)
		test += map[w] ? 3 : 0;
	test += 1;
	for (uint32_t w = 0; w < JAIL_MAX_NR / 32; w++) {
		if (!map[w])
			continue;
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, w, 0, 2);
		p[n++] = STMT(BPF_LD | BPF_IMM, map[w]);
		p[n] = STMT(BPF_JMP | BPF_JA, (uint32_t)(test - n - 1));
		n++;
	}
	p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	p[n++] = STMT(BPF_ALU | BPF_RSH | BPF_X, 0);
	p[n++] = STMT(BPF_ALU | BPF_AND | BPF_K, 1);
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
	p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return n;
}

/* Async-signal-safe pieces of the report. */
static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	int n = 0;

	if (v < 0) {
		at = put_str(buf, at, cap, "-");
		v = -v;
	}
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(tmp));
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

static void jail_sigsys(int sig, siginfo_t *si, void *uc)
{
	int kind = jail_kind_of_thread;
	char msg[256];
	size_t n = 0;

	(void)uc;
	n = put_str(msg, n, sizeof(msg), "armvm: error: seccomp: the ");
	n = put_str(msg, n, sizeof(msg), kind >= 0 && kind < JAIL_NR ? jail_kind_names[kind] : "?");
	n = put_str(msg, n, sizeof(msg), " thread called ");
	n = put_str(msg, n, sizeof(msg), jail_syscall_name(si->si_syscall));
	n = put_str(msg, n, sizeof(msg), " (system call ");
	n = put_num(msg, n, sizeof(msg), si->si_syscall);
	n = put_str(
		msg, n, sizeof(msg),
		"), which its filter does not allow: a bug in armvm; --no-seccomp works around it\r\n");
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* nothing more to do */
	}
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int jail_prepare(char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = jail_sigsys, .sa_flags = SA_SIGINFO };

	if (jail_on)
		return 0;
	for (int k = 0; k < JAIL_NR; k++) {
		size_t n = jail_build((enum jail_kind)k, jail_code[k], JAIL_PROG_MAX);

		if (!n)
			return errmsg(err, errlen, -EINVAL, "seccomp: cannot build the %s filter",
				      jail_kind_names[k]);
		jail_progs[k] =
			(struct sock_fprog){ .len = (unsigned short)n, .filter = jail_code[k] };
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return errmsg(err, errlen, -errno, "seccomp: cannot catch SIGSYS: %s",
			      strerror(errno));
	jail_on = true;
	return 0;
}

int jail_enter(enum jail_kind kind)
{
	sigset_t sys;

	if (!jail_on || kind >= JAIL_NR || jail_kind_of_thread >= 0)
		return 0;
	/* A blocked SIGSYS would kill without the report. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &jail_progs[kind]))
		return -errno;
	jail_kind_of_thread = (int)kind;
	return 0;
}
