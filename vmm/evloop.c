// SPDX-License-Identifier: MIT
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evloop_handler {
	int fd;
	evloop_fn fn;
	void *opaque;
	bool dead; /* deleted: not to be called */
	struct evloop_handler *next;
};

static void free_list(struct evloop_handler *h)
{
	while (h) {
		struct evloop_handler *next = h->next;

		free(h);
		h = next;
	}
}

int evloop_init(struct evloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->wake_fd = -1;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		int err = -errno;

		close(loop->epfd);
		return err;
	}
	return evloop_add(loop, loop->wake_fd, EPOLLIN, NULL, NULL);
}

void evloop_destroy(struct evloop *loop)
{
	free_list(loop->handlers);
	free_list(loop->deleted);
	pthread_mutex_destroy(&loop->lock);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	memset(loop, 0, sizeof(*loop));
	loop->epfd = loop->wake_fd = -1;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct evloop_handler *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = events };

	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->fn = fn;
	h->opaque = opaque;
	ev.data.ptr = h;
	pthread_mutex_lock(&loop->lock);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		pthread_mutex_unlock(&loop->lock);
		free(h);
		return err;
	}
	h->next = loop->handlers;
	loop->handlers = h;
	pthread_mutex_unlock(&loop->lock);
	return 0;
}

static struct evloop_handler *evloop_find(struct evloop *loop, int fd)
{
	for (struct evloop_handler *h = loop->handlers; h; h = h->next)
		if (h->fd == fd)
			return h;
	return NULL;
}

int evloop_mod(struct evloop *loop, int fd, uint32_t events)
{
	struct evloop_handler *h;
	struct epoll_event ev = { .events = events };
	int ret = -ENOENT;

	pthread_mutex_lock(&loop->lock);
	h = evloop_find(loop, fd);
	if (h) {
		ev.data.ptr = h;
		ret = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int evloop_del(struct evloop *loop, int fd)
{
	struct evloop_handler **pp;

	pthread_mutex_lock(&loop->lock);
	for (pp = &loop->handlers; *pp; pp = &(*pp)->next) {
		struct evloop_handler *h = *pp;

		if (h->fd != fd)
			continue;
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		*pp = h->next;
		__atomic_store_n(&h->dead, true, __ATOMIC_RELEASE);
		h->next = loop->deleted;
		loop->deleted = h;
		pthread_mutex_unlock(&loop->lock);
		return 0;
	}
	pthread_mutex_unlock(&loop->lock);
	return -ENOENT;
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event evs[16];

	while (!loop->stop) {
		struct evloop_handler *dead;
		int n;

		/* No event of the last batch names a deleted handler now. */
		pthread_mutex_lock(&loop->lock);
		dead = loop->deleted;
		loop->deleted = NULL;
		pthread_mutex_unlock(&loop->lock);
		free_list(dead);
		n = epoll_wait(loop->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct evloop_handler *h = evs[i].data.ptr;

			if (h->fn && !__atomic_load_n(&h->dead, __ATOMIC_ACQUIRE))
				h->fn(h->opaque, evs[i].events);
		}
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	loop->stop = true;
	if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter can only be full if it was already signalled. */
	}
}
