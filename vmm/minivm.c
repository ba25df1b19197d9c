// SPDX-License-Identifier: MIT
#include "minivm.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "layout.h"

uint64_t arm64_core_xreg_id(unsigned int n)
{
	return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
	       KVM_REG_ARM_CORE_REG(regs.regs[n]);
}

uint64_t arm64_sysreg_id(unsigned int op0, unsigned int op1, unsigned int crn, unsigned int crm,
			 unsigned int op2)
{
	return ARM64_SYS_REG(op0, op1, crn, crm, op2);
}

static int set_core(struct minivm *mv, uint64_t id, uint64_t v)
{
	return vcpu_set_reg(mv->vcpu, KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | id, &v);
}

int minivm_reset_regs(struct minivm *mv, uint64_t iters)
{
	bool a32 = mv->vcpu->features & (1u << KVM_ARM_VCPU_EL1_32BIT);
	/* EL1h with DAIF masked; AArch32: SVC mode, A/I/F masked. */
	uint64_t pstate = a32 ? 0x1d3 : 0x3c5;
	int err;

	err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.pstate), pstate);
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.pc), LAYOUT_RAM_BASE);
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.regs[19]), MINIVM_UCALL);
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.regs[20]),
			       LAYOUT_RAM_BASE + MINIVM_DUMP_OFF);
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.regs[21]),
			       LAYOUT_RAM_BASE + MINIVM_LOAD_OFF);
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.regs[22]), iters);
	/* AArch32 payloads find the same in r9 and r10. */
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.regs[9]), MINIVM_UCALL);
	if (!err)
		err = set_core(mv, KVM_REG_ARM_CORE_REG(regs.regs[10]),
			       LAYOUT_RAM_BASE + MINIVM_DUMP_OFF);
	return err;
}

int minivm_create(struct minivm *mv, uint32_t features, bool finalize, const struct sve_vls *vls,
		  const uint8_t *code, size_t len, char *err, size_t errlen)
{
	int ret;

	memset(mv, 0, sizeof(*mv));
	config_init(&mv->cfg);
	mv->cfg.nr_cpus = 1;
	mv->cfg.ram_size = MINIVM_RAM_SIZE;
	if (len > MINIVM_DUMP_OFF)
		return errmsg(err, errlen, -EINVAL, "payload too large");
	ret = vm_create_bare(&mv->vm, &mv->cfg, err, errlen);
	if (ret)
		goto err_destroy;
	mv->vcpu = &mv->vm.vcpus[0];
	ret = vcpu_create(&mv->vm, mv->vcpu, 0, features, err, errlen);
	if (ret)
		goto err_destroy;
	if ((features & (1u << KVM_ARM_VCPU_SVE)) && finalize) {
		ret = vcpu_sve_finalize(mv->vcpu, vls);
		if (ret) {
			errmsg(err, errlen, ret, "KVM_ARM_VCPU_FINALIZE: %s", strerror(-ret));
			goto err_destroy;
		}
	}
	memcpy(mv->vm.ram, code, len);
	mv->dump = mv->vm.ram + MINIVM_DUMP_OFF;
	mv->load = mv->vm.ram + MINIVM_LOAD_OFF;
	ret = minivm_reset_regs(mv, 1);
	if (ret) {
		errmsg(err, errlen, ret, "cannot set the entry registers: %s", strerror(-ret));
		goto err_destroy;
	}
	return 0;

err_destroy:
	vm_destroy(&mv->vm);
	return ret;
}

int minivm_exit(struct minivm *mv, uint64_t *code, char *err, size_t errlen)
{
	struct kvm_run *run = mv->vcpu->run;

	/* 8-byte stores from AArch64 payloads, 4-byte from AArch32 ones. */
	if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
	    run->mmio.phys_addr == MINIVM_UCALL && (run->mmio.len == 8 || run->mmio.len == 4)) {
		*code = 0;
		memcpy(code, run->mmio.data, run->mmio.len);
		return 0;
	}
	if (run->exit_reason == KVM_EXIT_MMIO)
		return errmsg(err, errlen, -EIO, "guest %s %u bytes at 0x%llx (not the ucall)",
			      run->mmio.is_write ? "wrote" : "read", run->mmio.len,
			      (unsigned long long)run->mmio.phys_addr);
	return errmsg(err, errlen, -EIO, "unexpected KVM exit %u", run->exit_reason);
}

int minivm_run(struct minivm *mv, uint64_t *code, char *err, size_t errlen)
{
	for (;;) {
		if (ioctl(mv->vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return errmsg(err, errlen, -errno, "KVM_RUN: %s", strerror(errno));
		}
		if (mv->vcpu->run->exit_reason == KVM_EXIT_INTR)
			continue;
		return minivm_exit(mv, code, err, errlen);
	}
}

uint64_t minivm_xreg(struct minivm *mv, unsigned int n)
{
	uint64_t v = 0;

	vcpu_get_reg(mv->vcpu, arm64_core_xreg_id(n), &v);
	return v;
}

void minivm_destroy(struct minivm *mv)
{
	vm_destroy(&mv->vm);
}
