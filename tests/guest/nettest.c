// SPDX-License-Identifier: MIT
/*
 * TCP transfer check and throughput, for the guest and the lab host:
 *   nettest recv PORT            accept one connection, read to EOF, print
 *                                "NETTEST recv BYTES SUM MiB/s"
 *   nettest send HOST PORT MIB SEED
 *                                send MIB MiB of patterned data, shut down,
 *                                print "NETTEST send BYTES SUM MiB/s"
 * SUM is a 64-bit checksum of the bytes, so both ends can be compared.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Fletcher-like over the stream's little-endian 64-bit words, in order
 * (a = sum of words, b = sum of the a's, mod 2^64; a last partial word is
 * zero-padded): independent of how reads cut the stream, and two additions
 * per 8 bytes, so that the figure is the network's, not the checksum's.
 */
struct sum {
	uint64_t a, b;
	uint8_t carry[8];
	unsigned int nc;
};

static void sum_bytes(struct sum *s, const uint8_t *p, size_t n)
{
	uint64_t w, a = s->a, b = s->b;

	while (s->nc && n) {
		s->carry[s->nc++] = *p++, n--;
		if (s->nc == 8) {
			memcpy(&w, s->carry, 8);
			a += le64toh(w), b += a, s->nc = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		a += le64toh(w), b += a;
	}
	while (n--)
		s->carry[s->nc++] = *p++;
	s->a = a, s->b = b;
}

static uint64_t sum_final(struct sum *s)
{
	uint64_t w;

	if (s->nc) {
		memset(s->carry + s->nc, 0, 8 - s->nc);
		memcpy(&w, s->carry, 8);
		s->a += le64toh(w), s->b += s->a, s->nc = 0;
	}
	return s->b ^ (s->a << 32 | s->a >> 32);
}

static int do_recv(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static uint8_t buf[CHUNK];
	struct sum sum = { 0 };
	uint64_t total = 0;
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), s;
	double t;
	ssize_t n;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1)) {
		perror("nettest recv");
		return 1;
	}
	printf("NETTEST listening %d\n", port);
	fflush(stdout);
	s = accept(ls, NULL, NULL);
	t = now();
	while ((n = read(s, buf, sizeof(buf))) > 0) {
		sum_bytes(&sum, buf, (size_t)n);
		total += (uint64_t)n;
	}
	t = now() - t;
	printf("NETTEST recv %llu %016llx %.1f\n", (unsigned long long)total,
	       (unsigned long long)sum_final(&sum), total / 1048576.0 / t);
	return n < 0;
}

static int do_send(const char *host, int port, unsigned int mib, uint64_t seed)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static uint8_t buf[CHUNK];
	uint64_t x = seed | 1, first, total = (uint64_t)mib << 20;
	struct sum sum = { 0 };
	int s = socket(AF_INET, SOCK_STREAM, 0), tries = 0;
	double t;

	inet_pton(AF_INET, host, &sa.sin_addr);
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		if (++tries > 100) {
			perror("nettest send: connect");
			return 1;
		}
		usleep(100000);
		close(s);
		s = socket(AF_INET, SOCK_STREAM, 0);
	}
	/* One pseudo-random chunk from the seed, its first word numbering
	 * each copy sent (as iperf, the sender's work is writing). */
	for (size_t i = 0; i < CHUNK; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	memcpy(&first, buf, 8);
	t = now();
	for (uint64_t done = 0; done < total; done += CHUNK) {
		uint64_t w = htole64(first ^ done);

		memcpy(buf, &w, 8);
		sum_bytes(&sum, buf, CHUNK);
		for (size_t off = 0; off < CHUNK;) {
			ssize_t n = write(s, buf + off, CHUNK - off);

			if (n <= 0) {
				perror("nettest send: write");
				return 1;
			}
			off += (size_t)n;
		}
	}
	shutdown(s, SHUT_WR);
	while (read(s, buf, sizeof(buf)) > 0)
		;
	t = now() - t;
	printf("NETTEST send %llu %016llx %.1f\n", (unsigned long long)total,
	       (unsigned long long)sum_final(&sum), total / 1048576.0 / t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]),
			       strtoull(argv[5], NULL, 0));
	fprintf(stderr, "usage: nettest recv PORT | nettest send HOST PORT MIB SEED\n");
	return 2;
}
