// SPDX-License-Identifier: MIT
/*
 * Console output (issue 8, defect 3): a full pipe must not block the
 * writer (a vCPU holding the UART lock), a closed one must not kill armvm
 * (SIGPIPE), and what fits goes out in order.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "console.h"
#include "evloop.h"
#include "tap.h"
#include "util.h"

static size_t no_rx(void *opaque, const uint8_t *buf, size_t n)
{
	(void)opaque, (void)buf;
	return n;
}

static void no_quit(void *opaque)
{
	(void)opaque;
}

static void test_full_and_closed_pipe(void)
{
	struct console_port port = { .rx_push = no_rx };
	struct console con;
	struct evloop loop;
	int p[2], devnull = open("/dev/null", O_RDONLY);
	static uint8_t got[CONSOLE_OUT_SIZE * 4];
	ssize_t n, total = 0;

	signal(SIGPIPE, SIG_DFL); /* as a fresh process has it */
	if (!ok(pipe(p) == 0 && evloop_init(&loop) == 0, "a pipe and a loop"))
		return;
	is_int(console_init_fds(&con, &loop, &port, no_quit, NULL, devnull, p[1]), 0,
	       "console on the pipe");
	alarm(20); /* before the fix, the second 64 KiB blocked for ever */
	for (int i = 0; i < 1 << 20; i++)
		console_tx(&con, (uint8_t)('a' + i % 26));
	alarm(0);
	ok(1, "1 MiB of UART output into a pipe nobody reads: returned at once");
	ok(con.out_dropped > 0, "bytes beyond the pipe and the ring were dropped (%llu)",
	   (unsigned long long)con.out_dropped);
	is_int(console_out_room(&con), 0, "the ring is full");
	is_int(console_write(&con, "xyz", 3), 0, "console_write takes nothing more");

	/* The reader comes back: what the pipe holds is the first bytes, in order. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while ((n = read(p[0], got + total, sizeof(got) - (size_t)total)) > 0)
		total += n;
	ok(total > 0 && got[0] == 'a' && got[1] == 'b' && got[26] == 'a',
	   "the pipe got the output from its start, in order (%zd bytes)", total);

	/* The reader goes away: EPIPE, not SIGPIPE. */
	close(p[0]);
	console_destroy(&con);
	is_int(console_init_fds(&con, &loop, &port, no_quit, NULL, devnull, p[1]), 0,
	       "console again on the pipe, whose reader is gone");
	console_tx(&con, 'x');
	ok(con.out_closed, "writing to a closed pipe: the output is marked closed, armvm lives");
	is_int(console_write(&con, "more", 4), 4, "later output is taken (and discarded)");
	console_destroy(&con);
	close(p[1]);
	close(devnull);
	evloop_destroy(&loop);
}

int main(void)
{
	log_set_level(LOG_ERROR); /* the closed-output warnings are expected */
	test_full_and_closed_pipe();
	return tap_done();
}
