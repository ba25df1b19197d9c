/* SPDX-License-Identifier: MIT */
/*
 * The console: this process's terminal wired to the guest's UART. stdin is
 * put in raw mode when it is a terminal (and restored on every exit path,
 * signals included); Ctrl-a x quits, Ctrl-a Ctrl-a sends a Ctrl-a.
 */
#ifndef ARMVM_CONSOLE_H
#define ARMVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evloop;

/*
 * The guest-side end of the console: a UART or a virtio console. rx_push
 * takes what fits and returns how much; when it has room again the device
 * calls console_rx_ready(). The device sends output with console_tx().
 */
struct console_port {
	size_t (*rx_push)(void *opaque, const uint8_t *buf, size_t n);
	void *opaque;
	/* Optional: the output has room again (console_write took less than
	 * asked, or the port held back); called from the loop, unlocked. */
	void (*out_ready)(void *opaque);
};

/*
 * Output never blocks a vCPU or the device lock it holds, and a closed
 * output never kills armvm (SIGPIPE is ignored): bytes go straight to a
 * non-blocking descriptor of stdout when they can, else into a ring that
 * the I/O loop drains when the output is writable again. A full ring
 * drops UART bytes (counted); the virtio console waits for room instead
 * (its driver holds the buffers), through out_ready.
 */
#define CONSOLE_OUT_SIZE (64 * 1024)

enum console_out_kind {
	CONSOLE_OUT_FILE, /* a regular file: writes do not wait */
	CONSOLE_OUT_OWN,  /* our own non-blocking open of the pipe or tty */
	CONSOLE_OUT_SOCK, /* a socket: send(MSG_DONTWAIT) */
	CONSOLE_OUT_FLAG, /* O_NONBLOCK set on the fd itself (restored) */
};

struct console {
	struct evloop *loop;
	struct console_port port;
	void (*quit)(void *opaque);
	void *quit_opaque;
	int in_fd, out_fd;
	int wake_fd;  /* eventfd: the UART has room again */
	bool in_open; /* stdin not at EOF */
	bool reading; /* stdin is in the epoll set */
	bool escape;  /* saw Ctrl-a */
	uint8_t pending[64];
	size_t npending;

	pthread_mutex_t out_lock;
	enum console_out_kind out_kind;
	int out_flags;	  /* CONSOLE_OUT_FLAG: the flags to restore */
	bool out_polled;  /* out_fd is in the loop (EPOLLOUT when needed) */
	bool out_waiting; /* EPOLLOUT armed */
	bool out_closed;  /* EPIPE or an error: output is discarded */
	uint8_t *out_buf; /* ring of CONSOLE_OUT_SIZE */
	size_t out_head, out_len;
	uint64_t out_dropped;
};

/* Put the terminal in raw mode (if stdin is one) and install the handlers
 * that restore it on exit and on fatal signals. Idempotent. */
void term_setup(void);
void term_restore(void);

/* Escape handling on raw input bytes: returns bytes for the guest in out
 * (at most n), sets *quit on Ctrl-a x. Pure; unit-tested. */
size_t console_filter(bool *escape, const uint8_t *in, size_t n, uint8_t *out, bool *quit);

int console_init(struct console *con, struct evloop *loop, const struct console_port *port,
		 void (*quit)(void *), void *opaque);
/* The same on other descriptors than stdin and stdout (tests). */
int console_init_fds(struct console *con, struct evloop *loop, const struct console_port *port,
		     void (*quit)(void *), void *opaque, int in_fd, int out_fd);
/* The port has room for input again (any thread). */
void console_rx_ready(void *opaque);
void console_destroy(struct console *con);
/* UART transmit hook: a byte to the terminal (dropped if the ring is full). */
void console_tx(void *opaque, uint8_t byte);
/* Up to n bytes to the terminal, never blocking: how many were taken
 * (all of them once the output is closed: they are discarded). */
size_t console_write(struct console *con, const void *buf, size_t n);
/* Bytes console_write would take now. */
size_t console_out_room(struct console *con);

#endif
