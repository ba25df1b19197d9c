/* SPDX-License-Identifier: MIT */
/*
 * Snapshot and restore of a whole guest (docs/snapshot-format.md): what
 * goes in each section of the file (snapfile.h), the save from a running
 * VM, the checks a host must pass before a restore creates anything, and
 * the restore of the state into a VM built from the saved machine.
 */
#ifndef ARMVM_SNAPSHOT_H
#define ARMVM_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "snapfile.h"
#include "sve.h"
#include "vcpu_state.h"

struct vm;

/* The HOST section: who wrote the file, where, when. */
struct snap_host {
	char armvm_version[64];
	char kernel[128];     /* uname -r of the host */
	uint64_t saved_at_ns; /* CLOCK_REALTIME */
	uint64_t cntfrq;      /* Hz */
	uint32_t page_size;
	uint32_t max_ipa_bits;
	struct sve_vls host_vls;
	uint64_t pause_ns; /* how long the guest was paused to save */
};

/* The MACHINE section: what the restore rebuilds. */
struct snap_machine {
	int argc; /* `armvm run` arguments, as given */
	char **argv;
	uint32_t nr_vcpus;
	uint64_t ram_size;
	uint32_t ipa_bits;
	uint32_t gic; /* enum irqchip_type, resolved */
	uint32_t nr_spis;
	bool sve, pmu;
	struct sve_vls vls;
	uint32_t nr_disks;
	uint64_t disk_size[CONFIG_MAX_DISKS];
	char *disk_path[CONFIG_MAX_DISKS];
};

struct snapshot {
	char path[4096];
	struct snap_image img;
	struct snap_host host;
	struct snap_machine m;
	struct vcpu_state *vcpus; /* m.nr_vcpus */
};

/*
 * Open, check and decode a snapshot file (everything but the memory).
 * 0, or -errno with one line in err.
 */
int snapshot_open(const char *path, struct snapshot *s, char *err, size_t errlen);
void snapshot_close(struct snapshot *s);
/* Decode the HOST and MACHINE sections of a parsed image (for fuzzing). */
int snapshot_decode(struct snapshot *s, char *err, size_t errlen);

/*
 * Can this host restore it? The SVE vector lengths, the GIC, CNTFRQ, the
 * IPA size, the vCPU count, the disks. Nothing is created for the guest.
 */
int snapshot_check_host(const struct snapshot *s, const struct vm_config *cfg, char *err,
			size_t errlen);

/*
 * Build the configuration to restore into: the saved `armvm run`
 * arguments, with what the user may change on restore (user: name, disks,
 * log level, seccomp) taken from user (its disk options move to cfg).
 * cfg is initialised here.
 */
int snapshot_config(const struct snapshot *s, struct vm_config *user, struct vm_config *cfg,
		    char *err, size_t errlen);

struct snap_result {
	int64_t pause_ns; /* the guest was stopped this long */
	int64_t write_ns;
	uint64_t file_bytes, mem_bytes;
};

/* A save whose memory a child process writes while the guest runs on. */
struct snap_bg {
	int pid;
	int fd; /* the child's result arrives here (struct snap_bg_result) */
	int64_t t0;
};

struct snap_bg_result {
	int32_t ret;
	uint64_t stored;
	int64_t write_ns;
	char err[400];
};

/*
 * Save the guest to path: pause it (if it runs), complete pending exits,
 * freeze the devices, capture vCPUs, GIC and devices, write the file with
 * memory; thaw the devices. The vCPUs stay paused: the caller resumes or
 * stops the guest. 0, or -errno with one line in err and no file.
 *
 * With bg: once the state is captured, a forked child (a copy-on-write
 * view of guest memory as it was) writes memory and the file, and this
 * returns 1 at once with bg filled in: the caller resumes the guest and
 * later reads the child's struct snap_bg_result from bg->fd and reaps it
 * (snapshot_bg_collect). The guest's pause is then the state capture only.
 */
int vm_snapshot(struct vm *vm, const char *path, snap_progress_fn progress, void *opaque,
		struct snap_result *res, struct snap_bg *bg, char *err, size_t errlen);
/* The background save's result (waits for the child). 0 or -errno with err. */
int snapshot_bg_collect(struct snap_bg *bg, struct snap_result *res, char *err, size_t errlen);

/* After vm_create() built the machine of cfg->snap: load its state. */
int vm_restore_state(struct vm *vm, char *err, size_t errlen);

/* `armvm snapshot-info FILE [--json] [--verify]`. */
int snapshot_info_main(int argc, char **argv);

/* The counter frequency (CNTFRQ_EL0) as userspace reads it; 0 elsewhere. */
uint64_t host_cntfrq(void);

#endif
