// SPDX-License-Identifier: MIT
/*
 * A host PCI function passed through to the guest with VFIO (type-1 v2
 * IOMMU): Documentation/driver-api/vfio.rst, include/uapi/linux/vfio.h.
 *
 * The guest sees a function on armvm's PCI bus whose config space armvm
 * emulates from the host's: IDs and class copied, BARs with the host's
 * sizes and types that the guest may move, the MSI-X capability
 * virtualised (pci.c: vectors are eventfds that VFIO signals and KVM
 * irqfds deliver through the ITS), the PCI Express and power-management
 * capabilities as read-only copies, every other capability hidden. The
 * command register's memory, bus-master and INTx-disable bits go to the
 * device. BAR ranges VFIO lets us mmap become KVM memory slots while the
 * BAR is mapped (the guest's accesses never leave the kernel); the rest,
 * and always the MSI-X table and PBA pages, trap to armvm and go to the
 * device with pread/pwrite. INTx is an eventfd with a resample eventfd.
 *
 * IOMMU: every group gets a container of its own, so each group has its
 * own IOVA space (what a virtio-iommu domain needs; VFIO will not move a
 * group with an open device to another container). Without a virtual
 * IOMMU, guest RAM is mapped at IOVA = guest-physical before the guest
 * runs.
 */
#include "vfio_pci.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "util.h"
#include "virtio_iommu.h"
#include "vm.h"
#include <linux/virtio_iommu.h>

#define VFIO_STATE_VERSION 1

/* ---- containers and groups ----------------------------------------------- */

static int container_open(struct vfio_group *g, const char *what, char *err, size_t errlen)
{
	int fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errmsg(
			err, errlen, -errno,
			"%s: cannot open /dev/vfio/vfio: %s (load the vfio-pci and vfio_iommu_type1 modules)",
			what, strerror(errno));
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		close(fd);
		return errmsg(
			err, errlen, -ENOTSUP,
			"%s: this host's VFIO has no type-1 v2 IOMMU (vfio_iommu_type1 module)",
			what);
	}
	g->container = fd;
	return 0;
}

/* The IOVA ranges from VFIO_IOMMU_GET_INFO's capability chain. */
static void iova_ranges(struct vfio_group *g, const struct vfio_iommu_type1_info *info)
{
	uint32_t off = info->cap_offset;

	for (int hops = 0;
	     off && off + sizeof(struct vfio_info_cap_header) <= info->argsz && hops < 16; hops++) {
		const struct vfio_info_cap_header *h = (const void *)((const uint8_t *)info + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			const struct vfio_iommu_type1_info_cap_iova_range *r = (const void *)h;

			for (uint32_t i = 0;
			     i < r->nr_iovas && g->nr_iova < VFIO_MAX_IOVA_RANGES &&
			     off + sizeof(*r) + (i + 1) * sizeof(r->iova_ranges[0]) <= info->argsz;
			     i++) {
				g->iova[g->nr_iova].start = r->iova_ranges[i].start;
				g->iova[g->nr_iova++].end = r->iova_ranges[i].end;
			}
			return;
		}
		if (h->next <= off)
			return;
		off = h->next;
	}
}

/* After the first group joined: the IOMMU type, its page sizes and ranges. */
static int container_set_iommu(struct vfio_group *g, const char *what, char *err, size_t errlen)
{
	struct vfio_iommu_type1_info *info = calloc(1, sizeof(*info));
	uint32_t want;

	if (!info)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	info->argsz = sizeof(*info);
	if (ioctl(g->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		free(info);
		return errmsg(err, errlen, -errno, "%s: VFIO_SET_IOMMU (type-1 v2): %s", what,
			      strerror(errno));
	}
	if (ioctl(g->container, VFIO_IOMMU_GET_INFO, info) < 0)
		goto fail;
	want = info->argsz;
	if (want > sizeof(*info) && want < 65536) {
		struct vfio_iommu_type1_info *big = realloc(info, want);

		if (!big)
			goto fail;
		info = big;
		memset(info, 0, want);
		info->argsz = want;
		if (ioctl(g->container, VFIO_IOMMU_GET_INFO, info) < 0)
			goto fail;
		if (info->flags & VFIO_IOMMU_INFO_CAPS)
			iova_ranges(g, info);
	}
	g->iova_pgsizes = (info->flags & VFIO_IOMMU_INFO_PGSIZES) ? info->iova_pgsizes : 4096;
	if (!g->nr_iova) {
		g->iova[0].start = 0;
		g->iova[0].end = UINT64_MAX;
		g->nr_iova = 1;
	}
	free(info);
	return 0;
fail:
	free(info);
	return errmsg(err, errlen, -errno, "%s: VFIO_IOMMU_GET_INFO: %s", what, strerror(errno));
}

static void group_put(struct vm *vm, struct vfio_group *g)
{
	struct vfio_group **pp;

	if (--g->users)
		return;
	for (pp = &vm->vfio_groups; *pp && *pp != g; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = g->next;
	if (g->fd >= 0) {
		if (g->container >= 0)
			ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER);
		close(g->fd);
	}
	if (g->container >= 0)
		close(g->container);
	free(g);
}

/* The group of a function: shared by every function of it in this VM. */
static struct vfio_group *group_get(struct vm *vm, int id, const char *what, char *err,
				    size_t errlen)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_group *g;
	char path[32];

	for (g = vm->vfio_groups; g; g = g->next)
		if (g->id == id) {
			g->users++;
			return g;
		}
	g = calloc(1, sizeof(*g));
	if (!g) {
		errmsg(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	*g = (struct vfio_group){
		.id = id, .fd = -1, .container = -1, .users = 1, .next = vm->vfio_groups
	};
	vm->vfio_groups = g;
	snprintf(path, sizeof(path), "/dev/vfio/%d", id);
	g->fd = open(path, O_RDWR | O_CLOEXEC);
	if (g->fd < 0) {
		int e = errno;

		if (e == EBUSY)
			errmsg(err, errlen, -EBUSY,
			       "%s: IOMMU group %d is in use by another process (another armvm?): %s is busy",
			       what, id, path);
		else if (e == ENOENT)
			errmsg(err, errlen, -ENOENT,
			       "%s: %s does not exist: bind the function to vfio-pci first", what,
			       path);
		else
			errmsg(err, errlen, -e, "%s: cannot open %s: %s", what, path, strerror(e));
		goto fail;
	}
	if (ioctl(g->fd, VFIO_GROUP_GET_STATUS, &st) < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errmsg(err, errlen, -EBUSY,
		       "%s: IOMMU group %d is not viable: a function of it is bound to a host driver",
		       what, id);
		goto fail;
	}
	if (container_open(g, what, err, errlen))
		goto fail;
	if (ioctl(g->fd, VFIO_GROUP_SET_CONTAINER, &g->container) < 0) {
		errmsg(err, errlen, -errno, "%s: VFIO_GROUP_SET_CONTAINER: %s", what,
		       strerror(errno));
		goto fail;
	}
	if (container_set_iommu(g, what, err, errlen))
		goto fail;
	return g;
fail:
	group_put(vm, g);
	return NULL;
}

int vfio_dma_map(struct vfio_group *g, uint64_t iova, uint64_t size, void *host, bool write)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uint64_t)(uintptr_t)host,
		.iova = iova,
		.size = size,
	};

	return ioctl(g->container, VFIO_IOMMU_MAP_DMA, &m) < 0 ? -errno : 0;
}

int vfio_dma_unmap(struct vfio_group *g, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = size };

	if (size == UINT64_MAX) /* everything (Linux 5.13+) */
		u = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(u),
							 .flags = VFIO_DMA_UNMAP_FLAG_ALL };
	return ioctl(g->container, VFIO_IOMMU_UNMAP_DMA, &u) < 0 ? -errno : 0;
}

/* The virtio-iommu's back-end for a group: its container. */
static int viommu_vfio_map(void *key, uint64_t iova, uint64_t size, void *host, bool write)
{
	return vfio_dma_map(key, iova, size, host, write);
}

static int viommu_vfio_unmap(void *key, uint64_t iova, uint64_t size)
{
	return vfio_dma_unmap(key, iova, size);
}

static const struct viommu_backend_ops viommu_vfio_ops = {
	.map = viommu_vfio_map,
	.unmap = viommu_vfio_unmap,
};

/* The function is an endpoint of the virtio-iommu: its limits are the guest's. */
static int viommu_join(struct vfio_pci *v, char *err, size_t errlen)
{
	struct vm *vm = v->pd.vm;
	struct vfio_group *g = v->group;
	uint64_t lo = g->iova[0].start, hi = g->iova[g->nr_iova - 1].end;
	int ret;

	if (!vm->viommu)
		return errmsg(err, errlen, -EINVAL, "%s: no virtio-iommu to put it behind",
			      v->what);
	ret = viommu_add_endpoint(vm->viommu, v->pd.devfn, &viommu_vfio_ops, g);
	if (ret)
		return errmsg(err, errlen, ret, "%s: the virtio-iommu takes no more endpoints",
			      v->what);
	vm->pci.iommu_slots |= 1u << (v->pd.devfn >> 3);
	viommu_restrict(vm->viommu, g->iova_pgsizes, hi);
	/* The host's holes (its MSI window, bridge windows): reserved. */
	if (lo > vm->viommu->input_start)
		viommu_add_resv(vm->viommu, vm->viommu->input_start, lo - 1,
				VIRTIO_IOMMU_RESV_MEM_T_RESERVED);
	for (unsigned int i = 0; i + 1 < g->nr_iova; i++)
		if (g->iova[i].end + 1 < g->iova[i + 1].start &&
		    viommu_add_resv(vm->viommu, g->iova[i].end + 1, g->iova[i + 1].start - 1,
				    VIRTIO_IOMMU_RESV_MEM_T_RESERVED))
			pr_warn("%s: too many reserved IOVA ranges to tell the guest", v->what);
	return 0;
}

/* ---- the function ------------------------------------------------------------ */

static int cfg_read(struct vfio_pci *v, uint32_t off, void *buf, size_t len)
{
	ssize_t n = pread(v->fd, buf, len, (off_t)(v->cfg_offset + off));

	return n == (ssize_t)len ? 0 : -EIO;
}

static int cfg_write(struct vfio_pci *v, uint32_t off, const void *buf, size_t len)
{
	ssize_t n = pwrite(v->fd, buf, len, (off_t)(v->cfg_offset + off));

	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * VFIO_DEVICE_SET_IRQS on interrupt index: the action (TRIGGER, UNMASK)
 * for count eventfds from 0, or with no fds (count 0) the action off.
 */
static int set_irqs(struct vfio_pci *v, uint32_t index, uint32_t action, uint32_t count,
		    const int32_t *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + (fds ? count * sizeof(int32_t) : 0);
	struct vfio_irq_set *s = calloc(1, sz);
	int ret = 0;

	if (!s)
		return -ENOMEM;
	*s = (struct vfio_irq_set){
		.argsz = (uint32_t)sz,
		.index = index,
		.count = count,
		.flags = action | (fds ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE),
	};
	if (fds)
		memcpy(s->data, fds, count * sizeof(int32_t));
	if (ioctl(v->fd, VFIO_DEVICE_SET_IRQS, s) < 0)
		ret = -errno;
	free(s);
	return ret;
}

/* INTx on (trigger and unmask eventfds) or off. pd lock or single-threaded. */
static void intx_enable(struct vfio_pci *v, bool on)
{
	int ret;

	if (v->intx_efd < 0 || on == v->intx_on)
		return;
	if (on) {
		ret = set_irqs(v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1,
			       &v->intx_efd);
		if (!ret)
			ret = set_irqs(v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 1,
				       &v->intx_resample_efd);
	} else {
		ret = set_irqs(v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	}
	if (ret)
		pr_warn("%s: cannot turn INTx %s: %s", v->pd.name, on ? "on" : "off",
			strerror(-ret));
	else
		v->intx_on = on;
}

static void vfio_msix_enable(struct pci_dev *pd, bool on)
{
	struct vfio_pci *v = pd->opaque;
	int32_t fds[PCI_MSIX_MAX];
	int ret;

	if (on) {
		intx_enable(v, false); /* VFIO takes one interrupt type at a time */
		for (uint16_t i = 0; i < pd->msix_nr; i++)
			fds[i] = pci_msix_vector_fd(pd, i);
		ret = set_irqs(v, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, pd->msix_nr,
			       fds);
	} else {
		ret = set_irqs(v, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		intx_enable(v, true);
	}
	if (ret)
		pr_warn("%s: cannot turn MSI-X %s in the host: %s", pd->name, on ? "on" : "off",
			strerror(-ret));
}

/*
 * The guest wrote the MSI capability (pd lock held): route the vector as
 * programmed, and switch MSI on or off in the host (INTx the other way).
 */
static void msi_update(struct vfio_pci *v)
{
	struct pci_dev *pd = &v->pd;
	uint8_t *cap = pd->cfg + v->msi_cap;
	bool on = get_le16(cap + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_ENABLE;
	uint64_t addr = get_le32(cap + PCI_MSI_ADDRESS_LO) |
			(uint64_t)get_le32(cap + PCI_MSI_ADDRESS_HI) << 32;
	int ret;

	if (on) {
		ret = irq_route_msi(&pd->vm->routes, v->msi_gsi, addr,
				    get_le16(cap + PCI_MSI_DATA_64), pd->devfn);
		if (ret)
			pr_guest(LOG_WARNING, "%s: cannot route MSI: %s", pd->name, strerror(-ret));
	}
	if (on == v->msi_on)
		return;
	if (on) {
		intx_enable(v, false);
		ret = irq_irqfd(pd->vm->vm_fd, v->msi_efd, v->msi_gsi, true);
		v->msi_irqfd = !ret;
		if (!ret)
			ret = set_irqs(v, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1,
				       &v->msi_efd);
	} else {
		ret = set_irqs(v, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		if (v->msi_irqfd)
			irq_irqfd(pd->vm->vm_fd, v->msi_efd, v->msi_gsi, false);
		v->msi_irqfd = false;
		intx_enable(v, true);
	}
	if (ret)
		pr_warn("%s: cannot turn MSI %s in the host: %s", pd->name, on ? "on" : "off",
			strerror(-ret));
	v->msi_on = on;
}

/* Command register bits that reach the device. */
#define CMD_PASSED (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

static void vfio_cfg_written(struct pci_dev *pd, uint32_t off, unsigned int len)
{
	struct vfio_pci *v = pd->opaque;
	uint16_t cmd;

	if (v->msi_cap && v->msi_efd >= 0 && off < v->msi_cap + 14u && off + len > v->msi_cap)
		msi_update(v);
	if (off > PCI_COMMAND + 1 || off + len <= PCI_COMMAND)
		return;
	if (cfg_read(v, PCI_COMMAND, &cmd, 2) < 0)
		return;
	cmd = (uint16_t)((le16toh(cmd) & ~CMD_PASSED) |
			 (get_le16(pd->cfg + PCI_COMMAND) & CMD_PASSED));
	cmd = htole16(cmd);
	if (cfg_write(v, PCI_COMMAND, &cmd, 2) < 0)
		pr_warn("%s: cannot write the command register", pd->name);
}

/* Is [off, off+len) of BAR b inside the MSI-X table or PBA? Which, where. */
static int msix_part(struct vfio_pci *v, int b, uint64_t off, uint64_t *rel)
{
	if (!v->pd.msix_cap)
		return 0;
	if (b == v->msix_table_bar && off >= v->msix_table_off &&
	    off - v->msix_table_off < 16ULL * v->pd.msix_nr) {
		*rel = off - v->msix_table_off;
		return 1;
	}
	if (b == v->msix_pba_bar && off >= v->msix_pba_off && off - v->msix_pba_off < 8) {
		*rel = off - v->msix_pba_off;
		return 2;
	}
	return 0;
}

/* A trapped access to a BAR: the MSI-X parts are ours, the rest the device's. */
static void bar_access(struct vfio_pci *v, int b, uint64_t off, uint8_t *data, unsigned int len,
		       bool is_write)
{
	struct vfio_bar *vb = &v->bars[b];
	uint64_t rel;
	ssize_t n;

	switch (msix_part(v, b, off, &rel)) {
	case 1:
		pci_msix_table_access(&v->pd, rel, data, len, is_write);
		return;
	case 2:
		pci_msix_pba_access(&v->pd, rel, data, len, is_write);
		return;
	}
	if (off >= vb->region_size || len > vb->region_size - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	n = is_write ? pwrite(v->fd, data, len, (off_t)(vb->region_offset + off))
		     : pread(v->fd, data, len, (off_t)(vb->region_offset + off));
	if (n != (ssize_t)len) {
		if (!is_write)
			memset(data, 0xff, len);
		pr_guest(LOG_DEBUG, "%s: BAR%d %s at 0x%llx failed", v->pd.name, b,
			 is_write ? "write" : "read", (unsigned long long)off);
	}
}

#define BAR_FN(b)                                                                                  \
	static void bar##b##_access(void *o, uint64_t off, uint8_t *d, unsigned int l, bool w)     \
	{                                                                                          \
		bar_access(o, b, off, d, l, w);                                                    \
	}
BAR_FN(0)
BAR_FN(1)
BAR_FN(2)
BAR_FN(3)
BAR_FN(4)
BAR_FN(5)
/* The expansion ROM: read-only, from the ROM region. */
static void rom_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len, bool is_write)
{
	struct vfio_pci *v = opaque;

	if (is_write)
		return;
	if (off >= v->rom_size || len > v->rom_size - off ||
	    pread(v->fd, data, len, (off_t)(v->rom_offset + off)) != (ssize_t)len)
		memset(data, 0xff, len);
}

static const bus_access_fn bar_fns[PCI_STD_NUM_BARS] = { bar0_access, bar1_access, bar2_access,
							 bar3_access, bar4_access, bar5_access };

static void slots_unmap(struct vfio_pci *v, int b)
{
	struct vfio_bar *vb = &v->bars[b];

	for (unsigned int i = 0; i < vb->nr_slots; i++) {
		struct kvm_userspace_memory_region r = { .slot = vb->slots[i].slot };

		if (!vb->slots[i].live)
			continue;
		if (ioctl(v->pd.vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			pr_warn("%s: cannot remove BAR%d's memory slot: %s", v->pd.name, b,
				strerror(errno));
		vb->slots[i].live = false;
	}
}

static void slots_map(struct vfio_pci *v, int b, uint64_t gpa)
{
	struct vfio_bar *vb = &v->bars[b];

	for (unsigned int i = 0; i < vb->nr_slots; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = vb->slots[i].slot,
			.guest_phys_addr = gpa + vb->slots[i].off,
			.memory_size = vb->slots[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)(vb->map + vb->slots[i].off),
		};

		if (ioctl(v->pd.vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			pr_warn("%s: cannot map BAR%d+0x%llx as guest memory (accesses trap): %s",
				v->pd.name, b, (unsigned long long)vb->slots[i].off,
				strerror(errno));
			continue;
		}
		vb->slots[i].live = true;
	}
}

static void vfio_bar_moved(struct pci_dev *pd, int b, bool mapped, uint64_t addr, uint64_t old)
{
	struct vfio_pci *v = pd->opaque;

	(void)old;
	if (b >= PCI_STD_NUM_BARS)
		return; /* the ROM: always trapped */
	slots_unmap(v, b);
	if (mapped)
		slots_map(v, b, addr);
}

static const struct pci_dev_ops vfio_pci_dev_ops = {
	.bar_moved = vfio_bar_moved,
	.cfg_written = vfio_cfg_written,
	.msix_enable = vfio_msix_enable,
};

/* The mmap-able areas of a region (whole, or the sparse list VFIO gives). */
static int region_info(struct vfio_pci *v, uint32_t index, struct vfio_region_info **out)
{
	struct vfio_region_info *ri = calloc(1, sizeof(*ri));
	uint32_t want;

	if (!ri)
		return -ENOMEM;
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri), .index = index };
	if (ioctl(v->fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
		goto fail;
	want = ri->argsz;
	if (want > sizeof(*ri)) {
		struct vfio_region_info *big = realloc(ri, want);

		if (!big)
			goto fail;
		ri = big;
		memset(ri, 0, want);
		*ri = (struct vfio_region_info){ .argsz = want, .index = index };
		if (ioctl(v->fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
			goto fail;
	}
	*out = ri;
	return 0;
fail:
	free(ri);
	return -errno ? -errno : -ENOMEM;
}

static const struct vfio_region_info_cap_sparse_mmap *sparse_cap(const struct vfio_region_info *ri)
{
	uint32_t off;

	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS) || ri->argsz <= sizeof(*ri))
		return NULL;
	for (off = ri->cap_offset; off && off + sizeof(struct vfio_info_cap_header) <= ri->argsz;) {
		const struct vfio_info_cap_header *h = (const void *)((const uint8_t *)ri + off);

		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			const struct vfio_region_info_cap_sparse_mmap *s = (const void *)h;

			if (off + sizeof(*s) + (uint64_t)s->nr_areas * sizeof(s->areas[0]) <=
			    ri->argsz)
				return s;
			return NULL;
		}
		if (h->next <= off)
			break;
		off = h->next;
	}
	return NULL;
}

/* Add [lo, hi) of BAR b as slots, minus the MSI-X pages. */
static void bar_add_area(struct vfio_pci *v, int b, uint64_t lo, uint64_t hi, uint64_t page)
{
	struct vfio_bar *vb = &v->bars[b];
	uint64_t cut_lo[2], cut_hi[2];
	int nc = 0;

	lo = ALIGN_UP(lo, page);
	hi &= ~(page - 1);
	if (v->pd.msix_cap && b == v->msix_table_bar) {
		cut_lo[nc] = v->msix_table_off & ~(page - 1);
		cut_hi[nc++] = ALIGN_UP(v->msix_table_off + 16ULL * v->pd.msix_nr, page);
	}
	if (v->pd.msix_cap && b == v->msix_pba_bar) {
		cut_lo[nc] = v->msix_pba_off & ~(page - 1);
		cut_hi[nc++] = ALIGN_UP(v->msix_pba_off + 8, page);
	}
	while (lo < hi) {
		uint64_t end = hi;

		for (int i = 0; i < nc; i++) {
			if (lo >= cut_lo[i] && lo < cut_hi[i]) {
				lo = cut_hi[i];
				i = -1; /* recheck against every cut */
				continue;
			}
			if (cut_lo[i] > lo && cut_lo[i] < end)
				end = cut_lo[i];
		}
		if (lo >= hi)
			break;
		if (end > hi)
			end = hi;
		if (vb->nr_slots == VFIO_BAR_SLOTS) {
			pr_info("%s: BAR%d has more mappable pieces than armvm maps; the rest trap",
				v->pd.name, b);
			return;
		}
		vb->slots[vb->nr_slots++] =
			(struct vfio_slot){ .off = lo, .size = end - lo, .slot = -1 };
		lo = end;
	}
}

static int setup_bar(struct vfio_pci *v, int b, const uint8_t *hostcfg, char *err, size_t errlen)
{
	struct vfio_bar *vb = &v->bars[b];
	struct vfio_region_info *ri;
	uint32_t raw = get_le32(hostcfg + PCI_BASE_ADDRESS_0 + 4 * b);
	unsigned int flags = 0;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), size;
	int ret;

	ret = region_info(v, VFIO_PCI_BAR0_REGION_INDEX + (uint32_t)b, &ri);
	if (ret)
		return errmsg(err, errlen, ret, "%s: cannot read BAR%d's region: %s", v->what, b,
			      strerror(-ret));
	if (!ri->size) {
		free(ri);
		return 0;
	}
	if (raw & PCI_BASE_ADDRESS_SPACE_IO) {
		pr_info("%s: BAR%d is an I/O port BAR; armvm's PCI bus has no I/O space, so it is hidden",
			v->what, b);
		free(ri);
		return 0;
	}
	if ((raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
		flags |= PCI_BAR_64;
	if (raw & PCI_BASE_ADDRESS_MEM_PREFETCH)
		flags |= PCI_BAR_PREFETCH;
	vb->region_size = ri->size;
	vb->region_offset = ri->offset;
	size = ri->size < 4096 ? 4096 : ri->size;
	if (size & (size - 1)) { /* BARs are powers of two; a region should be too */
		free(ri);
		return errmsg(err, errlen, -EINVAL, "%s: BAR%d's size 0x%llx is not a power of two",
			      v->what, b, (unsigned long long)size);
	}
	ret = pci_bar_init_flags(&v->pd, b, size, flags, bar_fns[b], v);
	if (ret) {
		free(ri);
		return errmsg(err, errlen, ret,
			      "%s: BAR%d (%llu KiB) does not fit armvm's PCI window: %s", v->what,
			      b, (unsigned long long)(size >> 10), strerror(-ret));
	}
	vb->present = true;
	if ((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) && ri->size >= page) {
		const struct vfio_region_info_cap_sparse_mmap *sp = sparse_cap(ri);

		vb->map = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd,
			       (off_t)ri->offset);
		if (vb->map == MAP_FAILED) {
			vb->map = NULL;
			pr_info("%s: BAR%d cannot be mapped (%s); its accesses trap", v->what, b,
				strerror(errno));
		} else if (sp) {
			for (uint32_t i = 0; i < sp->nr_areas; i++)
				if (sp->areas[i].offset < ri->size &&
				    sp->areas[i].size <= ri->size - sp->areas[i].offset)
					bar_add_area(v, b, sp->areas[i].offset,
						     sp->areas[i].offset + sp->areas[i].size, page);
		} else {
			bar_add_area(v, b, 0, ri->size, page);
		}
		for (unsigned int i = 0; i < vb->nr_slots; i++) {
			vb->slots[i].slot = vm_memslot_alloc(v->pd.vm);
			if (vb->slots[i].slot < 0) {
				vb->nr_slots = i;
				break;
			}
		}
	}
	free(ri);
	return 0;
}

/* Copy the host's capabilities we show: PCIe and PM read-only, MSI-X ours. */
static int setup_caps(struct vfio_pci *v, const uint8_t *hostcfg, char *err, size_t errlen)
{
	uint8_t pos = hostcfg[PCI_CAPABILITY_LIST] & ~3, seen = 0;

	if (!(get_le16(hostcfg + PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	while (pos >= 0x40 && seen++ < 48) {
		uint8_t id = hostcfg[pos], next = hostcfg[pos + 1] & ~3;

		if (id == PCI_CAP_ID_MSIX && v->pd.vm->pci.msi) {
			uint16_t ctrl = get_le16(hostcfg + pos + PCI_MSIX_FLAGS);
			uint32_t tbl = get_le32(hostcfg + pos + PCI_MSIX_TABLE);
			uint32_t pba = get_le32(hostcfg + pos + PCI_MSIX_PBA);
			uint16_t nr = (uint16_t)((ctrl & PCI_MSIX_FLAGS_QSIZE) + 1);
			int ret;

			v->msix_table_bar = (int)(tbl & PCI_MSIX_TABLE_BIR);
			v->msix_table_off = tbl & PCI_MSIX_TABLE_OFFSET;
			v->msix_pba_bar = (int)(pba & PCI_MSIX_PBA_BIR);
			v->msix_pba_off = pba & PCI_MSIX_PBA_OFFSET;
			if (nr > PCI_MSIX_MAX) {
				pr_info("%s: offering the guest %d of the function's %u MSI-X vectors",
					v->what, PCI_MSIX_MAX, nr);
				nr = PCI_MSIX_MAX;
			}
			ret = pci_msix_init_at(&v->pd, nr, v->msix_table_bar, v->msix_table_off,
					       v->msix_pba_bar, v->msix_pba_off);
			if (ret)
				return errmsg(err, errlen, ret,
					      "%s: cannot offer its MSI-X capability: %s", v->what,
					      strerror(-ret));
		} else if (id == PCI_CAP_ID_MSI && v->pd.vm->pci.msi && !v->msi_cap) {
			/* One vector, 64-bit address, no per-vector masking:
			 * the guest may program less than the function offers. */
			uint8_t at = pci_cap_add(&v->pd, PCI_CAP_ID_MSI, 16);

			if (at) {
				v->msi_cap = at;
				v->pd.cfg[at + PCI_MSI_FLAGS] = PCI_MSI_FLAGS_64BIT & 0xff;
				v->pd.wmask[at + PCI_MSI_FLAGS] = PCI_MSI_FLAGS_ENABLE;
				memset(v->pd.wmask + at + PCI_MSI_ADDRESS_LO, 0xff, 8);
				v->pd.wmask[at + PCI_MSI_ADDRESS_LO] = 0xfc;
				memset(v->pd.wmask + at + PCI_MSI_DATA_64, 0xff, 2);
			}
		} else if (id == PCI_CAP_ID_EXP || id == PCI_CAP_ID_PM) {
			uint8_t len = id == PCI_CAP_ID_EXP ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2
							   : PCI_PM_SIZEOF;
			uint8_t at;

			if ((unsigned int)pos + len > PCI_CFG_SPACE_SIZE)
				len = (uint8_t)(PCI_CFG_SPACE_SIZE - pos);
			at = pci_cap_add(&v->pd, id, len);
			if (at && len > 2)
				memcpy(v->pd.cfg + at + 2, hostcfg + pos + 2, len - 2u);
		}
		pos = next;
	}
	return 0;
}

static int vfio_start(struct device *dev)
{
	struct vfio_pci *v = dev->priv;
	struct vm *vm = v->pd.vm;
	int ret = pci_dev_start(&v->pd);

	if (ret)
		return ret;
	if (v->msi_cap) {
		v->msi_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->msi_efd < 0)
			return -errno;
		v->msi_gsi = irq_msi_gsi_alloc(&vm->routes);
	}
	if (v->intx_efd >= 0) {
		struct kvm_irqfd irqfd = {
			.fd = (uint32_t)v->intx_efd,
			.gsi = v->pd.intx_spi,
			.flags = KVM_IRQFD_FLAG_RESAMPLE,
			.resamplefd = (uint32_t)v->intx_resample_efd,
		};

		ret = irq_route_spi(&vm->routes, v->pd.intx_spi);
		if (!ret && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			ret = -errno;
		if (ret)
			return ret;
		v->intx_irqfd = true;
		intx_enable(v, true);
	}
	/* No virtual IOMMU: the device sees guest-physical addresses. */
	if (!v->behind_viommu) {
		ret = vfio_dma_map(v->group, LAYOUT_RAM_BASE, vm->ram_size, vm->ram, true);
		if (ret == -EEXIST) /* another function of the group mapped it */
			ret = 0;
		else if (ret)
			pr_err("%s: cannot map guest RAM for the device's DMA (VFIO_IOMMU_MAP_DMA, %llu MiB): %s%s",
			       v->what, (unsigned long long)(vm->ram_size >> 20), strerror(-ret),
			       ret == -ENOMEM ? " (RLIMIT_MEMLOCK too low?)" : "");
		else
			v->ram_mapped = true;
	}
	return ret;
}

static void vfio_reset(struct device *dev)
{
	struct vfio_pci *v = dev->priv;
	uint8_t zero[2] = { 0, 0 };

	/* Through the emulation, so MSI-X goes off in the host and the BARs
	 * leave the bus; then the device itself. */
	pci_cfg_access(&v->pd, PCI_COMMAND, zero, 2, true);
	if (v->msi_cap)
		pci_cfg_access(&v->pd, v->msi_cap + PCI_MSI_FLAGS, zero, 2, true);
	if (v->pd.msix_cap)
		pci_cfg_access(&v->pd, v->pd.msix_cap + PCI_MSIX_FLAGS, zero, 2, true);
	if (v->reset_ok && ioctl(v->fd, VFIO_DEVICE_RESET) < 0)
		pr_warn("%s: VFIO_DEVICE_RESET: %s", v->pd.name, strerror(errno));
}

static void vfio_destroy(struct device *dev)
{
	struct vfio_pci *v = dev->priv;
	struct vm *vm = v->pd.vm;

	if (v->fd >= 0) {
		set_irqs(v, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		if (v->msi_on)
			set_irqs(v, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		intx_enable(v, false);
	}
	if (v->msi_irqfd)
		irq_irqfd(vm->vm_fd, v->msi_efd, v->msi_gsi, false);
	if (v->msi_efd >= 0)
		close(v->msi_efd);
	if (v->intx_irqfd) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)v->intx_efd,
					   .gsi = v->pd.intx_spi,
					   .flags = KVM_IRQFD_FLAG_DEASSIGN };

		ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);
	}
	for (int b = 0; b < PCI_STD_NUM_BARS; b++) {
		struct vfio_bar *vb = &v->bars[b];

		slots_unmap(v, b);
		for (unsigned int i = 0; i < vb->nr_slots; i++)
			vm_memslot_free(vm, vb->slots[i].slot);
		if (vb->map)
			munmap(vb->map, vb->region_size);
	}
	pci_dev_destroy(&v->pd);
	if (v->intx_efd >= 0)
		close(v->intx_efd);
	if (v->intx_resample_efd >= 0)
		close(v->intx_resample_efd);
	if (v->fd >= 0)
		close(v->fd); /* VFIO resets the function on its last close */
	if (v->group) {
		if (v->ram_mapped)
			vfio_dma_unmap(v->group, LAYOUT_RAM_BASE, vm->ram_size);
		group_put(vm, v->group);
	}
	free(v);
}

static const struct device_ops vfio_pci_ops = {
	.type = "vfio-pci",
	.unsaveable = "a passed-through host device (its state lives in the hardware)",
	.start = vfio_start,
	.reset = vfio_reset,
	.destroy = vfio_destroy,
};

int vfio_pci_create(struct vm *vm, const struct pci_bdf *bdf, bool behind_viommu, char *err,
		    size_t errlen)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_INTX_IRQ_INDEX };
	struct vfio_region_info *cri;
	struct vfio_pci *v;
	uint8_t hostcfg[PCI_CFG_SPACE_SIZE];
	char name[16];
	int group, ret;

	vfio_bdf_format(bdf, name, sizeof(name));
	v = calloc(1, sizeof(*v));
	if (!v)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	v->fd = v->intx_efd = v->intx_resample_efd = v->msi_efd = -1;
	v->behind_viommu = behind_viommu;
	snprintf(v->what, sizeof(v->what), "--vfio-pci %s", name);
	ret = vfio_group_of("/sys", bdf, &group, err, errlen);
	if (!ret) {
		char why[512];

		ret = vfio_group_viable("/sys", group, why, sizeof(why));
		if (ret)
			errmsg(err, errlen, ret, "%s: %s", v->what, why);
	}
	if (ret) {
		free(v);
		return ret;
	}
	v->group = group_get(vm, group, v->what, err, errlen);
	if (!v->group) {
		free(v);
		return -EBUSY;
	}
	v->fd = ioctl(v->group->fd, VFIO_GROUP_GET_DEVICE_FD, name);
	if (v->fd < 0) {
		ret = errmsg(err, errlen, -errno,
			     "%s: cannot open the device (VFIO_GROUP_GET_DEVICE_FD): %s", v->what,
			     strerror(errno));
		goto fail_early;
	}
	if (ioctl(v->fd, VFIO_DEVICE_GET_INFO, &info) < 0 ||
	    !(info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		ret = errmsg(err, errlen, -ENODEV, "%s: not a PCI device VFIO can pass through",
			     v->what);
		goto fail_early;
	}
	v->reset_ok = info.flags & VFIO_DEVICE_FLAGS_RESET;
	if (v->reset_ok && ioctl(v->fd, VFIO_DEVICE_RESET) < 0)
		pr_info("%s: the device did not reset (%s); going on", v->what, strerror(errno));
	ret = region_info(v, VFIO_PCI_CONFIG_REGION_INDEX, &cri);
	if (ret) {
		errmsg(err, errlen, ret, "%s: cannot find its config space: %s", v->what,
		       strerror(-ret));
		goto fail_early;
	}
	v->cfg_offset = cri->offset;
	free(cri);
	if (cfg_read(v, 0, hostcfg, sizeof(hostcfg))) {
		ret = errmsg(err, errlen, -EIO, "%s: cannot read its config space", v->what);
		goto fail_early;
	}
	if ((hostcfg[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		ret = errmsg(err, errlen, -EINVAL, "%s: a PCI bridge cannot be passed through",
			     v->what);
		goto fail_early;
	}
	ret = pci_dev_init(&vm->pci, &v->pd, "vfio", get_le16(hostcfg + PCI_VENDOR_ID),
			   get_le16(hostcfg + PCI_DEVICE_ID),
			   get_le32(hostcfg + PCI_CLASS_REVISION),
			   get_le16(hostcfg + PCI_SUBSYSTEM_VENDOR_ID),
			   get_le16(hostcfg + PCI_SUBSYSTEM_ID), vm_alloc_spi(vm));
	if (ret) {
		errmsg(err, errlen, ret, "%s: no free slot on the PCI bus", v->what);
		goto fail_early;
	}
	v->pd.opaque = v;
	v->pd.ops = &vfio_pci_dev_ops;
	v->on_bus = true;
	ret = behind_viommu ? viommu_join(v, err, errlen) : 0;
	if (!ret)
		ret = setup_caps(v, hostcfg, err, errlen);
	for (int b = 0; !ret && b < PCI_STD_NUM_BARS; b++) {
		ret = setup_bar(v, b, hostcfg, err, errlen);
		if (v->pd.bars[b].is64)
			b++;
	}
	if (ret)
		goto fail;
	/* The expansion ROM, if VFIO shows one. */
	if (!ret) {
		struct vfio_region_info *rri;

		if (!region_info(v, VFIO_PCI_ROM_REGION_INDEX, &rri)) {
			if (rri->size && rri->size <= (64u << 20)) {
				uint64_t sz = 4096;

				while (sz < rri->size)
					sz <<= 1;
				v->rom_offset = rri->offset;
				v->rom_size = rri->size;
				if (pci_rom_init(&v->pd, sz, rom_access, v))
					pr_info("%s: its %llu KiB ROM does not fit armvm's PCI window; not offered",
						v->what, (unsigned long long)(rri->size >> 10));
			}
			free(rri);
		}
	}
	if (v->pd.msix_cap &&
	    (!v->bars[v->msix_table_bar].present || !v->bars[v->msix_pba_bar].present)) {
		ret = errmsg(err, errlen, -EINVAL,
			     "%s: its MSI-X table is in a BAR armvm cannot offer", v->what);
		goto fail;
	}
	/* INTx: the pin the host reports, if VFIO has the interrupt. */
	if (hostcfg[PCI_INTERRUPT_PIN] && ioctl(v->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0 &&
	    irq.count) {
		v->intx_efd = eventfd(0, EFD_CLOEXEC);
		v->intx_resample_efd = eventfd(0, EFD_CLOEXEC);
		if (v->intx_efd < 0 || v->intx_resample_efd < 0) {
			ret = errmsg(err, errlen, -errno, "%s: eventfd: %s", v->what,
				     strerror(errno));
			goto fail;
		}
	} else {
		v->pd.cfg[PCI_INTERRUPT_PIN] = 0;
	}
	/* The command register starts off, as after reset. */
	{
		uint16_t cmd = 0;

		if (cfg_read(v, PCI_COMMAND, &cmd, 2) == 0) {
			cmd = htole16((uint16_t)(le16toh(cmd) & ~CMD_PASSED));
			cfg_write(v, PCI_COMMAND, &cmd, 2);
		}
	}
	v->dev = (struct device){ .ops = &vfio_pci_ops, .priv = v };
	snprintf(v->dev.name, sizeof(v->dev.name), "%s", v->pd.name);
	device_list_add(&vm->devices, &v->dev);
	pr_info("%s: %04x:%04x as %s (IOMMU group %d)", v->what, get_le16(hostcfg),
		get_le16(hostcfg + 2), v->pd.name, group);
	return 0;

fail_early:
	if (v->fd >= 0)
		close(v->fd);
	group_put(vm, v->group);
	free(v);
	return ret;
fail:
	v->dev.priv = v;
	vfio_destroy(&v->dev);
	return ret;
}
