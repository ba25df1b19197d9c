// SPDX-License-Identifier: MIT
/*
 * Host PCI addresses (kvmtool's --vfio-pci syntax) and IOMMU group
 * viability, on a fake sysfs built here: a viable group, one with a
 * function bound to a host driver (named, with the commands to fix it),
 * a function without an IOMMU group, a missing function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vfio.h"

static char root[] = "/tmp/armvm-sysfsXXXXXX";

static void mkpath(const char *rel)
{
	char p[512], *s;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

static void link_to(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) < 0)
		perror(p);
}

/* A function in group g, bound to drv (NULL: no driver). */
static void add_fn(const char *bdf, int g, const char *drv)
{
	char rel[256], tgt[256];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", bdf);
	mkpath(rel);
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", g);
	mkpath(rel);
	if (g >= 0) {
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/iommu_group", bdf);
		snprintf(tgt, sizeof(tgt), "../../../../kernel/iommu_groups/%d", g);
		link_to(tgt, rel);
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", g, bdf);
		snprintf(tgt, sizeof(tgt), "../../../../bus/pci/devices/%s", bdf);
		link_to(tgt, rel);
	}
	if (drv) {
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s", drv);
		mkpath(rel);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", bdf);
		snprintf(tgt, sizeof(tgt), "../../../../bus/pci/drivers/%s", drv);
		link_to(tgt, rel);
	}
}

static void test_parse(void)
{
	static const struct {
		const char *s;
		int ok;
		const char *canon;
	} t[] = {
		{ "00:03.0", 1, "0000:00:03.0" },
		{ "0000:00:03.0", 1, "0000:00:03.0" },
		{ "0001:ff:1f.7", 1, "0001:ff:1f.7" },
		{ "A:0B:1c.2", 1, "000a:0b:1c.2" },
		{ "03.0", 0, NULL },
		{ "00:20.0", 0, NULL },
		{ "00:03.8", 0, NULL },
		{ "g0:00.0", 0, NULL },
		{ "", 0, NULL },
		{ "0000:00:03", 0, NULL },
		{ "12345:00:00.0", 0, NULL },
		{ "00:03.0x", 0, NULL },
		{ "0000:00:03.0:1", 0, NULL },
		{ ":00:03.0", 0, NULL },
	};
	char err[256], buf[16];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pci_bdf b;
		int ret = vfio_bdf_parse(t[i].s, &b, err, sizeof(err));

		if (t[i].ok) {
			vfio_bdf_format(&b, buf, sizeof(buf));
			ok(ret == 0 && !strcmp(buf, t[i].canon), "'%s' is %s", t[i].s, t[i].canon);
		} else {
			ok(ret == -EINVAL && strstr(err, "expected a PCI address"),
			   "'%s' is refused: %s", t[i].s, err);
		}
	}
}

static void test_groups(void)
{
	struct pci_bdf b;
	char err[1024];
	int g = -1, ret;

	add_fn("0000:00:03.0", 7, "vfio-pci");
	add_fn("0000:00:03.1", 7, NULL);
	add_fn("0000:00:04.0", 8, "nvme");
	add_fn("0000:00:04.1", 8, "vfio-pci");
	add_fn("0000:00:05.0", 9, "pcieport");
	add_fn("0000:00:05.1", 9, "pci-stub");
	add_fn("0000:00:06.0", -1, "e1000e");

	vfio_bdf_parse("00:03.0", &b, err, sizeof(err));
	ret = vfio_group_of(root, &b, &g, err, sizeof(err));
	ok(ret == 0 && g == 7, "00:03.0 is in IOMMU group 7 (%d)", g);
	is_int(vfio_group_viable(root, 7, err, sizeof(err)), 0,
	       "group 7 (vfio-pci and no driver) is viable");
	is_int(vfio_group_viable(root, 9, err, sizeof(err)), 0,
	       "a bridge on pcieport and pci-stub: viable");
	ret = vfio_group_viable(root, 8, err, sizeof(err));
	ok(ret == -EBUSY && strstr(err, "0000:00:04.0 (nvme) is bound to a host driver") &&
		   strstr(err,
			  "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override") &&
		   !strchr(err, '\n'),
	   "group 8: the nvme function is named, with how to bind it (%s)", err);
	vfio_bdf_parse("00:06.0", &b, err, sizeof(err));
	ret = vfio_group_of(root, &b, &g, err, sizeof(err));
	ok(ret == -ENODEV && strstr(err, "no IOMMU group"),
	   "a function without a group: no IOMMU (%s)", err);
	vfio_bdf_parse("00:1f.0", &b, err, sizeof(err));
	ret = vfio_group_of(root, &b, &g, err, sizeof(err));
	ok(ret == -ENODEV && strstr(err, "no such PCI function"), "a missing function (%s)", err);
	ret = vfio_group_viable(root, 42, err, sizeof(err));
	ok(ret < 0 && strstr(err, "IOMMU group 42"), "a missing group (%s)", err);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(root))
		return 1;
	test_parse();
	test_groups();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		return 1;
	return tap_done();
}
