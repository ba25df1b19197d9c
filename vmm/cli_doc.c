// SPDX-License-Identifier: MIT
/*
 * What the option table (cli_table.c) says, for people and shells:
 * `--help`, armvm(1) and the bash completion. libc only: the build also
 * compiles this natively (vmm/cli_gen.c) to write the man page and the
 * completion script without running armvm.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Print text wrapped at width, every line but the first indented. */
static void wrap(FILE *f, const char *text, int col, int indent, int width)
{
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (col > indent && col + 1 + (int)w > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)w, p);
		col += (int)w;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

static void opt_lhs(const struct cli_opt *o, char *buf, size_t len)
{
	const char *sep = o->kind ? " " : "", *arg = o->kind ? o->arg : "";

	if (o->sname)
		snprintf(buf, len, "-%c, --%s%s%s", o->sname, o->name, sep, arg);
	else
		snprintf(buf, len, "    --%s%s%s", o->name, sep, arg);
}

static void print_opts(const struct cli_cmd *c, FILE *f)
{
	for (unsigned int i = 0; i < c->nr_opts; i++) {
		const struct cli_opt *o = &c->opts[i];
		char lhs[128];

		if (!cli_cmd_has(c, o))
			continue;
		opt_lhs(o, lhs, sizeof(lhs));
		if (strlen(lhs) > 30)
			fprintf(f, "  %s\n  %-30s ", lhs, "");
		else
			fprintf(f, "  %-30s ", lhs);
		wrap(f, o->help, 33, 33, 100);
	}
}

void cli_print_cmd_help(const struct cli_cmd *c, FILE *f)
{
	fprintf(f, "usage: armvm %s%s%s\n\n", c->name, *c->synopsis ? " " : "", c->synopsis);
	wrap(f, c->desc, 0, 0, 78);
	fprintf(f, "\nOptions:\n");
	print_opts(c, f);
}

void cli_print_help(FILE *f)
{
	fprintf(f, "usage: armvm COMMAND [OPTIONS]   (armvm COMMAND --help for each)\n\n"
		   "Commands:\n");
	for (unsigned int i = 0; i < cli_nr_cmds; i++)
		fprintf(f, "  %-14s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
	for (unsigned int i = 0; i < cli_nr_cmds; i++)
		if (cli_cmds[i].lists_opts) {
			fputc('\n', f);
			cli_print_cmd_help(&cli_cmds[i], f);
		}
}

/* --- armvm(1) ------------------------------------------------------------ */

/* man(7) text: backslashes and hyphens escaped, no line starts a request. */
static void roff(FILE *f, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			fputs("\\e", f);
		else if (*p == '-')
			fputs("\\-", f);
		else if ((*p == '.' || *p == '\'') && (p == s || p[-1] == '\n'))
			fprintf(f, "\\&%c", *p);
		else
			fputc(*p, f);
	}
}

static void man_opt(FILE *f, const struct cli_opt *o)
{
	fputs(".TP\n", f);
	if (o->sname)
		fprintf(f, "\\fB\\-%c\\fR, ", o->sname);
	fputs("\\fB\\-\\-", f);
	roff(f, o->name);
	fputs("\\fR", f);
	if (o->kind) {
		fputs(" \\fI", f);
		roff(f, o->arg);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	roff(f, o->help);
	fputc('\n', f);
}

/* The prose around the table: sections a user looks for. */
static const char *const man_description =
	"armvm runs arm64 Linux guests on /dev/kvm, in the spirit of kvmtool's lkvm: the same "
	"command line and guest memory map (guests built for kvmtool boot unchanged), SVE "
	"guests with exact control of their vector lengths, snapshots that restore "
	"bit-for-bit, and PCI passthrough with VFIO behind a virtio-iommu. Each guest is one "
	"armvm process; the other commands reach a running guest through its control socket.";

static const char *const man_kvmtool =
	"--opt value and --opt=value both work. The guest memory map, the 8250 UART at "
	"0x1000000 and the default kernel command line are kvmtool's. As in kvmtool, "
	"everything the host and the options decide (KVM's limits on -c and -m, --irqchip, "
	"--pmu, the SVE lengths) is checked before the kernel and initrd are opened, so a "
	"harness may probe with a kernel that does not exist and read \"cannot read kernel\" "
	"as \"supported\". lkvm list, pause, resume and stop become armvm list, pause, "
	"resume and stop; the sockets move from ~/.lkvm to the places under FILES.";

struct man_example {
	const char *cmd, *what;
};

static const struct man_example man_examples[] = {
	{ "armvm run", "Boot the default guest (see FILES)." },
	{ "armvm run -k Image -i initrd.cpio.gz -p quiet -m 512 -c 2 --disk disk.img,direct",
	  "Boot a kernel with an initramfs, 512 MiB and two vCPUs, and a disk opened with "
	  "O_DIRECT." },
	{ "armvm run --name web --sve-max-vl 512 -n mode=tap,tapif=tap0",
	  "An SVE guest whose vectors are at most 512 bits, on a tap device." },
	{ "armvm snapshot --name web -o web.snap --stop && armvm restore web.snap",
	  "Save the guest and end it; run it again from where it stopped." },
	{ "armvm run --vfio-pci 0000:01:00.0 --viommu vfio",
	  "Pass a host PCI function (bound to vfio-pci) to the guest, behind a "
	  "virtio-iommu the guest programs." },
	{ "armvm vls-common a.json b.json",
	  "From each host's armvm info --json: the --sve-max-vl and --irqchip that every host "
	  "of a fleet honours." },
};

static const char *const man_exit =
	"0: the guest powered off (PSCI SYSTEM_OFF), was stopped (Ctrl-a x, armvm stop), or "
	"rebooted with --no-reboot; for the other commands, success. 1: an error, said in one "
	"line on standard error (a missing file, a host that cannot give what was asked, a "
	"failed check of armvm selftest). 2: bad usage (an unknown option or command, a "
	"missing argument). 128+N: armvm run ended by signal N (SIGTERM, SIGINT, SIGHUP), the "
	"terminal restored.";

static const char *const man_files[][2] = {
	{ "$ARMVM_GUEST_DIR/Image, $ARMVM_GUEST_DIR/guest.cpio.gz", "The default guest, first." },
	{ "/usr/local/share/armvm/Image, /usr/local/share/armvm/guest.cpio.gz",
	  "The default guest of make install (PREFIX=/usr/local)." },
	{ "/usr/share/armvm/Image, /usr/share/armvm/guest.cpio.gz",
	  "The default guest of the Debian package." },
	{ "$XDG_RUNTIME_DIR/armvm/NAME.sock",
	  "A running guest's control socket (JSON lines), when XDG_RUNTIME_DIR is set." },
	{ "~/.armvm/NAME.sock", "The control socket otherwise." },
	{ "/dev/kvm", "The KVM device (--kvm-dev)." },
	{ "/dev/vfio/N", "The VFIO groups of passed-through functions." },
};

void cli_print_man(FILE *f, const char *version)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	char date[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	fprintf(f,
		".\\\" armvm(1), generated from armvm's option table (vmm/cli_table.c).\n"
		".TH ARMVM 1 \"%s\" \"armvm %s\" \"User Commands\"\n"
		".SH NAME\narmvm \\- a virtual machine monitor for arm64 Linux hosts, on KVM\n"
		".SH SYNOPSIS\n",
		date, version);
	for (unsigned int i = 0; i < cli_nr_cmds; i++) {
		const struct cli_cmd *c = &cli_cmds[i];

		fprintf(f, "%s\\fBarmvm %s\\fR ", i ? ".br\n" : "", c->name);
		roff(f, c->synopsis);
		fputc('\n', f);
	}
	fputs(".SH DESCRIPTION\n", f);
	roff(f, man_description);
	fputs("\n.SH COMMANDS\n", f);
	for (unsigned int i = 0; i < cli_nr_cmds; i++) {
		const struct cli_cmd *c = &cli_cmds[i];

		fprintf(f, ".SS \"armvm %s\"\n", c->name);
		roff(f, c->desc);
		fputc('\n', f);
		for (unsigned int j = 0; j < c->nr_opts; j++)
			if (cli_cmd_has(c, &c->opts[j]))
				man_opt(f, &c->opts[j]);
	}
	fputs(".SH \"KVMTOOL COMPATIBILITY\"\narmvm run takes the options that kvmtool's lkvm run "
	      "also has with lkvm's spelling:",
	      f);
	for (unsigned int j = 0, k = 0; j < cli_cmds[0].nr_opts; j++) {
		const struct cli_opt *o = &cli_cmds[0].opts[j];

		if (!(o->flags & CLI_F_KVMTOOL))
			continue;
		fprintf(f, "%s", k++ ? ",\n" : "\n");
		if (o->sname)
			fprintf(f, "\\fB\\-%c\\fR/", o->sname);
		fputs("\\fB\\-\\-", f);
		roff(f, o->name);
		fputs("\\fR", f);
	}
	fputs(".\n", f);
	roff(f, man_kvmtool);
	fputs("\n.SH EXAMPLES\n", f);
	for (size_t i = 0; i < sizeof(man_examples) / sizeof(man_examples[0]); i++) {
		fputs(".TP\n.B ", f);
		roff(f, man_examples[i].cmd);
		fputc('\n', f);
		roff(f, man_examples[i].what);
		fputc('\n', f);
	}
	fputs(".SH \"EXIT STATUS\"\n", f);
	roff(f, man_exit);
	fputs("\n.SH ENVIRONMENT\n.TP\n.B ARMVM_GUEST_DIR\n", f);
	roff(f, "Where to look first for the default guest (Image and guest.cpio.gz).");
	fputs("\n.TP\n.B XDG_RUNTIME_DIR\n", f);
	roff(f, "Where the control sockets live (else ~/.armvm).");
	fputs("\n.TP\n.B SOURCE_DATE_EPOCH\n", f);
	roff(f, "Only when this page is generated: its date.");
	fputs("\n.SH FILES\n", f);
	for (size_t i = 0; i < sizeof(man_files) / sizeof(man_files[0]); i++) {
		fputs(".TP\n.I ", f);
		roff(f, man_files[i][0]);
		fputc('\n', f);
		roff(f, man_files[i][1]);
		fputc('\n', f);
	}
	fputs(".SH \"SEE ALSO\"\n", f);
	roff(f, "lkvm(1) (kvmtool), qemu-system-aarch64(1); the kernel's "
		"Documentation/virt/kvm/api.rst; /usr/share/doc/armvm.");
	fputc('\n', f);
}

/* --- bash completion ------------------------------------------------------ */

/* "a|b|c" of lower-case words: the values a shell may offer. */
static bool word_list(const char *arg)
{
	if (!arg || !*arg)
		return false;
	for (const char *p = arg; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == ',' || *p == '|'))
			return false;
	return true;
}

/*
 * Options whose argument completes the same way share one case arm: file
 * names, guest names, the same word list, or free values (nothing to
 * offer: sizes, counts, lists).
 */
static bool same_arm(const struct cli_opt *a, const struct cli_opt *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind != CLI_ARG_VALUE)
		return true;
	if (word_list(a->arg) != word_list(b->arg))
		return false;
	return !word_list(a->arg) || !strcmp(a->arg, b->arg);
}

/* The case label of o's arm: every option of c that shares it. */
static void bash_opt_names(FILE *f, const struct cli_cmd *c, const struct cli_opt *o)
{
	bool first = true;

	for (unsigned int i = 0; i < c->nr_opts; i++) {
		const struct cli_opt *x = &c->opts[i];

		if (!cli_cmd_has(c, x) || !same_arm(x, o))
			continue;
		if (x->sname)
			fprintf(f, "%s-%c", first ? "" : "|", x->sname);
		fprintf(f, "%s--%s", first && !x->sname ? "" : "|", x->name);
		first = false;
	}
}

/* Is o the first option of c in its arm (the one that writes it)? */
static bool first_of_arm(const struct cli_cmd *c, const struct cli_opt *o)
{
	for (const struct cli_opt *x = c->opts; x < o; x++)
		if (cli_cmd_has(c, x) && same_arm(x, o))
			return false;
	return true;
}

void cli_print_bash_completion(FILE *f)
{
	fputs("# bash completion for armvm(1): generated from armvm's option table\n"
	      "# (vmm/cli_table.c); install as /usr/share/bash-completion/completions/armvm.\n"
	      "\n"
	      "_armvm_guests()\n{\n"
	      "\t\"$1\" list 2>/dev/null | awk 'NR > 1 { print $1 }'\n}\n\n"
	      "# _armvm_put PREFIX < lines: the replies, each after PREFIX.\n"
	      "_armvm_put()\n{\n"
	      "\tlocal l\n\tCOMPREPLY=()\n"
	      "\twhile IFS= read -r l; do COMPREPLY+=(\"$1$l\"); done\n}\n\n"
	      "_armvm()\n{\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tlocal cmd=${COMP_WORDS[1]} opt val pre= opts= pos=\n"
	      "\tCOMPREPLY=()\n"
	      "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W '",
	      f);
	for (unsigned int i = 0; i < cli_nr_cmds; i++)
		fprintf(f, "%s%s", i ? " " : "", cli_cmds[i].name);
	fputs("' -- \"$cur\"))\n"
	      "\t\treturn 0\n\tfi\n"
	      "\t# --opt=value arrives as three words (\"=\" breaks words) or one.\n"
	      "\topt=$prev val=$cur\n"
	      "\tif [ \"$cur\" = = ]; then\n\t\tval=\n"
	      "\telif [ \"$prev\" = = ] && [ \"$COMP_CWORD\" -ge 3 ]; then\n"
	      "\t\topt=${COMP_WORDS[COMP_CWORD-2]}\n"
	      "\telif [[ $cur == --*=* ]]; then\n\t\topt=${cur%%=*} val=${cur#*=} pre=${cur%%=*}=\n"
	      "\telif [[ $cur == -* ]]; then\n\t\topt=\n\tfi\n"
	      "\tcase \"$cmd\" in\n",
	      f);
	for (unsigned int i = 0; i < cli_nr_cmds; i++) {
		const struct cli_cmd *c = &cli_cmds[i];

		fprintf(f, "\t%s)\n\t\topts='", c->name);
		for (unsigned int j = 0, k = 0; j < c->nr_opts; j++)
			if (cli_cmd_has(c, &c->opts[j]))
				fprintf(f, "%s--%s", k++ ? " " : "", c->opts[j].name);
		fprintf(f, "'\n\t\tpos=%s\n\t\tcase \"$opt\" in\n",
			c->pos_kind == CLI_ARG_FILE ? "file" : "");
		for (unsigned int j = 0; j < c->nr_opts; j++) {
			const struct cli_opt *o = &c->opts[j];

			if (!cli_cmd_has(c, o) || o->kind == CLI_ARG_NONE || !first_of_arm(c, o))
				continue;
			fputs("\t\t", f);
			bash_opt_names(f, c, o);
			if (o->kind == CLI_ARG_FILE) {
				fputs(")\n\t\t\tcompopt -o filenames 2>/dev/null\n"
				      "\t\t\t_armvm_put \"$pre\" < <(compgen -f -- \"$val\"); return 0 ;;\n",
				      f);
			} else if (o->kind == CLI_ARG_GUEST) {
				fputs(")\n\t\t\t_armvm_put \"$pre\" < <(compgen -W \"$(_armvm_guests "
				      "\"${COMP_WORDS[0]}\")\" -- \"$val\"); return 0 ;;\n",
				      f);
			} else if (word_list(o->arg)) {
				char words[256];

				snprintf(words, sizeof(words), "%s", o->arg);
				for (char *p = words; *p; p++)
					if (*p == '|')
						*p = ' ';
				fprintf(f,
					")\n\t\t\t_armvm_put \"$pre\" < <(compgen -W '%s' -- \"$val\"); "
					"return 0 ;;\n",
					words);
			} else {
				fputs(")\n\t\t\treturn 0 ;;\n", f);
			}
		}
		fputs("\t\tesac ;;\n", f);
	}
	fputs("\t*) return 0 ;;\n"
	      "\tesac\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\t_armvm_put '' < <(compgen -W \"$opts\" -- \"$cur\")\n"
	      "\telif [ \"$pos\" = file ]; then\n"
	      "\t\tcompopt -o filenames 2>/dev/null\n"
	      "\t\t_armvm_put '' < <(compgen -f -- \"$cur\")\n"
	      "\tfi\n"
	      "\treturn 0\n"
	      "}\n"
	      "complete -F _armvm armvm\n",
	      f);
}
