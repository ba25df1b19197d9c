// SPDX-License-Identifier: MIT
/*
 * Every armvm command and option, once. `armvm run` follows kvmtool's
 * `lkvm run`: names, short forms and defaults, so scripts written for lkvm
 * keep working. Plain data and libc only (see cli.h).
 */
#include "cli.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define R CLI_F_RESTORE
#define K CLI_F_KVMTOOL

static const struct cli_opt run_opts[] = {
	{ "kernel", 'k', OPT_KERNEL, CLI_ARG_FILE, "IMAGE",
	  "kernel to boot: arm64 Image (may be gzip-compressed) or a flat "
	  "binary loaded at RAM + 512 KiB (default: the default guest)",
	  K },
	{ "initrd", 'i', OPT_INITRD, CLI_ARG_FILE, "FILE", "initial RAM disk (any file)", K },
	{ "params", 'p', OPT_PARAMS, CLI_ARG_VALUE, "CMDLINE", "kernel command line", K },
	{ "disk", 'd', OPT_DISK, CLI_ARG_FILE,
	  "PATH[,ro][,direct][,engine=io_uring|aio|sync][,serial=ID]",
	  "a virtio-blk disk backed by a file or block device (repeatable)", R | K },
	{ "mem", 'm', OPT_MEM, CLI_ARG_VALUE, "SIZE",
	  "guest RAM in MiB, or with a K/M/G/T suffix (default: 64 MiB per "
	  "vCPU + 192 MiB, at most 80% of host RAM)",
	  K },
	{ "cpus", 'c', OPT_CPUS, CLI_ARG_VALUE, "N", "number of vCPUs (default: host CPUs online)",
	  K },
	{ "name", 0, OPT_NAME, CLI_ARG_VALUE, "NAME", "guest name (default: guest-PID)", R | K },
	{ "console", 0, OPT_CONSOLE, CLI_ARG_VALUE, "serial|virtio",
	  "guest console: serial (the 8250 UART, ttyS0; the default) or "
	  "virtio (virtio-console, hvc0)",
	  K },
	{ "irqchip", 0, OPT_IRQCHIP, CLI_ARG_VALUE, "gicv3|gicv3-its|gicv2",
	  "interrupt controller (default: gicv3-its, else gicv3, else gicv2, "
	  "as the host allows)",
	  K },
	{ "pmu", 0, OPT_PMU, CLI_ARG_NONE, NULL, "give the guest a PMUv3", K },
	{ "no-sve", 0, OPT_NO_SVE, CLI_ARG_NONE, NULL,
	  "no SVE for the guest (default: SVE whenever the host offers it)", 0 },
	{ "disable-sve", 0, OPT_NO_SVE, CLI_ARG_NONE, NULL, "same as --no-sve (kvmtool's name)",
	  K },
	{ "sve-max-vl", 0, OPT_SVE_MAX_VL, CLI_ARG_VALUE, "BITS",
	  "cap the SVE vector length: the host's lengths up to BITS", K },
	{ "sve-vls", 0, OPT_SVE_VLS, CLI_ARG_VALUE, "LIST",
	  "exactly these SVE vector lengths, e.g. 128,256,512 (the host's set "
	  "cut at some maximum, as KVM requires)",
	  0 },
	{ "network", 'n', OPT_NETWORK, CLI_ARG_VALUE,
	  "mode=tap|none[,tapif=NAME][,guest_mac=MAC][,vhost=0|1]",
	  "guest networking: a virtio-net on a tap device, vhost-net when usable (default: none)",
	  K },
	{ "rng", 0, OPT_RNG, CLI_ARG_NONE, NULL, "a virtio-rng device (entropy from the host)", K },
	{ "vfio-pci", 0, OPT_VFIO_PCI, CLI_ARG_VALUE, "[DOMAIN:]BUS:DEV.FN",
	  "pass the host PCI function through with VFIO (bound to vfio-pci; "
	  "repeatable)",
	  K },
	{ "viommu", 0, OPT_VIOMMU, CLI_ARG_VALUE, "vfio|virtio|vfio,virtio",
	  "a virtio-iommu in front of the passed-through functions (vfio) and/or "
	  "the emulated virtio devices (virtio); repeatable",
	  0 },
	{ "virtio-transport", 0, OPT_TRANSPORT, CLI_ARG_VALUE, "pci|mmio",
	  "how virtio devices attach (default: pci)", K },
	{ "nodefaults", 0, OPT_NODEFAULTS, CLI_ARG_NONE, NULL,
	  "no default devices, nothing appended to the kernel command line", K },
	{ "no-reboot", 0, OPT_NO_REBOOT, CLI_ARG_NONE, NULL,
	  "exit (status 0) when the guest reboots instead of restarting it", 0 },
	{ "dump-dtb", 0, OPT_DUMP_DTB, CLI_ARG_FILE, "FILE",
	  "write the generated device tree blob to FILE", K },
	{ "loglevel", 0, OPT_LOGLEVEL, CLI_ARG_VALUE, "error|warning|info|debug",
	  "how much armvm prints (default: warning)", R | K },
	{ "debug", 0, OPT_DEBUG, CLI_ARG_NONE, NULL, "print debug messages (--loglevel debug)",
	  R | K },
	{ "kvm-dev", 0, OPT_KVM_DEV, CLI_ARG_FILE, "PATH", "KVM device (default: /dev/kvm)", R },
	{ "no-seccomp", 0, OPT_NO_SECCOMP, CLI_ARG_NONE, NULL,
	  "no seccomp filters on armvm's threads (for debugging; by default "
	  "each thread may make only the system calls it needs)",
	  R },
	{ "restore", 0, OPT_RESTORE, CLI_ARG_FILE, "FILE",
	  "restore the guest saved in FILE (armvm snapshot) instead of booting "
	  "one; only the options armvm restore takes may be given with it",
	  0 },
	{ "help", 'h', OPT_HELP, CLI_ARG_NONE, NULL, "show this help", R },
};

#define HELP_OPT                                                                                   \
	{                                                                                          \
		"help", 'h', OPT_HELP, CLI_ARG_NONE, NULL, "show this help", 0                     \
	}
#define JSON_OPT(what)                                                                             \
	{                                                                                          \
		"json", 0, OPT_JSON, CLI_ARG_NONE, NULL, "print " what " as JSON", 0               \
	}
#define GUEST_OPT                                                                                  \
	{                                                                                          \
		"name", 0, OPT_NAME, CLI_ARG_GUEST, "NAME", "the guest, by its --name", 0          \
	}

static const struct cli_opt info_opts[] = { JSON_OPT("it"), HELP_OPT };
static const struct cli_opt list_opts[] = {
	{ "name", 0, OPT_NAME, CLI_ARG_GUEST, "NAME", "only this guest", 0 },
	JSON_OPT("an array of the guests' info replies"),
	HELP_OPT,
};
static const struct cli_opt stat_opts[] = { GUEST_OPT, JSON_OPT("the stat reply"), HELP_OPT };
static const struct cli_opt guests_opts[] = {
	GUEST_OPT,
	{ "all", 'a', OPT_ALL, CLI_ARG_NONE, NULL, "every running guest of this user", 0 },
	HELP_OPT,
};
static const struct cli_opt snapshot_opts[] = {
	GUEST_OPT,
	{ "output", 'o', OPT_OUTPUT, CLI_ARG_FILE, "FILE",
	  "where to save it (written beside, then renamed over: an old FILE "
	  "survives a failed save)",
	  0 },
	{ "resume", 0, OPT_RESUME, CLI_ARG_NONE, NULL, "let the guest run on after the save", 0 },
	{ "stop", 0, OPT_STOP, CLI_ARG_NONE, NULL, "end the guest after the save", 0 },
	JSON_OPT("the reply (sizes, pause time)"),
	HELP_OPT,
};
static const struct cli_opt snapinfo_opts[] = {
	JSON_OPT("it"),
	{ "verify", 0, OPT_VERIFY, CLI_ARG_NONE, NULL,
	  "check every stored MiB of memory against its checksum", 0 },
	HELP_OPT,
};
static const struct cli_opt debug_opts[] = {
	GUEST_OPT,
	{ "all", 'a', OPT_ALL, CLI_ARG_NONE, NULL, "every running guest (-i stats)", 0 },
	{ "regs", 0, OPT_REGS, CLI_ARG_NONE, NULL,
	  "the vCPUs' registers, SVE Z/P/FFR at the guest's vector length", 0 },
	{ "vcpu", 0, OPT_VCPU, CLI_ARG_VALUE, "N", "only vCPU N (--regs)", 0 },
	{ "info", 'i', OPT_INFO, CLI_ARG_VALUE, "stats",
	  "stats: the virtio-iommu's domains, mappings and counters", 0 },
	JSON_OPT("it"),
	HELP_OPT,
};
static const struct cli_opt vls_opts[] = { JSON_OPT("the result"), HELP_OPT };
static const struct cli_opt selftest_opts[] = {
	{ "check", 0, OPT_CHECK, CLI_ARG_VALUE, "ID", "run only the check with this ID", 0 },
	HELP_OPT,
};
static const struct cli_opt help_opts[] = { HELP_OPT };

#define NO_POS CLI_ARG_NONE, 0, 0
const struct cli_cmd cli_cmds[] = {
	{ "run", "[OPTIONS]", "boot a guest",
	  "Boot an arm64 guest on /dev/kvm. The console is this terminal; Ctrl-a x quits. "
	  "With no -k, boots the default guest. The guest powering off (PSCI SYSTEM_OFF) "
	  "ends armvm with status 0; a guest reboot (SYSTEM_RESET) restarts it with a fresh "
	  "machine, unless --no-reboot.",
	  NO_POS, run_opts, N(run_opts), 0, true },
	{ "restore", "FILE [--name NAME] [--disk PATH]... [OPTIONS]", "run a saved guest again",
	  "Run the guest saved in FILE (armvm snapshot) again, in this new armvm, from where "
	  "it stopped: armvm run --restore FILE. The machine is the snapshot's; only these "
	  "options may be given. Refused, before anything is created, when this host cannot "
	  "honour the snapshot (other SVE vector lengths, GIC, counter frequency, disks).",
	  CLI_ARG_FILE, 1, 1, run_opts, N(run_opts), CLI_F_RESTORE, false },
	{ "info", "[--json]", "what this host's KVM offers",
	  "What this host's KVM offers armvm: SVE vector lengths, interrupt controllers, "
	  "limits on vCPUs and guest addresses, capabilities.",
	  NO_POS, info_opts, N(info_opts), 0, false },
	{ "list", "[--name NAME] [--json]", "the running guests",
	  "The running guests of this user: name, pid, state, vCPUs, memory, SVE maximum "
	  "vector length. Stale sockets of armvms that died are removed.",
	  NO_POS, list_opts, N(list_opts), 0, false },
	{ "stat", "--name NAME [--json]", "a guest's vCPUs and devices",
	  "A guest's vCPUs (state, exits) and devices (notifications, interrupts, bytes).", NO_POS,
	  stat_opts, N(stat_opts), 0, false },
	{ "pause", "--name NAME | --all", "pause a guest's vCPUs",
	  "Take every vCPU of the guest out of KVM_RUN and park it.", NO_POS, guests_opts,
	  N(guests_opts), 0, false },
	{ "resume", "--name NAME | --all", "resume a paused guest", "Let a paused guest run.",
	  NO_POS, guests_opts, N(guests_opts), 0, false },
	{ "stop", "--name NAME | --all", "end a guest",
	  "End the guest, as Ctrl-a x does: its armvm exits with status 0.", NO_POS, guests_opts,
	  N(guests_opts), 0, false },
	{ "snapshot", "--name NAME -o FILE [--resume|--stop] [--json]", "save a guest to a file",
	  "Save a running guest (every register, SVE included, the GIC, timers, devices and "
	  "memory) into one checksummed file; the guest is left paused unless --resume or "
	  "--stop. Refused for a guest with a passed-through function.",
	  NO_POS, snapshot_opts, N(snapshot_opts), 0, false },
	{ "snapshot-info", "FILE [--json] [--verify]", "what a snapshot holds",
	  "What a snapshot holds: the machine, its vCPUs, devices and memory; --verify checks "
	  "the memory against its checksums.",
	  CLI_ARG_FILE, 1, 1, snapinfo_opts, N(snapinfo_opts), 0, false },
	{ "debug", "--name NAME --regs [--vcpu N] [--json] | --name NAME|--all -i stats [--json]",
	  "a guest's registers, or its virtio-iommu",
	  "A guest's registers (--regs), SVE Z/P/FFR included, or its virtio-iommu's domains "
	  "and mapping statistics (-i stats).",
	  NO_POS, debug_opts, N(debug_opts), 0, false },
	{ "vls-common", "HOST.json... [--json]", "what every host of a fleet honours",
	  "From each host's `armvm info --json`: the --sve-max-vl and --irqchip every one of "
	  "them honours, so that snapshots move between them.",
	  CLI_ARG_FILE, 1, 64, vls_opts, N(vls_opts), 0, false },
	{ "selftest", "[--check ID]", "check this host's FPSIMD/SVE state switching",
	  "Check whether this host's kernel switches FPSIMD/SVE state safely between armvm "
	  "and its guests. Exits 1 if any check fails.",
	  NO_POS, selftest_opts, N(selftest_opts), 0, false },
	{ "version", "", "print armvm's version", "Print armvm's version.", NO_POS, help_opts,
	  N(help_opts), 0, false },
	{ "help", "", "show this help", "Show the commands and armvm run's options.", NO_POS,
	  help_opts, N(help_opts), 0, false },
};
const unsigned int cli_nr_cmds = N(cli_cmds);

const struct cli_cmd *cli_cmd_find(const char *name)
{
	for (unsigned int i = 0; name && i < cli_nr_cmds; i++)
		if (!strcmp(cli_cmds[i].name, name))
			return &cli_cmds[i];
	return NULL;
}

bool cli_cmd_has(const struct cli_cmd *c, const struct cli_opt *o)
{
	return (o->flags & c->need_flags) == c->need_flags;
}
