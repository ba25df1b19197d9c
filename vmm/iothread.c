// SPDX-License-Identifier: MIT
#include "iothread.h"
#include "jail.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;
	sigset_t all;

	/* Signals are the main thread's (signalfd) and the vCPUs' (kicks). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_NAME, t->name);
	if (jail_enter(JAIL_IO))
		pr_err("I/O thread: cannot install its seccomp filter");
	evloop_run(&t->loop);
	return NULL;
}

int iothread_start(struct iothread *t, const char *name)
{
	int err;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	err = evloop_init(&t->loop);
	if (err)
		return err;
	err = pthread_create(&t->thread, NULL, iothread_main, t);
	if (err) {
		evloop_destroy(&t->loop);
		return -err;
	}
	t->running = true;
	return 0;
}

void iothread_stop(struct iothread *t)
{
	if (!t->running)
		return;
	evloop_stop(&t->loop);
	pthread_join(t->thread, NULL);
	evloop_destroy(&t->loop);
	t->running = false;
}
