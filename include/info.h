/* SPDX-License-Identifier: MIT */
/* `armvm info` (vmm/info.c). */
#ifndef ARMVM_INFO_H
#define ARMVM_INFO_H

int info_main(int argc, char **argv);
/* `armvm vls-common HOST.json...`: what every host of a fleet can honour. */
int vls_common_main(int argc, char **argv);

#endif
