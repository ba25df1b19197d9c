// SPDX-License-Identifier: MIT
/*
 * vCPUs: creation and KVM_ARM_VCPU_INIT (api.rst §4.82), boot registers
 * (booting.rst §4: x0 = DTB, x1..x3 = 0, EL1h with DAIF masked), and the
 * KVM_RUN loop with its exits.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "jail.h"
#include "kvm_stats.h"
#include "vm.h"

#define ARM64_CORE_REG(x)                                                                          \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define ARM64_SYS_REG_ID(op0, op1, crn, crm, op2)                                                  \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG |                                 \
	 ((uint64_t)(op0) << KVM_REG_ARM64_SYSREG_OP0_SHIFT) |                                     \
	 ((uint64_t)(op1) << KVM_REG_ARM64_SYSREG_OP1_SHIFT) |                                     \
	 ((uint64_t)(crn) << KVM_REG_ARM64_SYSREG_CRN_SHIFT) |                                     \
	 ((uint64_t)(crm) << KVM_REG_ARM64_SYSREG_CRM_SHIFT) |                                     \
	 ((uint64_t)(op2) << KVM_REG_ARM64_SYSREG_OP2_SHIFT))
#define MPIDR_EL1 ARM64_SYS_REG_ID(3, 0, 0, 0, 5)

/* PSTATE at entry: EL1h, D, A, I and F masked. */
#define PSTATE_BOOT 0x3c5ULL

int vcpu_get_reg(struct vcpu *vcpu, uint64_t id, void *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

int vcpu_set_reg(struct vcpu *vcpu, uint64_t id, const void *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id, uint32_t features, char *err,
		size_t errlen)
{
	struct kvm_vcpu_init init;
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->stats_fd = -1;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create vCPU %u: %s", id, strerror(errno));
		return ret;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		snprintf(err, errlen, "cannot map vCPU %u's run area: %s", id, strerror(errno));
		goto err_close;
	}
	/*
	 * The target KVM prefers, with exactly the features we mean, never
	 * the preferred target's feature bits copied blindly.
	 */
	memset(&init, 0, sizeof(init));
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		goto err_unmap;
	}
	memset(init.features, 0, sizeof(init.features));
	init.features[0] = features;
	vcpu->features = features;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_ARM_VCPU_INIT on vCPU %u: %s", id, strerror(errno));
		goto err_unmap;
	}
	ret = vcpu_get_reg(vcpu, MPIDR_EL1, &vcpu->mpidr);
	if (ret) {
		snprintf(err, errlen, "cannot read vCPU %u's MPIDR_EL1: %s", id, strerror(-ret));
		goto err_unmap;
	}
	/* Opened now: it is a vCPU ioctl, which waits while the vCPU runs;
	 * reading it later never does. Kernels before 5.14 have none. */
	vcpu->stats_fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, 0);
	return 0;

err_unmap:
	munmap(vcpu->run, vm->run_size);
	vcpu->run = NULL;
err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	return ret;
}

int vcpu_sve_get_vls(struct vcpu *vcpu, struct sve_vls *vls)
{
	return vcpu_get_reg(vcpu, sve_vls_id(), vls->w);
}

int vcpu_sve_finalize(struct vcpu *vcpu, const struct sve_vls *vls)
{
	int what = KVM_ARM_VCPU_SVE;
	int err;

	if (vls) {
		err = vcpu_set_reg(vcpu, sve_vls_id(), vls->w);
		if (err)
			return err;
	}
	return ioctl(vcpu->fd, KVM_ARM_VCPU_FINALIZE, &what) < 0 ? -errno : 0;
}

int vcpu_init_pmu(struct vcpu *vcpu)
{
	int irq = 16 + 7; /* PPI 7, as the FDT says (DEVTREE_PMU_PPI) */
	struct kvm_device_attr a = { .group = KVM_ARM_VCPU_PMU_V3_CTRL,
				     .attr = KVM_ARM_VCPU_PMU_V3_IRQ,
				     .addr = (uint64_t)(uintptr_t)&irq };

	if (ioctl(vcpu->fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return -errno;
	a.attr = KVM_ARM_VCPU_PMU_V3_INIT;
	a.addr = 0;
	return ioctl(vcpu->fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

int vcpu_set_boot_regs(struct vcpu *vcpu, uint64_t entry, uint64_t fdt)
{
	uint64_t pstate = PSTATE_BOOT, zero = 0;
	int err;

	err = vcpu_set_reg(vcpu, ARM64_CORE_REG(regs.pstate), &pstate);
	if (!err)
		err = vcpu_set_reg(vcpu, ARM64_CORE_REG(regs.regs[0]), &fdt);
	for (int i = 1; i < 4 && !err; i++)
		err = vcpu_set_reg(vcpu, ARM64_CORE_REG(regs.regs[i]), &zero);
	if (!err)
		err = vcpu_set_reg(vcpu, ARM64_CORE_REG(regs.pc), &entry);
	return err;
}

/* The names KVM's binary statistics give them (arm64, Linux 5.14+). */
const char *const vcpu_kstat_names[VCPU_KSTAT_NR] = {
	[VCPU_KSTAT_EXITS] = "exits",
	[VCPU_KSTAT_MMIO_KERNEL] = "mmio_exit_kernel",
	[VCPU_KSTAT_MMIO_USER] = "mmio_exit_user",
	[VCPU_KSTAT_WFI] = "wfi_exit_stat",
	[VCPU_KSTAT_HVC] = "hvc_exit_stat",
	[VCPU_KSTAT_SIGNAL] = "signal_exits",
};

int vcpu_kvm_stats(struct vcpu *vcpu, uint64_t out[VCPU_KSTAT_NR])
{
	memset(out, 0, sizeof(uint64_t) * VCPU_KSTAT_NR);
	if (vcpu->stats_fd < 0)
		return -ENOTSUP;
	return kvm_stats_add(vcpu->stats_fd, vcpu_kstat_names, VCPU_KSTAT_NR, out);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->stats_fd >= 0)
		close(vcpu->stats_fd);
	vcpu->stats_fd = -1;
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t addr = run->mmio.phys_addr;
	unsigned int len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data)) {
		pr_guest(LOG_WARNING, "vCPU %u: MMIO access of %u bytes at 0x%llx ignored",
			 vcpu->id, len, (unsigned long long)addr);
		return;
	}
	if (!bus_access(&vcpu->vm->mmio, addr, run->mmio.data, len, run->mmio.is_write)) {
		/* Nothing there: writes vanish, reads see zero. */
		pr_guest(LOG_DEBUG, "vCPU %u: %s of %u bytes at unmapped 0x%llx", vcpu->id,
			 run->mmio.is_write ? "write" : "read", len, (unsigned long long)addr);
	}
}

static bool vcpu_handle_system_event(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(vm, VM_EXIT_POWEROFF, "guest powered off");
		return false;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(vm, VM_EXIT_RESET, "guest requested a reset");
		return false;
	case KVM_SYSTEM_EVENT_CRASH:
		vm_request_exit(vm, VM_EXIT_CRASH, "guest crashed (PSCI system event: crash)");
		return false;
	default:
		/* SUSPEND and WAKEUP only reach us if we opted in: resume. */
		pr_debug("vCPU %u: system event %u ignored", vcpu->id,
			 vcpu->run->system_event.type);
		return true;
	}
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	prctl(PR_SET_NAME, name); /* "kvm-vcpu-N" in kvmtool; shown by ps, top, perf */
	/* Only this thread's kick signal may interrupt KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (jail_enter(JAIL_VCPU)) {
		vm_request_exit(vm, VM_EXIT_ERROR, "vCPU %u: cannot install its seccomp filter",
				vcpu->id);
		return NULL;
	}

	vm_wait_go(vm);
	while (!vm->stopping) {
		if (vm->pause_req) {
			vm_vcpu_park(vm, vcpu);
			continue; /* stopping may have come meanwhile */
		}
		if (vcpu->id == 0 && !vm->first_run_logged) {
			vm->first_run_logged = 1;
			phase_mark("threads");
			phase_report("start-up phases");
			vm->t_first_run_ns = clock_monotonic_ns();
			pr_info("start-up: %.1f ms from exec to first KVM_RUN",
				(clock_monotonic_ns() - vm->t_main_ns) / 1e6);
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			vcpu->exit_pending = false; /* KVM completed it on entry */
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			vm_request_exit(vm, VM_EXIT_ERROR, "vCPU %u: KVM_RUN: %s", vcpu->id,
					strerror(errno));
			break;
		}
		vcpu->exits++;
		vcpu->exit_pending = false;
		switch (vcpu->run->exit_reason) {
		case KVM_EXIT_MMIO:
			vcpu->mmio_exits++;
			vcpu_handle_mmio(vcpu);
			vcpu->exit_pending = true;
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (!vcpu_handle_system_event(vcpu))
				return NULL;
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_FAIL_ENTRY:
			vm_request_exit(
				vm, VM_EXIT_ERROR,
				"vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)",
				vcpu->id,
				(unsigned long long)
					vcpu->run->fail_entry.hardware_entry_failure_reason);
			return NULL;
		case KVM_EXIT_INTERNAL_ERROR:
			vm_request_exit(vm, VM_EXIT_ERROR,
					"vCPU %u: KVM internal error (suberror %u)", vcpu->id,
					vcpu->run->internal.suberror);
			return NULL;
		default:
			vm_request_exit(vm, VM_EXIT_ERROR, "vCPU %u: unexpected KVM exit reason %u",
					vcpu->id, vcpu->run->exit_reason);
			return NULL;
		}
	}
	return NULL;
}
