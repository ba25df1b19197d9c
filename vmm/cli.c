// SPDX-License-Identifier: MIT
/*
 * `armvm run` options. Names, short forms and defaults follow kvmtool's
 * `lkvm run`, so scripts written for lkvm keep working; both `--opt value`
 * and `--opt=value` are accepted (getopt_long). One table drives both the
 * parser and --help, so they cannot drift apart.
 */
#include "cli.h"
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int cli_begin(struct cli_parser *p, const char *cmd, int argc, char **argv, char *err,
	      size_t errlen)
{
	size_t n = 0, s = 0;

	memset(p, 0, sizeof(*p));
	p->cmd = cli_cmd_find(cmd);
	p->argc = argc;
	p->argv = argv;
	p->err = err;
	p->errlen = errlen;
	if (!p->cmd)
		return p->failed = errmsg(err, errlen, -EINVAL,
					  "unknown command '%s' (see armvm help)", cmd);
	p->shortopts[s++] = '-'; /* positional arguments in order, as option 1 */
	p->shortopts[s++] = ':'; /* a missing argument as ':' */
	for (unsigned int i = 0; i < p->cmd->nr_opts && n < CLI_MAX_OPTS; i++) {
		const struct cli_opt *o = &p->cmd->opts[i];

		if (!cli_cmd_has(p->cmd, o))
			continue;
		/* Long options return 1000 + their index in the table. */
		p->longopts[n++] =
			(struct option){ o->name, o->kind ? required_argument : no_argument, NULL,
					 1000 + (int)i };
		if (o->sname && s + 3 < sizeof(p->shortopts)) {
			p->shortopts[s++] = o->sname;
			if (o->kind)
				p->shortopts[s++] = ':';
		}
	}
	optind = 0; /* glibc: full re-initialisation, so tests can call twice */
	opterr = 0;
	return 0;
}

static int cli_add_pos(struct cli_parser *p, char *arg)
{
	const struct cli_cmd *c = p->cmd;

	if (c->max_pos == 0)
		return errmsg(p->err, p->errlen, -EINVAL,
			      "%s: unexpected argument '%s' (see armvm %s --help)", c->name, arg,
			      c->name);
	if (p->npos == c->max_pos || p->npos == CLI_MAX_POS)
		return errmsg(p->err, p->errlen, -EINVAL,
			      "%s: unexpected argument '%s' (armvm %s %s)", c->name, arg, c->name,
			      c->synopsis);
	p->pos[p->npos++] = arg;
	return 0;
}

int cli_next(struct cli_parser *p)
{
	const struct cli_cmd *c = p->cmd;
	int r, ret;

	if (p->failed)
		return p->failed;
	while ((r = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL)) == 1)
		if ((ret = cli_add_pos(p, optarg)))
			return ret;
	if (r == -1) { /* the end, or "--" and what follows it */
		while (optind < p->argc)
			if ((ret = cli_add_pos(p, p->argv[optind++])))
				return ret;
		return CLI_END;
	}
	p->opt = NULL;
	p->arg = optarg;
	if (r >= 1000 && r < 1000 + (int)c->nr_opts) {
		p->opt = &c->opts[r - 1000];
	} else if (r != ':' && r != '?') {
		for (unsigned int i = 0; i < c->nr_opts; i++)
			if (c->opts[i].sname == r && cli_cmd_has(c, &c->opts[i]))
				p->opt = &c->opts[i];
	}
	if (p->opt)
		return p->opt->id == OPT_HELP ? CLI_HELP : p->opt->id;
	if (r == ':')
		return errmsg(p->err, p->errlen, -EINVAL, "option '%s' needs an argument",
			      p->argv[optind - 1]);
	if (optopt && optopt < 256)
		return errmsg(p->err, p->errlen, -EINVAL,
			      "%s: unknown option '-%c' (see armvm %s --help)", c->name, optopt,
			      c->name);
	return errmsg(p->err, p->errlen, -EINVAL, "%s: unknown option '%s' (see armvm %s --help)",
		      c->name, p->argv[optind - 1], c->name);
}

int cli_finish(struct cli_parser *p, int c)
{
	if (c == CLI_HELP) {
		cli_print_cmd_help(p->cmd, stdout);
		return 0;
	}
	if (c < 0) {
		pr_err("%s", p->err);
		return 2;
	}
	return -1;
}

int cli_parse_run(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen)
{
	struct cli_parser p;
	const struct cli_opt *bad_with_restore = NULL;
	unsigned long v;
	int c;

	if ((c = cli_begin(&p, "run", argc, argv, err, errlen)))
		return c;
	while ((c = cli_next(&p)) > CLI_HELP) {
		const char *optarg = p.arg;

		/* With --restore the machine is the snapshot's: only some may change. */
		if (c != OPT_RESTORE && !(p.opt->flags & CLI_F_RESTORE) && !bad_with_restore)
			bad_with_restore = p.opt;
		switch (c) {
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			cfg->initrd = optarg;
			break;
		case OPT_PARAMS:
			cfg->params = optarg;
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 64 || strchr(optarg, '/'))
				return errmsg(err, errlen, -EINVAL,
					      "--name '%s': must be 1 to 64 characters, no '/'",
					      optarg);
			cfg->name = optarg;
			break;
		case OPT_MEM:
			if (size_parse_mib(optarg, &cfg->ram_size) < 0)
				return errmsg(
					err, errlen, -EINVAL,
					"-m/--mem '%s': not a size (MiB, or a number with K, M, G or T)",
					optarg);
			if (cfg->ram_size < SZ_1M)
				return errmsg(err, errlen, -EINVAL,
					      "-m/--mem %s: the guest needs at least 1 MiB of RAM",
					      optarg);
			if (!IS_ALIGNED(cfg->ram_size, SZ_64K))
				return errmsg(err, errlen, -EINVAL,
					      "-m/--mem %s: must be a multiple of 64 KiB", optarg);
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
					      "--console '%s': expected serial or virtio", optarg);
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
		case OPT_PMU:
			cfg->pmu = true;
			break;
		case OPT_DISK:
			if (cfg->nr_disks == CONFIG_MAX_DISKS)
				return errmsg(err, errlen, -EINVAL, "--disk: at most %d disks",
					      CONFIG_MAX_DISKS);
			if (blk_disk_opts_parse(optarg, &cfg->disks[cfg->nr_disks], err, errlen))
				return -EINVAL;
			cfg->disk_opt[cfg->nr_disks] = (char *)cfg->disks[cfg->nr_disks].path;
			cfg->nr_disks++;
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case OPT_VFIO_PCI:
			if (cfg->nr_vfio == CONFIG_MAX_VFIO)
				return errmsg(err, errlen, -EINVAL,
					      "--vfio-pci: at most %d functions", CONFIG_MAX_VFIO);
			if (vfio_bdf_parse(optarg, &cfg->vfio[cfg->nr_vfio], err, errlen))
				return -EINVAL;
			for (unsigned int i = 0; i < cfg->nr_vfio; i++)
				if (!memcmp(&cfg->vfio[i], &cfg->vfio[cfg->nr_vfio],
					    sizeof(cfg->vfio[i])))
					return errmsg(err, errlen, -EINVAL,
						      "--vfio-pci %s: given twice", optarg);
			cfg->nr_vfio++;
			break;
		case OPT_VIOMMU: {
			const char *w = optarg;

			do {
				size_t l = strcspn(w, ",");

				if (l == 4 && !strncmp(w, "vfio", 4))
					cfg->viommu_vfio = true;
				else if (l == 6 && !strncmp(w, "virtio", 6))
					cfg->viommu_virtio = true;
				else
					return errmsg(
						err, errlen, -EINVAL,
						"--viommu '%s': expected vfio, virtio or both (vfio,virtio)",
						optarg);
				w += l;
			} while (*w++ == ',');
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
		case OPT_NO_SVE:
			cfg->no_sve = true;
			break;
		case OPT_SVE_MAX_VL:
			if (cfg->sve.kind == SVE_REQ_SET)
				return errmsg(err, errlen, -EINVAL,
					      "--sve-max-vl and --sve-vls cannot be used together");
			if (parse_uint(optarg, 1UL << 20, &v) < 0)
				return errmsg(
					err, errlen, -EINVAL,
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
		case OPT_NODEFAULTS:
			cfg->nodefaults = true;
			break;
		case OPT_NO_REBOOT:
			cfg->no_reboot = true;
			break;
		case OPT_NO_SECCOMP:
			cfg->no_seccomp = true;
			break;
		case OPT_DUMP_DTB:
			cfg->dump_dtb = optarg;
			break;
		case OPT_LOGLEVEL:
			if (log_level_parse(optarg, &cfg->loglevel) < 0)
				return errmsg(
					err, errlen, -EINVAL,
					"--loglevel '%s': expected error, warning, info or debug",
					optarg);
			break;
		case OPT_DEBUG:
			cfg->debug = true;
			cfg->loglevel = LOG_DEBUG;
			break;
		case OPT_KVM_DEV:
			cfg->kvm_dev = optarg;
			break;
		case OPT_RESTORE:
			cfg->restore = optarg;
			break;
		}
	}
	if (c < 0 || c == CLI_HELP)
		return c;
	if (cfg->no_sve && cfg->sve.kind != SVE_REQ_HOST)
		return errmsg(err, errlen, -EINVAL,
			      "--no-sve cannot be used with --sve-max-vl or --sve-vls");
	if (cfg->viommu_virtio && cfg->net.mode == NET_MODE_TAP && cfg->net.vhost == NET_VHOST_ON)
		return errmsg(
			err, errlen, -EINVAL,
			"--network vhost=1 cannot be used with --viommu virtio (vhost-net does not translate IOVAs here); drop one");
	if (cfg->restore && bad_with_restore) {
		char may[256];
		size_t off = 0;

		for (unsigned int i = 0; i < p.cmd->nr_opts && off < sizeof(may); i++)
			if ((p.cmd->opts[i].flags & CLI_F_RESTORE) && p.cmd->opts[i].id != OPT_HELP)
				off += (size_t)snprintf(may + off, sizeof(may) - off, "%s--%s",
							off ? ", " : "", p.cmd->opts[i].name);
		return errmsg(err, errlen, -EINVAL,
			      "--%s cannot be used with a restore: the machine is the snapshot's "
			      "(only %s may be given)",
			      bad_with_restore->name, may);
	}
	return 0;
}

/* Where the default guest lives, first match wins (see README). */
static const char *const default_guest_dirs[] = {
	NULL, /* $ARMVM_GUEST_DIR */
	NULL, /* ../share/armvm beside this armvm: make install's, any PREFIX */
	"/lab", "/usr/local/share/armvm", "/usr/share/armvm",
};

int config_find_default_guest(struct vm_config *cfg, char *err, size_t errlen)
{
	static char kernel[4096], initrd[4096];
	char exe[4000], beside[4096] = "";
	ssize_t n;

	if (cfg->kernel)
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(beside, sizeof(beside), "%s/../share/armvm", exe);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_guest_dirs); i++) {
		const char *dir = i == 0   ? getenv("ARMVM_GUEST_DIR")
				  : i == 1 ? beside
					   : default_guest_dirs[i];

		if (!dir || !*dir)
			continue;
		if ((size_t)snprintf(kernel, sizeof(kernel), "%s/Image", dir) >= sizeof(kernel) ||
		    access(kernel, R_OK))
			continue;
		cfg->kernel = kernel;
		snprintf(initrd, sizeof(initrd), "%s/guest.cpio.gz", dir);
		if (!cfg->initrd && !access(initrd, R_OK))
			cfg->initrd = initrd;
		return 0;
	}
	return errmsg(err, errlen, -EINVAL,
		      "no kernel given (-k) and no default guest (Image, guest.cpio.gz) in "
		      "$ARMVM_GUEST_DIR, %s, /lab, /usr/local/share/armvm or /usr/share/armvm",
		      *beside ? beside : "../share/armvm beside armvm");
}
