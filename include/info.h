/* SPDX-License-Identifier: MIT */
/* `armvm info` (vmm/info.c). */
#ifndef ARMVM_INFO_H
#define ARMVM_INFO_H

int info_main(int argc, char **argv);

#endif
