// SPDX-License-Identifier: MIT
/*
 * Built natively at build time (the armvm it documents may be for another
 * architecture): writes armvm(1) or the bash completion from the option
 * table. `cli_gen man VERSION > armvm.1`, `cli_gen bash > armvm.bash`.
 */
#include "cli.h"

#include <string.h>

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "man"))
		cli_print_man(stdout, argv[2]);
	else if (argc == 2 && !strcmp(argv[1], "bash"))
		cli_print_bash_completion(stdout);
	else {
		fprintf(stderr, "usage: cli_gen man VERSION | cli_gen bash\n");
		return 2;
	}
	return fflush(stdout) ? 1 : 0;
}
