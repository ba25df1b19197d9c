// SPDX-License-Identifier: MIT
/*
 * PCI Local Bus 3.0 §6 (configuration space), PCI Firmware/ECAM (PCIe base
 * §7.2.2), MSI-X (§6.8.2). Bindings: pci-host-generic.yaml, pci-msi.txt.
 */
#include "pci.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devtree.h"
#include "gic.h"
#include "irq.h"
#include "layout.h"
#include "util.h"
#include "vm.h"

/* The GICv3 ITS translation register the guest's MSI-X addresses name. */
#define GITS_TRANSLATER_OFF 0x10040

void pci_bus_init(struct pci_bus *bus, struct vm *vm, bool msi)
{
	memset(bus, 0, sizeof(*bus));
	bus->vm = vm;
	bus->msi = msi;
	bus->mmio_next = LAYOUT_PCI_MMIO_BASE;
	bus->iommu_devfn = -1;
}

int pci_dev_init(struct pci_bus *bus, struct pci_dev *pd, const char *name, uint16_t vendor,
		 uint16_t device, uint32_t class_rev, uint16_t subsys_vendor, uint16_t subsys,
		 uint32_t intx_spi)
{
	if (bus->nr == PCI_MAX_DEVS)
		return -ENOSPC;
	memset(pd, 0, sizeof(*pd));
	pthread_mutex_init(&pd->lock, NULL);
	pd->vm = bus->vm;
	pd->devfn = (uint8_t)(bus->nr << 3); /* slot nr, function 0 */
	snprintf(pd->name, sizeof(pd->name), "%.20s@00:%02x.0", name, bus->nr & 0x1f);
	pd->intx_spi = intx_spi;
	for (int i = 0; i < PCI_MSIX_MAX; i++)
		pd->msix_efd[i] = -1;
	put_le16(pd->cfg + PCI_VENDOR_ID, vendor);
	put_le16(pd->cfg + PCI_DEVICE_ID, device);
	put_le32(pd->cfg + PCI_CLASS_REVISION, class_rev);
	put_le16(pd->cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	put_le16(pd->cfg + PCI_SUBSYSTEM_ID, subsys);
	pd->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	put_le16(pd->wmask + PCI_COMMAND,
		 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	pd->wmask[PCI_INTERRUPT_LINE] = 0xff;
	pd->next_cap = 0x40;
	bus->devs[bus->nr++] = pd;
	return 0;
}

/* Initial place in the PCI window for a BAR or ROM of size bytes. */
static int bar_place(struct pci_dev *pd, uint64_t size, uint64_t *addr)
{
	struct pci_bus *bus = &pd->vm->pci;

	if (size < 4096 || (size & (size - 1)) || size > LAYOUT_PCI_MMIO_SIZE)
		return -EINVAL;
	*addr = ALIGN_UP(bus->mmio_next, size);
	if (*addr + size > LAYOUT_PCI_MMIO_BASE + LAYOUT_PCI_MMIO_SIZE)
		return -ENOSPC;
	bus->mmio_next = *addr + size;
	return 0;
}

int pci_bar_init_flags(struct pci_dev *pd, int bar, uint64_t size, unsigned int flags,
		       bus_access_fn fn, void *opaque)
{
	bool is64 = flags & PCI_BAR_64;
	uint64_t addr;
	int err;

	if (bar < 0 || bar + is64 >= PCI_STD_NUM_BARS || (flags & ~(PCI_BAR_64 | PCI_BAR_PREFETCH)))
		return -EINVAL;
	err = bar_place(pd, size, &addr);
	if (err)
		return err;
	pd->bars[bar] = (struct pci_bar){
		.size = size, .addr = addr, .is64 = is64, .access = fn, .opaque = opaque
	};
	/* A memory BAR (bit 0 clear), 32- or 64-bit, maybe prefetchable. */
	put_le32(pd->cfg + PCI_BASE_ADDRESS_0 + 4 * bar,
		 (uint32_t)addr |
			 (is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32) |
			 (flags & PCI_BAR_PREFETCH ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0));
	put_le32(pd->wmask + PCI_BASE_ADDRESS_0 + 4 * bar, ~(uint32_t)(size - 1));
	if (is64) /* the upper half: the guest may write it, we decode below 4 GiB */
		put_le32(pd->wmask + PCI_BASE_ADDRESS_0 + 4 * (bar + 1), 0xffffffff);
	return 0;
}

int pci_bar_init(struct pci_dev *pd, int bar, uint64_t size, bus_access_fn fn, void *opaque)
{
	return pci_bar_init_flags(pd, bar, size, 0, fn, opaque);
}

int pci_rom_init(struct pci_dev *pd, uint64_t size, bus_access_fn fn, void *opaque)
{
	uint64_t addr;
	int err = bar_place(pd, size, &addr);

	if (err)
		return err;
	pd->bars[PCI_ROM_BAR] =
		(struct pci_bar){ .size = size, .addr = addr, .access = fn, .opaque = opaque };
	put_le32(pd->cfg + PCI_ROM_ADDRESS, (uint32_t)addr); /* disabled (bit 0) */
	put_le32(pd->wmask + PCI_ROM_ADDRESS, ~(uint32_t)(size - 1) | 1);
	return 0;
}

uint8_t pci_cap_add(struct pci_dev *pd, uint8_t id, uint8_t len)
{
	uint8_t off = pd->next_cap, *link = &pd->cfg[PCI_CAPABILITY_LIST];

	if ((unsigned int)off + len > PCI_CFG_SPACE_SIZE)
		return 0;
	while (*link)
		link = &pd->cfg[*link + 1];
	*link = off;
	pd->cfg[off] = id;
	pd->cfg[off + 1] = 0;
	pd->next_cap = (uint8_t)ALIGN_UP(off + len, 4u);
	put_le16(pd->cfg + PCI_STATUS, get_le16(pd->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	return off;
}

/* ---- BAR mapping ------------------------------------------------------ */

static bool bar_decodes(struct pci_dev *pd, int b)
{
	struct pci_bar *bar = &pd->bars[b];

	if (b == PCI_ROM_BAR && !(pd->cfg[PCI_ROM_ADDRESS] & 1))
		return false;
	return bar->size && (get_le16(pd->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY) &&
	       bar->addr >= LAYOUT_PCI_MMIO_BASE &&
	       bar->addr + bar->size <= LAYOUT_PCI_MMIO_BASE + LAYOUT_PCI_MMIO_SIZE;
}

/*
 * Bring the MMIO bus in line with the BARs and the command register (pd
 * lock held). Returns true if a BAR left the bus (another function's BAR
 * that overlapped it may fit now).
 */
static bool bars_update(struct pci_dev *pd)
{
	bool freed = false;

	for (int b = 0; b <= PCI_ROM_BAR; b++) {
		struct pci_bar *bar = &pd->bars[b];
		bool want = bar_decodes(pd, b);
		uint64_t old = bar->mapped_addr;

		if (bar->mapped && (!want || bar->addr != old)) {
			bus_remove(&pd->vm->mmio, old);
			bar->mapped = false;
			freed = true;
			if (pd->ops && pd->ops->bar_moved)
				pd->ops->bar_moved(pd, b, false, 0, old);
		}
		if (want && !bar->mapped) {
			if (bus_add(&pd->vm->mmio, bar->addr, bar->size, bar->access, bar->opaque,
				    pd->name)) {
				/*
				 * Usual while the guest reassigns BARs one at
				 * a time: mapped when the BAR in the way
				 * leaves (pci_bus_remap) or at this
				 * function's next config write.
				 */
				pr_guest(
					LOG_DEBUG,
					"%s: BAR%d at 0x%llx overlaps another region; not mapped yet",
					pd->name, b, (unsigned long long)bar->addr);
				bar->pending = true;
				continue;
			}
			if (bar->pending)
				pr_guest(LOG_DEBUG,
					 "%s: BAR%d mapped at 0x%llx now that the way is clear",
					 pd->name, b, (unsigned long long)bar->addr);
			bar->pending = false;
			bar->mapped = true;
			bar->mapped_addr = bar->addr;
			if (pd->ops && pd->ops->bar_moved)
				pd->ops->bar_moved(pd, b, true, bar->addr, old);
		} else if (!want) {
			bar->pending = false;
		}
	}
	return freed;
}

/*
 * A BAR left the bus: map the BARs of other functions that were waiting
 * for the space, taking one function's lock at a time (no lock order).
 */
static void pci_bus_remap(struct pci_bus *bus, struct pci_dev *except)
{
	for (unsigned int i = 0; i < bus->nr; i++) {
		struct pci_dev *pd = bus->devs[i];
		bool waiting = false;

		if (!pd || pd == except)
			continue;
		pthread_mutex_lock(&pd->lock);
		for (int b = 0; b <= PCI_ROM_BAR; b++)
			waiting |= pd->bars[b].pending;
		if (waiting)
			bars_update(pd);
		pthread_mutex_unlock(&pd->lock);
	}
}

/* ---- MSI-X -------------------------------------------------------------- */

bool pci_msix_enabled(struct pci_dev *pd)
{
	return pd->msix_cap &&
	       (get_le16(pd->cfg + pd->msix_cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE);
}

static bool msix_masked(struct pci_dev *pd, uint16_t v)
{
	return (get_le16(pd->cfg + pd->msix_cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL) ||
	       (pd->msix[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_fire(struct pci_dev *pd, uint16_t v)
{
	uint64_t one = 1;

	if (pd->msix_efd[v] >= 0 && write(pd->msix_efd[v], &one, sizeof(one)) < 0) {
		/* Pending already. */
	}
}

/* Route vector v as the guest programmed it (lock held). */
static void msix_route(struct pci_dev *pd, uint16_t v)
{
	const struct pci_msix_entry *e = &pd->msix[v];
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
	int err;

	if (pd->msix_efd[v] < 0)
		return;
	if (addr != LAYOUT_GIC_ITS_BASE + GITS_TRANSLATER_OFF)
		pr_guest(LOG_WARNING, "%s: MSI-X vector %u targets 0x%llx, not the ITS", pd->name,
			 v, (unsigned long long)addr);
	err = irq_route_msi(&pd->vm->routes, pd->msix_gsi[v], addr, e->data, pd->devfn);
	if (err)
		pr_guest(LOG_WARNING, "%s: cannot route MSI-X vector %u: %s", pd->name, v,
			 strerror(-err));
}

/*
 * After any change of the enable bit, the function mask or vector v's mask:
 * the vector's irqfd is bound exactly while it may deliver (MSI-X on and
 * the vector unmasked). Anyone may write the vector's eventfd (armvm's
 * devices, vhost, VFIO): while it is unbound the writes wait in the
 * eventfd's counter, and they are the vector's pending bit; binding it
 * again makes KVM deliver what waited.
 */
static void msix_update(struct pci_dev *pd, uint16_t v)
{
	bool want = pci_msix_enabled(pd) && !msix_masked(pd, v);
	int err;

	if (pd->msix_efd[v] < 0)
		return;
	if (want)
		msix_route(pd, v);
	if (want == pd->msix_bound[v])
		return;
	if (want && (pd->msix_pba & (1ULL << v))) {
		pd->msix_pba &= ~(1ULL << v);
		msix_fire(pd, v);
	}
	err = irq_irqfd(pd->vm->vm_fd, pd->msix_efd[v], pd->msix_gsi[v], want);
	if (err)
		pr_warn("%s: cannot %s the irqfd of MSI-X vector %u: %s", pd->name,
			want ? "bind" : "unbind", v, strerror(-err));
	else
		pd->msix_bound[v] = want;
}

/* Fold what waits in a masked vector's eventfd into the PBA (lock held). */
static void msix_collect_pending(struct pci_dev *pd)
{
	for (uint16_t v = 0; v < pd->msix_nr; v++) {
		uint64_t n;

		if (pd->msix_efd[v] >= 0 && !pd->msix_bound[v] &&
		    read(pd->msix_efd[v], &n, sizeof(n)) == sizeof(n) && n)
			pd->msix_pba |= 1ULL << v;
	}
}

int pci_msix_vector_fd(struct pci_dev *pd, uint16_t v)
{
	return v < pd->msix_nr ? pd->msix_efd[v] : -1;
}

void pci_msix_notify(struct pci_dev *pd, uint16_t v)
{
	pthread_mutex_lock(&pd->lock);
	if (v < pd->msix_nr && pci_msix_enabled(pd)) {
		if (msix_masked(pd, v))
			pd->msix_pba |= 1ULL << v;
		else
			msix_fire(pd, v);
	}
	pthread_mutex_unlock(&pd->lock);
}

void pci_msix_table_access(struct pci_dev *pd, uint64_t off, uint8_t *data, unsigned int len,
			   bool is_write)
{
	pthread_mutex_lock(&pd->lock);
	if (off < 16ULL * pd->msix_nr && (len == 4 || len == 8) && !(off % 4)) {
		uint16_t v = (uint16_t)(off / 16);
		uint32_t *words = &pd->msix[v].addr_lo;
		unsigned int w = (off % 16) / 4;

		if (is_write) {
			for (unsigned int i = 0; i < len / 4 && w + i < 4; i++)
				words[w + i] = (uint32_t)bus_data_get(data + 4 * i, 4);
			pd->msix[v].ctrl &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
			msix_update(pd, v);
		} else {
			for (unsigned int i = 0; i < len / 4 && w + i < 4; i++)
				bus_data_set(data + 4 * i, 4, words[w + i]);
		}
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&pd->lock);
}

void pci_msix_pba_access(struct pci_dev *pd, uint64_t off, uint8_t *data, unsigned int len,
			 bool is_write)
{
	if (is_write)
		return;
	pthread_mutex_lock(&pd->lock);
	if (off < 8 && len <= 8 - off) {
		msix_collect_pending(pd);
		bus_data_set(data, len, pd->msix_pba >> (8 * off));
	} else {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&pd->lock);
}

/* The MSI-X table (at 0) and PBA (at 0x800) in their own BAR. */
static void msix_bar_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len,
			    bool is_write)
{
	struct pci_dev *pd = opaque;
	const uint64_t pba = 0x800;

	if (off >= pba)
		pci_msix_pba_access(pd, off - pba, data, len, is_write);
	else
		pci_msix_table_access(pd, off, data, len, is_write);
}

int pci_msix_init_at(struct pci_dev *pd, uint16_t nr, int table_bar, uint32_t table_off,
		     int pba_bar, uint32_t pba_off)
{
	uint8_t cap;

	if (!nr || nr > PCI_MSIX_MAX || (table_off | pba_off) & 7 || table_bar < 0 ||
	    table_bar >= PCI_STD_NUM_BARS || pba_bar < 0 || pba_bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	cap = pci_cap_add(pd, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (!cap)
		return -ENOSPC;
	pd->msix_cap = cap;
	pd->msix_nr = nr;
	pd->msix_bar = table_bar;
	put_le16(pd->cfg + cap + PCI_MSIX_FLAGS, nr - 1);
	put_le32(pd->cfg + cap + PCI_MSIX_TABLE, table_off | (uint32_t)table_bar);
	put_le32(pd->cfg + cap + PCI_MSIX_PBA, pba_off | (uint32_t)pba_bar);
	put_le16(pd->wmask + cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint16_t v = 0; v < nr; v++)
		pd->msix[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	return 0;
}

int pci_msix_init(struct pci_dev *pd, uint16_t nr, int bar)
{
	int err;

	if (!nr || nr > PCI_MSIX_MAX)
		return -EINVAL;
	err = pci_bar_init(pd, bar, 4096, msix_bar_access, pd);
	if (err)
		return err;
	/* Table at 0, PBA at 2 KiB. */
	return pci_msix_init_at(pd, nr, bar, 0, bar, 0x800);
}

int pci_dev_start(struct pci_dev *pd)
{
	if (!pd->vm->pci.msi)
		return 0;
	for (uint16_t v = 0; v < pd->msix_nr; v++) {
		int err;

		pd->msix_efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pd->msix_efd[v] < 0)
			return -errno;
		pd->msix_gsi[v] = irq_msi_gsi_alloc(&pd->vm->routes);
		/* A placeholder route until the guest programs the vector;
		 * the irqfd is bound when the vector is unmasked. */
		err = irq_route_msi(&pd->vm->routes, pd->msix_gsi[v],
				    LAYOUT_GIC_ITS_BASE + GITS_TRANSLATER_OFF, 0, pd->devfn);
		if (err)
			return err;
	}
	pthread_mutex_lock(&pd->lock);
	for (uint16_t v = 0; v < pd->msix_nr; v++)
		msix_update(pd, v); /* a restored function may be live already */
	pthread_mutex_unlock(&pd->lock);
	return 0;
}

void pci_dev_destroy(struct pci_dev *pd)
{
	struct pci_bus *bus = &pd->vm->pci;
	unsigned int slot = pd->devfn >> 3;

	/* Off the bus: no config access or remap may reach it again. */
	for (int b = 0; b <= PCI_ROM_BAR; b++)
		if (pd->bars[b].mapped)
			bus_remove(&pd->vm->mmio, pd->bars[b].mapped_addr);
	if (slot < bus->nr && bus->devs[slot] == pd) {
		bus->devs[slot] = NULL;
		while (bus->nr && !bus->devs[bus->nr - 1])
			bus->nr--;
	}
	for (int v = 0; v < PCI_MSIX_MAX; v++)
		if (pd->msix_efd[v] >= 0)
			close(pd->msix_efd[v]);
	pthread_mutex_destroy(&pd->lock);
}

void pci_intx_set(struct pci_dev *pd, int level)
{
	uint16_t status;

	pthread_mutex_lock(&pd->lock);
	status = get_le16(pd->cfg + PCI_STATUS) & ~PCI_STATUS_INTERRUPT;
	put_le16(pd->cfg + PCI_STATUS, status | (level ? PCI_STATUS_INTERRUPT : 0));
	if (get_le16(pd->cfg + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE)
		level = 0;
	if (level != pd->intx_level) {
		pd->intx_level = level;
		gic_spi_set(pd->vm->vm_fd, pd->intx_spi, level);
	}
	pthread_mutex_unlock(&pd->lock);
}

/* ---- config space -------------------------------------------------------- */

void pci_cfg_access(struct pci_dev *pd, uint32_t off, uint8_t *data, unsigned int len,
		    bool is_write)
{
	uint16_t msix_before = 0;
	bool freed = false;

	if (off >= PCI_CFG_SPACE_SIZE || len > PCI_CFG_SPACE_SIZE - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&pd->lock);
	if (!is_write) {
		memcpy(data, pd->cfg + off, len);
		pthread_mutex_unlock(&pd->lock);
		return;
	}
	if (pd->msix_cap)
		msix_before = get_le16(pd->cfg + pd->msix_cap + PCI_MSIX_FLAGS);
	for (unsigned int i = 0; i < len; i++) {
		uint8_t m = pd->wmask[off + i];

		pd->cfg[off + i] = (uint8_t)((pd->cfg[off + i] & ~m) | (data[i] & m));
	}
	/* BARs as programmed (the low bits read back as the size mask). */
	for (int b = 0; b < PCI_STD_NUM_BARS; b++)
		if (pd->bars[b].size) {
			pd->bars[b].addr = get_le32(pd->cfg + PCI_BASE_ADDRESS_0 + 4 * b) &
					   ~(uint32_t)(pd->bars[b].size - 1);
			if (pd->bars[b].is64)
				pd->bars[b].addr |=
					(uint64_t)get_le32(pd->cfg + PCI_BASE_ADDRESS_0 + 4 * b + 4)
					<< 32;
		}
	if (pd->bars[PCI_ROM_BAR].size)
		pd->bars[PCI_ROM_BAR].addr = get_le32(pd->cfg + PCI_ROM_ADDRESS) &
					     ~(uint32_t)(pd->bars[PCI_ROM_BAR].size - 1);
	if ((off < PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS && off + len > PCI_COMMAND) ||
	    (off < PCI_ROM_ADDRESS + 4 && off + len > PCI_ROM_ADDRESS))
		freed = bars_update(pd);
	if (pd->msix_cap && off <= pd->msix_cap + PCI_MSIX_FLAGS + 1u &&
	    off + len > pd->msix_cap + PCI_MSIX_FLAGS + 0u) {
		uint16_t now = get_le16(pd->cfg + pd->msix_cap + PCI_MSIX_FLAGS);

		if (now != msix_before) {
			bool on = now & PCI_MSIX_FLAGS_ENABLE;

			/* A function whose vectors come from elsewhere (VFIO)
			 * switches them on before they may be bound. */
			if (on != !!(msix_before & PCI_MSIX_FLAGS_ENABLE) && pd->ops &&
			    pd->ops->msix_enable)
				pd->ops->msix_enable(pd, on);
			for (uint16_t v = 0; v < pd->msix_nr; v++)
				msix_update(pd, v);
		}
	}
	if (pd->ops && pd->ops->cfg_written)
		pd->ops->cfg_written(pd, off, len);
	pthread_mutex_unlock(&pd->lock);
	if (freed)
		pci_bus_remap(&pd->vm->pci, pd);
}

void pci_ecam_access(void *opaque, uint64_t off, uint8_t *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;
	unsigned int busnr = (unsigned int)(off >> 20), dev = (off >> 15) & 31;
	unsigned int fn = (off >> 12) & 7, reg = off & 0xfff;

	/* Nothing there: all ones on read, as a master abort gives. */
	if (busnr != 0 || fn != 0 || dev >= bus->nr || !bus->devs[dev] || (reg % len)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(bus->devs[dev], reg, data, len, is_write);
}

int pci_bus_fdt(struct pci_bus *bus, void *fdt)
{
	uint32_t ranges[] = {
		/* 32-bit memory: PCI address = CPU address. */
		cpu_to_fdt32(0x02000000),	    0, cpu_to_fdt32(LAYOUT_PCI_MMIO_BASE), 0,
		cpu_to_fdt32(LAYOUT_PCI_MMIO_BASE), 0, cpu_to_fdt32(LAYOUT_PCI_MMIO_SIZE),
	};
	uint32_t bus_range[2] = { 0, cpu_to_fdt32(0xff) };
	uint32_t map_mask[4] = { cpu_to_fdt32(0xf800), 0, 0, cpu_to_fdt32(7) };
	uint32_t msi_map[4] = { 0, cpu_to_fdt32(DEVTREE_PHANDLE_ITS), 0, cpu_to_fdt32(0x10000) };
	uint32_t imap[PCI_MAX_DEVS * 10];
	uint64_t reg[2] = { cpu_to_fdt64(LAYOUT_PCI_CFG_BASE), cpu_to_fdt64(LAYOUT_PCI_CFG_SIZE) };
	char name[32];
	int err = 0, n = 0;

	/* child (phys.hi with the device, 0, 0, INTA) -> GIC (0, 0, SPI, level). */
	for (unsigned int i = 0; i < bus->nr; i++) {
		uint32_t *e = &imap[10 * n];

		if (!bus->devs[i])
			continue;
		n++;

		e[0] = cpu_to_fdt32(bus->devs[i]->devfn << 8);
		e[1] = e[2] = 0;
		e[3] = cpu_to_fdt32(1);
		e[4] = cpu_to_fdt32(DEVTREE_PHANDLE_GIC);
		e[5] = e[6] = 0;
		e[7] = cpu_to_fdt32(0);
		e[8] = cpu_to_fdt32(bus->devs[i]->intx_spi);
		e[9] = cpu_to_fdt32(4);
	}
	snprintf(name, sizeof(name), "pci@%llx", (unsigned long long)LAYOUT_PCI_CFG_BASE);
	err |= fdt_begin_node(fdt, name);
	err |= fdt_property_string(fdt, "compatible", "pci-host-ecam-generic");
	err |= fdt_property_string(fdt, "device_type", "pci");
	err |= fdt_property_cell(fdt, "#address-cells", 3);
	err |= fdt_property_cell(fdt, "#size-cells", 2);
	err |= fdt_property_cell(fdt, "#interrupt-cells", 1);
	err |= fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range));
	err |= fdt_property(fdt, "reg", reg, sizeof(reg));
	err |= fdt_property(fdt, "ranges", ranges, sizeof(ranges));
	err |= fdt_property(fdt, "interrupt-map-mask", map_mask, sizeof(map_mask));
	if (n)
		err |= fdt_property(fdt, "interrupt-map", imap, 10 * n * 4);
	if (bus->msi)
		err |= fdt_property(fdt, "msi-map", msi_map, sizeof(msi_map));
	if (bus->iommu_slots) {
		/* pci-iommu.txt: (rid-base, iommu, iommu-base, length) per function. */
		uint32_t imap2[PCI_MAX_DEVS * 4];
		int k = 0;

		for (unsigned int i = 0; i < PCI_MAX_DEVS; i++) {
			if (!(bus->iommu_slots & (1u << i)))
				continue;
			imap2[4 * k] = imap2[4 * k + 2] = cpu_to_fdt32(i << 3);
			imap2[4 * k + 1] = cpu_to_fdt32(DEVTREE_PHANDLE_VIOMMU);
			imap2[4 * k + 3] = cpu_to_fdt32(1);
			k++;
		}
		err |= fdt_property(fdt, "iommu-map", imap2, (int)(16 * k));
	}
	if (bus->iommu_devfn >= 0) {
		/* The virtio-iommu function's own node, for its #iommu-cells. */
		uint32_t rreg[5] = { cpu_to_fdt32((uint32_t)bus->iommu_devfn << 8), 0, 0, 0, 0 };

		snprintf(name, sizeof(name), "virtio_iommu@%x,%x", bus->iommu_devfn >> 3,
			 bus->iommu_devfn & 7);
		err |= fdt_begin_node(fdt, name);
		err |= fdt_property(fdt, "compatible", "pci1af4,1057\0virtio,pci-iommu",
				    sizeof("pci1af4,1057\0virtio,pci-iommu"));
		err |= fdt_property(fdt, "reg", rreg, sizeof(rreg));
		err |= fdt_property_cell(fdt, "#iommu-cells", 1);
		err |= fdt_property_cell(fdt, "phandle", DEVTREE_PHANDLE_VIOMMU);
		err |= fdt_end_node(fdt);
	}
	err |= fdt_property(fdt, "dma-coherent", NULL, 0);
	err |= fdt_end_node(fdt);
	return err ? -EINVAL : 0;
}
