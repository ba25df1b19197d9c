// SPDX-License-Identifier: MIT
/*
 * `armvm selftest`: does this host's kernel switch FPSIMD/SVE state safely
 * between the VMM and its guests? The checks are the bugs of the seed
 * threads (NOTES-KVM-SVE.md, "Host-side bugs"): the host's lazy FP
 * switching has corrupted the VMM's own registers, left SVE untrapped after
 * a guest exit, lost guest state on preemption, and leaked SVE into vCPUs
 * that should not have it. Each check runs in a child process, so a SIGILL
 * or a hang is a failure reported, not a crash of the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "cli.h"
#include "guest_code.h"
#include "minivm.h"
#include "selftest.h"
#include "vcpu_state.h"

#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif

#define ST_PASS 0
#define ST_FAIL 1
#define ST_SKIP 77

/* A check prints its detail line to stdout and exits with ST_*. */
struct check {
	const char *id;
	const char *title;
	int (*fn)(const char *kvm_dev, char *detail, size_t len);
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static int host_has_sve_cap(const char *kvm_dev)
{
	int fd = open(kvm_dev, O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_SVE);
	close(fd);
	return r > 0;
}

static int create(struct minivm *mv, const char *kvm_dev, uint32_t features, const uint8_t *code,
		  const uint8_t *end, char *detail, size_t len)
{
	char err[256];
	int r;

	r = minivm_create(mv, features, true, NULL, code, (size_t)(end - code), err, sizeof(err));
	(void)kvm_dev;
	if (r)
		snprintf(detail, len, "cannot create the test VM: %s", err);
	return r;
}

/* Make the guest run at its maximum VL from its first instruction. */
static int set_max_vl(struct minivm *mv, uint64_t *vl)
{
	struct sve_vls vls;
	uint64_t zcr;
	int r = vcpu_sve_get_vls(mv->vcpu, &vls);

	if (r)
		return r;
	zcr = sve_vls_max_vq(&vls) - 1;
	*vl = (zcr + 1) * 16;
	return vcpu_set_reg(mv->vcpu, ARM64_ZCR_EL1, &zcr);
}

/* ---- 1: the VMM thread's V0..V31, FPSR, FPCR across KVM_RUN ---------- */

static int check_vmm_fp(const char *kvm_dev, const uint8_t *code, const uint8_t *end,
			uint32_t features, char *detail, size_t len)
{
	const int runs = 300;
	uint8_t in[512], out[512];
	uint64_t ctl_in[2], ctl_out[2], ucall;
	struct minivm mv;
	char err[256];

	if (create(&mv, kvm_dev, features, code, end, detail, len))
		return ST_FAIL;
	for (int i = 0; i < runs; i++) {
		int r;

		fill_random(in, sizeof(in));
		/* FPCR: RMode, FZ, DN, AHP in turn; FPSR: cumulative flags, QC. */
		ctl_in[0] =
			(uint64_t)(i & 3) << 22 | (uint64_t)(i & 4) << 22 | (uint64_t)(i & 8) << 22;
		ctl_in[1] = (rnd() & 0x9f) | (i & 1ULL) << 27;
		r = st_kvm_run_fp(mv.vcpu->fd, in, out, ctl_in, ctl_out);
		if (r < 0 && r != -EINTR) {
			snprintf(detail, len, "KVM_RUN: %s", strerror(-r));
			minivm_destroy(&mv);
			return ST_FAIL;
		}
		if (r == 0 && minivm_exit(&mv, &ucall, err, sizeof(err))) {
			snprintf(detail, len, "guest: %s", err);
			minivm_destroy(&mv);
			return ST_FAIL;
		}
		for (int v = 0; v < 32; v++) {
			if (memcmp(in + 16 * v, out + 16 * v, 16))
				goto bad_v;
			continue;
		bad_v:
			snprintf(detail, len,
				 "run %d: V%d changed across KVM_RUN (byte 0: 0x%02x -> 0x%02x)", i,
				 v, in[16 * v], out[16 * v]);
			minivm_destroy(&mv);
			return ST_FAIL;
		}
		if (ctl_in[0] != ctl_out[0] || ctl_in[1] != ctl_out[1]) {
			snprintf(
				detail, len,
				"run %d: FPCR/FPSR changed across KVM_RUN (0x%llx/0x%llx -> 0x%llx/0x%llx)",
				i, (unsigned long long)ctl_in[0], (unsigned long long)ctl_in[1],
				(unsigned long long)ctl_out[0], (unsigned long long)ctl_out[1]);
			minivm_destroy(&mv);
			return ST_FAIL;
		}
	}
	minivm_destroy(&mv);
	snprintf(detail, len, "%d runs", runs);
	return ST_PASS;
}

static int check_1a(const char *kvm_dev, char *detail, size_t len)
{
	return check_vmm_fp(kvm_dev, guest_idle, guest_idle_end, 0, detail, len);
}

static int check_1b(const char *kvm_dev, char *detail, size_t len)
{
	return check_vmm_fp(kvm_dev, guest_fp_clobber, guest_fp_clobber_end, 0, detail, len);
}

static int check_1c(const char *kvm_dev, char *detail, size_t len)
{
	if (host_has_sve_cap(kvm_dev) <= 0) {
		snprintf(detail, len, "host KVM has no SVE (KVM_CAP_ARM_SVE)");
		return ST_SKIP;
	}
	return check_vmm_fp(kvm_dev, guest_sve_clobber, guest_sve_clobber_end,
			    1u << KVM_ARM_VCPU_SVE, detail, len);
}

/* ---- helpers for host SVE load --------------------------------------- */

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

struct competitor {
	pthread_t thread;
	int cpu;
	atomic_int *stop;
	atomic_int corrupted;
	uint64_t iters;
};

/* Runs SVE code on one CPU until told to stop, checking its own state. */
static void *competitor_main(void *arg)
{
	struct competitor *c = arg;
	size_t size = guest_sve_dump_size(st_rdvl());
	uint8_t *in = malloc(size), *out = malloc(size);

	pin_to(c->cpu);
	for (size_t i = 0; in && out && i < size; i++)
		in[i] = (uint8_t)(0xc3 ^ (i * 5) ^ c->cpu);
	/* FFR must be monotonic: all ones is. */
	if (in && out) {
		memset(in + size - st_rdvl() / 8, 0xff, st_rdvl() / 8);
		while (!atomic_load(c->stop)) {
			st_sve_spin(in, out, c->iters);
			if (memcmp(in, out, size))
				atomic_fetch_add(&c->corrupted, 1);
		}
	}
	free(in);
	free(out);
	return NULL;
}

static int start_competitors(struct competitor *c, int n, atomic_int *stop, uint64_t iters)
{
	for (int i = 0; i < n; i++) {
		c[i] = (struct competitor){ .cpu = i, .stop = stop, .iters = iters };
		if (pthread_create(&c[i].thread, NULL, competitor_main, &c[i]))
			return -1;
	}
	return 0;
}

static int stop_competitors(struct competitor *c, int n, atomic_int *stop)
{
	int corrupted = 0;

	atomic_store(stop, 1);
	for (int i = 0; i < n; i++) {
		pthread_join(c[i].thread, NULL);
		corrupted += atomic_load(&c[i].corrupted);
	}
	return corrupted;
}

/* Involuntary context switches of this thread so far. */
static long preemptions(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nivcsw;
}

static int nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* ---- 2: host SVE after KVM_RUN ---------------------------------------- */

static int check_2(const char *kvm_dev, char *detail, size_t len)
{
	const int rounds = 12;
	const uint64_t iters = 2000000;
	struct competitor comp[1];
	atomic_int stop = 0;
	struct minivm mv;
	uint64_t ucall, vl, host_vl;
	uint8_t *in, *out;
	size_t size;
	char err[256];
	int bad = 0;
	long pre;

	if (!(getauxval(AT_HWCAP) & HWCAP_SVE)) {
		snprintf(detail, len, "host CPU has no SVE");
		return ST_SKIP;
	}
	if (host_has_sve_cap(kvm_dev) <= 0) {
		snprintf(detail, len, "host KVM has no SVE (KVM_CAP_ARM_SVE)");
		return ST_SKIP;
	}
	if (create(&mv, kvm_dev, 1u << KVM_ARM_VCPU_SVE, guest_sve_clobber, guest_sve_clobber_end,
		   detail, len) ||
	    set_max_vl(&mv, &vl))
		return ST_FAIL;
	host_vl = st_rdvl();
	size = guest_sve_dump_size(host_vl);
	in = malloc(size);
	out = malloc(size);
	if (!in || !out)
		return ST_FAIL;
	/* Everything on CPU 0: the competitor preempts this thread there. */
	pin_to(0);
	if (start_competitors(comp, 1, &stop, iters)) {
		snprintf(detail, len, "cannot start the competing thread");
		return ST_FAIL;
	}
	pre = preemptions();
	for (int r = 0; r < rounds && !bad; r++) {
		if (minivm_run(&mv, &ucall, err, sizeof(err))) {
			snprintf(detail, len, "guest: %s", err);
			bad = -1;
			break;
		}
		/* Right after KVM_RUN: SVE in this thread (SIGILL kills the
		 * child if the kernel left it trapped wrongly), held across a
		 * spin long enough to be preempted by the competitor. */
		fill_random(in, size);
		memset(in + size - host_vl / 8, 0xff, host_vl / 8);
		st_sve_spin(in, out, iters);
		if (memcmp(in, out, size)) {
			size_t at = 0;

			while (at < size && in[at] == out[at])
				at++;
			snprintf(
				detail, len,
				"round %d: this thread's SVE state changed while preempted (first at byte %zu of %zu)",
				r, at, size);
			bad = 1;
		}
	}
	pre = preemptions() - pre;
	if (stop_competitors(comp, 1, &stop) && !bad) {
		snprintf(detail, len, "the competing thread's SVE state was corrupted");
		bad = 1;
	}
	minivm_destroy(&mv);
	free(in);
	free(out);
	if (bad)
		return ST_FAIL;
	if (pre == 0) {
		snprintf(detail, len, "the thread was never preempted: nothing was shown");
		return ST_FAIL;
	}
	snprintf(detail, len,
		 "%d rounds, preempted %ld times, host VL %llu bits, guest VL %llu bits", rounds,
		 pre, (unsigned long long)host_vl * 8, (unsigned long long)vl * 8);
	return ST_PASS;
}

/* ---- 3: guest SVE state across preemption and migration --------------- */

static int check_3(const char *kvm_dev, char *detail, size_t len)
{
	const int rounds = 24, ncpu = nr_cpus();
	struct competitor comp[64];
	atomic_int stop = 0;
	struct minivm mv;
	uint64_t ucall, vl;
	size_t size;
	char err[256];
	int bad = 0, corrupted;
	long pre = preemptions();

	if (host_has_sve_cap(kvm_dev) <= 0) {
		snprintf(detail, len, "host KVM has no SVE (KVM_CAP_ARM_SVE)");
		return ST_SKIP;
	}
	if (create(&mv, kvm_dev, 1u << KVM_ARM_VCPU_SVE, guest_sve_hold, guest_sve_hold_end, detail,
		   len) ||
	    set_max_vl(&mv, &vl) || minivm_reset_regs(&mv, 400000))
		return ST_FAIL;
	size = guest_sve_dump_size(vl);
	fill_random(mv.load, size);
	memset(mv.load + size - vl / 8, 0xff, vl / 8); /* monotonic FFR */
	if ((getauxval(AT_HWCAP) & HWCAP_SVE) && start_competitors(comp, ncpu, &stop, 1000000)) {
		snprintf(detail, len, "cannot start the competing threads");
		return ST_FAIL;
	}
	for (int r = 0; r < rounds && !bad; r++) {
		/* A different CPU each round: the vCPU thread migrates. */
		pin_to(r % ncpu);
		memset(mv.dump, 0, size);
		if (minivm_run(&mv, &ucall, err, sizeof(err))) {
			snprintf(detail, len, "guest: %s", err);
			bad = 1;
		} else if (memcmp(mv.dump, mv.load, size)) {
			size_t at = 0;

			while (at < size && mv.dump[at] == mv.load[at])
				at++;
			snprintf(detail, len, "round %d: the guest's %s changed (byte %zu)", r,
				 at < 32 * vl ? "Z registers" : "P/FFR registers", at);
			bad = 1;
		}
	}
	pre = preemptions() - pre;
	corrupted = (getauxval(AT_HWCAP) & HWCAP_SVE) ? stop_competitors(comp, ncpu, &stop) : 0;
	minivm_destroy(&mv);
	if (!bad && corrupted) {
		snprintf(detail, len, "a host thread's SVE state was corrupted %d times",
			 corrupted);
		bad = 1;
	}
	if (bad)
		return ST_FAIL;
	snprintf(detail, len, "%d rounds over %d CPUs, preempted %ld times, guest VL %llu bits%s",
		 rounds, ncpu, pre, (unsigned long long)vl * 8,
		 (getauxval(AT_HWCAP) & HWCAP_SVE) ? ", host SVE threads on every CPU" : "");
	return ST_PASS;
}

/* ---- 4: a vCPU without SVE on an SVE host ----------------------------- */

static int check_4(const char *kvm_dev, char *detail, size_t len)
{
	struct minivm mv;
	uint64_t pfr0 = 0, ucall, *ids = NULL, n = 0, esr;
	char err[256];
	int sve_regs = 0;

	if (host_has_sve_cap(kvm_dev) <= 0) {
		snprintf(detail, len, "host KVM has no SVE, so none can leak");
		return ST_SKIP;
	}
	if (create(&mv, kvm_dev, 0, guest_probe_nosve, guest_probe_nosve_end, detail, len))
		return ST_FAIL;
	if (vcpu_get_reg(mv.vcpu, ARM64_ID_AA64PFR0_EL1, &pfr0) || (pfr0 >> 32 & 0xf)) {
		snprintf(detail, len, "ID_AA64PFR0_EL1 through ONE_REG: SVE field %llu",
			 (unsigned long long)(pfr0 >> 32 & 0xf));
		goto fail;
	}
	if (vcpu_reg_list(mv.vcpu, &ids, &n) == 0)
		for (uint64_t i = 0; i < n; i++)
			sve_regs += sve_reg_is_sve(ids[i]);
	free(ids);
	if (sve_regs) {
		snprintf(detail, len, "KVM_GET_REG_LIST lists %d SVE registers", sve_regs);
		goto fail;
	}
	if (minivm_run(&mv, &ucall, err, sizeof(err)) || ucall != 1) {
		snprintf(detail, len, "guest: %s", err);
		goto fail;
	}
	pfr0 = minivm_xreg(&mv, 1);
	if (pfr0 >> 32 & 0xf) {
		snprintf(detail, len, "the guest reads ID_AA64PFR0_EL1.SVE = %llu",
			 (unsigned long long)(pfr0 >> 32 & 0xf));
		goto fail;
	}
	if (minivm_run(&mv, &ucall, err, sizeof(err))) {
		snprintf(detail, len, "guest: %s", err);
		goto fail;
	}
	if (ucall == 3) {
		snprintf(detail, len, "RDVL executed in the guest (returned %llu)",
			 (unsigned long long)minivm_xreg(&mv, 1));
		goto fail;
	}
	esr = minivm_xreg(&mv, 1);
	if (ucall != 2 || esr >> 26 != 0) {
		snprintf(detail, len,
			 "RDVL trapped with ESR 0x%llx (EC 0x%llx), want EC 0x0 (undefined)",
			 (unsigned long long)esr, (unsigned long long)(esr >> 26));
		goto fail;
	}
	minivm_destroy(&mv);
	snprintf(
		detail, len,
		"ID_AA64PFR0_EL1.SVE = 0 (ONE_REG and guest), RDVL undefined (ESR 0x%llx), no group-0x15 registers of %llu",
		(unsigned long long)esr, (unsigned long long)n);
	return ST_PASS;
fail:
	minivm_destroy(&mv);
	return ST_FAIL;
}

/* ---- 5: AArch32 guest with VFP ---------------------------------------- */

static int check_5(const char *kvm_dev, char *detail, size_t len)
{
	return selftest_aarch32_vfp(kvm_dev, detail, len);
}

static const struct check checks[] = {
	{ "1a", "VMM V0-V31/FPSR/FPCR intact across KVM_RUN, guest without FP", check_1a },
	{ "1b", "VMM V0-V31/FPSR/FPCR intact across KVM_RUN, guest using FP", check_1b },
	{ "1c", "VMM V0-V31/FPSR/FPCR intact across KVM_RUN, guest using SVE", check_1c },
	{ "2", "host thread uses SVE after KVM_RUN: no SIGILL, Z/P/FFR kept across preemption",
	  check_2 },
	{ "3", "guest Z/P/FFR survive preemption and migration beside host SVE threads", check_3 },
	{ "4", "vCPU without the SVE bit sees no SVE", check_4 },
	{ "5", "AArch32 guest using VFP", check_5 },
};

static int run_check(const struct check *c, const char *kvm_dev, char *detail, size_t len)
{
	int pipefd[2], status, r;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return ST_FAIL;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char d[512] = "";

		close(pipefd[0]);
		alarm(300); /* a hang is a failure, not a stuck selftest */
		r = c->fn(kvm_dev, d, sizeof(d));
		if (write(pipefd[1], d, strlen(d)) < 0)
			_exit(ST_FAIL);
		_exit(r);
	}
	close(pipefd[1]);
	n = read(pipefd[0], detail, len - 1);
	detail[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return ST_FAIL;
	if (WIFSIGNALED(status)) {
		snprintf(detail, len, "killed by signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGILL    ? ": SVE trapped in the host after KVM_RUN"
			 : WTERMSIG(status) == SIGALRM ? ": hung"
						       : "");
		return ST_FAIL;
	}
	r = WEXITSTATUS(status);
	return r == ST_PASS || r == ST_SKIP ? r : ST_FAIL;
}

int selftest_main(int argc, char **argv)
{
	const char *kvm_dev = "/dev/kvm", *only = NULL;
	int passed = 0, failed = 0, skipped = 0;
	struct utsname u;
	struct cli_parser p;
	char err[256];
	int p_ret;

	cli_begin(&p, "selftest", argc, argv, err, sizeof(err));
	while ((p_ret = cli_next(&p)) > CLI_HELP)
		if (p_ret == OPT_CHECK)
			only = p.arg;
	if ((p_ret = cli_finish(&p, p_ret)) >= 0)
		return p_ret;
	if (only) { /* a mistyped ID must not pass by running nothing */
		size_t i = 0;

		while (i < ARRAY_SIZE(checks) && strcmp(only, checks[i].id))
			i++;
		if (i == ARRAY_SIZE(checks)) {
			pr_err("selftest: no check '%s' (armvm selftest shows each one's ID)",
			       only);
			return 2;
		}
	}
	if (access(kvm_dev, R_OK | W_OK)) {
		pr_err("selftest: cannot use %s: %s", kvm_dev, strerror(errno));
		return 1;
	}
	uname(&u);
	printf("armvm selftest: FPSIMD/SVE state switching on %s %s\n", u.sysname, u.release);
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		char detail[512];
		int r;

		if (only && strcmp(only, checks[i].id))
			continue;
		r = run_check(&checks[i], kvm_dev, detail, sizeof(detail));
		printf("%-4s %-3s %s: %s\n",
		       r == ST_PASS   ? "PASS"
		       : r == ST_SKIP ? "SKIP"
				      : "FAIL",
		       checks[i].id, checks[i].title, detail);
		fflush(stdout);
		passed += r == ST_PASS;
		skipped += r == ST_SKIP;
		failed += r == ST_FAIL;
	}
	printf("selftest: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
