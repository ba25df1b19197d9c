/* SPDX-License-Identifier: MIT */
/*
 * What the user asked for, parsed from the command line into plain data.
 * Nothing here is validated against the host: vm_create() does that.
 */
#ifndef ARMVM_CONFIG_H
#define ARMVM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "sve.h"
#include "virtio_blk.h"
#include "virtio_devices.h"
#include "util.h"
#include "vfio.h"

enum irqchip_type {
	IRQCHIP_AUTO, /* GICv3 with ITS, else GICv3, else GICv2 */
	IRQCHIP_GICV2,
	IRQCHIP_GICV3,
	IRQCHIP_GICV3_ITS,
};

enum console_type { CONSOLE_SERIAL, CONSOLE_VIRTIO };
enum virtio_transport_type { VIRTIO_TRANSPORT_PCI, VIRTIO_TRANSPORT_MMIO };

struct snapshot;

struct vm_config {
	const char *kernel; /* NULL: the default guest */
	const char *initrd;
	const char *params;   /* user's kernel command line, -p */
	uint64_t ram_size;    /* bytes; 0: kvmtool's default */
	unsigned int nr_cpus; /* 0: one per online host CPU */
	const char *name;
	enum console_type console;
	enum irqchip_type irqchip;
	bool no_sve;		/* --no-sve / --disable-sve */
	struct sve_request sve; /* --sve-max-vl / --sve-vls; default: host's */
	enum virtio_transport_type transport;
	bool rng;	     /* --rng */
	struct net_opts net; /* -n/--network */
#define CONFIG_MAX_DISKS 16
	struct blk_disk_opts disks[CONFIG_MAX_DISKS];
	unsigned int nr_disks;
	/* Owned: each disk's option string (its fields point into it), and a
	 * path that replaced the option's (a restore's). */
	char *disk_opt[CONFIG_MAX_DISKS];
	char *disk_path[CONFIG_MAX_DISKS];
#define CONFIG_MAX_VFIO 8
	struct pci_bdf vfio[CONFIG_MAX_VFIO]; /* --vfio-pci */
	unsigned int nr_vfio;
	bool viommu_vfio;   /* --viommu vfio: passed-through functions behind it */
	bool viommu_virtio; /* --viommu virtio: emulated virtio devices too */
	bool nodefaults;
	bool pmu;
	bool no_reboot;
	bool no_seccomp; /* --no-seccomp: threads unfiltered */
	bool debug;
	enum log_level loglevel;
	const char *dump_dtb;
	const char *kvm_dev; /* /dev/kvm unless overridden */
	const char *restore; /* --restore FILE */
	/* Set by armvm, not options: the `run` arguments (saved in a
	 * snapshot), and the opened snapshot a restore builds from. */
	int argc;
	char **argv;
	const struct snapshot *snap;
};

void config_init(struct vm_config *cfg);
/* Free what parsing allocated (the --disk option strings). */
void config_destroy(struct vm_config *cfg);

/*
 * Parse `armvm run` options (argv[0] is "run"). Returns 0, CLI_HELP when
 * --help was given, or -EINVAL with a one-line reason in err.
 */
int cli_parse_run(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen);

/* kvmtool's default: 64 MiB per vCPU plus 192 MiB, at most 80% of host RAM. */
uint64_t config_default_ram(unsigned int nr_cpus, uint64_t host_ram);

/* Fill in the default guest's kernel and initrd when none was given. */
int config_find_default_guest(struct vm_config *cfg, char *err, size_t errlen);

#endif
