// SPDX-License-Identifier: MIT
/* `armvm run` option parsing: kvmtool's spellings, defaults and refusals. */
#include "config.h"
#include "console.h"
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

static int parse(struct vm_config *cfg, char *err, size_t errlen, ...)
{
	char *argv[32] = { "run" };
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, errlen);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	config_destroy(cfg);
	config_init(cfg);
	err[0] = '\0';
	return cli_parse_run(argc, argv, cfg, err, errlen);
}

#define P(...) parse(&cfg, err, sizeof(err), __VA_ARGS__, (char *)NULL)

static void test_good(void)
{
	struct vm_config cfg = { 0 };
	char err[256];

	is_int(P("-k", "Image", "-i", "initrd", "-p", "quiet", "-m", "512", "-c", "2", "--name",
		 "vm1"),
	       0, "short options parse");
	is_str(cfg.kernel, "Image", "-k");
	is_str(cfg.initrd, "initrd", "-i");
	is_str(cfg.params, "quiet", "-p");
	is_int(cfg.ram_size, 512ULL << 20, "-m in MiB");
	is_int(cfg.nr_cpus, 2, "-c");
	is_str(cfg.name, "vm1", "--name");

	is_int(P("--kernel=Image", "--mem=1G", "--cpus=4", "--params=a b"), 0, "--opt=value form");
	is_str(cfg.kernel, "Image", "--kernel=");
	is_int(cfg.ram_size, 1ULL << 30, "--mem=1G");
	is_int(cfg.nr_cpus, 4, "--cpus=4");
	is_str(cfg.params, "a b", "--params=");

	is_int(P("--kernel", "Image", "--mem", "256M", "--initrd", "x"), 0, "--opt value form");
	is_int(cfg.ram_size, 256ULL << 20, "--mem 256M");
	is_int(P("-kImage", "-m64"), 0, "glued short options");
	is_str(cfg.kernel, "Image", "-kImage");
	is_int(cfg.ram_size, 64ULL << 20, "-m64");

	is_int(P("--irqchip=gicv3-its", "--pmu", "--nodefaults", "--network", "mode=none",
		 "--console", "serial", "--dump-dtb", "x.dtb", "--loglevel", "info", "--no-reboot"),
	       0, "machine options parse");
	is_int(cfg.irqchip, IRQCHIP_GICV3_ITS, "--irqchip=gicv3-its");
	ok(cfg.pmu && cfg.nodefaults && cfg.no_reboot, "--pmu --nodefaults --no-reboot");
	is_str(cfg.dump_dtb, "x.dtb", "--dump-dtb");
	is_int(cfg.loglevel, LOG_INFO, "--loglevel info");
	is_int(P("--irqchip", "gicv2"), 0, "--irqchip gicv2");
	is_int(cfg.irqchip, IRQCHIP_GICV2, "gicv2 selected");
	is_int(P("-n", "mode=tap,tapif=tap7,guest_mac=52:54:00:12:34:56", "--rng",
		 "--virtio-transport", "mmio"),
	       0, "device options parse");
	ok(cfg.net.mode == NET_MODE_TAP && !strcmp(cfg.net.tapif, "tap7") && cfg.net.has_mac &&
		   cfg.net.mac[5] == 0x56,
	   "-n mode=tap,tapif=,guest_mac=");
	ok(cfg.rng && cfg.transport == VIRTIO_TRANSPORT_MMIO, "--rng --virtio-transport mmio");
	ok(cfg.net.vhost == NET_VHOST_AUTO, "vhost-net: auto unless asked");
	is_int(P("-n", "mode=tap,vhost=1"), 0, "-n vhost=1 parses");
	ok(cfg.net.vhost == NET_VHOST_ON, "vhost=1: vhost-net or fail");
	is_int(P("-n", "mode=tap,vhost=off"), 0, "-n vhost=off parses");
	ok(cfg.net.vhost == NET_VHOST_OFF, "vhost=off: userspace data path");
	is_int(P("-d", "a.img,ro,engine=aio,serial=disk1", "--disk=b.img,direct,engine=sync"), 0,
	       "two disks");
	ok(cfg.nr_disks == 2 && cfg.disks[0].ro && cfg.disks[0].engine == BLK_ENGINE_AIO &&
		   !strcmp(cfg.disks[0].serial, "disk1"),
	   "first disk options");
	ok(!strcmp(cfg.disks[1].path, "b.img") && cfg.disks[1].direct &&
		   cfg.disks[1].engine == BLK_ENGINE_SYNC,
	   "second disk options");
	is_int(P("-d", "c.img"), 0, "a disk with no options");
	ok(cfg.disks[0].engine == BLK_ENGINE_IO_URING && !cfg.disks[0].ro,
	   "disk defaults: io_uring, writable");
	is_int(P("--console", "virtio"), 0, "--console virtio");
	is_int(cfg.console, CONSOLE_VIRTIO, "virtio console selected");
	is_int(P("--debug"), 0, "--debug");
	is_int(cfg.loglevel, LOG_DEBUG, "--debug means debug messages");

	is_int(P("--sve-max-vl", "512"), 0, "--sve-max-vl");
	ok(cfg.sve.kind == SVE_REQ_MAX && cfg.sve.max_vl == 512, "--sve-max-vl 512 recorded");
	is_int(P("--sve-vls=128,256"), 0, "--sve-vls=");
	ok(cfg.sve.kind == SVE_REQ_SET && cfg.sve.nr_vl == 2 && cfg.sve.vl[1] == 256,
	   "--sve-vls recorded");
	is_int(P("--no-sve"), 0, "--no-sve");
	ok(cfg.no_sve, "--no-sve recorded");
	is_int(P("--disable-sve"), 0, "--disable-sve (kvmtool's name)");
	ok(cfg.no_sve, "--disable-sve recorded");
	is_int(P("--vfio-pci", "00:02.0", "--vfio-pci=0001:03:1f.7"), 0,
	       "--vfio-pci twice, kvmtool's syntax");
	ok(cfg.nr_vfio == 2 && cfg.vfio[0].bus == 0 && cfg.vfio[0].dev == 2 &&
		   cfg.vfio[1].domain == 1 && cfg.vfio[1].bus == 3 && cfg.vfio[1].dev == 0x1f &&
		   cfg.vfio[1].fn == 7,
	   "--vfio-pci functions recorded");
	is_int(P("-c", "1"), 0, "defaults");
	is_int(cfg.sve.kind, SVE_REQ_HOST, "SVE default: the host's set");
	ok(!cfg.kernel && !cfg.ram_size && cfg.irqchip == IRQCHIP_AUTO &&
		   cfg.console == CONSOLE_SERIAL,
	   "unset options keep defaults");
	is_str(cfg.kvm_dev, "/dev/kvm", "KVM device default");
	is_int(P("--help"), CLI_HELP, "--help");
	{
		/* Every option's argument appears whole in --help. */
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		cli_print_cmd_help(cli_cmd_find("run"), f);
		fclose(f);
		ok(text && strstr(text,
				  "--network mode=tap|none[,tapif=NAME][,guest_mac=MAC][,vhost=0|1]\n"),
		   "--help shows --network's argument whole");
		ok(text && strstr(text,
				  "--disk PATH[,ro][,direct][,engine=io_uring|aio|sync][,serial=ID]\n") !=
				   NULL,
		   "--help shows --disk's argument whole");
		free(text);
	}
	is_int(P("-h"), CLI_HELP, "-h");
	config_destroy(&cfg);
}

static void test_bad(void)
{
	static const struct {
		const char *a, *b, *msg;
	} cases[] = {
		{ "-m", "0", "at least 1 MiB" },
		{ "-m", "abc", "not a size" },
		{ "-m", "12X", "not a size" },
		{ "-m", "99999999999999999999", "not a size" },
		{ "-m", "1100K", "multiple of 64 KiB" },
		{ "-c", "0", "at least 1" },
		{ "-c", "-1", "at least 1" },
		{ "-c", "two", "at least 1" },
		{ "--irqchip", "gicv4", "expected gicv3" },
		{ "--console", "tty", "expected serial or virtio" },
		{ "--network", "mode=user", "offers mode=tap and mode=none" },
		{ "--network", "mode=tap,bogus=1", "unknown 'bogus=1'" },
		{ "--network", "mode=tap,guest_mac=01:02:03:04:05:06", "multicast" },
		{ "--network", "mode=tap,guest_mac=zz", "unknown 'guest_mac=zz'" },
		{ "--network", "mode=tap,vhost=2", "unknown 'vhost=2'" },
		{ "--disk", ",ro", "no image path" },
		{ "--disk", "x.img,engine=posix", "expected io_uring, aio or sync" },
		{ "--disk", "x.img,rw", "unknown option 'rw'" },
		{ "--virtio-transport", "ccw", "expected pci or mmio" },
		{ "--loglevel", "loud", "expected error" },
		{ "--name", "a/b", "no '/'" },
		{ "--frobnicate", NULL, "unknown option '--frobnicate'" },
		{ "-z", NULL, "unknown option '-z'" },
		{ "-k", NULL, "needs an argument" },
		{ "stray", NULL, "unexpected argument 'stray'" },
		{ "--sve-max-vl", "big", "expected a vector length in bits" },
		{ "--sve-vls", "128,,256", "expected vector lengths in bits" },
		{ "--vfio-pci", "00:20.0", "expected a PCI address" },
		{ "--vfio-pci", "1:2", "expected a PCI address" },
	};
	struct vm_config cfg = { 0 };
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = cases[i].b ? P(cases[i].a, cases[i].b) : P(cases[i].a);

		is_int(r, -EINVAL, "'%s %s' refused", cases[i].a, cases[i].b ? cases[i].b : "");
		like(err, cases[i].msg, "'%s %s' says why", cases[i].a,
		     cases[i].b ? cases[i].b : "");
		ok(!strchr(err, '\n'), "message is one line");
	}
	config_destroy(&cfg);
}

static void test_sve_conflicts(void)
{
	struct vm_config cfg = { 0 };
	char err[256];

	is_int(P("--sve-max-vl", "512", "--sve-vls", "128"), -EINVAL,
	       "--sve-max-vl with --sve-vls refused");
	like(err, "cannot be used together", "says they cannot be combined");
	is_int(P("--sve-vls", "128", "--sve-max-vl", "512"), -EINVAL,
	       "--sve-vls with --sve-max-vl refused");
	is_int(P("--no-sve", "--sve-vls", "128"), -EINVAL, "--no-sve with --sve-vls refused");
	like(err, "--no-sve cannot be used with", "says why");
	is_int(P("--viommu", "virtio", "-n", "mode=tap,vhost=1"), -EINVAL,
	       "--viommu virtio with vhost=1 refused");
	like(err, "cannot be used with --viommu virtio", "... saying why");
	is_int(P("--viommu", "vfio,virtio", "-n", "mode=tap"), 0,
	       "--viommu virtio with vhost left to choose");
	is_int(P("--viommu", "iommu"), -EINVAL, "--viommu with an unknown kind refused");
	like(err, "expected vfio, virtio or both", "... naming the kinds");
	config_destroy(&cfg);
}

static void test_sizes(void)
{
	uint64_t v;

	is_int(size_parse_mib("512", &v), 0, "plain number");
	is_int(v, 512ULL << 20, "plain number is MiB");
	is_int(size_parse_mib("2G", &v), 0, "G suffix");
	is_int(v, 2ULL << 30, "2G");
	is_int(size_parse_mib("1GiB", &v), 0, "GiB suffix");
	is_int(size_parse_mib("64k", &v), 0, "k suffix");
	is_int(v, 64 << 10, "64k");
	ok(size_parse_mib("", &v) < 0 && size_parse_mib("M", &v) < 0 &&
		   size_parse_mib("1MM", &v) < 0,
	   "malformed sizes refused");
	is_int(size_parse_mib("20000000T", &v), -ERANGE, "overflowing size refused");

	is_int(config_default_ram(1, 64ULL << 30), 256ULL << 20,
	       "kvmtool default: 64 MiB x (1 + 3)");
	is_int(config_default_ram(2, 64ULL << 30), 320ULL << 20,
	       "kvmtool default: 64 MiB x (2 + 3)");
	is_int(config_default_ram(8, 512ULL << 20), 409ULL << 20,
	       "default capped at 80% of host RAM");
}

static void test_console_escape(void)
{
	uint8_t out[16];
	bool esc = false, quit;
	size_t n;

	n = console_filter(&esc, (const uint8_t *)"ab", 2, out, &quit);
	ok(n == 2 && !memcmp(out, "ab", 2) && !quit, "plain bytes pass through");
	n = console_filter(&esc, (const uint8_t *)"a\001x", 3, out, &quit);
	ok(quit && n == 1 && out[0] == 'a', "Ctrl-a x quits, bytes before it pass");
	esc = false;
	n = console_filter(&esc, (const uint8_t *)"\001\001", 2, out, &quit);
	ok(!quit && n == 1 && out[0] == 1, "Ctrl-a Ctrl-a sends one Ctrl-a");
	n = console_filter(&esc, (const uint8_t *)"\001", 1, out, &quit);
	ok(esc && n == 0, "escape carried across reads");
	n = console_filter(&esc, (const uint8_t *)"x", 1, out, &quit);
	ok(quit, "Ctrl-a | x across two reads quits");
	esc = false;
	n = console_filter(&esc, (const uint8_t *)"\001c", 2, out, &quit);
	ok(!quit && n == 2 && out[0] == 1 && out[1] == 'c', "unknown escape passes both bytes");
}

static char *render(void (*fn)(FILE *, const void *), const void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fn(f, arg);
	fclose(f);
	return text;
}

static void man_fn(FILE *f, const void *arg)
{
	cli_print_man(f, arg);
}
static void bash_fn(FILE *f, const void *arg)
{
	cli_print_bash_completion(f);
}
static void help_fn(FILE *f, const void *arg)
{
	cli_print_cmd_help(arg, f);
}
static void top_fn(FILE *f, const void *arg)
{
	cli_print_help(f);
}

/*
 * The man page, the completion and --help come from the table: every
 * command and every option it takes must appear in each, and the table
 * must be one a parser can use (no name or short name twice in a command).
 */
static void test_doc(void)
{
	char *man = render(man_fn, "1.2.3"), *bash = render(bash_fn, NULL),
	     *top = render(top_fn, NULL);
	char want[160], *sect;
	int missing = 0, dup = 0, bad = 0;

	ok(man && strstr(man, ".TH ARMVM 1 ") && strstr(man, "\"armvm 1.2.3\""),
	   "man page: title and version");
	{
		static const char *const sections[] = { "SYNOPSIS",    "DESCRIPTION",
							"COMMANDS",    "\"KVMTOOL COMPATIBILITY\"",
							"EXAMPLES",    "\"EXIT STATUS\"",
							"ENVIRONMENT", "FILES",
							"\"SEE ALSO\"" };

		for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
			snprintf(want, sizeof(want), "\n.SH %s\n", sections[i]);
			ok(man && strstr(man, want), "man page: %s", sections[i]);
		}
	}
	for (unsigned int i = 0; i < cli_nr_cmds; i++) {
		const struct cli_cmd *c = &cli_cmds[i];
		char *help = render(help_fn, c), *case_start, *case_end;

		snprintf(want, sizeof(want), ".SS \"armvm %s\"", c->name);
		sect = strstr(man, want);
		ok(sect != NULL, "man page: a section for armvm %s", c->name);
		snprintf(want, sizeof(want), "\n  %-14s %s\n", c->name, c->summary);
		ok(strstr(top, want) != NULL, "armvm help: lists %s", c->name);
		snprintf(want, sizeof(want), "\n\t%s)\n", c->name);
		case_start = strstr(bash, want);
		case_end = case_start ? strstr(case_start, "esac ;;") : NULL;
		ok(case_start && case_end, "completion: a case for %s", c->name);
		{
			/* The first word list is the commands'. */
			const char *w = strstr(bash, "compgen -W '");
			char words[512];

			snprintf(words, sizeof(words), " %.*s ", w ? (int)strcspn(w + 12, "'") : 0,
				 w ? w + 12 : "");
			snprintf(want, sizeof(want), " %s ", c->name);
			ok(strstr(words, want) != NULL, "completion: offers the command %s",
			   c->name);
		}
		for (unsigned int j = 0; j < c->nr_opts; j++) {
			const struct cli_opt *o = &c->opts[j];
			char *next = sect ? strstr(sect + 1, ".SS ") : NULL, *at;

			if (!cli_cmd_has(c, o))
				continue;
			bad += !o->help || !*o->help ||
			       (o->kind != CLI_ARG_NONE && (!o->arg || !*o->arg));
			for (unsigned int k = 0; k < j; k++)
				dup += cli_cmd_has(c, &c->opts[k]) &&
				       (!strcmp(c->opts[k].name, o->name) ||
					(o->sname && c->opts[k].sname == o->sname));
			/* man: "\fB\-\-NAME\fR" inside this command's section */
			snprintf(want, sizeof(want), "\\fB\\-\\-%s\\fR", o->name);
			for (char *q = want; *q; q++)
				if (*q == '-' && q[-1] != '\\')
					memmove(q + 1, q, strlen(q) + 1), *q++ = '\\';
			at = sect ? strstr(sect, want) : NULL;
			if (!at || (next && at > next)) {
				printf("# man page: armvm %s lacks --%s (%s)\n", c->name, o->name,
				       want);
				missing++;
			}
			snprintf(want, sizeof(want), "--%s", o->name);
			if (!strstr(help, want)) {
				printf("# armvm %s --help lacks --%s\n", c->name, o->name);
				missing++;
			}
			snprintf(want, sizeof(want), "--%s", o->name);
			at = case_start ? strstr(case_start, want) : NULL;
			if (!at || at > case_end) {
				printf("# completion: armvm %s lacks --%s\n", c->name, o->name);
				missing++;
			}
		}
		free(help);
	}
	is_int(missing, 0,
	       "every option of every command is in the man page, its --help and the completion");
	is_int(dup, 0, "no command takes a long or short option name twice");
	is_int(bad, 0, "every option has help, and an argument name when it takes one");
	like(man, "\\fB\\-k\\fR/\\fB\\-\\-kernel\\fR", "man page: kvmtool's spellings listed");
	like(bash, "--irqchip)\n\t\t\t_armvm_put \"$pre\" < <(compgen -W 'gicv3 gicv3-its gicv2'",
	     "completion: --irqchip offers its values");
	like(bash, "-k|--kernel|-i|--initrd", "completion: -k and -i complete file names");
	free(man);
	free(bash);
	free(top);
}

/* The table-driven parser of the other commands: ids in order, positionals. */
static void test_parser(void)
{
	struct cli_parser p;
	char err[256], ids[160];
	size_t off;
	int c;
	char *dbg[] = { "debug", "--name", "web", "--regs", "--vcpu=2", "--json", "-a", NULL };
	char *info[] = { "snapshot-info", "--json", "f.snap", "--verify", NULL };
	char *vls[] = { "vls-common", "a.json", "--json", "--", "--b.json", NULL };
	char *two[] = { "snapshot-info", "a", "b", NULL };
	char *bad[] = { "list", "--regs", NULL };
	char *restore[] = { "restore", "--mem", "5", NULL };

	cli_begin(&p, "debug", 7, dbg, err, sizeof(err));
	off = 0;
	while ((c = cli_next(&p)) > CLI_HELP)
		off += (size_t)snprintf(ids + off, sizeof(ids) - off, "%s=%s ", p.opt->name,
					p.opt->kind ? p.arg : "");
	is_int(c, CLI_END, "debug: every option parses");
	is_str(ids, "name=web regs= vcpu=2 json= all= ",
	       "debug: each option, in order, with its argument");
	cli_begin(&p, "snapshot-info", 4, info, err, sizeof(err));
	while ((c = cli_next(&p)) > CLI_HELP)
		;
	ok(c == CLI_END && p.npos == 1 && !strcmp(p.pos[0], "f.snap"),
	   "snapshot-info: a positional between options");
	cli_begin(&p, "vls-common", 5, vls, err, sizeof(err));
	off = 0;
	while ((c = cli_next(&p)) > CLI_HELP)
		off++;
	ok(c == CLI_END && off == 1 && p.npos == 2 && !strcmp(p.pos[1], "--b.json"),
	   "vls-common: after --, an argument that looks like an option is a file");
	cli_begin(&p, "snapshot-info", 3, two, err, sizeof(err));
	while ((c = cli_next(&p)) > CLI_HELP)
		;
	is_int(c, -EINVAL, "snapshot-info: a second file refused");
	like(err, "unexpected argument 'b'", "... naming it");
	cli_begin(&p, "list", 2, bad, err, sizeof(err));
	while ((c = cli_next(&p)) > CLI_HELP)
		;
	is_int(c, -EINVAL, "list: debug's --regs is not list's");
	like(err, "list: unknown option '--regs'", "... naming it and the command");
	cli_begin(&p, "restore", 3, restore, err, sizeof(err));
	while ((c = cli_next(&p)) > CLI_HELP)
		;
	is_int(c, -EINVAL, "restore: --mem is not among a restore's options");
	cli_begin(&p, "frob", 1, bad, err, sizeof(err));
	is_int(cli_next(&p), -EINVAL, "an unknown command: cli_next returns cli_begin's error");
	like(err, "unknown command 'frob'", "... naming it");
}

int main(void)
{
	test_parser();
	test_doc();
	test_good();
	test_bad();
	test_sve_conflicts();
	test_sizes();
	test_console_escape();
	return tap_done();
}
