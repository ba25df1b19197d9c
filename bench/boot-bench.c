// SPDX-License-Identifier: MIT
/*
 * Boot benchmark, run on the (lab) KVM host: starts `armvm run` N times and
 * reports
 *   - boot to userspace: armvm's exec to the guest init's marker line,
 *   - armvm's start-up (exec to first KVM_RUN, which armvm logs at info
 *     level), and its share of that,
 *   - armvm's resident memory excluding guest RAM, read from
 *     /proc/PID/smaps when the marker appears (the guest RAM mapping is the
 *     one whose size is the -m size).
 * With kvmtool's lkvm on the PATH (bench/boot --kvmtool SRC), lkvm boots
 * the same kernel, initrd and command line N times too: the reference, and
 * the ratio of the two boots.
 * Minimum and median of N runs; the lab is emulated and noisy.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define RAM_MIB 256
/* The lab's default guest, which armvm finds by itself (README). */
#define ARMVM_LAB_IMAGE "/lab/Image"
#define ARMVM_LAB_INITRD "/lab/guest.cpio.gz"

/*
 * RSS in KiB of every mapping but guest RAM's. Guest RAM is the run of
 * adjacent mappings that together have the -m size (armvm's splits where
 * it advised 4 KiB pages for a boot write; kvmtool maps up to 2 MiB more
 * to align it).
 */
#define MAPS_MAX 4096
static long rss_without_ram(pid_t pid)
{
	static unsigned long start[MAPS_MAX], end[MAPS_MAX];
	static long rss[MAPS_MAX];
	const unsigned long ram = RAM_MIB << 20;
	char path[64], line[512];
	long total = 0, v;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (n < MAPS_MAX && sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			start[n] = s, end[n] = e, rss[n++] = 0;
		} else if (n && sscanf(line, "Rss: %ld kB", &v) == 1) {
			rss[n - 1] = v;
		}
	}
	fclose(f);
	for (int i = 0; i < n; i++) {
		int j = i;

		while (j + 1 < n && end[j] == start[j + 1] && end[j] - start[i] < ram)
			j++;
		if (end[j] - start[i] >= ram && end[j] - start[i] <= ram + (2ul << 20)) {
			i = j; /* guest RAM: not counted */
			continue;
		}
		total += rss[i];
	}
	return total;
}

struct boot_result {
	double boot_min, boot_med;   /* ms, exec to the guest's marker */
	double share_min, share_med; /* armvm: start-up / boot; -1 for lkvm */
	double startup_med;	     /* armvm: exec to first KVM_RUN, ms */
	long rss_min;		     /* KiB beside guest RAM */
	int done;
};

/* Boot argv `runs` times to the guest's marker; 0, or -1 if none did. */
static int measure(char *const argv[], int runs, bool armvm, struct boot_result *res)
{
	double boot[64], share[64], su[64];
	long rss[64];
	int done = 0;

	for (int r = 0; r < runs; r++) {
		int out[2], errp[2];
		char line[1024];
		double t0, t_up = -1, startup = -1;
		FILE *fo, *fe;
		pid_t pid;

		if (pipe(out) || pipe(errp))
			return -1;
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			dup2(out[1], 1);
			dup2(errp[1], 2);
			close(out[0]), close(errp[0]);
			execvp(argv[0], argv);
			_exit(127);
		}
		close(out[1]), close(errp[1]);
		fo = fdopen(out[0], "r");
		while (fgets(line, sizeof(line), fo)) {
			if (strstr(line, "ARMVM-GUEST-UP")) {
				t_up = now_ms() - t0;
				rss[done] = rss_without_ram(pid);
				break;
			}
		}
		kill(pid, armvm ? SIGTERM : SIGKILL);
		while (fgets(line, sizeof(line), fo))
			;
		fe = fdopen(errp[0], "r");
		while (fgets(line, sizeof(line), fe))
			sscanf(line, "armvm: start-up: %lf ms", &startup);
		waitpid(pid, NULL, 0);
		fclose(fo);
		fclose(fe);
		if (t_up < 0 || (armvm && startup < 0)) {
			fprintf(stderr, "%s run %d: no marker%s\n", argv[0], r,
				armvm ? " or no start-up time" : "");
			continue;
		}
		boot[done] = t_up;
		share[done] = armvm ? startup / t_up : -1;
		su[done] = startup;
		printf("%s run %d: boot to userspace %.0f ms", argv[0], r, t_up);
		if (armvm)
			printf(", start-up %.1f ms", startup);
		printf(", RSS without guest RAM %ld KiB\n", rss[done]);
		done++;
	}
	if (!done)
		return -1;
	res->boot_med = median(boot, done);
	res->boot_min = boot[0];
	res->share_med = median(share, done);
	res->share_min = share[0];
	res->startup_med = median(su, done);
	res->rss_min = rss[0];
	for (int i = 1; i < done; i++)
		res->rss_min = rss[i] < res->rss_min ? rss[i] : res->rss_min;
	res->done = done;
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	char mem[16];
	struct boot_result a, k;
	bool lkvm = have_lkvm();

	if (runs < 1 || runs > 64)
		runs = 5;
	snprintf(mem, sizeof(mem), "%d", RAM_MIB);
	setenv("HOME", "/tmp", 0); /* lkvm keeps its sockets under $HOME/.lkvm */
	{
		char *av[] = { "armvm",	     "run",  "-c", "1",	    "-m", mem,
			       "--loglevel", "info", "-p", "quiet", NULL };

		if (measure(av, runs, true, &a))
			return 1;
	}
	printf("boot to userspace: min %.0f ms, median %.0f ms (%d runs, -c 1 -m %d, quiet)\n",
	       a.boot_min, a.boot_med, a.done, RAM_MIB);
	printf("armvm start-up (exec to first KVM_RUN): median %.1f ms; share of the boot: min "
	       "%.4f, median %.4f\n",
	       a.startup_med, a.share_min, a.share_med);
	printf("armvm resident memory excluding guest RAM: min %ld KiB\n", a.rss_min);
	if (!lkvm) {
		printf("reference: none (no lkvm on the PATH; bench/boot --kvmtool SRC)\n");
		return 0;
	}
	/* The same kernel, initrd and command line under kvmtool. */
	{
		char *kv[] = { "lkvm", "run",
			       "-c",   "1",
			       "-m",   mem,
			       "-k",   ARMVM_LAB_IMAGE,
			       "-i",   ARMVM_LAB_INITRD,
			       "-p",   "quiet",
			       NULL };

		if (measure(kv, runs, false, &k))
			return 1;
	}
	printf("lkvm boot to userspace: min %.0f ms, median %.0f ms; resident memory excluding "
	       "guest RAM: min %ld KiB\n",
	       k.boot_min, k.boot_med, k.rss_min);
	printf("ratio armvm/lkvm boot to userspace: %.2f (median), %.2f (min)\n",
	       a.boot_med / k.boot_med, a.boot_min / k.boot_min);
	return 0;
}
