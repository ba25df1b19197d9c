// SPDX-License-Identifier: MIT
/*
 * Snapshot and restore (snapshot.h, docs/snapshot-format.md). The save
 * follows the kernel's rules (api.rst, devices/arm-vgic-v3.rst,
 * arm-vgic-its.rst): vCPUs out of KVM_RUN with their MMIO exits completed,
 * devices drained and frozen, then every vCPU's registers, the GIC (whose
 * LPI tables go into guest RAM first), the devices, and memory last.
 */
#include "snapshot.h"
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "guest_code.h"
#include "layout.h"
#include "minivm.h"
#include "vm.h"

#define HOST_VERSION 1
#define MACHINE_VERSION 1
#define VCPU_VERSION 1
#define GIC_VERSION 1
#define DEVICES_VERSION 1

uint64_t host_cntfrq(void)
{
#if defined(__aarch64__)
	uint64_t f;

	asm volatile("mrs %0, cntfrq_el0" : "=r"(f));
	return f;
#else
	return 0;
#endif
}

static void put_str(struct state_buf *sb, const char *s)
{
	size_t n = strlen(s);

	state_put_u32(sb, (uint32_t)n);
	state_put_bytes(sb, s, n);
}

/* A string of at most max - 1 bytes, NUL-terminated into buf. */
static void get_str(struct state_buf *sb, char *buf, size_t max)
{
	uint32_t n = state_get_u32(sb);

	if (!state_error(sb) && (n >= max || n > sb->len - sb->pos))
		sb->err = -EINVAL;
	if (state_error(sb)) {
		buf[0] = '\0';
		return;
	}
	state_get_bytes(sb, buf, n);
	buf[n] = '\0';
}

static void put_vls(struct state_buf *sb, const struct sve_vls *v)
{
	for (unsigned int i = 0; i < SVE_VLS_WORDS; i++)
		state_put_u64(sb, v->w[i]);
}

static void get_vls(struct state_buf *sb, struct sve_vls *v)
{
	for (unsigned int i = 0; i < SVE_VLS_WORDS; i++)
		v->w[i] = state_get_u64(sb);
}

/* Size of a disk image or block device, or 0. */
static uint64_t disk_size(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;

	if (fd < 0)
		return 0;
	end = lseek(fd, 0, SEEK_END);
	close(fd);
	return end < 0 ? 0 : (uint64_t)end;
}

/* ---- sections ------------------------------------------------------------ */

static void put_host(struct state_buf *sb, struct vm *vm, int64_t pause_ns)
{
	struct utsname u;
	struct timespec ts;

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "?");
	clock_gettime(CLOCK_REALTIME, &ts);
	put_str(sb, ARMVM_VERSION);
	put_str(sb, u.release);
	state_put_u64(sb, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	state_put_u64(sb, host_cntfrq());
	state_put_u32(sb, (uint32_t)sysconf(_SC_PAGESIZE));
	state_put_u32(sb, (uint32_t)kvm_check_cap(vm->kvm_fd, KVM_CAP_ARM_VM_IPA_SIZE));
	put_vls(sb, &vm->sve_vls); /* the guest's; the host's may be more */
	state_put_u64(sb, (uint64_t)pause_ns);
}

static int get_host(struct state_buf *sb, struct snap_host *h)
{
	get_str(sb, h->armvm_version, sizeof(h->armvm_version));
	get_str(sb, h->kernel, sizeof(h->kernel));
	h->saved_at_ns = state_get_u64(sb);
	h->cntfrq = state_get_u64(sb);
	h->page_size = state_get_u32(sb);
	h->max_ipa_bits = state_get_u32(sb);
	get_vls(sb, &h->host_vls);
	h->pause_ns = state_get_u64(sb);
	return state_finish(sb);
}

static void put_machine(struct state_buf *sb, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	state_put_u32(sb, (uint32_t)cfg->argc);
	for (int i = 0; i < cfg->argc; i++)
		put_str(sb, cfg->argv[i]);
	state_put_u32(sb, vm->nr_vcpus);
	state_put_u64(sb, vm->ram_size);
	state_put_u32(sb, vm->ipa_bits);
	state_put_u32(sb, vm->gic.type);
	state_put_u32(sb, vm->nr_spis);
	state_put_u8(sb, vm->sve);
	state_put_u8(sb, cfg->pmu);
	put_vls(sb, &vm->sve_vls);
	state_put_u32(sb, cfg->nr_disks);
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		state_put_u64(sb, disk_size(cfg->disks[i].path));
		put_str(sb, cfg->disks[i].path);
	}
}

#define SNAP_MAX_ARGS 256
#define SNAP_MAX_ARG 4096

static int get_machine(struct state_buf *sb, struct snap_machine *m)
{
	uint32_t argc = state_get_u32(sb);
	uint8_t sve, pmu;

	if (state_error(sb) || argc > SNAP_MAX_ARGS)
		return -EINVAL;
	m->argv = calloc(argc + 2, sizeof(*m->argv));
	if (!m->argv)
		return -ENOMEM;
	m->argc = (int)argc;
	for (uint32_t i = 0; i < argc; i++) {
		char *a = malloc(SNAP_MAX_ARG);

		if (!a)
			return -ENOMEM;
		m->argv[i] = a;
		get_str(sb, a, SNAP_MAX_ARG);
		if (state_error(sb))
			return -EINVAL;
	}
	m->nr_vcpus = state_get_u32(sb);
	m->ram_size = state_get_u64(sb);
	m->ipa_bits = state_get_u32(sb);
	m->gic = state_get_u32(sb);
	m->nr_spis = state_get_u32(sb);
	sve = state_get_u8(sb);
	pmu = state_get_u8(sb);
	get_vls(sb, &m->vls);
	m->nr_disks = state_get_u32(sb);
	if (state_error(sb) || sve > 1 || pmu > 1 || m->nr_disks > CONFIG_MAX_DISKS ||
	    m->gic < IRQCHIP_GICV2 || m->gic > IRQCHIP_GICV3_ITS || m->nr_vcpus == 0 ||
	    m->ipa_bits > 64)
		return -EINVAL;
	m->sve = sve;
	m->pmu = pmu;
	for (uint32_t i = 0; i < m->nr_disks; i++) {
		m->disk_size[i] = state_get_u64(sb);
		m->disk_path[i] = malloc(SNAP_MAX_ARG);
		if (!m->disk_path[i])
			return -ENOMEM;
		get_str(sb, m->disk_path[i], SNAP_MAX_ARG);
	}
	return state_finish(sb);
}

/* ---- opening -------------------------------------------------------------- */

int snapshot_decode(struct snapshot *s, char *err, size_t errlen)
{
	const struct snap_section *sec;
	struct state_buf sb;
	int ret;

	sec = snap_find(&s->img, SNAP_SEC_HOST, 0);
	state_reader_init(&sb, sec->data, sec->len);
	if (sec->version != HOST_VERSION || get_host(&sb, &s->host))
		return errmsg(err, errlen, -EINVAL,
			      "snapshot: the host section (version %u) is not valid", sec->version);
	sec = snap_find(&s->img, SNAP_SEC_MACHINE, 0);
	state_reader_init(&sb, sec->data, sec->len);
	if (sec->version != MACHINE_VERSION || (ret = get_machine(&sb, &s->m)))
		return errmsg(err, errlen, -EINVAL,
			      "snapshot: the machine section (version %u) is not valid",
			      sec->version);
	if (s->m.nr_vcpus != s->img.nr_vcpus)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot: %u vCPU sections for a machine of %u vCPUs",
			      s->img.nr_vcpus, s->m.nr_vcpus);
	if (s->m.ram_size != s->img.mem_size)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot: %llu bytes of memory for a machine of %llu",
			      (unsigned long long)s->img.mem_size,
			      (unsigned long long)s->m.ram_size);
	s->vcpus = calloc(s->m.nr_vcpus, sizeof(*s->vcpus));
	if (!s->vcpus)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < s->m.nr_vcpus; i++) {
		struct vcpu_state *st = &s->vcpus[i];

		sec = snap_find(&s->img, SNAP_SEC_VCPU, i);
		state_reader_init(&sb, sec->data, sec->len);
		if (sec->version != VCPU_VERSION || vcpu_state_load(st, &sb) || state_finish(&sb))
			return errmsg(err, errlen, -EINVAL,
				      "snapshot: vCPU %u's section is not valid", i);
		if (st->has_sve != s->m.sve || (st->has_sve && !sve_vls_equal(&st->vls, &s->m.vls)))
			return errmsg(err, errlen, -EINVAL,
				      "snapshot: vCPU %u's SVE state does not match the machine's",
				      i);
	}
	return 0;
}

void snapshot_close(struct snapshot *s)
{
	if (s->vcpus)
		for (uint32_t i = 0; i < s->m.nr_vcpus; i++)
			vcpu_state_free(&s->vcpus[i]);
	free(s->vcpus);
	for (int i = 0; s->m.argv && i < s->m.argc; i++)
		free(s->m.argv[i]);
	for (unsigned int i = 0; i < CONFIG_MAX_DISKS; i++)
		free(s->m.disk_path[i]);
	free(s->m.argv);
	snap_close(&s->img);
	memset(s, 0, sizeof(*s));
	s->img.fd = -1;
}

int snapshot_open(const char *path, struct snapshot *s, char *err, size_t errlen)
{
	int ret;

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	ret = snap_open(path, &s->img, err, errlen);
	if (ret)
		return ret;
	ret = snapshot_decode(s, err, errlen);
	if (ret)
		snapshot_close(s);
	return ret;
}

/* ---- host checks --------------------------------------------------------------- */

static const char *gic_name(uint32_t t)
{
	return gic_type_name(t <= IRQCHIP_GICV3_ITS ? (enum irqchip_type)t : IRQCHIP_AUTO);
}

/* A register a host may refuse: firmware (SMCCC, PSCI) or a CPU ID register. */
static bool reg_is_host_bound(uint64_t id, const char **what)
{
	uint64_t coproc = id & KVM_REG_ARM_COPROC_MASK;

	if (coproc == KVM_REG_ARM_FW || coproc == KVM_REG_ARM_FW_FEAT_BMAP) {
		*what = id == KVM_REG_ARM_PSCI_VERSION ? "PSCI version"
			: id == KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_1
				? "SMCCC workaround 1 (Spectre-v2) level"
			: id == KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_2
				? "SMCCC workaround 2 (SSBD) level"
			: id == KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_3
				? "SMCCC workaround 3 (Spectre-BHB) level"
			: coproc == KVM_REG_ARM_FW_FEAT_BMAP ? "firmware feature bitmap"
							     : "firmware register";
		return true;
	}
	/* ID registers: op0 3, op1 0, CRn 0 (the feature ID space). */
	if (coproc == KVM_REG_ARM64_SYSREG &&
	    ((id & KVM_REG_ARM64_SYSREG_OP0_MASK) >> KVM_REG_ARM64_SYSREG_OP0_SHIFT) == 3 &&
	    ((id & KVM_REG_ARM64_SYSREG_OP1_MASK) >> KVM_REG_ARM64_SYSREG_OP1_SHIFT) == 0 &&
	    ((id & KVM_REG_ARM64_SYSREG_CRN_MASK) >> KVM_REG_ARM64_SYSREG_CRN_SHIFT) == 0) {
		*what = "CPU ID register";
		return true;
	}
	return false;
}

/*
 * One throwaway VM and vCPU with the guest's features answer what only
 * KVM can: the GIC it can create, its SVE set (read before FINALIZE), and
 * the registers whose values depend on the host (firmware levels, CPU
 * features), written after FINALIZE with the guest's set: what KVM
 * refuses there it would refuse in the restore, after the guest's machine
 * was built. Refused now instead, naming what.
 */
static int check_probe_vcpu(const struct snapshot *s, char *err, size_t errlen)
{
	const struct vcpu_state *st = &s->vcpus[0];
	const struct snap_machine *m = &s->m;
	struct minivm mv;
	char e2[256];
	int ret;

	ret = minivm_create(&mv, st->features & ~(1u << KVM_ARM_VCPU_POWER_OFF), false, NULL,
			    guest_idle, (size_t)(guest_idle_end - guest_idle), e2, sizeof(e2));
	if (ret)
		return errmsg(err, errlen, ret,
			      "cannot restore %s: this host cannot create its vCPUs: %s", s->path,
			      e2);
	if (!gic_host_supports(mv.vm.vm_fd, (enum irqchip_type)m->gic)) {
		ret = errmsg(
			err, errlen, -EINVAL,
			"cannot restore %s: its guest has a %s, which this host's KVM cannot create",
			s->path, gic_name(m->gic));
		goto out;
	}
	if (st->has_sve) {
		/* The host's set up to the guest's maximum must be the guest's set. */
		struct sve_vls sets[2] = { { { 0 } }, m->vls }, cut;
		char hs[160], gs[160];
		unsigned int common;

		ret = vcpu_sve_get_vls(mv.vcpu, &sets[0]);
		if (ret) {
			errmsg(err, errlen, ret, "cannot read this host's SVE vector lengths: %s",
			       strerror(-ret));
			goto out;
		}
		sve_vls_cut(&sets[0], sve_vls_max_vq(&m->vls), &cut);
		if (!sve_vls_equal(&cut, &m->vls)) {
			sve_vls_format(&sets[0], hs, sizeof(hs));
			sve_vls_format(&m->vls, gs, sizeof(gs));
			common = sve_vls_common_max(sets, 2);
			if (common)
				ret = errmsg(
					err, errlen, -EINVAL,
					"cannot restore %s: its guest has SVE vector lengths %s, this host offers %s; take the snapshot from a guest run with --sve-max-vl %u",
					s->path, gs, hs, common * 128);
			else
				ret = errmsg(
					err, errlen, -EINVAL,
					"cannot restore %s: its guest has SVE vector lengths %s, this host offers %s, and no common maximum exists",
					s->path, gs, hs);
			goto out;
		}
		ret = vcpu_sve_finalize(mv.vcpu, &st->vls);
		if (ret) {
			errmsg(err, errlen, ret,
			       "cannot restore %s: KVM refuses its SVE vector lengths: %s", s->path,
			       strerror(-ret));
			goto out;
		}
	}
	for (uint32_t i = 0; i < st->nr_regs; i++) {
		const char *what;
		uint64_t v = 0;

		if (!reg_is_host_bound(st->ids[i], &what))
			continue;
		memcpy(&v, st->data + st->offsets[i], MIN(sizeof(v), kvm_reg_size(st->ids[i])));
		ret = vcpu_set_reg(mv.vcpu, st->ids[i], st->data + st->offsets[i]);
		if (ret) {
			errmsg(err, errlen, ret,
			       "cannot restore %s: this host's KVM refuses its guest's %s (register 0x%llx = 0x%llx): %s; the snapshot comes from a host with other CPU features or firmware",
			       s->path, what, (unsigned long long)st->ids[i], (unsigned long long)v,
			       strerror(-ret));
			goto out;
		}
	}
out:
	minivm_destroy(&mv);
	return ret;
}

int snapshot_check_host(const struct snapshot *s, const struct vm_config *cfg, char *err,
			size_t errlen)
{
	const struct snap_machine *m = &s->m;
	uint64_t frq = host_cntfrq();
	int kvm, max_vcpus, ipa, ret = 0;

	if (s->host.cntfrq && frq && s->host.cntfrq != frq)
		return errmsg(
			err, errlen, -EINVAL,
			"cannot restore %s: its guest counter runs at %llu Hz, this host's at %llu Hz (KVM cannot rescale it)",
			s->path, (unsigned long long)s->host.cntfrq, (unsigned long long)frq);
	kvm = open(cfg->kvm_dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return errmsg(err, errlen, -errno, "cannot open %s: %s", cfg->kvm_dev,
			      strerror(errno));
	max_vcpus = kvm_check_cap(kvm, KVM_CAP_MAX_VCPUS);
	ipa = kvm_check_cap(kvm, KVM_CAP_ARM_VM_IPA_SIZE);
	if (max_vcpus > 0 && m->nr_vcpus > (uint32_t)max_vcpus)
		ret = errmsg(err, errlen, -EINVAL,
			     "cannot restore %s: it has %u vCPUs, this host's KVM allows %d",
			     s->path, m->nr_vcpus, max_vcpus);
	else if (m->ipa_bits > 40 && (int)m->ipa_bits > ipa)
		ret = errmsg(
			err, errlen, -EINVAL,
			"cannot restore %s: its guest needs a %u-bit address space, this host offers %d bits",
			s->path, m->ipa_bits, ipa);
	else if (m->pmu && !kvm_check_cap(kvm, KVM_CAP_ARM_PMU_V3))
		ret = errmsg(err, errlen, -EINVAL,
			     "cannot restore %s: its guest has a PMU, this host's KVM offers none",
			     s->path);
	else if (m->sve && kvm_check_cap(kvm, KVM_CAP_ARM_SVE) <= 0)
		ret = errmsg(err, errlen, -EINVAL,
			     "cannot restore %s: its guest has SVE, this host's KVM offers none",
			     s->path);
	close(kvm);
	if (!ret)
		ret = check_probe_vcpu(s, err, errlen);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < m->nr_disks && i < cfg->nr_disks; i++) {
		const char *p = cfg->disks[i].path;
		uint64_t size;

		if (access(p, F_OK) < 0)
			return errmsg(err, errlen, -ENOENT,
				      "cannot restore %s: its disk %u, %s, is missing", s->path, i,
				      p);
		size = disk_size(p);
		if (size != m->disk_size[i])
			return errmsg(
				err, errlen, -EINVAL,
				"cannot restore %s: its disk %u, %s, is %llu bytes, the guest knew it as %llu",
				s->path, i, p, (unsigned long long)size,
				(unsigned long long)m->disk_size[i]);
	}
	return 0;
}

int snapshot_config(const struct snapshot *s, struct vm_config *user, struct vm_config *cfg,
		    char *err, size_t errlen)
{
	const struct snap_machine *m = &s->m;
	char **argv = calloc((size_t)m->argc + 2, sizeof(*argv));
	char e2[512];
	int ret;

	if (!argv)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	config_init(cfg);
	argv[0] = "run";
	for (int i = 0; i < m->argc; i++)
		argv[i + 1] = m->argv[i];
	optind = 0;
	ret = cli_parse_run(m->argc + 1, argv, cfg, e2, sizeof(e2));
	free(argv);
	if (ret)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot %s: its saved options do not parse: %s", s->path, e2);
	/* The machine as it was resolved on the saving host. */
	cfg->nr_cpus = m->nr_vcpus;
	cfg->ram_size = m->ram_size;
	cfg->irqchip = (enum irqchip_type)m->gic;
	cfg->no_sve = !m->sve;
	memset(&cfg->sve, 0, sizeof(cfg->sve));
	if (m->sve) {
		cfg->sve.kind = SVE_REQ_SET;
		for (unsigned int vq = 1;
		     vq <= SVE_VQ_MAX_UAPI && cfg->sve.nr_vl < SVE_REQ_MAX_LENGTHS; vq++)
			if (sve_vls_has(&m->vls, vq))
				cfg->sve.vl[cfg->sve.nr_vl++] = vq * 128;
	}
	if (cfg->nr_disks != m->nr_disks)
		return errmsg(err, errlen, -EINVAL,
			      "snapshot %s: %u disks in its options, %u in its machine", s->path,
			      cfg->nr_disks, m->nr_disks);
	/* The disks where the guest last had them (a restore may move them). */
	for (unsigned int i = 0; i < m->nr_disks; i++) {
		cfg->disk_path[i] = strdup(m->disk_path[i]);
		if (!cfg->disk_path[i])
			return errmsg(err, errlen, -ENOMEM, "out of memory");
		cfg->disks[i].path = cfg->disk_path[i];
	}
	/* What the user may change. */
	cfg->name = user->name;
	cfg->loglevel = user->loglevel;
	cfg->debug = user->debug;
	cfg->no_seccomp = user->no_seccomp;
	cfg->kvm_dev = user->kvm_dev;
	cfg->dump_dtb = NULL;
	if (user->nr_disks) {
		if (user->nr_disks != m->nr_disks)
			return errmsg(
				err, errlen, -EINVAL,
				"restore: %u --disk options given, the snapshot's guest has %u disks",
				user->nr_disks, m->nr_disks);
		/* The user's options, whole: their strings change owner. */
		for (unsigned int i = 0; i < m->nr_disks; i++) {
			free(cfg->disk_opt[i]);
			free(cfg->disk_path[i]);
			cfg->disk_path[i] = NULL;
			cfg->disks[i] = user->disks[i];
			cfg->disk_opt[i] = user->disk_opt[i];
			user->disk_opt[i] = NULL;
		}
	}
	cfg->restore = s->path;
	cfg->snap = s;
	return 0;
}

/* ---- save --------------------------------------------------------------------- */

/* The child of a background save: finish the file, report, exit. Nothing
 * here allocates or takes a lock another thread could have held. */
static void __attribute__((noreturn))
snapshot_child(struct snap_job *job, const uint8_t *mem, snap_progress_fn progress, void *opaque,
	       int out)
{
	struct snap_bg_result r;
	int64_t t0 = clock_monotonic_ns();

	memset(&r, 0, sizeof(r));
	r.ret = snap_write_finish(job, mem, progress, opaque, r.err, sizeof(r.err));
	if (r.ret) {
		if (job->fd >= 0)
			close(job->fd);
		if (!job->renamed)
			unlink(job->tmp);
	}
	r.stored = job->stored;
	r.write_ns = clock_monotonic_ns() - t0;
	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		/* the parent is gone; the file is what it is */
	}
	_exit(0);
}

int snapshot_bg_collect(struct snap_bg *bg, struct snap_result *res, char *err, size_t errlen)
{
	struct snap_bg_result r;
	ssize_t n = read(bg->fd, &r, sizeof(r));
	int status;

	close(bg->fd);
	bg->fd = -1;
	waitpid(bg->pid, &status, 0);
	bg->pid = 0;
	if (n != (ssize_t)sizeof(r))
		return errmsg(err, errlen, -EIO, "snapshot: the process writing it died (%s)",
			      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no result");
	res->write_ns = r.write_ns;
	res->mem_bytes = r.stored;
	if (r.ret) {
		r.err[sizeof(r.err) - 1] = '\0';
		return errmsg(err, errlen, r.ret, "%s", r.err);
	}
	return 0;
}

int vm_snapshot(struct vm *vm, const char *path, snap_progress_fn progress, void *opaque,
		struct snap_result *res, struct snap_bg *bg, char *err, size_t errlen)
{
	struct snap_job job = { .fd = -1 };
	struct snap_writer w;
	struct state_buf sb;
	uint64_t *mpidr = NULL;
	int64_t t0 = clock_monotonic_ns(), took = 0, t1;
	bool was_paused = vm->paused;
	int ret;

	memset(res, 0, sizeof(*res));
	for (struct device *d = vm->devices.head; d; d = d->next)
		if (d->ops->unsaveable)
			return errmsg(err, errlen, -ENOTSUP,
				      "snapshot: %s is %s; a guest with it cannot be saved",
				      d->name, d->ops->unsaveable);
	if (!was_paused) {
		ret = vm_pause(vm, &took);
		if (ret)
			return errmsg(err, errlen, ret, "snapshot: cannot pause the guest: %s",
				      strerror(-ret));
	}
	device_list_freeze(&vm->devices);
	snapw_init(&w);
	mpidr = calloc(vm->nr_vcpus, sizeof(*mpidr));
	if (!mpidr) {
		ret = errmsg(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	/* HOST, MACHINE */
	state_writer_init(&sb);
	put_host(&sb, vm, took);
	snapw_section(&w, SNAP_SEC_HOST, HOST_VERSION, 0, sb.data, sb.len);
	state_free(&sb);
	state_writer_init(&sb);
	put_machine(&sb, vm);
	snapw_section(&w, SNAP_SEC_MACHINE, MACHINE_VERSION, 0, sb.data, sb.len);
	state_free(&sb);
	/* VCPU: every register KVM lists, events, MP state. */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu_state st;

		mpidr[i] = vm->vcpus[i].mpidr;
		ret = vcpu_state_capture(&vm->vcpus[i], &st);
		if (ret) {
			errmsg(err, errlen, ret, "snapshot: cannot read vCPU %u's registers: %s", i,
			       strerror(-ret));
			goto out;
		}
		state_writer_init(&sb);
		ret = vcpu_state_save(&st, &sb);
		vcpu_state_free(&st);
		if (!ret)
			snapw_section(&w, SNAP_SEC_VCPU, VCPU_VERSION, 0, sb.data, sb.len);
		state_free(&sb);
		if (ret) {
			errmsg(err, errlen, ret, "snapshot: vCPU %u: %s", i, strerror(-ret));
			goto out;
		}
	}
	/* GIC (its LPI tables go to guest RAM now, before memory). */
	state_writer_init(&sb);
	ret = gic_state_save(&vm->gic, mpidr, vm->nr_vcpus, &sb, err, errlen);
	if (!ret)
		snapw_section(&w, SNAP_SEC_GIC, GIC_VERSION, 0, sb.data, sb.len);
	state_free(&sb);
	if (ret)
		goto out;
	/* Devices (frozen: drained, and nothing moves until the thaw). */
	state_writer_init(&sb);
	ret = device_list_save(&vm->devices, &sb);
	if (!ret)
		snapw_section(&w, SNAP_SEC_DEVICES, DEVICES_VERSION, 0, sb.data, sb.len);
	state_free(&sb);
	if (ret) {
		errmsg(err, errlen, ret, "snapshot: a device cannot be saved: %s", strerror(-ret));
		goto out;
	}
	t1 = clock_monotonic_ns();
	ret = snap_write_begin(&w, &job, path, LAYOUT_RAM_BASE, vm->ram_size, err, errlen);
	if (ret)
		goto out;
	if (bg) {
		int pfd[2];
		pid_t pid;

		if (pipe2(pfd, O_CLOEXEC) < 0) {
			ret = errmsg(err, errlen, -errno, "snapshot: %s", strerror(errno));
			goto out;
		}
		pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			snapshot_child(&job, vm->ram, progress, opaque, pfd[1]);
		}
		close(pfd[1]);
		if (pid < 0) {
			ret = errmsg(err, errlen, -errno, "snapshot: cannot start the writer: %s",
				     strerror(errno));
			close(pfd[0]);
			goto out;
		}
		/* The child owns the temporary file now. */
		close(job.fd);
		job.fd = -1;
		job.tmp[0] = '\0';
		bg->pid = pid;
		bg->fd = pfd[0];
		bg->t0 = t1;
		ret = 1;
		goto out;
	}
	ret = snap_write_finish(&job, vm->ram, progress, opaque, err, errlen);
	res->write_ns = clock_monotonic_ns() - t1;
	res->mem_bytes = job.stored;
	if (!ret && job.dir_sync_errno)
		pr_warn("snapshot %s: cannot sync its directory: %s", path,
			strerror(job.dir_sync_errno));
	if (!ret) {
		res->file_bytes = job.mem_off + res->mem_bytes;
		pr_info("snapshot %s: %llu MiB of memory stored in %.1f ms", path,
			(unsigned long long)(res->mem_bytes >> 20), res->write_ns / 1e6);
	}
out:
	snap_write_free(&job);
	device_list_thaw(&vm->devices);
	snapw_free(&w);
	free(mpidr);
	res->pause_ns = clock_monotonic_ns() - t0;
	if (ret < 0 && !was_paused)
		vm_resume(vm); /* a failed snapshot leaves the guest as it was */
	return ret;
}

/* ---- restore ------------------------------------------------------------------ */

int vm_restore_state(struct vm *vm, char *err, size_t errlen)
{
	const struct snapshot *s = vm->cfg->snap;
	const struct snap_section *sec;
	struct state_buf sb;
	uint64_t *mpidr;
	int ret;

	/* vCPUs: registers, events, MP state. */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		uint64_t id = 0;

		ret = vcpu_state_apply(&vm->vcpus[i], &s->vcpus[i], &id);
		if (ret)
			return errmsg(
				err, errlen, ret,
				id ? "restore: KVM refused vCPU %u's register 0x%llx: %s (a register this host cannot take: another CPU or firmware level?)"
				   : "restore: KVM refused vCPU %u's events or MP state%.0llx: %s",
				i, (unsigned long long)id, strerror(-ret));
	}
	/* The GIC, after the vCPUs, in the order the list holds. */
	mpidr = calloc(vm->nr_vcpus, sizeof(*mpidr));
	if (!mpidr)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		mpidr[i] = vm->vcpus[i].mpidr;
	sec = snap_find(&s->img, SNAP_SEC_GIC, 0);
	state_reader_init(&sb, sec->data, sec->len);
	ret = sec->version == GIC_VERSION
		      ? gic_state_load(&vm->gic, mpidr, vm->nr_vcpus, &sb, err, errlen)
		      : errmsg(err, errlen, -EINVAL, "restore: GIC section version %u unknown",
			       sec->version);
	free(mpidr);
	if (ret)
		return ret;
	/* Devices last: they may raise interrupts, which need the GIC whole. */
	sec = snap_find(&s->img, SNAP_SEC_DEVICES, 0);
	state_reader_init(&sb, sec->data, sec->len);
	ret = sec->version == DEVICES_VERSION ? device_list_load(&vm->devices, &sb) : -EINVAL;
	if (!ret)
		ret = state_finish(&sb);
	if (ret)
		return errmsg(err, errlen, ret,
			      "restore: the devices' state does not fit this machine (%s)",
			      strerror(-ret));
	return 0;
}

/* ---- armvm snapshot-info --------------------------------------------------------- */

static void info_progress(void *opaque, uint64_t done, uint64_t total)
{
	int64_t *t0 = opaque;
	double secs = (clock_monotonic_ns() - *t0) / 1e9;

	if (secs >= 1.0 && isatty(STDERR_FILENO))
		fprintf(stderr, "\rverifying: %llu/%llu MiB, %.0f MiB/s   ",
			(unsigned long long)(done >> 20), (unsigned long long)(total >> 20),
			done / 1048576.0 / secs);
}

int snapshot_info_main(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false, verify = false;
	struct snapshot s;
	char err[512], vls[160], when[64];
	struct tm tm;
	time_t t;
	struct cli_parser p;
	int ret;

	cli_begin(&p, "snapshot-info", argc, argv, err, sizeof(err));
	while ((ret = cli_next(&p)) > CLI_HELP) {
		json |= ret == OPT_JSON;
		verify |= ret == OPT_VERIFY;
	}
	if ((ret = cli_finish(&p, ret)) >= 0)
		return ret;
	path = p.npos ? p.pos[0] : NULL;
	if (!path) {
		pr_err("snapshot-info: say which file: armvm snapshot-info FILE [--json] [--verify]");
		return 2;
	}
	ret = snapshot_open(path, &s, err, sizeof(err));
	if (ret) {
		pr_err("%s", err);
		return 1;
	}
	sve_vls_format(&s.m.vls, vls, sizeof(vls));
	t = (time_t)(s.host.saved_at_ns / 1000000000ull);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (json) {
		json_t *vl = json_array(), *disks = json_array(), *j;
		char *out;

		for (unsigned int vq = 1; vq <= SVE_VQ_MAX_UAPI; vq++)
			if (s.m.sve && sve_vls_has(&s.m.vls, vq))
				json_array_append_new(vl, json_integer(vq * 128));
		for (uint32_t i = 0; i < s.m.nr_disks; i++)
			json_array_append_new(disks,
					      json_pack("{s:s, s:I}", "path", s.m.disk_path[i],
							"bytes", (json_int_t)s.m.disk_size[i]));
		j = json_pack(
			"{s:s, s:i, s:i, s:s, s:s, s:s, s:I, s:i, s:I, s:I, s:s, s:i, s:o, s:b, s:o, s:f}",
			"path", path, "format_version", (int)s.img.version, "sections",
			(int)s.img.nr_sections, "saved_at", when, "armvm_version",
			s.host.armvm_version, "host_kernel", s.host.kernel, "cntfrq",
			(json_int_t)s.host.cntfrq, "vcpus", (int)s.m.nr_vcpus, "memory_mib",
			(json_int_t)(s.m.ram_size >> 20), "memory_stored_bytes",
			(json_int_t)(s.img.mem.data_pages * SNAP_PAGE), "gic", gic_name(s.m.gic),
			"ipa_bits", (int)s.m.ipa_bits, "sve_vector_lengths", vl, "pmu", s.m.pmu,
			"disks", disks, "pause_ms", s.host.pause_ns / 1e6);
		out = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (out)
			printf("%s\n", out);
		free(out);
		json_decref(j);
	} else {
		printf("%s: armvm snapshot, format version %u, %u sections\n", path, s.img.version,
		       s.img.nr_sections);
		printf("saved:   %s by armvm %s on Linux %s (counter %llu Hz, %u-byte pages)\n",
		       when, s.host.armvm_version, s.host.kernel, (unsigned long long)s.host.cntfrq,
		       s.host.page_size);
		printf("machine: %u vCPU(s), %llu MiB, %s, SVE %s, PMU %s, %u-bit IPA\n",
		       s.m.nr_vcpus, (unsigned long long)(s.m.ram_size >> 20), gic_name(s.m.gic),
		       s.m.sve ? vls : "none", s.m.pmu ? "yes" : "no", s.m.ipa_bits);
		printf("memory:  %.1f MiB stored, %.1f MiB of zero pages left as holes\n",
		       s.img.mem.data_pages * (double)SNAP_PAGE / 1048576,
		       (s.m.ram_size - s.img.mem.data_pages * SNAP_PAGE) / 1048576.0);
		for (uint32_t i = 0; i < s.m.nr_disks; i++)
			printf("disk %u:  %s (%llu bytes)\n", i, s.m.disk_path[i],
			       (unsigned long long)s.m.disk_size[i]);
		printf("options:");
		for (int i = 0; i < s.m.argc; i++)
			printf(" %s", s.m.argv[i]);
		printf("\n");
		for (unsigned int i = 0; i < s.img.nr_sections; i++)
			printf("section %2u: %-8s v%u, %llu bytes at %llu, crc32c %08x ok\n", i,
			       snap_sec_name(s.img.sec[i].type), s.img.sec[i].version,
			       (unsigned long long)s.img.sec[i].len,
			       (unsigned long long)s.img.sec[i].offset, s.img.sec[i].crc);
	}
	if (verify) {
		int64_t t0 = clock_monotonic_ns();

		ret = snap_verify_memory(&s.img, info_progress, &t0, err, sizeof(err));
		if (isatty(STDERR_FILENO) && clock_monotonic_ns() - t0 > 1000000000)
			fprintf(stderr, "\n");
		if (ret) {
			pr_err("%s: %s", path, err);
			snapshot_close(&s);
			return 1;
		}
		if (!json)
			printf("memory checksums: all %u MiB verified\n", s.img.mem.nr_chunks);
	}
	snapshot_close(&s);
	return 0;
}
