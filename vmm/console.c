// SPDX-License-Identifier: MIT
#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGQUIT };
	struct termios raw;

	if (term_is_raw || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &term_saved) < 0)
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

size_t console_filter(bool *escape, const uint8_t *in, size_t n, uint8_t *out, bool *quit)
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
	con->npending +=
		console_filter(&con->escape, buf, (size_t)n, con->pending + con->npending, &quit);
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

/* ---- output ----------------------------------------------------------- */

/* One non-blocking write: bytes taken, 0 if the output is full, -1 if it
 * is gone (EPIPE, or any other error). */
static ssize_t out_try(struct console *con, const uint8_t *buf, size_t n)
{
	ssize_t w;

	do {
		if (con->out_kind == CONSOLE_OUT_SOCK)
			w = send(con->out_fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(con->out_fd, buf, n);
	} while (w < 0 && errno == EINTR);
	if (w >= 0)
		return w;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return -1;
}

static void out_close(struct console *con)
{
	if (!con->out_closed)
		pr_warn("console output closed (%s): the guest's output is discarded from here on",
			strerror(errno));
	con->out_closed = true;
	con->out_len = 0;
}

/* Write what the ring holds (out_lock held); true if it is empty now. */
static bool out_drain(struct console *con)
{
	while (con->out_len && !con->out_closed) {
		size_t first = MIN(con->out_len, CONSOLE_OUT_SIZE - con->out_head);
		ssize_t w = out_try(con, con->out_buf + con->out_head, first);

		if (w < 0)
			out_close(con);
		if (w <= 0)
			break;
		con->out_head = (con->out_head + (size_t)w) % CONSOLE_OUT_SIZE;
		con->out_len -= (size_t)w;
	}
	return con->out_len == 0;
}

static void out_watch(struct console *con, bool on)
{
	if (!con->out_polled || con->out_waiting == on)
		return;
	if (evloop_mod(con->loop, con->out_fd, on ? EPOLLOUT : 0) == 0)
		con->out_waiting = on;
}

size_t console_write(struct console *con, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	size_t done = 0;

	pthread_mutex_lock(&con->out_lock);
	if (!con->out_closed && !con->out_len) {
		/* Nothing waits: straight out, in order. */
		ssize_t w = out_try(con, p, n);

		if (w < 0)
			out_close(con);
		else
			done = (size_t)w;
	}
	if (con->out_closed) {
		done = n; /* discarded: the guest never waits on a closed output */
	} else {
		while (done < n && con->out_len < CONSOLE_OUT_SIZE) {
			size_t tail = (con->out_head + con->out_len) % CONSOLE_OUT_SIZE;
			size_t k = MIN(n - done, MIN(CONSOLE_OUT_SIZE - con->out_len,
						     CONSOLE_OUT_SIZE - tail));

			memcpy(con->out_buf + tail, p + done, k);
			con->out_len += k;
			done += k;
		}
		if (con->out_len && con->out_kind == CONSOLE_OUT_FILE)
			out_drain(con); /* a file takes it all, no loop needed */
		out_watch(con, con->out_len > 0);
	}
	pthread_mutex_unlock(&con->out_lock);
	return done;
}

size_t console_out_room(struct console *con)
{
	size_t room;

	pthread_mutex_lock(&con->out_lock);
	room = con->out_closed ? SIZE_MAX : CONSOLE_OUT_SIZE - con->out_len;
	pthread_mutex_unlock(&con->out_lock);
	return room;
}

/* The output is writable again (on the loop). */
static void console_output(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	void (*ready)(void *) = NULL;
	void *ready_opaque = NULL;

	(void)events;
	pthread_mutex_lock(&con->out_lock);
	if (out_drain(con)) {
		out_watch(con, false);
		ready = con->port.out_ready;
		ready_opaque = con->port.opaque;
	}
	pthread_mutex_unlock(&con->out_lock);
	/* Without our lock: the device takes its own, which it holds when
	 * it calls console_write. */
	if (ready)
		ready(ready_opaque);
}

void console_tx(void *opaque, uint8_t byte)
{
	struct console *con = opaque;

	/* A full ring drops the byte: the UART never stops the guest. */
	if (!console_write(con, &byte, 1))
		__atomic_add_fetch(&con->out_dropped, 1, __ATOMIC_RELAXED);
}

/*
 * A descriptor of the output we may make non-blocking without changing
 * the shell's: our own open of the same pipe or terminal. A regular file
 * keeps fd 1 (it never blocks, and a second open would not share the
 * offset); a socket is sent to with MSG_DONTWAIT.
 */
static int console_open_out(struct console *con, int fd)
{
	struct stat st;
	char path[64];
	int own, fl;

	con->out_fd = fd;
	con->out_kind = CONSOLE_OUT_FILE;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	if (S_ISSOCK(st.st_mode)) {
		con->out_kind = CONSOLE_OUT_SOCK;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (own >= 0) {
		con->out_fd = own;
		con->out_kind = CONSOLE_OUT_OWN;
		return 0;
	}
	/* No /proc: the flag on fd itself, given back at the end. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	con->out_flags = fl;
	con->out_kind = CONSOLE_OUT_FLAG;
	return 0;
}

int console_init_fds(struct console *con, struct evloop *loop, const struct console_port *port,
		     void (*quit)(void *), void *opaque, int in_fd, int out_fd)
{
	int err;

	memset(con, 0, sizeof(*con));
	con->loop = loop;
	con->port = *port;
	con->quit = quit;
	con->quit_opaque = opaque;
	con->in_fd = in_fd;
	con->wake_fd = -1;
	pthread_mutex_init(&con->out_lock, NULL);
	/* A closed output (armvm ... | head) is EPIPE, never death. */
	signal(SIGPIPE, SIG_IGN);
	con->out_buf = malloc(CONSOLE_OUT_SIZE);
	if (!con->out_buf) {
		pthread_mutex_destroy(&con->out_lock);
		return -ENOMEM;
	}
	err = console_open_out(con, out_fd);
	if (err)
		goto err_out;
	if (con->out_kind != CONSOLE_OUT_FILE &&
	    evloop_add(loop, con->out_fd, 0, console_output, con) == 0)
		con->out_polled = true;
	con->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->wake_fd < 0) {
		err = -errno;
		goto err_out;
	}
	err = evloop_add(loop, con->wake_fd, EPOLLIN, console_wake, con);
	if (err)
		goto err_out;
	/* epoll refuses regular files and /dev/null (EPERM): no input then. */
	if (evloop_add(loop, con->in_fd, EPOLLIN, console_input, con) == 0)
		con->in_open = con->reading = true;
	return 0;

err_out:
	console_destroy(con);
	return err;
}

int console_init(struct console *con, struct evloop *loop, const struct console_port *port,
		 void (*quit)(void *), void *opaque)
{
	return console_init_fds(con, loop, port, quit, opaque, STDIN_FILENO, STDOUT_FILENO);
}

/*
 * What the ring still holds goes out before the end, as long as the
 * reader takes some of it at least every few seconds (a reader that never
 * reads does not keep armvm from exiting).
 */
static void console_flush_out(struct console *con)
{
	int64_t last = clock_monotonic_ns();

	pthread_mutex_lock(&con->out_lock);
	while (!out_drain(con) && clock_monotonic_ns() - last < 5000000000LL) {
		struct pollfd pfd = { .fd = con->out_fd, .events = POLLOUT };
		size_t before = con->out_len;

		pthread_mutex_unlock(&con->out_lock);
		poll(&pfd, 1, 200);
		pthread_mutex_lock(&con->out_lock);
		if (con->out_len != before)
			last = clock_monotonic_ns();
	}
	con->out_dropped += con->out_len; /* the reader stopped reading */
	con->out_len = 0;
	pthread_mutex_unlock(&con->out_lock);
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
	if (!con->out_buf)
		return;
	if (con->out_polled)
		evloop_del(con->loop, con->out_fd);
	con->out_polled = false;
	console_flush_out(con);
	if (con->out_dropped)
		pr_warn("console: %llu bytes of guest output dropped (the output did not keep up)",
			(unsigned long long)con->out_dropped);
	if (con->out_kind == CONSOLE_OUT_OWN)
		close(con->out_fd);
	else if (con->out_kind == CONSOLE_OUT_FLAG)
		fcntl(con->out_fd, F_SETFL, con->out_flags);
	free(con->out_buf);
	con->out_buf = NULL;
	pthread_mutex_destroy(&con->out_lock);
}
