// SPDX-License-Identifier: MIT
/*
 * armvm's entry: subcommands, then `run`: the config is turned into a VM,
 * the VM runs, and its end becomes the exit status. The process exits only
 * here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "info.h"
#include "jail.h"
#include "selftest.h"
#include "snapshot.h"
#include "vm.h"

#ifndef ARMVM_VERSION
#define ARMVM_VERSION "unknown"
#endif

static int die_usage(const char *msg)
{
	pr_err("%s", msg);
	return 2;
}

static char *build_cmdline(const struct vm_config *cfg)
{
	/* kvmtool's defaults for its serial console, then the user's -p. */
	const char *defaults = cfg->console == CONSOLE_VIRTIO
				       ? "console=hvc0 earlycon=uart8250,mmio,0x1000000"
				       : "console=ttyS0 earlycon=uart8250,mmio,0x1000000";
	const char *user = cfg->params ? cfg->params : "";
	size_t len = strlen(defaults) + strlen(user) + 2;
	char *s = malloc(len);

	if (!s)
		return NULL;
	if (cfg->nodefaults)
		snprintf(s, len, "%s", user);
	else
		snprintf(s, len, "%s%s%s", defaults, *user ? " " : "", user);
	return s;
}

static int cmd_run(int argc, char **argv, int64_t t_main)
{
	struct vm_config cfg, user;
	struct snapshot snap = { .img.fd = -1 };
	struct control ctl = { .fd = -1 };
	char *cmdline = NULL;
	struct vm vm;
	struct sysinfo si;
	enum vm_exit why;
	char err[512], defname[32];
	int ret, status = 1;
	int64_t t_exit = 0;
	long ncpu;

	config_init(&cfg);
	ret = cli_parse_run(argc, argv, &cfg, err, sizeof(err));
	if (ret == CLI_HELP) {
		cli_print_cmd_help(cli_cmd_find(cfg.restore ? "restore" : "run"), stdout);
		return 0;
	}
	if (ret)
		return die_usage(err);
	log_set_level(cfg.loglevel);
	phase_mark("options");
	cfg.argc = argc - 1;
	cfg.argv = argv + 1;
	if (cfg.restore) {
		/*
		 * The machine is the snapshot's, rebuilt from its saved options
		 * with what the user may change; checked against this host
		 * before anything is created.
		 */
		user = cfg; /* takes the parse's strings; cfg is rebuilt */
		config_init(&cfg);
		ret = snapshot_open(user.restore, &snap, err, sizeof(err));
		if (!ret)
			ret = snapshot_config(&snap, &user, &cfg, err, sizeof(err));
		if (!ret)
			ret = snapshot_check_host(&snap, &cfg, err, sizeof(err));
		config_destroy(&user);
		if (ret) {
			pr_err("%s", err);
			snapshot_close(&snap);
			config_destroy(&cfg);
			return 1;
		}
		log_set_level(cfg.loglevel);
		cfg.argc = snap.m.argc;
		cfg.argv = snap.m.argv;
	}

	if (!cfg.nr_cpus) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cfg.nr_cpus = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	if (!cfg.ram_size)
		cfg.ram_size = config_default_ram(
			cfg.nr_cpus, sysinfo(&si) ? 0 : (uint64_t)si.totalram * si.mem_unit);
	/* A restored guest needs its kernel only if it reboots. */
	if (config_find_default_guest(&cfg, err, sizeof(err)) && !cfg.snap)
		return die_usage(err);

	if (!cfg.no_seccomp && jail_prepare(err, sizeof(err))) {
		pr_err("%s", err);
		goto out;
	}
	phase_mark("seccomp");
	cmdline = build_cmdline(&cfg);
	if (!cmdline) {
		pr_err("out of memory");
		goto out;
	}
	/* kvmtool's default name; the control socket will carry it. */
	if (!cfg.name) {
		snprintf(defname, sizeof(defname), "guest-%d", (int)getpid());
		cfg.name = defname;
	}
	if (cfg.snap)
		pr_info("%s: restoring %s with %u vCPU(s), %llu MiB", cfg.name, cfg.restore,
			cfg.nr_cpus, (unsigned long long)(cfg.ram_size >> 20));
	else
		pr_info("%s: booting %s with %u vCPU(s), %llu MiB", cfg.name, cfg.kernel,
			cfg.nr_cpus, (unsigned long long)(cfg.ram_size >> 20));
	/* Before anything is built: a live guest of this name is refused. A
	 * missing place for sockets only costs the control plane. */
	ret = control_open(&ctl, cfg.name, err, sizeof(err));
	if (ret == -EEXIST) {
		pr_err("%s", err);
		goto out;
	} else if (ret) {
		pr_warn("no control socket: %s", err);
	}
	phase_mark("control socket");

	for (;;) {
		/*
		 * Everything that depends only on the host and the options is
		 * checked before the kernel and initrd are opened (vm_create
		 * reads them last), as kvmtool does: harnesses probe a VMM with
		 * the options they want and a kernel that does not exist.
		 */
		ret = vm_create(&vm, &cfg, cmdline, err, sizeof(err));
		if (ret) {
			pr_err("%s", err);
			break;
		}
		vm.t_main_ns = t_main;
		term_setup();
		control_attach(&ctl, &vm);
		why = vm_run(&vm);
		control_detach(&ctl);
		if (why != VM_EXIT_RESET || cfg.no_reboot) {
			/* Restore the terminal before the last words. */
			t_exit = vm.t_exit_ns;
			vm_destroy(&vm);
			term_restore();
			switch (why) {
			case VM_EXIT_POWEROFF:
			case VM_EXIT_QUIT:
			case VM_EXIT_RESET:
				pr_info("%s", vm.exit_msg);
				status = 0;
				break;
			case VM_EXIT_SIGNAL:
				pr_err("%s", vm.exit_msg);
				status = 128 + vm.exit_signal;
				break;
			default:
				pr_err("%s", vm.exit_msg);
				status = 1;
				break;
			}
			break;
		}
		/* Reboot: a fresh machine from the same configuration (a
		 * restored guest boots its kernel now). */
		pr_info("guest reset: restarting");
		vm_destroy(&vm);
		if (cfg.snap && !cfg.kernel) {
			pr_err("the restored guest reset, and its kernel cannot be found to boot it again");
			status = 1;
			break;
		}
		cfg.snap = NULL;
	}
out:
	control_close(&ctl);
	term_restore();
	free(cmdline);
	config_destroy(&cfg);
	snapshot_close(&snap);
	if (t_exit) {
		phase_mark("the rest");
		phase_report("teardown phases");
		pr_info("teardown: %.1f ms from the end of the run to exit",
			(clock_monotonic_ns() - t_exit) / 1e6);
	}
	return status;
}

int main(int argc, char **argv)
{
	int64_t t_main = clock_monotonic_ns();
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const struct cli_cmd *c;

	phase_mark("exec");
	if (!cmd) {
		cli_print_help(stderr);
		return 2;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		cmd = "help";
	if (!strcmp(cmd, "--version"))
		cmd = "version";
	c = cli_cmd_find(cmd);
	if (!c) {
		pr_err("unknown command '%s' (see armvm help)", cmd);
		return 2;
	}
	if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) &&
	    strcmp(cmd, "run")) {
		cli_print_cmd_help(c, stdout);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1, t_main);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "version")) {
		struct cli_parser p;
		char err[256];
		int r;

		cli_begin(&p, cmd, argc - 1, argv + 1, err, sizeof(err));
		while ((r = cli_next(&p)) > CLI_HELP)
			;
		if ((r = cli_finish(&p, r)) >= 0)
			return r;
		if (!strcmp(cmd, "help"))
			cli_print_help(stdout);
		else
			printf("armvm %s\n", ARMVM_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "restore")) {
		/* armvm restore FILE [OPTIONS] is armvm run --restore FILE [OPTIONS]. */
		char **av = calloc((size_t)argc + 2, sizeof(*av));
		int r;

		if (argc < 3 || argv[2][0] == '-') {
			free(av);
			pr_err("restore: say which snapshot: armvm restore FILE [--name NAME] [--disk PATH]...");
			return 2;
		}
		if (!av)
			return 1;
		av[0] = "run";
		av[1] = "--restore";
		av[2] = argv[2];
		for (int i = 3; i < argc; i++)
			av[i] = argv[i];
		r = cmd_run(argc, av, t_main);
		free(av);
		return r;
	}
	if (!strcmp(cmd, "vls-common"))
		return vls_common_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "snapshot-info"))
		return snapshot_info_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "info"))
		return info_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "selftest"))
		return selftest_main(argc - 1, argv + 1);
	/* list, stat, pause, resume, stop, snapshot, debug: a running guest's socket */
	return control_main(cmd, argc - 1, argv + 1);
}
