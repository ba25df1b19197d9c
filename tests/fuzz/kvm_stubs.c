// SPDX-License-Identifier: MIT
/*
 * What the PCI and virtio transport code asks of KVM, for fuzzing it on
 * the build host: routes, irqfds and ioeventfds are accepted and counted,
 * an SPI is a level remembered per line. The code under test is the real
 * one (vmm/pci.c, devices/virtio_pci.c, devices/virtio_mmio.c).
 */
#include <errno.h>
#include <stdint.h>

#include "gic.h"
#include "irq.h"
#include "jail.h"
#include "vm.h"

unsigned long fuzz_kvm_calls;
int fuzz_spi_level[1024];

int irq_route_spi(struct irq_routes *r, uint32_t spi)
{
	(void)r, (void)spi;
	fuzz_kvm_calls++;
	return 0;
}

uint32_t irq_msi_gsi_alloc(struct irq_routes *r)
{
	(void)r;
	return 1000 + (uint32_t)fuzz_kvm_calls++ % 1000;
}

int irq_route_msi(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	(void)r, (void)gsi, (void)addr, (void)data, (void)devid;
	fuzz_kvm_calls++;
	return 0;
}

int irq_irqfd(int vm_fd, int efd, uint32_t gsi, bool assign)
{
	(void)vm_fd, (void)efd, (void)gsi, (void)assign;
	fuzz_kvm_calls++;
	return 0;
}

int irq_ioeventfd(int vm_fd, int efd, uint64_t addr, unsigned int len, bool match, uint64_t data,
		  bool assign)
{
	(void)vm_fd, (void)efd, (void)addr, (void)len, (void)match, (void)data, (void)assign;
	fuzz_kvm_calls++;
	return 0;
}

int gic_spi_set(int vm_fd, uint32_t spi, int level)
{
	(void)vm_fd;
	if (spi < 1024)
		fuzz_spi_level[spi] = level;
	return 0;
}

uint32_t vm_alloc_spi(struct vm *vm)
{
	return vm->nr_spis++;
}

/* The I/O threads' seccomp filter: never prepared here. */
int jail_enter(enum jail_kind kind)
{
	(void)kind;
	return 0;
}

/* ONE_REG: never reached by the loaders under test. */
int vcpu_get_reg(struct vcpu *vcpu, uint64_t id, void *val)
{
	(void)vcpu, (void)id, (void)val;
	return -ENOSYS;
}

int vcpu_set_reg(struct vcpu *vcpu, uint64_t id, const void *val)
{
	(void)vcpu, (void)id, (void)val;
	return -ENOSYS;
}
