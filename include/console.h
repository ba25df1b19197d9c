/* SPDX-License-Identifier: MIT */
/*
 * The console: this process's terminal wired to the guest's UART. stdin is
 * put in raw mode when it is a terminal (and restored on every exit path,
 * signals included); Ctrl-a x quits, Ctrl-a Ctrl-a sends a Ctrl-a.
 */
#ifndef ARMVM_CONSOLE_H
#define ARMVM_CONSOLE_H

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
};

struct console {
	struct evloop *loop;
	struct console_port port;
	void (*quit)(void *opaque);
	void *quit_opaque;
	int in_fd, out_fd;
	int wake_fd;	/* eventfd: the UART has room again */
	bool in_open;	/* stdin not at EOF */
	bool reading;	/* stdin is in the epoll set */
	bool escape;	/* saw Ctrl-a */
	uint8_t pending[64];
	size_t npending;
};

/* Put the terminal in raw mode (if stdin is one) and install the handlers
 * that restore it on exit and on fatal signals. Idempotent. */
void term_setup(void);
void term_restore(void);

/* Escape handling on raw input bytes: returns bytes for the guest in out
 * (at most n), sets *quit on Ctrl-a x. Pure; unit-tested. */
size_t console_filter(bool *escape, const uint8_t *in, size_t n, uint8_t *out,
		      bool *quit);

int console_init(struct console *con, struct evloop *loop,
		 const struct console_port *port, void (*quit)(void *),
		 void *opaque);
/* The port has room for input again (any thread). */
void console_rx_ready(void *opaque);
void console_destroy(struct console *con);
/* UART transmit hook: write a byte to the terminal. */
void console_tx(void *opaque, uint8_t byte);

#endif
