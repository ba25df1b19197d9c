// SPDX-License-Identifier: MIT
/*
 * The seccomp jail (vmm/jail.c) catches a forbidden call: a child process
 * jails a thread of each kind and makes a call that kind may not make; it
 * must die of SIGSYS, having said which thread called what. A call on the
 * list goes through.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "tap.h"

/* Run fn in a child with stderr to a pipe: its status and what it said. */
static int in_child(void (*fn)(enum jail_kind), enum jail_kind kind, char *out, size_t cap)
{
	int p[2], status = -1;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		fn(kind);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, cap - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = 0;
	close(p[0]);
	waitpid(pid, &status, 0);
	return status;
}

static void forbidden(enum jail_kind kind)
{
	char err[128];

	if (jail_prepare(err, sizeof(err)) || jail_enter(kind))
		_exit(3);
	/* No armvm thread mounts anything. */
	syscall(SYS_umount2, "/nonexistent", 0);
	_exit(0); /* not reached if the filter works */
}

static void allowed(enum jail_kind kind)
{
	char err[128], buf[8];

	if (jail_prepare(err, sizeof(err)) || jail_enter(kind))
		_exit(3);
	/* read, write and getrandom are on every list. */
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf) || write(STDERR_FILENO, "", 0) < 0)
		_exit(4);
	_exit(0);
}

int main(void)
{
	static const char *const names[] = { "main", "vCPU", "I/O" };
	char out[1024];

	for (int k = 0; k < JAIL_NR; k++) {
		int st = in_child(forbidden, (enum jail_kind)k, out, sizeof(out));

		ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
		   "%s thread: a forbidden call (umount2) kills with SIGSYS (status 0x%x)",
		   names[k], st);
		like(out, "the ", "%s thread: the message names the thread", names[k]);
		ok(strstr(out, names[k]) && strstr(out, "umount2") && strstr(out, "--no-seccomp"),
		   "%s thread: ... and the call, and the way around it: %s", names[k], out);
		st = in_child(allowed, (enum jail_kind)k, out, sizeof(out));
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "%s thread: allowed calls go through (status 0x%x)", names[k], st);
	}
	return tap_done();
}
