// SPDX-License-Identifier: MIT
#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "evloop.h"
#include "util.h"

#define CTRL_A 0x01

/*
 * The saved terminal state is process-wide by nature (there is one
 * terminal), and the fatal-signal handler must reach it: so it is static.
 */
static struct termios term_saved;
static volatile sig_atomic_t term_is_raw;

void term_restore(void)
{
	if (term_is_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &term_saved);
		term_is_raw = 0;
	}
}

static void term_fatal_signal(int sig)
{
	/* tcsetattr is async-signal-safe; then die of the same signal. */
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void term_setup(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
				     SIGQUIT };
	struct termios raw;

	if (term_is_raw || !isatty(STDIN_FILENO) ||
	    tcgetattr(STDIN_FILENO, &term_saved) < 0)
		return;
	raw = term_saved;
	/* As kvmtool: no line editing, echo or signals; output unchanged. */
	raw.c_iflag &= ~(ICRNL | IXON | IXOFF | INLCR | IGNCR);
	raw.c_lflag &= ~(ICANON | ECHO | ISIG | IEXTEN);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++) {
		struct sigaction sa = { .sa_handler = term_fatal_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
	atexit(term_restore);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		term_is_raw = 1;
}

size_t console_filter(bool *escape, const uint8_t *in, size_t n, uint8_t *out,
		      bool *quit)
{
	size_t o = 0;

	*quit = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (*escape) {
			*escape = false;
			if (c == 'x') {
				*quit = true;
				return o;
			}
			if (c != CTRL_A) /* unknown escape: pass both on */
				out[o++] = CTRL_A;
			out[o++] = c;
		} else if (c == CTRL_A) {
			*escape = true;
		} else {
			out[o++] = c;
		}
	}
	return o;
}

static void console_set_reading(struct console *con, bool on)
{
	if (!con->in_open || con->reading == on)
		return;
	if (evloop_mod(con->loop, con->in_fd, on ? EPOLLIN : 0) == 0)
		con->reading = on;
}

/* Push what is pending into the UART; read more only when it is empty. */
static void console_flush(struct console *con)
{
	size_t n = con->port.rx_push(con->port.opaque, con->pending, con->npending);

	memmove(con->pending, con->pending + n, con->npending - n);
	con->npending -= n;
	console_set_reading(con, con->npending == 0);
}

static void console_input(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	uint8_t buf[sizeof(con->pending)];
	bool quit;
	ssize_t n;

	(void)events;
	/* One byte of slack: a Ctrl-a carried over can add one output byte. */
	n = read(con->in_fd, buf, sizeof(buf) - 1 - con->npending);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF (or a dead terminal): the guest keeps running. */
		evloop_del(con->loop, con->in_fd);
		con->in_open = con->reading = false;
		return;
	}
	con->npending += console_filter(&con->escape, buf, (size_t)n,
					con->pending + con->npending, &quit);
	if (quit) {
		con->quit(con->quit_opaque);
		return;
	}
	console_flush(con);
}

static void console_wake(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	uint64_t v;

	(void)events;
	if (read(con->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	console_flush(con);
}

/* From the device (any thread, its lock held): just signal the loop. */
void console_rx_ready(void *opaque)
{
	struct console *con = opaque;
	uint64_t one = 1;

	if (write(con->wake_fd, &one, sizeof(one)) < 0) {
		/* Already signalled: the counter cannot overflow in practice. */
	}
}

void console_tx(void *opaque, uint8_t byte)
{
	struct console *con = opaque;

	/* A closed or full output must never stop the guest: drop bytes. */
	if (write(con->out_fd, &byte, 1) < 0) {
	}
}

int console_init(struct console *con, struct evloop *loop,
		 const struct console_port *port, void (*quit)(void *),
		 void *opaque)
{
	int err;

	memset(con, 0, sizeof(*con));
	con->loop = loop;
	con->port = *port;
	con->quit = quit;
	con->quit_opaque = opaque;
	con->in_fd = STDIN_FILENO;
	con->out_fd = STDOUT_FILENO;
	con->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->wake_fd < 0)
		return -errno;
	err = evloop_add(loop, con->wake_fd, EPOLLIN, console_wake, con);
	if (err) {
		close(con->wake_fd);
		return err;
	}
	/* epoll refuses regular files and /dev/null (EPERM): no input then. */
	if (evloop_add(loop, con->in_fd, EPOLLIN, console_input, con) == 0)
		con->in_open = con->reading = true;
	return 0;
}

void console_destroy(struct console *con)
{
	if (con->in_open)
		evloop_del(con->loop, con->in_fd);
	if (con->wake_fd >= 0) {
		evloop_del(con->loop, con->wake_fd);
		close(con->wake_fd);
	}
	con->wake_fd = -1;
	con->in_open = false;
}
