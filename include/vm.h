/* SPDX-License-Identifier: MIT */
/*
 * A VM: the KVM handles, guest RAM, the MMIO bus, the GIC, the devices,
 * the vCPU threads and the I/O loop. vm_create() validates everything the
 * user asked for against the host and builds the machine; vm_run() runs it
 * until the guest powers off or resets, the user quits, or an error.
 */
#ifndef ARMVM_VM_H
#define ARMVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "console.h"
#include "device.h"
#include "evloop.h"
#include "gic.h"
#include "guest_mem.h"
#include "irq.h"
#include "pci.h"
#include "pl031.h"
#include "sve.h"
#include "uart8250.h"

struct kvm_run;
struct vm;
struct vfio_group;
struct viommu;
struct viommu_view;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	uint64_t mpidr;
	uint32_t features; /* KVM_ARM_VCPU_INIT features[0] */
	pthread_t thread;
	bool started;
	/* For `armvm stat` (the vCPU thread counts, anyone reads). */
	_Atomic uint64_t exits, mmio_exits;
	_Atomic bool parked;
	/* An MMIO exit handled but not yet completed by KVM (vCPU thread). */
	bool exit_pending;
	int stats_fd; /* KVM_GET_STATS_FD, or -1 */
};

/* The kernel's counters of a vCPU that armvm reports (kvm_stats.h). */
enum vcpu_kstat {
	VCPU_KSTAT_EXITS,	/* every exit from the guest */
	VCPU_KSTAT_MMIO_KERNEL, /* MMIO handled in the kernel: ioeventfds, the GIC */
	VCPU_KSTAT_MMIO_USER,	/* MMIO handed to armvm */
	VCPU_KSTAT_WFI,
	VCPU_KSTAT_HVC, /* PSCI calls */
	VCPU_KSTAT_SIGNAL,
	VCPU_KSTAT_NR
};
extern const char *const vcpu_kstat_names[VCPU_KSTAT_NR];
/* The vCPU's counters since it was created; -errno on kernels without stats. */
int vcpu_kvm_stats(struct vcpu *vcpu, uint64_t out[VCPU_KSTAT_NR]);

enum vm_exit {
	VM_EXIT_NONE,
	VM_EXIT_POWEROFF, /* PSCI SYSTEM_OFF */
	VM_EXIT_RESET,	  /* PSCI SYSTEM_RESET */
	VM_EXIT_QUIT,	  /* Ctrl-a x */
	VM_EXIT_CRASH,	  /* PSCI SYSTEM_EVENT crash */
	VM_EXIT_ERROR,	  /* KVM or VMM failure; message in exit_msg */
	VM_EXIT_SIGNAL,	  /* SIGTERM, SIGINT or SIGHUP; exit_signal */
};

/* The kernel, initrd and command line, read once and reused on reboot. */
struct boot_files {
	uint8_t *kernel; /* mapped; read through only where parsed */
	size_t kernel_size;
	size_t initrd_size;
	int kernel_fd, initrd_fd; /* what is copied to RAM is pread from here */
	const char *cmdline;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	size_t run_size;
	unsigned int ipa_bits;

	uint8_t *ram;
	uint64_t ram_size;
	struct guest_mem mem;

	struct bus mmio;
	struct gic gic;
	struct evloop loop;
	struct device_list devices;
	uint32_t nr_spis; /* SPIs handed out so far */
	struct irq_routes routes;
	unsigned int nr_virtio_mmio;
	struct pci_bus pci;
	struct device pci_host; /* the ECAM bridge, for the device tree */

	unsigned int nr_vcpus;
	struct vcpu *vcpus;
	bool sve;		/* vCPUs have SVE */
	struct sve_vls sve_vls; /* their vector lengths (all the same) */

	struct uart8250 uart;
	struct pl031 rtc;
	struct console console;

	pthread_mutex_t exit_lock;
	enum vm_exit exit_reason;
	char exit_msg[256];
	_Atomic bool stopping; /* vCPU threads: leave KVM_RUN */
	bool go;	       /* vCPU threads may enter KVM_RUN (run_lock) */
	int signal_fd;
	int exit_signal;

	/* Pause (the control socket): vCPUs park at the top of their loop. */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond;
	_Atomic bool pause_req;
	unsigned int parked; /* vCPU threads parked (run_lock) */
	bool paused;

	struct vfio_group *vfio_groups; /* passed-through functions' groups */
	struct viommu *viommu;		/* --viommu: the virtio-iommu, or NULL */
	struct viommu_view *views[40];	/* --viommu virtio: devices' memory views */
	unsigned int nr_views;
	uint64_t memslots[4];	/* KVM memory slots in use (bitmap) */
	int64_t t_main_ns;	/* armvm's main() entry, for timing */
	int64_t t_exit_ns;	/* when the run was asked to end */
	int64_t t_first_run_ns; /* vCPU 0's first KVM_RUN */
	_Atomic int first_run_logged;
};

int vm_create(struct vm *vm, const struct vm_config *cfg, const char *cmdline, char *err,
	      size_t errlen);
/* For a vCPU thread: wait until vm_run lets the vCPUs run (or the VM ends). */
void vm_wait_go(struct vm *vm);
/* Run until the guest or user ends it; returns why. */
enum vm_exit vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* From any thread: end the run (first reason wins). */
void vm_request_exit(struct vm *vm, enum vm_exit reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Pause every vCPU (out of KVM_RUN, parked) and say how long it took;
 * resume them. From the main loop. -ETIMEDOUT if a vCPU did not park.
 */
int vm_pause(struct vm *vm, int64_t *took_ns);
void vm_resume(struct vm *vm);
/* A vCPU thread at the top of its loop: park while a pause holds. */
void vm_vcpu_park(struct vm *vm, struct vcpu *vcpu);

/* KVM_CHECK_EXTENSION on /dev/kvm's fd: the value, 0 if absent. */
int kvm_check_cap(int kvm_fd, long cap);

/* A free KVM memory slot number (slot 0 is RAM), or -ENOSPC; give back. */
int vm_memslot_alloc(struct vm *vm);
void vm_memslot_free(struct vm *vm, int slot);
/* Hand out the next free SPI (0-based). */
uint32_t vm_alloc_spi(struct vm *vm);

/*
 * Create the VM and its RAM only: no GIC, devices or vCPUs. vm_create()
 * builds on it; vCPU-level tests and `armvm selftest` use it alone.
 */
int vm_create_bare(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);

/* vCPU layer (arch/arm64/vcpu.c). */
/* KVM_CREATE_VCPU and KVM_ARM_VCPU_INIT with exactly these features. */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id, uint32_t features, char *err,
		size_t errlen);
/* The vector lengths KVM offers this (SVE, not finalized) vCPU. */
int vcpu_sve_get_vls(struct vcpu *vcpu, struct sve_vls *vls);
/* Write VLS (unless NULL) and finalize SVE (KVM_ARM_VCPU_FINALIZE). */
int vcpu_sve_finalize(struct vcpu *vcpu, const struct sve_vls *vls);
int vcpu_init_pmu(struct vcpu *vcpu);
int vcpu_set_boot_regs(struct vcpu *vcpu, uint64_t entry, uint64_t fdt);
void *vcpu_thread(void *arg);
void vcpu_destroy(struct vcpu *vcpu);
int vcpu_get_reg(struct vcpu *vcpu, uint64_t id, void *val);
int vcpu_set_reg(struct vcpu *vcpu, uint64_t id, const void *val);

#endif
