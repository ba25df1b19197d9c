/* SPDX-License-Identifier: MIT */
/* A thread running an I/O loop: where device work happens, off the vCPUs. */
#ifndef ARMVM_IOTHREAD_H
#define ARMVM_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>

#include "evloop.h"

struct iothread {
	struct evloop loop;
	pthread_t thread;
	bool running;
	char name[16]; /* the thread's name (comm), for ps, top and perf */
};

int iothread_start(struct iothread *t, const char *name);
void iothread_stop(struct iothread *t);

#endif
