// SPDX-License-Identifier: MIT
/*
 * Host PCI functions and their IOMMU groups, from sysfs (see vfio.h;
 * Documentation/driver-api/vfio.rst, "Groups, Devices, and IOMMUs").
 */
#include "vfio.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static int hex_field(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!len || len > 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned long)d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int vfio_bdf_parse(const char *s, struct pci_bdf *out, char *err, size_t errlen)
{
	const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *bus, *dot;
	unsigned long dom = 0, b, d, f;

	if (c2) {
		if (hex_field(s, (size_t)(c1 - s), 0xffff, &dom))
			goto bad;
		bus = c1 + 1;
		c1 = c2;
	} else {
		bus = s;
	}
	dot = c1 ? strchr(c1 + 1, '.') : NULL;
	if (!c1 || !dot || hex_field(bus, (size_t)(c1 - bus), 0xff, &b) ||
	    hex_field(c1 + 1, (size_t)(dot - c1 - 1), 0x1f, &d) ||
	    hex_field(dot + 1, strlen(dot + 1), 7, &f))
		goto bad;
	*out = (struct pci_bdf){
		.domain = (uint16_t)dom, .bus = (uint8_t)b, .dev = (uint8_t)d, .fn = (uint8_t)f
	};
	return 0;
bad:
	return errmsg(
		err, errlen, -EINVAL,
		"--vfio-pci %s: expected a PCI address [domain:]bus:device.function in hex, e.g. 0000:01:00.0",
		s);
}

void vfio_bdf_format(const struct pci_bdf *b, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", b->domain, b->bus, b->dev, b->fn);
}

int vfio_group_of(const char *sysfs, const struct pci_bdf *b, int *group, char *err, size_t errlen)
{
	char name[16], path[PATH_MAX], link[PATH_MAX], *base, *end;
	ssize_t n;
	long g;

	vfio_bdf_format(b, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, name);
	if (access(path, F_OK) < 0)
		return errmsg(err, errlen, -ENODEV,
			      "--vfio-pci %s: no such PCI function on this host (see lspci -D)",
			      name);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", sysfs, name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errmsg(
			err, errlen, -ENODEV,
			"--vfio-pci %s: the function has no IOMMU group: this host has no IOMMU, or it is off (intel_iommu=on, an SMMU in the firmware tables)",
			name);
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	g = strtol(base, &end, 10);
	if (*end || g < 0 || g > INT_MAX)
		return errmsg(err, errlen, -EINVAL, "--vfio-pci %s: unexpected IOMMU group '%s'",
			      name, base);
	*group = (int)g;
	return 0;
}

/* The driver a function is bound to ("" for none). */
static void driver_of(const char *sysfs, const char *dev, char *buf, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX], *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sysfs, dev);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		buf[0] = '\0';
		return;
	}
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(buf, len, "%.63s", base ? base + 1 : link);
}

int vfio_group_viable(const char *sysfs, int group, char *err, size_t errlen)
{
	char path[PATH_MAX], drv[64], busy[512] = "", first[16] = "";
	struct dirent **ents;
	size_t used = 0;
	int k, nbusy = 0;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", sysfs, group);
	k = scandir(path, &ents, NULL, alphasort);
	if (k < 0)
		return errmsg(err, errlen, -errno, "IOMMU group %d: cannot list its devices: %s",
			      group, strerror(errno));
	for (int i = 0; i < k; i++) {
		const char *d = ents[i]->d_name;

		if (d[0] != '.') {
			driver_of(sysfs, d, drv, sizeof(drv));
			/* vfio.rst: bound to a vfio bus driver, pci-stub, or none;
			 * bridges stay with pcieport. */
			if (drv[0] && strcmp(drv, "vfio-pci") && strcmp(drv, "pci-stub") &&
			    strcmp(drv, "pcieport")) {
				int n = snprintf(busy + used, sizeof(busy) - used, "%s%s (%s)",
						 nbusy ? ", " : "", d, drv);

				if (n > 0 && (size_t)n < sizeof(busy) - used)
					used += (size_t)n;
				if (!nbusy++)
					snprintf(first, sizeof(first), "%.15s", d);
			}
		}
		free(ents[i]);
	}
	free(ents);
	if (!nbusy)
		return 0;
	return errmsg(
		err, errlen, -EBUSY,
		"IOMMU group %d is not viable: %s %s bound to a host driver; bind %s to vfio-pci (echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; echo %s > /sys/bus/pci/devices/%s/driver/unbind; echo %s > /sys/bus/pci/drivers_probe)",
		group, busy, nbusy > 1 ? "are" : "is", nbusy > 1 ? "each" : "it", first, first,
		first, first);
}
