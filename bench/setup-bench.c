// SPDX-License-Identifier: MIT
/*
 * Set-up and teardown cost, run on the (lab) KVM host: starts a VMM on an
 * 80-byte flat binary whose first instructions call PSCI SYSTEM_OFF (so
 * the run is all set-up and teardown), N times per configuration; with
 * --print, on tests/guest/flat.S instead (16 characters through the UART,
 * one MMIO exit each, then SYSTEM_OFF). Reports the median
 * and minimum wall time from fork to exit. For armvm it also reads its own
 * split (from as many runs again with --loglevel info, whose run summary
 * costs a little): exec to first KVM_RUN, and the end of the run
 * (SYSTEM_OFF) to exit. With kvmtool's lkvm on the PATH (bench/boot
 * --kvmtool DIR), the same runs of lkvm are the reference, and each armvm
 * figure is printed as a ratio of lkvm's.
 * A third line per shape is the floor: this program itself, re-executed as
 * `setup-bench floor CPUS MIB`, doing only what any VMM must for this
 * guest (the VM, its RAM in one memslot, a GICv3, the vCPUs, one KVM_RUN
 * of vCPU 0 on the main thread to SYSTEM_OFF, then exit and let the
 * kernel tear it all down): no options, files, devices, threads or
 * seccomp. Its wall time is what the kernel and the lab charge; what a
 * VMM adds to it is its own.
 *   setup-bench [RUNS] [--print FLAT-BINARY]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct result {
	double wall, startup, teardown; /* medians, ms; -1: not known */
	double wall_min;
	double minflt, cpu; /* medians: minor page faults, user+system ms */
};

/* Run argv `runs` times; 0 and r filled, or -1 if a run failed. */
static int measure(char *const argv[], int runs, struct result *r)
{
	double wall[64], su[64], td[64], flt[64], cpu[64];
	int nsu = 0, ntd = 0;

	for (int i = 0; i < runs; i++) {
		int errp[2], status;
		char line[512], last[512] = "";
		double t0, t1, v;
		FILE *fe;
		pid_t pid;
		struct rusage ru;

		if (pipe(errp))
			return -1;
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 0);
			dup2(null, 1);
			dup2(errp[1], 2);
			close(errp[0]);
			execvp(argv[0], argv);
			_exit(127);
		}
		close(errp[1]);
		fe = fdopen(errp[0], "r");
		while (fgets(line, sizeof(line), fe)) {
			if (sscanf(line, "armvm: start-up: %lf ms", &v) == 1)
				su[nsu++] = v;
			else if (sscanf(line, "armvm: teardown: %lf ms", &v) == 1)
				td[ntd++] = v;
			else
				snprintf(last, sizeof(last), "%s", line);
		}
		fclose(fe);
		if (wait4(pid, &status, 0, &ru) != pid)
			return -1;
		t1 = now_ms();
		flt[i] = (double)ru.ru_minflt;
		cpu[i] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "%s: run %d: exit status %d: %s", argv[0], i,
				WIFEXITED(status) ? WEXITSTATUS(status) : -1, last);
			return -1;
		}
		wall[i] = t1 - t0;
	}
	r->wall = median(wall, runs);
	r->wall_min = wall[0];
	r->minflt = median(flt, runs);
	r->cpu = median(cpu, runs);
	r->startup = nsu == runs ? median(su, nsu) : -1;
	r->teardown = ntd == runs ? median(td, ntd) : -1;
	return 0;
}

/* The floor (see the top): 0 when vCPU 0 reached SYSTEM_OFF. */
static int floor_run(int cpus, int mib, const char *flat)
{
	const uint64_t ram_base = 0x80000000, dist = 0x08000000, redist = 0x080a0000;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, gic, vcpu0 = -1;
	size_t ram_size = (size_t)mib << 20;
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	struct kvm_vcpu_init init;
	struct kvm_run *run0 = NULL;
	long run_size;
	uint8_t *ram;
	FILE *f;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		return 1;
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		return 1;
	struct kvm_userspace_memory_region mr = { 0, 0, ram_base, ram_size, (uintptr_t)ram };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		return 1;
	f = fopen(flat, "rb");
	if (!f || fread(ram, 1, 80, f) == 0)
		return 1;
	fclose(f);
	if (ioctl(vm, KVM_CREATE_DEVICE, &cd) < 0)
		return 1;
	gic = (int)cd.fd;
	struct kvm_device_attr da = { .group = KVM_DEV_ARM_VGIC_GRP_ADDR,
				      .attr = KVM_VGIC_V3_ADDR_TYPE_DIST,
				      .addr = (uintptr_t)&dist };
	struct kvm_device_attr ra = { .group = KVM_DEV_ARM_VGIC_GRP_ADDR,
				      .attr = KVM_VGIC_V3_ADDR_TYPE_REDIST,
				      .addr = (uintptr_t)&redist };
	if (ioctl(gic, KVM_SET_DEVICE_ATTR, &da) < 0 || ioctl(gic, KVM_SET_DEVICE_ATTR, &ra) < 0)
		return 1;
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0 || ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return 1;
	for (int i = 0; i < cpus; i++) {
		int fd = ioctl(vm, KVM_CREATE_VCPU, i);
		void *run;

		if (fd < 0)
			return 1;
		run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (run == MAP_FAILED)
			return 1;
		init.features[0] =
			1u << KVM_ARM_VCPU_PSCI_0_2 | (i ? 1u << KVM_ARM_VCPU_POWER_OFF : 0);
		if (ioctl(fd, KVM_ARM_VCPU_INIT, &init) < 0)
			return 1;
		if (!i)
			vcpu0 = fd, run0 = run;
	}
	struct kvm_device_attr ia = { .group = KVM_DEV_ARM_VGIC_GRP_CTRL,
				      .attr = KVM_DEV_ARM_VGIC_CTRL_INIT };
	if (ioctl(gic, KVM_SET_DEVICE_ATTR, &ia) < 0)
		return 1;
	uint64_t pc = ram_base;
	struct kvm_one_reg reg = { KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
					   KVM_REG_ARM_CORE_REG(regs.pc),
				   (uintptr_t)&pc };
	if (ioctl(vcpu0, KVM_SET_ONE_REG, &reg) < 0)
		return 1;
	while (ioctl(vcpu0, KVM_RUN, 0) == 0 || errno == EINTR)
		if (run0->exit_reason == KVM_EXIT_SYSTEM_EVENT)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 20;
	const char *flat = argc > 3 && !strcmp(argv[2], "--print") ? argv[3] : NULL;
	static const char *const shapes[][2] = { { "1", "64" }, { "1", "1024" }, { "2", "1024" } };
	int lkvm, bad = 0;

	if (argc == 5 && !strcmp(argv[1], "floor"))
		return floor_run(atoi(argv[2]), atoi(argv[3]), argv[4]);
	lkvm = have_lkvm();
	if (runs < 1 || runs > 64)
		runs = 20;
	/* kvmtool reads a 64-byte Image header even from a flat binary: the
	 * payload is padded to 80 bytes (zeros after its code) for both VMMs. */
	{
		/* movz x0, #8; movk x0, #0x8400, lsl #16 (PSCI 0.2 SYSTEM_OFF);
		 * hvc #0; 1: wfi; b 1b */
		static const uint32_t off[] = { 0xd2800100, 0xf2b08000, 0xd4000002, 0xd503207f,
						0x17ffffff };
		char buf[80] = { 0 };
		FILE *in = flat ? fopen(flat, "rb") : NULL, *out;

		if (flat && (!in || fread(buf, 1, sizeof(buf), in) == 0)) {
			fprintf(stderr, "setup-bench: cannot read %s\n", flat);
			return 1;
		}
		if (in)
			fclose(in);
		if (!flat)
			memcpy(buf, off, sizeof(off));
		out = fopen("/tmp/flat80.bin", "wb");
		if (!out || fwrite(buf, 1, sizeof(buf), out) != sizeof(buf) || fclose(out))
			return 1;
	}
	setenv("HOME", "/tmp", 0); /* lkvm keeps its sockets under $HOME/.lkvm */
	printf("set-up + teardown: an 80-byte flat binary that %s, %d runs each, --nodefaults; "
	       "reference: %s\n",
	       flat ? "prints 16 characters and calls PSCI SYSTEM_OFF" : "calls PSCI SYSTEM_OFF",
	       runs, lkvm ? "kvmtool's lkvm in the same run" : "none (no lkvm on the PATH)");
	flat = "/tmp/flat80.bin";
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char *a[] = { "armvm",	      "run",
			      "-c",	      (char *)shapes[i][0],
			      "-m",	      (char *)shapes[i][1],
			      "--nodefaults", "-k",
			      (char *)flat,   "--loglevel",
			      "info",	      NULL };
		char *k[] = { "lkvm",	      "run",
			      "-c",	      (char *)shapes[i][0],
			      "-m",	      (char *)shapes[i][1],
			      "--nodefaults", "-k",
			      (char *)flat,   NULL };
		char *fl[] = { "/proc/self/exe",     "floor",	   (char *)shapes[i][0],
			       (char *)shapes[i][1], (char *)flat, NULL };
		/* a[] ends "--loglevel", "info", NULL: cut there, the default */
		const size_t loglevel = sizeof(a) / sizeof(a[0]) - 3;
		struct result ra, rs, rk, rf;
		int err;

		/* The figures at the default log level, as users run it (the
		 * run summary of --loglevel info costs a little); the split
		 * from as many runs again with it. */
		a[loglevel] = NULL;
		err = measure(a, runs, &ra);
		a[loglevel] = "--loglevel";
		if (err || measure(a, runs, &rs) || measure(fl, runs, &rf)) {
			bad = 1;
			continue;
		}
		printf("armvm -c %s -m %-4s: wall %.1f ms median (min %.1f); %.0f page faults, %.1f ms "
		       "CPU; with --loglevel info: exec to first KVM_RUN %.1f ms, end of run to exit "
		       "%.1f ms\n",
		       shapes[i][0], shapes[i][1], ra.wall, ra.wall_min, ra.minflt, ra.cpu,
		       rs.startup, rs.teardown);
		printf("floor -c %s -m %-4s: wall %.1f ms median (min %.1f); %.0f page faults, %.1f ms "
		       "CPU; armvm adds %.1f ms to it\n",
		       shapes[i][0], shapes[i][1], rf.wall, rf.wall_min, rf.minflt, rf.cpu,
		       ra.wall - rf.wall);
		if (!lkvm)
			continue;
		if (measure(k, runs, &rk)) {
			bad = 1;
			continue;
		}
		printf("lkvm  -c %s -m %-4s: wall %.1f ms median (min %.1f); %.0f page faults, "
		       "%.1f ms CPU\n",
		       shapes[i][0], shapes[i][1], rk.wall, rk.wall_min, rk.minflt, rk.cpu);
		printf("ratio armvm/lkvm -c %s -m %s: %.2f (median wall); above the floor: armvm "
		       "%.1f ms, lkvm %.1f ms\n",
		       shapes[i][0], shapes[i][1], ra.wall / rk.wall, ra.wall - rf.wall,
		       rk.wall - rf.wall);
	}
	return bad;
}
