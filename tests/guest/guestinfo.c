// SPDX-License-Identifier: MIT
/*
 * Runs inside the guest: prints what the guest sees of its machine, one
 * "key: value" line each, for tests and for `make demo`.
 */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef PR_SVE_GET_VL
#define PR_SVE_GET_VL 51
#endif
#define PR_SVE_VL_LEN_MASK 0xffff

int main(void)
{
	struct utsname u;
	char line[256];
	unsigned long long mem_kb = 0;
	FILE *f;

	if (uname(&u) == 0)
		printf("kernel: %s %s\n", u.release, u.machine);
	printf("cpus: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &mem_kb) == 1)
			break;
	if (f)
		fclose(f);
	printf("memory: %llu MiB\n", mem_kb / 1024);
	if (getauxval(AT_HWCAP) & HWCAP_SVE) {
		int vl = prctl(PR_SVE_GET_VL);

		printf("sve: %d bits\n", vl < 0 ? -1 : (vl & PR_SVE_VL_LEN_MASK) * 8);
	} else {
		printf("sve: none\n");
	}
	return 0;
}
