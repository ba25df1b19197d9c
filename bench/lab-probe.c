// SPDX-License-Identifier: MIT
/*
 * What a system call and a 4 KiB O_DIRECT read cost in this process, for
 * bench/lab-probe (run in the lab host alone, then beside a guest): a
 * getpid()-like call, and preadv of 4 KiB from DEV into malloc'd memory,
 * 512 MiB of anonymous memory with huge pages, with 4 KiB pages, and the
 * huge-page memory again after it became a KVM memslot with a vCPU (as
 * armvm's guest RAM is); and a wake-up: two threads passing a token back
 * and forth through two eventfds (half a round trip: one write, the other
 * thread woken from its read), as armvm's I/O thread is woken by an
 * ioeventfd and wakes a vCPU through an irqfd. us per operation, N
 * operations each.
 *   lab-probe DEV [N]
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RAM (512UL << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* us per 4 KiB read at random 4 KiB offsets of DEV's first 64 MiB. */
static double reads(int fd, uint8_t *mem, size_t span, int n)
{
	uint64_t x = 88172645463325252ULL;
	double t = now();

	for (int i = 0; i < n; i++) {
		struct iovec iov;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		iov = (struct iovec){ mem + (x % (span / 4096)) * 4096, 4096 };
		if (preadv(fd, &iov, 1, (off_t)((x >> 20) % 16384) * 4096) != 4096) {
			perror("lab-probe: preadv");
			exit(1);
		}
	}
	return (now() - t) / n * 1e6;
}

static int ping[2];

static void *pong(void *arg)
{
	uint64_t v;
	int n = *(int *)arg;

	for (int i = 0; i < n; i++)
		if (read(ping[0], &v, sizeof(v)) != sizeof(v) ||
		    write(ping[1], &v, sizeof(v)) != sizeof(v))
			break;
	return NULL;
}

/* us per wake-up of a thread blocked in read() on an eventfd. */
static double wakeups(int n)
{
	uint64_t v = 1;
	pthread_t t;
	double t0, us;

	ping[0] = eventfd(0, 0), ping[1] = eventfd(0, 0);
	if (ping[0] < 0 || ping[1] < 0 || pthread_create(&t, NULL, pong, &n)) {
		perror("lab-probe: eventfd");
		exit(1);
	}
	t0 = now();
	for (int i = 0; i < n; i++)
		if (write(ping[0], &v, sizeof(v)) != sizeof(v) ||
		    read(ping[1], &v, sizeof(v)) != sizeof(v))
			break;
	us = (now() - t0) / n / 2 * 1e6;
	pthread_join(t, NULL);
	close(ping[0]), close(ping[1]);
	return us;
}

static uint8_t *ram(int advice)
{
	uint8_t *m = mmap(NULL, RAM, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED) {
		perror("lab-probe: mmap");
		exit(1);
	}
	madvise(m, RAM, advice);
	memset(m, 1, RAM);
	return m;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 4000, fd, kvm, vm;
	uint8_t *thp, *small;
	void *buf;
	double t;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: lab-probe DEV [N]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, 16 << 20)) {
		perror("lab-probe: open");
		return 1;
	}
	memset(buf, 1, 16 << 20);
	t = now();
	for (int i = 0; i < n * 10; i++)
		syscall(SYS_getppid);
	printf("PROBE syscall %.2f\n", (now() - t) / (n * 10) * 1e6);
	printf("PROBE wakeup %.1f\n", wakeups(n));
	printf("PROBE read-malloc %.1f\n", reads(fd, buf, 16 << 20, n));
	thp = ram(MADV_HUGEPAGE);
	printf("PROBE read-thp %.1f\n", reads(fd, thp, RAM, n));
	small = ram(MADV_NOHUGEPAGE);
	printf("PROBE read-4k %.1f\n", reads(fd, small, RAM, n));
	kvm = open("/dev/kvm", O_RDWR);
	vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm >= 0) {
		struct kvm_userspace_memory_region r = {
			.guest_phys_addr = 0x80000000,
			.memory_size = RAM,
			.userspace_addr = (uint64_t)(uintptr_t)thp,
		};

		if (!ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) &&
		    ioctl(vm, KVM_CREATE_VCPU, 0) >= 0)
			printf("PROBE read-memslot %.1f\n", reads(fd, thp, RAM, n));
	}
	return 0;
}
