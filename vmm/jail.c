// SPDX-License-Identifier: MIT
/*
 * seccomp filters per thread kind (see jail.h), with libseccomp. The lists
 * are what each kind of thread calls, read from the code and checked in
 * the lab: every lab guest (disks on each engine, net on vhost and in
 * armvm, both consoles, reboot, signals) runs under them.
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

#define JAIL_MAX_NR 512

/* Every thread: memory, locks, time, signals, its own end, logging. */
static const char *const jail_common[] = {
	"read",
	"write",
	"readv",
	"writev",
	"close",
	"futex",
	"brk",
	"mmap",
	"munmap",
	"mremap",
	"madvise",
	"mprotect",
	"clock_gettime",
	"clock_nanosleep",
	"nanosleep",
	"getpid",
	"gettid",
	"tgkill",
	"rt_sigreturn",
	"rt_sigprocmask",
	"rt_sigaction",
	"sigaltstack",
	"restart_syscall",
	"exit",
	"exit_group",
	"sched_yield",
	"epoll_ctl",
	"ioctl",
	"getrandom",
	"sendto",
	"fstat",
	"newfstatat",
	"statx",
	"set_robust_list",
	"rseq",
	"sched_getaffinity",
	"lseek", /* stdio on a redirected stderr, from any thread's log line */
	NULL,
};

/*
 * A vCPU thread: KVM_RUN and the ioctls of its exits (ioctl is in the
 * common list: KVM, vhost and tap ioctls are all on fds armvm opened), and
 * the device work an exit can start: a device reset drains its block I/O,
 * an RTC write re-arms a timer.
 */
static const char *const jail_vcpu[] = {
	"io_uring_enter",  "io_getevents", "io_pgetevents", "io_submit", "timerfd_settime",
	"timerfd_gettime", "ppoll",	   "pread64",	    "pwrite64",	 NULL,
};

/* An I/O thread: the event loop and the block and network back-ends. */
static const char *const jail_io[] = {
	"epoll_pwait", "epoll_wait",	  "io_uring_enter",  "io_getevents", "io_pgetevents",
	"io_submit",   "preadv",	  "pwritev",	     "preadv2",	     "pwritev2",
	"pread64",     "pwrite64",	  "fdatasync",	     "fsync",	     "fallocate",
	"fcntl",       "timerfd_settime", "timerfd_gettime", "ppoll",	     NULL,
};

/*
 * The main thread: the I/O loop of the console and signals, the end of
 * the run, and a whole new machine on a guest reboot (files, KVM, memory,
 * threads, rings, the tap).
 */
static const char *const jail_main[] = {
	"epoll_pwait",
	"epoll_wait",
	"epoll_create1",
	"eventfd2",
	"signalfd4",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"openat",
	"faccessat",
	"faccessat2",
	"readlinkat",
	"getdents64",
	"lseek",
	"pread64",
	"pwrite64",
	"preadv",
	"pwritev",
	"fcntl",
	"dup",
	"dup3",
	"pipe2",
	"ppoll",
	"pselect6",
	"fsync",
	"fdatasync",
	"fallocate",
	"unlinkat",
	"renameat",
	"renameat2",
	"mkdirat",
	"clone",
	"clone3",
	"wait4",
	"kill",
	"prctl",
	"sysinfo",
	"uname",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"prlimit64",
	"socket",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"io_setup",
	"io_destroy",
	"io_submit",
	"io_getevents",
	"io_pgetevents",
	"tkill",
	"ftruncate",
	"sched_setaffinity",
	"membarrier",
	/* threads it starts after a reboot install their own filters */
	"seccomp",
	/* the control socket's clients */
	"accept4",
	"getsockopt",
	"recvfrom",
	NULL,
};

static const char *const *const jail_lists[JAIL_NR][3] = {
	[JAIL_MAIN] = { jail_common, jail_main, jail_io },
	[JAIL_VCPU] = { jail_common, jail_vcpu, NULL },
	[JAIL_IO] = { jail_common, jail_io, NULL },
};

static const char *const jail_kind_names[JAIL_NR] = { "main", "vCPU", "I/O" };

/* Process-wide by nature (one seccomp policy per process), and the
 * SIGSYS handler must reach them. The names and the compiled programs are
 * written by the compiling thread, read only after jail_ready says so. */
static bool jail_on;
static char *jail_names[JAIL_MAX_NR];
static __thread int jail_kind_of_thread = -1;

/*
 * The filters are compiled once, by a thread started in jail_prepare, while
 * the main thread builds the machine (libseccomp's compile and the name
 * table cost milliseconds, on the start-up path if done there and once per
 * thread if done in jail_enter); each thread then loads its kind's program.
 */
static struct sock_fprog jail_progs[JAIL_NR];
static int jail_compile_err;
/* The compiling thread's pipe (libseccomp 2.5 exports only to a file
 * descriptor), opened by jail_prepare: the thread needs no descriptor of
 * its own, so a low RLIMIT_NOFILE fails once, there, not in a race with
 * the machine's set-up. Non-blocking: a filter too large for the pipe is
 * an error, not a hang. */
static int jail_pipe[2] = { -1, -1 };
static bool jail_compiled;
static pthread_t jail_compiler;
static pthread_mutex_t jail_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jail_cond = PTHREAD_COND_INITIALIZER;

const char *jail_syscall_name(int nr)
{
	return nr >= 0 && nr < JAIL_MAX_NR && jail_names[nr] ? jail_names[nr] : "?";
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

/* One kind's filter, compiled by libseccomp into a BPF program of ours. */
static int jail_compile(enum jail_kind kind, struct sock_fprog *prog)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int err = 0;
	uint8_t buf[32768];
	ssize_t n = 0;

	if (!ctx)
		return -ENOMEM;
	for (int l = 0; l < 3 && !err; l++) {
		const char *const *list = jail_lists[kind][l];

		for (int i = 0; list && list[i] && !err; i++) {
			int nr = seccomp_syscall_resolve_name(list[i]);

			if (nr != __NR_SCMP_ERROR)
				err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		}
	}
	if (!err)
		err = seccomp_export_bpf(ctx, jail_pipe[1]);
	if (!err) {
		n = read(jail_pipe[0], buf, sizeof(buf));
		if (n <= 0 || n % sizeof(struct sock_filter) || n == sizeof(buf))
			err = -EIO;
	}
	if (!err) {
		prog->filter = malloc((size_t)n);
		if (!prog->filter)
			err = -ENOMEM;
	}
	if (!err) {
		memcpy(prog->filter, buf, (size_t)n);
		prog->len = (unsigned short)(n / sizeof(struct sock_filter));
	}
	seccomp_release(ctx);
	return err;
}

static void *jail_compile_all(void *arg)
{
	int err = 0;

	(void)arg;
	for (int nr = 0; nr < JAIL_MAX_NR; nr++)
		jail_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	for (int k = 0; k < JAIL_NR && !err; k++)
		err = jail_compile((enum jail_kind)k, &jail_progs[k]);
	close(jail_pipe[0]);
	close(jail_pipe[1]);
	jail_pipe[0] = jail_pipe[1] = -1;
	pthread_mutex_lock(&jail_lock);
	jail_compile_err = err;
	jail_compiled = true;
	pthread_cond_broadcast(&jail_cond);
	pthread_mutex_unlock(&jail_lock);
	return NULL;
}

/* Wait for the compiling thread; its error, if any. */
static int jail_ready(void)
{
	int err;

	pthread_mutex_lock(&jail_lock);
	while (!jail_compiled)
		pthread_cond_wait(&jail_cond, &jail_lock);
	err = jail_compile_err;
	pthread_mutex_unlock(&jail_lock);
	return err;
}

int jail_prepare(char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = jail_sigsys, .sa_flags = SA_SIGINFO };
	int ret;

	if (jail_on)
		return 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return errmsg(err, errlen, -errno, "seccomp: cannot catch SIGSYS: %s",
			      strerror(errno));
	if (pipe2(jail_pipe, O_CLOEXEC | O_NONBLOCK))
		return errmsg(err, errlen, -errno, "seccomp: cannot compile the filters: %s",
			      strerror(errno));
	ret = pthread_create(&jail_compiler, NULL, jail_compile_all, NULL);
	if (ret) {
		close(jail_pipe[0]);
		close(jail_pipe[1]);
		jail_pipe[0] = jail_pipe[1] = -1;
		return errmsg(err, errlen, -ret, "seccomp: cannot start compiling the filters: %s",
			      strerror(ret));
	}
	pthread_detach(jail_compiler);
	jail_on = true;
	return 0;
}

int jail_enter(enum jail_kind kind)
{
	sigset_t sys;
	int err;

	if (!jail_on || kind >= JAIL_NR || jail_kind_of_thread >= 0)
		return 0;
	err = jail_ready();
	if (err)
		return err;
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
