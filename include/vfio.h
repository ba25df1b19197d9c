/* SPDX-License-Identifier: MIT */
/*
 * Host side of PCI passthrough, the part that needs no KVM: naming a host
 * PCI function (kvmtool's `--vfio-pci [domain:]bus:dev.fn`) and deciding,
 * from sysfs, whether its IOMMU group can be handed to a guest (every
 * function of the group bound to vfio-pci, pci-stub or no driver; bridges
 * may stay with pcieport). The sysfs root is a parameter so the unit
 * tests can build a fake one.
 */
#ifndef ARMVM_VFIO_H
#define ARMVM_VFIO_H

#include <stddef.h>
#include <stdint.h>

struct pci_bdf {
	uint16_t domain;
	uint8_t bus, dev, fn;
};

/* "0000:00:03.0" or "00:03.0" (hex). 0, or -EINVAL with a message. */
int vfio_bdf_parse(const char *s, struct pci_bdf *out, char *err, size_t errlen);
/* "DDDD:BB:DD.F" into buf (at least 13 bytes). */
void vfio_bdf_format(const struct pci_bdf *b, char *buf, size_t len);

/*
 * The IOMMU group of a host function (sysfs: SYSFS/bus/pci/devices/BDF/
 * iommu_group). 0 with *group, or -errno with a message naming the
 * problem: no such function, or no IOMMU group (no IOMMU on the host).
 */
int vfio_group_of(const char *sysfs, const struct pci_bdf *b, int *group, char *err, size_t errlen);

/*
 * Is every function of the group free for VFIO? 0, or -EBUSY with one
 * line naming each function in the way, its driver, and how to bind it
 * to vfio-pci.
 */
int vfio_group_viable(const char *sysfs, int group, char *err, size_t errlen);

#endif
