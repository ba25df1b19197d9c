// SPDX-License-Identifier: MIT
/*
 * Boot benchmark, run on the (lab) KVM host: starts `armvm run` N times and
 * reports
 *   - boot to userspace: armvm's exec to the guest init's marker line,
 *   - armvm's start-up (exec to first KVM_RUN, which armvm logs at info
 *     level) as a share of that,
 *   - armvm's resident memory excluding guest RAM, read from
 *     /proc/PID/smaps when the marker appears (the guest RAM mapping is the
 *     one whose size is the -m size).
 * Minimum and median of N runs; the lab is emulated and noisy.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RAM_MIB 256

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* RSS in KiB of every mapping but the guest RAM one. */
static long rss_without_ram(pid_t pid)
{
	char path[64], line[512];
	long total = 0, size = 0, rss;
	int skip = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %ld kB", &size) == 1)
			skip = size == RAM_MIB * 1024L;
		else if (sscanf(line, "Rss: %ld kB", &rss) == 1 && !skip)
			total += rss;
	}
	fclose(f);
	return total;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	double boot[64], share[64];
	long rss[64];
	int done = 0;

	if (runs < 1 || runs > 64)
		runs = 5;
	for (int r = 0; r < runs; r++) {
		int out[2], errp[2];
		char line[1024], mem[16];
		double t0, t_up = -1, startup = -1;
		FILE *fo, *fe;
		pid_t pid;

		if (pipe(out) || pipe(errp))
			return 1;
		snprintf(mem, sizeof(mem), "%d", RAM_MIB);
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			dup2(out[1], 1);
			dup2(errp[1], 2);
			close(out[0]), close(errp[0]);
			execlp("armvm", "armvm", "run", "-c", "1", "-m", mem, "--loglevel", "info",
			       "-p", "quiet", (char *)NULL);
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
		kill(pid, SIGTERM);
		while (fgets(line, sizeof(line), fo))
			;
		fe = fdopen(errp[0], "r");
		while (fgets(line, sizeof(line), fe))
			sscanf(line, "armvm: start-up: %lf ms", &startup);
		waitpid(pid, NULL, 0);
		fclose(fo);
		fclose(fe);
		if (t_up < 0 || startup < 0) {
			fprintf(stderr, "run %d: no marker or no start-up time\n", r);
			continue;
		}
		boot[done] = t_up;
		share[done] = startup / t_up;
		printf("run %d: boot to userspace %.0f ms, start-up %.1f ms, RSS without guest RAM %ld KiB\n",
		       r, t_up, startup, rss[done]);
		done++;
	}
	if (!done)
		return 1;
	qsort(boot, done, sizeof(double), cmp);
	qsort(share, done, sizeof(double), cmp);
	{
		long rmin = rss[0];

		for (int i = 1; i < done; i++)
			rmin = rss[i] < rmin ? rss[i] : rmin;
		printf("boot to userspace: min %.0f ms, median %.0f ms (%d runs, -c 1 -m %d, quiet)\n",
		       boot[0], boot[done / 2], done, RAM_MIB);
		printf("armvm start-up share (exec to first KVM_RUN / boot): min %.4f, median %.4f\n",
		       share[0], share[done / 2]);
		printf("armvm resident memory excluding guest RAM: min %ld KiB\n", rmin);
	}
	return 0;
}
