// SPDX-License-Identifier: MIT
/*
 * ctlsend SOCKET LINE: send LINE and a newline to a UNIX stream socket and
 * print what comes back (until a newline or EOF). For the lab's control
 * plane tests, which need to send what armvm's own client never would.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[8192];
	size_t got = 0;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: ctlsend SOCKET LINE\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	signal(SIGPIPE, SIG_IGN); /* a refusal may close first: still read it */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("ctlsend: connect");
		return 1;
	}
	/* A server that refuses us may have replied and gone: read anyway. */
	if (write(fd, argv[2], strlen(argv[2])) < 0 || write(fd, "\n", 1) != 1)
		perror("ctlsend: write");
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			break;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	fputs(buf, stdout);
	return got ? 0 : 1;
}
