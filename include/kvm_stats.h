/* SPDX-License-Identifier: MIT */
/*
 * KVM's binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst
 * §4.133): a header, descriptors (name, type, size, offset) and u64 data,
 * read with pread. What a vCPU costs, counted by the kernel: every exit,
 * those handled in the kernel (an ioeventfd notify, a WFI) included, which
 * KVM_RUN's return never shows armvm. No KVM here: the reader is pure,
 * unit-tested on a made-up stats file.
 */
#ifndef ARMVM_KVM_STATS_H
#define ARMVM_KVM_STATS_H

#include <stdint.h>

/*
 * Add the named counters of the stats file fd to out[i] (a counter of
 * several values adds them all; a name the kernel lacks adds nothing).
 * 0, or a negative errno if the file is not a stats file.
 */
int kvm_stats_add(int fd, const char *const *names, unsigned int n, uint64_t *out);

#endif
