/* SPDX-License-Identifier: MIT */
/* `armvm selftest` (vmm/selftest.c). */
#ifndef ARMVM_SELFTEST_H
#define ARMVM_SELFTEST_H

#include <stddef.h>

int selftest_main(int argc, char **argv);
/* Check 5, in its own file: an AArch32 guest using VFP. */
int selftest_aarch32_vfp(const char *kvm_dev, char *detail, size_t len);

#endif
