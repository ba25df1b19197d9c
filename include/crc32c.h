/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli, reflected, polynomial 0x82f63b78): the checksum of
 * the snapshot format. The ARMv8 CRC32C instructions when the CPU has them
 * (HWCAP_CRC32), a table otherwise. crc32c(0, "123456789", 9) == 0xe3069283.
 */
#ifndef ARMVM_CRC32C_H
#define ARMVM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over n bytes. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The table version, whatever the CPU (for tests). */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
