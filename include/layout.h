/* SPDX-License-Identifier: MIT */
/*
 * The arm64 guest-physical memory map: the one place where every guest
 * address is defined. It is kvmtool's arm64 map, so guests, firmware and
 * bare-metal payloads built for kvmtool (kvm-unit-tests --target=kvmtool,
 * earlycon=uart8250,mmio,0x1000000) run unchanged. docs/memory-map.md
 * carries the same table.
 *
 *   0x0000_0000 +---------------------------+
 *               | PCI I/O port window 64K   |  (PCI, next)
 *   0x0001_0000 +---------------------------+
 *               | (unused)                  |
 *   0x0100_0000 +---------------------------+
 *               | 8250 UART        0x1000   |  ttyS0, 0x100_0000
 *   0x0101_0000 | PL031 RTC        0x1000   |
 *   0x0102_0000 | pvtime           64K      |  (reserved)
 *   0x0200_0000 +---------------------------+
 *               | flash            16M      |  (reserved)
 *   0x0300_0000 +---------------------------+
 *               | virtio-mmio devices, 512 B|  --virtio-transport mmio
 *               | each, growing up          |
 *               |          ...              |
 *               | GICv3 redistributors,     |
 *               | 128K per vCPU, growing    |
 *               | down from the ITS         |
 *   0x3ffb_0000 | GIC ITS          128K     |
 *   0x3ffd_0000 | GICv2 CPU interface 128K  |
 *   0x3fff_0000 | GIC distributor  64K      |
 *   0x4000_0000 +---------------------------+
 *               | PCI ECAM         256M     |  bus 0
 *   0x5000_0000 +---------------------------+
 *               | PCI MMIO window  768M     |  32-bit BARs
 *   0x8000_0000 +---------------------------+
 *               | RAM (-m), up to the IPA   |
 *               | limit                     |
 *               +---------------------------+
 *
 * Boot images inside RAM (arm64 booting.rst; kvmtool's placement):
 *   kernel   RAM + text_offset (Image header), or RAM + 512K for a flat
 *            binary
 *   DTB      2M-aligned, at the top of min(RAM end, RAM + 256M)
 *   initrd   just below the DTB, 4K-aligned
 */
#ifndef ARMVM_LAYOUT_H
#define ARMVM_LAYOUT_H

#include "util.h"

#define LAYOUT_IOPORT_BASE 0x00000000ULL
#define LAYOUT_IOPORT_SIZE SZ_64K

#define LAYOUT_MMIO_AREA 0x01000000ULL
#define LAYOUT_UART_BASE 0x01000000ULL
#define LAYOUT_UART_SIZE 0x1000ULL
#define LAYOUT_RTC_BASE 0x01010000ULL
#define LAYOUT_RTC_SIZE 0x1000ULL
#define LAYOUT_PVTIME_BASE 0x01020000ULL
#define LAYOUT_PVTIME_SIZE SZ_64K
#define LAYOUT_FLASH_BASE 0x02000000ULL
#define LAYOUT_FLASH_SIZE 0x01000000ULL
#define LAYOUT_VIRTIO_MMIO_BASE 0x03000000ULL
#define LAYOUT_VIRTIO_MMIO_SLOT 0x200ULL

#define LAYOUT_AXI_AREA 0x40000000ULL
#define LAYOUT_GIC_DIST_SIZE SZ_64K
#define LAYOUT_GIC_DIST_BASE (LAYOUT_AXI_AREA - LAYOUT_GIC_DIST_SIZE)
#define LAYOUT_GIC_CPUI_SIZE 0x20000ULL
#define LAYOUT_GIC_CPUI_BASE (LAYOUT_GIC_DIST_BASE - LAYOUT_GIC_CPUI_SIZE)
#define LAYOUT_GIC_ITS_SIZE 0x20000ULL
#define LAYOUT_GIC_ITS_BASE (LAYOUT_GIC_CPUI_BASE - LAYOUT_GIC_ITS_SIZE)
#define LAYOUT_GIC_REDIST_SIZE 0x20000ULL /* one per vCPU */

#define LAYOUT_PCI_CFG_BASE LAYOUT_AXI_AREA
#define LAYOUT_PCI_CFG_SIZE 0x10000000ULL
#define LAYOUT_PCI_MMIO_BASE (LAYOUT_PCI_CFG_BASE + LAYOUT_PCI_CFG_SIZE)
#define LAYOUT_RAM_BASE 0x80000000ULL
#define LAYOUT_PCI_MMIO_SIZE (LAYOUT_RAM_BASE - LAYOUT_PCI_MMIO_BASE)

/* Boot placement inside RAM. */
#define LAYOUT_FLAT_LOAD_OFFSET 0x80000ULL /* kvmtool: flat binaries at +512K */
#define LAYOUT_BOOT_WINDOW 0x10000000ULL   /* DTB and initrd in first 256M */
#define LAYOUT_FDT_MAX_SIZE SZ_64K	   /* booting.rst: DTB <= 2M */
#define LAYOUT_FDT_ALIGN SZ_2M

/* The default IPA space (KVM_VM_TYPE 0) is 40 bits: 1 TiB. */
#define LAYOUT_DEFAULT_IPA_BITS 40

/* Base of the GICv3 redistributor region for n vCPUs. */
static inline uint64_t layout_gic_redist_base(unsigned int nr_cpus)
{
	return LAYOUT_GIC_ITS_BASE - (uint64_t)nr_cpus * LAYOUT_GIC_REDIST_SIZE;
}

/* The most RAM a guest with an IPA space of ipa_bits can have. */
static inline uint64_t layout_ram_max(unsigned int ipa_bits)
{
	return (1ULL << ipa_bits) - LAYOUT_RAM_BASE;
}

/* The most vCPUs whose redistributors fit above the virtio-mmio area. */
#define LAYOUT_MAX_VCPUS_GICV3 512

#endif
