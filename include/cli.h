/* SPDX-License-Identifier: MIT */
/*
 * The command line, as data: every subcommand, its arguments and options.
 * One table (vmm/cli_table.c) drives the parsers (cli_begin/cli_next),
 * `--help`, the man page and the bash completion (vmm/cli_doc.c), so none
 * of them can drift from the others. cli_table.c and cli_doc.c use only
 * libc: the build compiles them natively too, to write armvm.1 and the
 * completion script without running the (arm64) armvm.
 */
#ifndef ARMVM_CLI_H
#define ARMVM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Option ids (a command's table says which it takes, and their short forms). */
enum opt_id {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_PARAMS,
	OPT_DISK,
	OPT_MEM,
	OPT_CPUS,
	OPT_NETWORK,
	OPT_HELP,
	OPT_ALL,
	OPT_OUTPUT,
	OPT_NAME,
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
	OPT_JSON,
	OPT_RESUME,
	OPT_STOP,
	OPT_REGS,
	OPT_VCPU,
	OPT_INFO,
	OPT_VERIFY,
	OPT_CHECK,
};

/* What an option's (or a command's) argument is: for the completion. */
enum cli_arg {
	CLI_ARG_NONE,
	CLI_ARG_VALUE, /* free text; "a|b|c" in arg completes those words */
	CLI_ARG_FILE,  /* a path */
	CLI_ARG_GUEST, /* a running guest's name */
};

/* cli_opt.flags */
#define CLI_F_RESTORE (1u << 0) /* may be given with --restore / armvm restore */
#define CLI_F_KVMTOOL (1u << 1) /* lkvm run has it, spelled so */

struct cli_opt {
	const char *name;  /* long name, without "--" */
	char sname;	   /* short name, or 0 */
	int id;		   /* enum opt_id */
	enum cli_arg kind; /* CLI_ARG_NONE: takes no argument */
	const char *arg;   /* the argument's name in help, e.g. "FILE" */
	const char *help;
	unsigned int flags;
};

struct cli_cmd {
	const char *name;
	const char *synopsis;  /* after "armvm NAME", e.g. "--name NAME -o FILE" */
	const char *summary;   /* one line, for armvm help */
	const char *desc;      /* a paragraph, for --help and the man page */
	enum cli_arg pos_kind; /* its positional arguments */
	int min_pos, max_pos;  /* how many (max -1: any number) */
	const struct cli_opt *opts;
	unsigned int nr_opts;
	unsigned int need_flags; /* only opts with these flags (restore) */
	bool lists_opts;	 /* armvm help lists its options in full (run) */
};

extern const struct cli_cmd cli_cmds[];
extern const unsigned int cli_nr_cmds;

const struct cli_cmd *cli_cmd_find(const char *name);
/* Does the command take this option (need_flags applied)? */
bool cli_cmd_has(const struct cli_cmd *c, const struct cli_opt *o);

/*
 * A parser over one command's table (getopt_long underneath: `--opt v`,
 * `--opt=v`, short options, positional arguments anywhere).
 */
#define CLI_MAX_OPTS 40
#define CLI_MAX_POS 64
struct cli_parser {
	const struct cli_cmd *cmd;
	int argc;
	char **argv;
	const struct cli_opt *opt; /* the option cli_next returned */
	const char *arg;	   /* its argument */
	char *pos[CLI_MAX_POS];	   /* at the end: the positional arguments */
	int npos;
	char *err;
	size_t errlen;
	int failed; /* cli_begin's error, returned by cli_next */
	char shortopts[64];
	struct option longopts[CLI_MAX_OPTS + 1];
};

/* Result of cli_next() and cli_parse_run() besides option ids and errors. */
#define CLI_HELP 1
#define CLI_END 0

/*
 * argv[0] is the command's name. -EINVAL with a reason if it is unknown
 * (cli_next then returns that error too, so a loop need not check).
 */
int cli_begin(struct cli_parser *p, const char *cmd, int argc, char **argv, char *err,
	      size_t errlen);
/*
 * The next option's id (p->opt, p->arg), CLI_END when there are no more
 * (p->pos and p->npos checked against the command's counts), CLI_HELP for
 * -h/--help, or -EINVAL with a one-line reason in err.
 */
int cli_next(struct cli_parser *p);
/*
 * After the loop over cli_next (c, its last result): -1 to go on, or the
 * status to exit with, the help printed (0) or the error said (2).
 */
int cli_finish(struct cli_parser *p, int c);

/* --help and armvm help (vmm/cli_doc.c). */
void cli_print_help(FILE *f);
void cli_print_cmd_help(const struct cli_cmd *c, FILE *f);
/* armvm(1), in man(7) roff; the date is SOURCE_DATE_EPOCH's, if set. */
void cli_print_man(FILE *f, const char *version);
/* A bash completion script for armvm. */
void cli_print_bash_completion(FILE *f);

#endif
