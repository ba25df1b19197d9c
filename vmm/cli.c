// SPDX-License-Identifier: MIT
/*
 * `armvm run` options. Names, short forms and defaults follow kvmtool's
 * `lkvm run`, so scripts written for lkvm keep working; both `--opt value`
 * and `--opt=value` are accepted (getopt_long). One table drives both the
 * parser and --help, so they cannot drift apart.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum opt_id {
	OPT_KERNEL = 'k',
	OPT_DISK = 'd',
	OPT_NETWORK = 'n',
	OPT_INITRD = 'i',
	OPT_PARAMS = 'p',
	OPT_MEM = 'm',
	OPT_CPUS = 'c',
	OPT_HELP = 'h',
	OPT_NAME = 256,
	OPT_CONSOLE,
	OPT_NODEFAULTS,
	OPT_LOGLEVEL,
	OPT_DUMP_DTB,
	OPT_DEBUG,
	OPT_IRQCHIP,
	OPT_PMU,
	OPT_NO_REBOOT,
	OPT_KVM_DEV,
	OPT_NO_SVE,
	OPT_SVE_MAX_VL,
	OPT_SVE_VLS,
	OPT_RNG,
	OPT_TRANSPORT,
	OPT_NO_SECCOMP,
	OPT_RESTORE,
	OPT_VFIO_PCI,
	OPT_VIOMMU,
};

struct opt_desc {
	const char *name;
	int id;
	int has_arg;
	const char *arg;
	const char *help;
};

static const struct opt_desc run_opts[] = {
	{ "kernel", OPT_KERNEL, 1, "IMAGE",
	  "kernel to boot: arm64 Image (may be gzip-compressed) or a flat "
	  "binary loaded at RAM + 512 KiB (default: the default guest)" },
	{ "initrd", OPT_INITRD, 1, "FILE", "initial RAM disk (any file)" },
	{ "params", OPT_PARAMS, 1, "CMDLINE", "kernel command line" },
	{ "disk", OPT_DISK, 1, "PATH[,ro][,direct][,engine=io_uring|aio|sync][,serial=ID]",
	  "a virtio-blk disk backed by a file or block device (repeatable)" },
	{ "mem", OPT_MEM, 1, "SIZE",
	  "guest RAM in MiB, or with a K/M/G/T suffix (default: 64 MiB per "
	  "vCPU + 192 MiB, at most 80% of host RAM)" },
	{ "cpus", OPT_CPUS, 1, "N", "number of vCPUs (default: host CPUs online)" },
	{ "name", OPT_NAME, 1, "NAME", "guest name (default: guest-PID)" },
	{ "console", OPT_CONSOLE, 1, "serial|virtio",
	  "guest console: serial (the 8250 UART, ttyS0; the default) or "
	  "virtio (virtio-console, hvc0)" },
	{ "irqchip", OPT_IRQCHIP, 1, "gicv3|gicv3-its|gicv2",
	  "interrupt controller (default: gicv3-its, else gicv3, else gicv2, "
	  "as the host allows)" },
	{ "pmu", OPT_PMU, 0, NULL, "give the guest a PMUv3" },
	{ "no-sve", OPT_NO_SVE, 0, NULL,
	  "no SVE for the guest (default: SVE whenever the host offers it)" },
	{ "disable-sve", OPT_NO_SVE, 0, NULL, "same as --no-sve (kvmtool's name)" },
	{ "sve-max-vl", OPT_SVE_MAX_VL, 1, "BITS",
	  "cap the SVE vector length: the host's lengths up to BITS" },
	{ "sve-vls", OPT_SVE_VLS, 1, "LIST",
	  "exactly these SVE vector lengths, e.g. 128,256,512 (the host's set "
	  "cut at some maximum, as KVM requires)" },
	{ "network", OPT_NETWORK, 1, "mode=tap|none[,tapif=NAME][,guest_mac=MAC][,vhost=0|1]",
	  "guest networking: a virtio-net on a tap device, vhost-net when usable (default: none)" },
	{ "rng", OPT_RNG, 0, NULL, "a virtio-rng device (entropy from the host)" },
	{ "vfio-pci", OPT_VFIO_PCI, 1, "[DOMAIN:]BUS:DEV.FN",
	  "pass the host PCI function through with VFIO (bound to vfio-pci; "
	  "repeatable)" },
	{ "viommu", OPT_VIOMMU, 1, "vfio|virtio[,...]",
	  "a virtio-iommu in front of the passed-through functions (vfio) and/or "
	  "the emulated virtio devices (virtio); repeatable" },
	{ "virtio-transport", OPT_TRANSPORT, 1, "pci|mmio",
	  "how virtio devices attach (default: pci)" },
	{ "nodefaults", OPT_NODEFAULTS, 0, NULL,
	  "no default devices, nothing appended to the kernel command line" },
	{ "no-reboot", OPT_NO_REBOOT, 0, NULL,
	  "exit (status 0) when the guest reboots instead of restarting it" },
	{ "dump-dtb", OPT_DUMP_DTB, 1, "FILE",
	  "write the generated device tree blob to FILE" },
	{ "loglevel", OPT_LOGLEVEL, 1, "error|warning|info|debug",
	  "how much armvm prints (default: warning)" },
	{ "debug", OPT_DEBUG, 0, NULL, "print debug messages (--loglevel debug)" },
	{ "kvm-dev", OPT_KVM_DEV, 1, "PATH", "KVM device (default: /dev/kvm)" },
	{ "no-seccomp", OPT_NO_SECCOMP, 0, NULL,
	  "no seccomp filters on armvm's threads (for debugging; by default "
	  "each thread may make only the system calls it needs)" },
	{ "restore", OPT_RESTORE, 1, "FILE",
	  "restore the guest saved in FILE (armvm snapshot) instead of booting "
	  "one; only --name, --disk, --loglevel, --debug and --no-seccomp may "
	  "be given with it (see armvm restore)" },
	{ "help", OPT_HELP, 0, NULL, "show this help" },
};

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->console = CONSOLE_SERIAL;
	cfg->irqchip = IRQCHIP_AUTO;
	cfg->loglevel = LOG_WARNING;
	cfg->kvm_dev = "/dev/kvm";
}

void config_destroy(struct vm_config *cfg)
{
	/* A disk's strings point into one copy of its option. */
	for (unsigned int i = 0; i < CONFIG_MAX_DISKS; i++) {
		free(cfg->disk_opt[i]);
		free(cfg->disk_path[i]);
		cfg->disk_opt[i] = cfg->disk_path[i] = NULL;
	}
	cfg->nr_disks = 0;
}

uint64_t config_default_ram(unsigned int nr_cpus, uint64_t host_ram)
{
	uint64_t ram = 64 * SZ_1M * (nr_cpus + 3ULL);
	uint64_t avail = ALIGN_DOWN(host_ram / 10 * 8, SZ_1M);

	if (avail && ram > avail)
		ram = avail;
	return ram;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_run(int argc, char **argv, struct vm_config *cfg, char *err,
		  size_t errlen)
{
	struct option longopts[ARRAY_SIZE(run_opts) + 1];
	char shortopts[64];
	size_t n = 0, s = 0;
	unsigned long v;
	int c, bad_with_restore = 0;

	shortopts[s++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < ARRAY_SIZE(run_opts); i++) {
		const struct opt_desc *o = &run_opts[i];

		longopts[n++] = (struct option){ o->name,
						 o->has_arg ? required_argument
							    : no_argument,
						 NULL, o->id };
		if (o->id < 256) {
			shortopts[s++] = (char)o->id;
			if (o->has_arg)
				shortopts[s++] = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	shortopts[s] = '\0';

	optind = 0; /* glibc: full re-initialisation, so tests can call twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		/* With --restore the machine is the snapshot's: only these may change. */
		if (c != OPT_RESTORE && c != OPT_NAME && c != OPT_DISK && c != OPT_LOGLEVEL &&
		    c != OPT_DEBUG && c != OPT_NO_SECCOMP && c != OPT_KVM_DEV && c != OPT_HELP &&
		    c != ':' && c != '?' && !bad_with_restore)
			bad_with_restore = c;
		switch (c) {
		case OPT_KERNEL: cfg->kernel = optarg; break;
		case OPT_INITRD: cfg->initrd = optarg; break;
		case OPT_PARAMS: cfg->params = optarg; break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 64 || strchr(optarg, '/'))
				return errmsg(err, errlen, -EINVAL,
					    "--name '%s': must be 1 to 64 characters, no '/'",
					    optarg);
			cfg->name = optarg;
			break;
		case OPT_MEM:
			if (size_parse_mib(optarg, &cfg->ram_size) < 0)
				return errmsg(err, errlen, -EINVAL,
					    "-m/--mem '%s': not a size (MiB, or a number with K, M, G or T)",
					    optarg);
			if (cfg->ram_size < SZ_1M)
				return errmsg(err, errlen, -EINVAL,
					    "-m/--mem %s: the guest needs at least 1 MiB of RAM",
					    optarg);
			if (!IS_ALIGNED(cfg->ram_size, SZ_64K))
				return errmsg(err, errlen, -EINVAL,
					    "-m/--mem %s: must be a multiple of 64 KiB",
					    optarg);
			break;
		case OPT_CPUS:
			if (parse_uint(optarg, 4096, &v) < 0 || v == 0)
				return errmsg(err, errlen, -EINVAL,
					    "-c/--cpus '%s': need a vCPU count of at least 1",
					    optarg);
			cfg->nr_cpus = (unsigned int)v;
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "serial"))
				cfg->console = CONSOLE_SERIAL;
			else if (!strcmp(optarg, "virtio"))
				cfg->console = CONSOLE_VIRTIO;
			else
				return errmsg(err, errlen, -EINVAL,
					    "--console '%s': expected serial or virtio",
					    optarg);
			break;
		case OPT_IRQCHIP:
			if (!strcmp(optarg, "gicv2"))
				cfg->irqchip = IRQCHIP_GICV2;
			else if (!strcmp(optarg, "gicv3"))
				cfg->irqchip = IRQCHIP_GICV3;
			else if (!strcmp(optarg, "gicv3-its"))
				cfg->irqchip = IRQCHIP_GICV3_ITS;
			else
				return errmsg(err, errlen, -EINVAL,
					    "--irqchip '%s': expected gicv3, gicv3-its or gicv2",
					    optarg);
			break;
		case OPT_PMU: cfg->pmu = true; break;
		case OPT_DISK:
			if (cfg->nr_disks == CONFIG_MAX_DISKS)
				return errmsg(err, errlen, -EINVAL,
					      "--disk: at most %d disks", CONFIG_MAX_DISKS);
			if (blk_disk_opts_parse(optarg, &cfg->disks[cfg->nr_disks],
						err, errlen))
				return -EINVAL;
			cfg->disk_opt[cfg->nr_disks] = (char *)cfg->disks[cfg->nr_disks].path;
			cfg->nr_disks++;
			break;
		case OPT_RNG: cfg->rng = true; break;
		case OPT_VFIO_PCI:
			if (cfg->nr_vfio == CONFIG_MAX_VFIO)
				return errmsg(err, errlen, -EINVAL, "--vfio-pci: at most %d functions",
					      CONFIG_MAX_VFIO);
			if (vfio_bdf_parse(optarg, &cfg->vfio[cfg->nr_vfio], err, errlen))
				return -EINVAL;
			for (unsigned int i = 0; i < cfg->nr_vfio; i++)
				if (!memcmp(&cfg->vfio[i], &cfg->vfio[cfg->nr_vfio], sizeof(cfg->vfio[i])))
					return errmsg(err, errlen, -EINVAL, "--vfio-pci %s: given twice",
						      optarg);
			cfg->nr_vfio++;
			break;
		case OPT_VIOMMU: {
			const char *p = optarg;

			do {
				size_t l = strcspn(p, ",");

				if (l == 4 && !strncmp(p, "vfio", 4))
					cfg->viommu_vfio = true;
				else if (l == 6 && !strncmp(p, "virtio", 6))
					cfg->viommu_virtio = true;
				else
					return errmsg(err, errlen, -EINVAL,
						      "--viommu '%s': expected vfio, virtio or both (vfio,virtio)",
						      optarg);
				p += l;
			} while (*p++ == ',');
			break;
		}
		case OPT_TRANSPORT:
			if (!strcmp(optarg, "pci"))
				cfg->transport = VIRTIO_TRANSPORT_PCI;
			else if (!strcmp(optarg, "mmio"))
				cfg->transport = VIRTIO_TRANSPORT_MMIO;
			else
				return errmsg(err, errlen, -EINVAL,
					      "--virtio-transport '%s': expected pci or mmio",
					      optarg);
			break;
		case OPT_NO_SVE: cfg->no_sve = true; break;
		case OPT_SVE_MAX_VL:
			if (cfg->sve.kind == SVE_REQ_SET)
				return errmsg(err, errlen, -EINVAL,
					      "--sve-max-vl and --sve-vls cannot be used together");
			if (parse_uint(optarg, 1UL << 20, &v) < 0)
				return errmsg(err, errlen, -EINVAL,
					      "--sve-max-vl '%s': expected a vector length in bits, like 512",
					      optarg);
			cfg->sve.kind = SVE_REQ_MAX;
			cfg->sve.max_vl = (unsigned int)v;
			break;
		case OPT_SVE_VLS:
			if (cfg->sve.kind == SVE_REQ_MAX)
				return errmsg(err, errlen, -EINVAL,
					      "--sve-max-vl and --sve-vls cannot be used together");
			if (sve_request_parse_list(optarg, &cfg->sve, err, errlen))
				return -EINVAL;
			break;
		case OPT_NETWORK:
			if (net_opts_parse(optarg, &cfg->net, err, errlen) < 0)
				return -EINVAL;
			break;
		case OPT_NODEFAULTS: cfg->nodefaults = true; break;
		case OPT_NO_REBOOT: cfg->no_reboot = true; break;
		case OPT_NO_SECCOMP: cfg->no_seccomp = true; break;
		case OPT_DUMP_DTB: cfg->dump_dtb = optarg; break;
		case OPT_LOGLEVEL:
			if (log_level_parse(optarg, &cfg->loglevel) < 0)
				return errmsg(err, errlen, -EINVAL,
					    "--loglevel '%s': expected error, warning, info or debug",
					    optarg);
			break;
		case OPT_DEBUG:
			cfg->debug = true;
			cfg->loglevel = LOG_DEBUG;
			break;
		case OPT_KVM_DEV: cfg->kvm_dev = optarg; break;
		case OPT_RESTORE: cfg->restore = optarg; break;
		case OPT_HELP: return CLI_HELP;
		case ':':
			return errmsg(err, errlen, -EINVAL, "option '%s' needs an argument",
				    argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return errmsg(err, errlen, -EINVAL,
					    "unknown option '-%c' (see armvm run --help)",
					    optopt);
			return errmsg(err, errlen, -EINVAL,
				    "unknown option '%s' (see armvm run --help)",
				    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return errmsg(err, errlen, -EINVAL,
			    "unexpected argument '%s' (see armvm run --help)",
			    argv[optind]);
	if (cfg->no_sve && cfg->sve.kind != SVE_REQ_HOST)
		return errmsg(err, errlen, -EINVAL,
			      "--no-sve cannot be used with --sve-max-vl or --sve-vls");
	if (cfg->viommu_virtio && cfg->net.mode == NET_MODE_TAP && cfg->net.vhost == NET_VHOST_ON)
		return errmsg(err, errlen, -EINVAL,
			      "--network vhost=1 cannot be used with --viommu virtio (vhost-net does not translate IOVAs here); drop one");
	if (cfg->restore && bad_with_restore) {
		const char *name = "?";

		for (size_t i = 0; i < ARRAY_SIZE(run_opts); i++)
			if (run_opts[i].id == bad_with_restore) {
				name = run_opts[i].name;
				break;
			}
		return errmsg(err, errlen, -EINVAL,
			      "--%s cannot be used with a restore: the machine is the snapshot's "
			      "(only --name, --disk, --loglevel, --debug and --no-seccomp may be given)",
			      name);
	}
	return 0;
}

void cli_print_run_help(void *fp)
{
	FILE *f = fp;

	fprintf(f, "usage: armvm run [OPTIONS]\n\n"
		   "Boot an arm64 guest on /dev/kvm. The console is this terminal; "
		   "Ctrl-a x quits.\nWith no -k, boots the default guest.\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(run_opts); i++) {
		const struct opt_desc *o = &run_opts[i];
		char lhs[128];

		if (o->id < 256)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->id,
				 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(lhs) > 30)
			fprintf(f, "  %s\n  %-30s %s\n", lhs, "", o->help);
		else
			fprintf(f, "  %-30s %s\n", lhs, o->help);
	}
	fprintf(f, "\nThe guest powering off (PSCI SYSTEM_OFF) ends armvm with "
		   "status 0; a guest reboot\n(SYSTEM_RESET) restarts it with a "
		   "fresh machine, unless --no-reboot.\n");
}

void cli_print_help(void *fp)
{
	FILE *f = fp;

	fprintf(f, "usage: armvm COMMAND [OPTIONS]\n\n"
		   "Commands:\n"
		   "  run       boot a guest (armvm run --help for its options)\n"
		   "  info      what this host's KVM offers (--json for machines)\n"
		   "  list      the running guests (--json): name, pid, state, vCPUs, memory\n"
		   "  stat      a guest's vCPUs (exits) and devices (I/O) (--name NAME [--json])\n"
		   "  pause     pause a guest's vCPUs (--name NAME | --all)\n"
		   "  resume    resume them (--name NAME | --all)\n"
		   "  stop      end a guest, as Ctrl-a x does (--name NAME | --all)\n"
		   "  snapshot  save a guest to a file (--name NAME -o FILE [--resume|--stop] [--json])\n"
		   "  restore   run a saved guest again (FILE [--name NAME] [--disk PATH]... [--loglevel L])\n"
		   "  snapshot-info  what a snapshot holds (FILE [--json] [--verify])\n"
		   "  debug     a guest's registers, SVE Z/P/FFR included (--name NAME --regs [--vcpu N] [--json])\n"
		   "            or its virtio-iommu's domains and mappings (--name NAME | -a, -i stats [--json])\n"
		   "  vls-common  the --sve-max-vl and --irqchip every host honours (HOST.json... from info --json)\n"
		   "  selftest  check this host's FPSIMD/SVE state switching\n"
		   "  version   print armvm's version\n"
		   "  help      show this help\n\n");
	cli_print_run_help(f);
}

/* Where the default guest lives, first match wins (see README). */
static const char *const default_guests[][2] = {
	{ "/lab/Image", "/lab/guest.cpio.gz" },
	{ "/usr/local/share/armvm/Image", "/usr/local/share/armvm/guest.cpio.gz" },
	{ "/usr/share/armvm/Image", "/usr/share/armvm/guest.cpio.gz" },
};

int config_find_default_guest(struct vm_config *cfg, char *err, size_t errlen)
{
	/* $ARMVM_GUEST_DIR first: the lab's native mode and users' own. */
	static char env_kernel[4096], env_initrd[4096];
	const char *dir = getenv("ARMVM_GUEST_DIR");

	if (cfg->kernel)
		return 0;
	if (dir && *dir) {
		snprintf(env_kernel, sizeof(env_kernel), "%s/Image", dir);
		snprintf(env_initrd, sizeof(env_initrd), "%s/guest.cpio.gz", dir);
		if (!access(env_kernel, R_OK)) {
			cfg->kernel = env_kernel;
			if (!cfg->initrd && !access(env_initrd, R_OK))
				cfg->initrd = env_initrd;
			return 0;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_guests); i++) {
		if (access(default_guests[i][0], R_OK))
			continue;
		cfg->kernel = default_guests[i][0];
		if (!cfg->initrd && !access(default_guests[i][1], R_OK))
			cfg->initrd = default_guests[i][1];
		return 0;
	}
	return errmsg(err, errlen, -EINVAL,
		    "no kernel given (-k) and no default guest found in $ARMVM_GUEST_DIR, /lab, "
		    "/usr/local/share/armvm or /usr/share/armvm");
}
