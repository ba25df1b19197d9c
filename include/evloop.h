/* SPDX-License-Identifier: MIT */
/*
 * An epoll loop for the VMM's I/O thread: console input, timers, device
 * back-ends. Callbacks run on the loop's thread, never on a vCPU thread.
 * add/mod/del may be called from any thread, and del from a callback: a
 * deleted handler is not called again, and is freed only when the loop is
 * between two batches of events (one may still name it).
 */
#ifndef ARMVM_EVLOOP_H
#define ARMVM_EVLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef void (*evloop_fn)(void *opaque, uint32_t events);

struct evloop_handler;

struct evloop {
	int epfd;
	int wake_fd;	      /* eventfd: evloop_stop() */
	_Atomic bool stop;    /* set from any thread or a signal handler */
	pthread_mutex_t lock; /* the lists */
	struct evloop_handler *handlers;
	struct evloop_handler *deleted; /* freed between batches */
};

int evloop_init(struct evloop *loop);
void evloop_destroy(struct evloop *loop);
/* Watch fd for events (EPOLLIN...); fn(opaque, revents) on each. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque);
int evloop_mod(struct evloop *loop, int fd, uint32_t events);
int evloop_del(struct evloop *loop, int fd);
/* Run until evloop_stop(); returns 0 or a negative errno. */
int evloop_run(struct evloop *loop);
/* Safe from any thread and from a signal handler. */
void evloop_stop(struct evloop *loop);

#endif
