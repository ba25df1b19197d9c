// SPDX-License-Identifier: MIT
/*
 * Building and running a VM. The order matters to KVM (api.rst and
 * devices/arm-vgic-v3.rst): VM, memory, GIC device, vCPUs, GIC init, PMU
 * init (needs an initialised vGIC), then the boot images and registers.
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <libfdt.h>

#include "boot.h"
#include "snapshot.h"
#include "jail.h"
#include "virtio_devices.h"
#include "virtio_transport.h"
#include "vfio_pci.h"
#include "virtio_iommu.h"
#include <linux/virtio_iommu.h>
#include "devtree.h"
#include "layout.h"

void vm_request_exit(struct vm *vm, enum vm_exit reason, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->exit_lock);
	if (vm->exit_reason == VM_EXIT_NONE) {
		vm->exit_reason = reason;
		vm->t_exit_ns = clock_monotonic_ns();
		va_start(ap, fmt);
		vsnprintf(vm->exit_msg, sizeof(vm->exit_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->exit_lock);
	evloop_stop(&vm->loop);
}

/* Kick every started vCPU out of KVM_RUN (immediate_exit closes the
 * race with a vCPU about to enter). */
static void vm_kick_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		vm->vcpus[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpus[i].thread, SIGUSR1);
	}
}

int vm_pause(struct vm *vm, int64_t *took_ns)
{
	int64_t t0 = clock_monotonic_ns();
	struct timespec deadline;
	unsigned int started = 0;
	int err = 0;

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		started += vm->vcpus[i].started;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&vm->run_lock);
	if (!vm->paused) {
		vm->pause_req = true;
		vm_kick_vcpus(vm);
		while (vm->parked < started && !vm->stopping && !err)
			err = -pthread_cond_timedwait(&vm->run_cond, &vm->run_lock, &deadline);
		if (err) {
			/* Not all parked: do not claim a pause we do not hold. */
			vm->pause_req = false;
			pthread_cond_broadcast(&vm->run_cond);
		} else {
			vm->paused = true;
		}
	}
	pthread_mutex_unlock(&vm->run_lock);
	if (took_ns)
		*took_ns = clock_monotonic_ns() - t0;
	return err;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	vm->pause_req = false;
	vm->paused = false;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
}

/*
 * KVM completes an MMIO exit (the loaded value into its register, the PC
 * past the instruction) only on the next KVM_RUN. Before a vCPU parks
 * (for a snapshot, say) it re-enters once with immediate_exit set: KVM
 * completes the access and returns EINTR at once, and the saved registers
 * are final. Otherwise the access would be replayed after a restore.
 */
static void vcpu_complete_exit(struct vcpu *vcpu)
{
	if (!vcpu->exit_pending)
		return;
	vcpu->run->immediate_exit = 1;
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0)
		pr_warn("vCPU %u: KVM_RUN with immediate_exit ran the guest", vcpu->id);
	vcpu->run->immediate_exit = 0;
	vcpu->exit_pending = false;
}

void vm_vcpu_park(struct vm *vm, struct vcpu *vcpu)
{
	vcpu_complete_exit(vcpu);
	pthread_mutex_lock(&vm->run_lock);
	vm->parked++;
	vcpu->parked = true;
	pthread_cond_broadcast(&vm->run_cond);
	while (vm->pause_req && !vm->stopping)
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	vm->parked--;
	vcpu->parked = false;
	vcpu->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->run_lock);
}

int vm_memslot_alloc(struct vm *vm)
{
	for (int s = 1; s < 64 * (int)ARRAY_SIZE(vm->memslots); s++)
		if (!(vm->memslots[s / 64] & (1ULL << (s % 64)))) {
			vm->memslots[s / 64] |= 1ULL << (s % 64);
			return s;
		}
	return -ENOSPC;
}

void vm_memslot_free(struct vm *vm, int slot)
{
	if (slot > 0 && slot < 64 * (int)ARRAY_SIZE(vm->memslots))
		vm->memslots[slot / 64] &= ~(1ULL << (slot % 64));
}

uint32_t vm_alloc_spi(struct vm *vm)
{
	return vm->nr_spis++;
}

static void vm_irq_set(void *opaque, uint32_t spi, int level)
{
	struct vm *vm = opaque;
	int err = gic_spi_set(vm->vm_fd, spi, level);

	if (err)
		pr_guest(LOG_WARNING, "cannot set SPI %u to %d: %s", spi, level, strerror(-err));
}

int kvm_check_cap(int kvm_fd, long cap)
{
	int r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static uint64_t host_ram_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return (uint64_t)si.totalram * si.mem_unit;
}

static int vm_open_kvm(struct vm *vm, char *err, size_t errlen)
{
	const char *dev = vm->cfg->kvm_dev;
	int api;

	vm->kvm_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return errmsg(
				err, errlen, -e,
				"cannot open %s: no such device (is KVM enabled in the host kernel, and is this an arm64 host?)",
				dev);
		if (e == EACCES || e == EPERM)
			return errmsg(
				err, errlen, -e,
				"cannot open %s: permission denied (add this user to the 'kvm' group)",
				dev);
		return errmsg(err, errlen, -e, "cannot open %s: %s", dev, strerror(e));
	}
	api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		return errmsg(err, errlen, -ENOTSUP,
			      "%s speaks KVM API %d, armvm needs %d (is this an arm64 KVM?)", dev,
			      api, KVM_API_VERSION);
	if (!kvm_check_cap(vm->kvm_fd, KVM_CAP_ARM_PSCI_0_2))
		return errmsg(err, errlen, -ENOTSUP,
			      "%s is not an arm64 KVM with PSCI 0.2 (KVM_CAP_ARM_PSCI_0_2)", dev);
	return 0;
}

/* Check -m and -c against the host before creating anything. */
static int vm_check_limits(struct vm *vm, unsigned long *vm_type, char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;
	uint64_t host_ram = host_ram_bytes(), top;
	int max_vcpus, max_ipa;

	max_vcpus = kvm_check_cap(vm->kvm_fd, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = kvm_check_cap(vm->kvm_fd, KVM_CAP_NR_VCPUS);
	if (max_vcpus > LAYOUT_MAX_VCPUS_GICV3)
		max_vcpus = LAYOUT_MAX_VCPUS_GICV3;
	if (max_vcpus > 0 && vm->nr_vcpus > (unsigned int)max_vcpus)
		return errmsg(err, errlen, -EINVAL,
			      "-c %u: this host's KVM allows at most %d vCPUs", vm->nr_vcpus,
			      max_vcpus);
	if (host_ram && vm->ram_size > host_ram)
		return errmsg(err, errlen, -EINVAL,
			      "-m %llu: more memory than the host has (%llu MiB)",
			      (unsigned long long)(vm->ram_size >> 20),
			      (unsigned long long)(host_ram >> 20));

	/* RAM ends at 2 GiB + size: does it fit the IPA space? */
	top = LAYOUT_RAM_BASE + vm->ram_size;
	vm->ipa_bits = LAYOUT_DEFAULT_IPA_BITS;
	*vm_type = 0;
	if (top > (1ULL << LAYOUT_DEFAULT_IPA_BITS)) {
		unsigned int bits = LAYOUT_DEFAULT_IPA_BITS;

		while (bits < 64 && top > (1ULL << bits))
			bits++;
		max_ipa = kvm_check_cap(vm->kvm_fd, KVM_CAP_ARM_VM_IPA_SIZE);
		if (max_ipa < (int)bits)
			return errmsg(
				err, errlen, -EINVAL,
				"-m %llu: RAM would end at 0x%llx, beyond this host's %d-bit guest address space",
				(unsigned long long)(vm->ram_size >> 20), (unsigned long long)top,
				max_ipa ? max_ipa : LAYOUT_DEFAULT_IPA_BITS);
		vm->ipa_bits = bits;
		*vm_type = KVM_VM_TYPE_ARM_IPA_SIZE(bits);
	}
	if (cfg->pmu && !kvm_check_cap(vm->kvm_fd, KVM_CAP_ARM_PMU_V3))
		return errmsg(
			err, errlen, -ENOTSUP,
			"--pmu: this host's KVM offers no PMUv3 for guests (KVM_CAP_ARM_PMU_V3)");
	return 0;
}

static int vm_setup_ram(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region;
	int ret;

	if (vm->cfg->snap) {
		/*
		 * A restore maps the snapshot's memory copy-on-write: the guest
		 * starts at once and pages come in as it touches them; its
		 * writes never reach the file (holes read as zeros).
		 */
		const struct snap_image *img = &vm->cfg->snap->img;

		vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_NORESERVE, img->fd, (off_t)img->mem_offset);
	} else {
		vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return errmsg(err, errlen, -ENOMEM, "cannot allocate %llu MiB of guest RAM: %s",
			      (unsigned long long)(vm->ram_size >> 20), strerror(errno));
	}
	madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE);
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = LAYOUT_RAM_BASE,
		.memory_size = vm->ram_size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return errmsg(err, errlen, -errno, "KVM_SET_USER_MEMORY_REGION (%llu MiB): %s",
			      (unsigned long long)(vm->ram_size >> 20), strerror(errno));
	ret = guest_mem_add(&vm->mem, LAYOUT_RAM_BASE, vm->ram_size, vm->ram);
	return ret ? errmsg(err, errlen, ret, "guest memory map: %s", strerror(-ret)) : 0;
}

static int vm_add_device(struct vm *vm, struct device *dev, bus_access_fn fn, void *opaque,
			 char *err, size_t errlen)
{
	int ret = bus_add(&vm->mmio, dev->base, dev->size, fn, opaque, dev->name);

	if (ret)
		return errmsg(err, errlen, ret, "cannot place %s: %s", dev->name, strerror(-ret));
	device_list_add(&vm->devices, dev);
	return 0;
}

static int pci_host_fdt(struct device *dev, void *fdt)
{
	return pci_bus_fdt(dev->priv, fdt);
}

static const struct device_ops pci_host_ops = {
	.type = "pci-host-ecam",
	.fdt = pci_host_fdt,
};

/*
 * A placed virtio device goes behind the virtio-iommu: an endpoint with
 * its requester ID (or virtio-mmio ID), and a view of memory that
 * translates every address through the endpoint's domain.
 */
static int vm_behind_viommu(struct vm *vm, struct virtio_dev *vd, char *err, size_t errlen)
{
	struct viommu_view *view;
	int ret;

	if (vm->nr_views == ARRAY_SIZE(vm->views))
		return errmsg(err, errlen, -ENOSPC, "--viommu virtio: too many devices behind it");
	view = calloc(1, sizeof(*view));
	if (!view)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	ret = viommu_add_endpoint(vm->viommu, vd->ep_id, NULL, NULL);
	if (ret) {
		free(view);
		return errmsg(err, errlen, ret, "--viommu virtio: %s cannot be an endpoint",
			      vd->dev.name);
	}
	viommu_view_init(view, vm->viommu, vd->ep_id, &vm->mem);
	vm->views[vm->nr_views++] = view;
	vd->mem = &view->mem;
	if (vm->cfg->transport == VIRTIO_TRANSPORT_MMIO)
		vd->behind_iommu = true;
	else
		vm->pci.iommu_slots |= 1u << (vd->ep_id >> 3);
	return 0;
}

/*
 * Put a virtio device on the configured transport, which owns it from
 * here on, on failure too (see virtio_transport.h). A NULL device is its
 * constructor's failure, already described in err.
 */
static int vm_place_virtio(struct vm *vm, struct virtio_dev *vd, char *err, size_t errlen)
{
	bool behind;
	int ret;

	if (!vd)
		return *err ? -EINVAL : errmsg(err, errlen, -ENOMEM, "out of memory");
	behind = vm->viommu && vm->cfg->viommu_virtio && vd != &vm->viommu->vd;
	if (behind) /* DMA addresses are IOVAs */
		vd->host_features |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	ret = vm->cfg->transport == VIRTIO_TRANSPORT_MMIO ? virtio_mmio_create(vm, vd, err, errlen)
							  : virtio_pci_create(vm, vd, err, errlen);
	return ret || !behind ? ret : vm_behind_viommu(vm, vd, err, errlen);
}

/*
 * --viommu: a virtio-iommu on the virtio transport. The ITS doorbell is an
 * MSI region its endpoints' MSIs reach untranslated (PROBE), so the
 * guest does not map it; page sizes and input range narrow as VFIO
 * groups join (vfio_pci_create).
 */
static int vm_setup_viommu(struct vm *vm, char *err, size_t errlen)
{
	struct viommu *vi;
	int ret;

	if (!vm->cfg->viommu_vfio && !vm->cfg->viommu_virtio)
		return 0;
	vi = viommu_new(&vm->mem, ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1), 0, (1ULL << 48) - 1);
	if (!vi)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	if (vm->gic.type == IRQCHIP_GICV3_ITS)
		viommu_add_resv(vi, LAYOUT_GIC_ITS_BASE + 0x10000, LAYOUT_GIC_ITS_BASE + 0x1ffff,
				VIRTIO_IOMMU_RESV_MEM_T_MSI);
	vi->vd.iommu_node = true;
	ret = vm_place_virtio(vm, &vi->vd, err, errlen);
	if (ret)
		return ret;
	vm->viommu = vi;
	if (vm->cfg->transport == VIRTIO_TRANSPORT_PCI)
		vm->pci.iommu_devfn = (int)vi->vd.ep_id;
	return 0;
}

static void vm_console_quit(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_QUIT, "quit from the console (Ctrl-a x)");
}

static size_t vm_uart_rx_push(void *opaque, const uint8_t *buf, size_t n)
{
	return uart8250_rx_push(opaque, buf, n);
}

/*
 * The terminal goes to the UART, or with --console virtio to a
 * virtio-console (hvc0); the UART stays for earlycon either way.
 */
static int vm_setup_console(struct vm *vm, char *err, size_t errlen)
{
	struct console_port port = { .rx_push = vm_uart_rx_push, .opaque = &vm->uart };
	struct virtio_dev *vd = NULL;
	int ret;

	if (vm->cfg->console == CONSOLE_VIRTIO) {
		vd = virtio_console_new(&vm->mem, &vm->console, &port);
		if (!vd)
			return errmsg(err, errlen, -ENOMEM, "out of memory");
	}
	ret = console_init(&vm->console, &vm->loop, &port, vm_console_quit, vm);
	if (ret) {
		if (vd)
			virtio_dev_destroy(vd);
		return errmsg(err, errlen, ret, "console: %s", strerror(-ret));
	}
	if (!vd) {
		vm->uart.tx = console_tx;
		vm->uart.tx_opaque = &vm->console;
		vm->uart.rx_ready = console_rx_ready;
		vm->uart.rx_opaque = &vm->console;
		return 0;
	}
	return vm_place_virtio(vm, vd, err, errlen);
}

static int vm_setup_devices(struct vm *vm, char *err, size_t errlen)
{
	struct irq_line irq = { .set = vm_irq_set, .opaque = vm };
	int ret;

	err[0] = '\0';
	/*
	 * The UART and the RTC are the machine's platform devices, always
	 * present (kvmtool has them even with --nodefaults: the console needs
	 * one and a kernel expects a clock).
	 */
	irq.line = vm_alloc_spi(vm);
	uart8250_init(&vm->uart, LAYOUT_UART_BASE, irq.line, &irq);
	ret = vm_add_device(vm, &vm->uart.dev, uart8250_mmio, &vm->uart, err, errlen);
	if (ret)
		return ret;
	irq.line = vm_alloc_spi(vm);
	ret = pl031_init(&vm->rtc, LAYOUT_RTC_BASE, irq.line, &irq, &vm->loop);
	if (ret)
		return errmsg(err, errlen, ret, "RTC: %s", strerror(-ret));
	ret = vm_add_device(vm, &vm->rtc.dev, pl031_mmio, &vm->rtc, err, errlen);
	if (ret)
		return ret;
	/* The PCI host bridge (kvmtool has it always). */
	pci_bus_init(&vm->pci, vm, vm->gic.type == IRQCHIP_GICV3_ITS);
	vm->pci_host = (struct device){ .ops = &pci_host_ops,
					.priv = &vm->pci,
					.base = LAYOUT_PCI_CFG_BASE,
					.size = LAYOUT_PCI_CFG_SIZE };
	snprintf(vm->pci_host.name, sizeof(vm->pci_host.name), "pci");
	ret = vm_add_device(vm, &vm->pci_host, pci_ecam_access, &vm->pci, err, errlen);
	if (ret)
		return ret;
	/* The virtio-iommu first: its state loads before its endpoints'. */
	ret = vm_setup_viommu(vm, err, errlen);
	if (ret)
		return ret;
	ret = vm_setup_console(vm, err, errlen);
	if (ret)
		return ret;

	for (unsigned int i = 0; !ret && i < vm->cfg->nr_disks; i++)
		ret = vm_place_virtio(
			vm, virtio_blk_new(&vm->cfg->disks[i], vm->nr_vcpus, &vm->mem, err, errlen),
			err, errlen);
	if (!ret && vm->cfg->net.mode == NET_MODE_TAP) {
		struct net_opts net = vm->cfg->net;

		/* vhost-net would need the IOTLB protocol to see IOVAs
		 * (vhost=1 with --viommu virtio is refused by the parser). */
		if (vm->cfg->viommu_virtio && net.vhost == NET_VHOST_AUTO) {
			pr_info("virtio-net behind the virtio-iommu: frames go through armvm, not vhost-net");
			net.vhost = NET_VHOST_OFF;
		}
		ret = vm_place_virtio(vm, virtio_net_new(&net, &vm->mem, err, errlen), err, errlen);
	}
	if (!ret && vm->cfg->rng)
		ret = vm_place_virtio(vm, virtio_rng_new(&vm->mem), err, errlen);
	for (unsigned int i = 0; !ret && i < vm->cfg->nr_vfio; i++)
		ret = vfio_pci_create(vm, &vm->cfg->vfio[i], vm->cfg->viommu_vfio, err, errlen);
	if (ret)
		return ret;
	return 0;
}

static int vm_write_dtb_file(const char *path, const void *fdt, size_t size, char *err,
			     size_t errlen)
{
	char tmp[4096];
	int fd, ret;

	/* Write beside, then rename: never a half-written file at path. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >= (int)sizeof(tmp))
		return errmsg(err, errlen, -ENAMETOOLONG, "--dump-dtb: path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errmsg(err, errlen, -errno, "--dump-dtb %s: %s", path, strerror(errno));
	ret = write_full(fd, fdt, size);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return errmsg(err, errlen, ret, "--dump-dtb %s: %s", path, strerror(-ret));
	}
	return 0;
}

/* Open a boot file, and map it if buf (see file_map); errors name it. */
static int vm_map_boot_file(const char *what, const char *path, uint64_t limit, uint8_t **buf,
			    size_t *size, int *fd, char *err, size_t errlen)
{
	int ret = file_map(path, limit, buf, size, fd);

	if (ret == -EFBIG)
		return errmsg(err, errlen, ret, "%s '%s' is larger than guest RAM (%llu MiB, -m)",
			      what, path, (unsigned long long)(limit >> 20));
	if (ret == -EINVAL)
		return errmsg(err, errlen, ret, "%s '%s' is not a regular file", what, path);
	if (ret)
		return errmsg(err, errlen, ret, "cannot read %s '%s': %s", what, path,
			      strerror(-ret));
	return 0;
}

/*
 * Guest RAM is backed by transparent huge pages, so armvm's first write to
 * a 2 MiB block faults and zeroes all of it. For a block a boot write
 * covers only a little of (an 80-byte flat binary, the DTB, a kernel's or
 * an initrd's last bytes) that is work for bytes nobody wrote: 4 KiB pages
 * there while armvm writes (MADV_NOHUGEPAGE), huge pages allowed again
 * after (khugepaged may collapse them; the guest's own faults elsewhere
 * stay huge). A block covered by a quarter or more stays huge: 4 KiB
 * pages for 3.7 MiB of initrd were 938 faults against 2 (~25 ms in the
 * lab). Advice only: a failure changes nothing but speed.
 */
#define VM_EDGE_SMALL (SZ_2M / 4)

static void vm_ram_advise_edges(struct vm *vm, uint64_t gpa, uint64_t len, int advice)
{
	uint64_t off = gpa - LAYOUT_RAM_BASE, end = off + len;
	uint64_t head = ALIGN_DOWN(off, SZ_2M), tail = ALIGN_DOWN(end - 1, SZ_2M);

	if (!len || end > vm->ram_size)
		return;
	if (MIN(end, head + SZ_2M) - off < VM_EDGE_SMALL)
		madvise(vm->ram + head, MIN(SZ_2M, vm->ram_size - head), advice);
	if (tail != head && end - tail < VM_EDGE_SMALL)
		madvise(vm->ram + tail, MIN(SZ_2M, vm->ram_size - tail), advice);
}

/*
 * Fault in guest RAM [gpa, gpa + len) with one call (MADV_POPULATE_WRITE,
 * Linux 5.14) before armvm writes it: a 44 MB kernel and its initrd were
 * ~1000 page faults, each a round trip through the exception path. On an
 * older kernel (EINVAL) the writes fault the pages in as before.
 */
static void vm_ram_populate(struct vm *vm, uint64_t gpa, uint64_t len)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
	/* The host's page size: 4, 16 or 64 KiB on arm64. */
	uint64_t off = gpa - LAYOUT_RAM_BASE, start = ALIGN_DOWN(off, (uint64_t)getpagesize());

	if (len && off + len <= vm->ram_size)
		madvise(vm->ram + start, off + len - start, MADV_POPULATE_WRITE);
}

static int vm_boot_write(struct vm *vm, uint64_t gpa, const void *buf, size_t len)
{
	int ret;

	vm_ram_advise_edges(vm, gpa, len, MADV_NOHUGEPAGE);
	vm_ram_populate(vm, gpa, len);
	ret = guest_mem_write(&vm->mem, gpa, buf, len);
	vm_ram_advise_edges(vm, gpa, len, MADV_HUGEPAGE);
	return ret;
}

/*
 * Bytes [off, off + len) of a boot file straight into guest RAM: pread,
 * not a copy out of the file's mapping, whose pages would each fault in
 * (one per 64 KiB, ~700 for a 44 MB kernel) and be unmapped again (~11 ms
 * for that kernel in the lab).
 */
static int vm_boot_read_part(struct vm *vm, uint64_t gpa, int fd, uint64_t off, size_t len)
{
	uint8_t *p = guest_mem_ptr(&vm->mem, gpa, len);
	size_t done = 0;

	if (!p)
		return -EFAULT;
	vm_ram_populate(vm, gpa, len);
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* shorter than its size said: changed under us */
			return n < 0 ? -errno : -ENODATA;
		done += (size_t)n;
	}
	return 0;
}

/* The one-line error for a kernel or initrd that could not be read in. */
static void vm_boot_read_error(const char *what, const char *path, uint64_t size, uint64_t gpa,
			       int ret, char *err, size_t errlen)
{
	if (ret == -ENODATA)
		errmsg(err, errlen, ret,
		       "cannot load %s '%s': it ended before the %llu bytes its size gives "
		       "(changed while armvm read it?)",
		       what, path, (unsigned long long)size);
	else
		errmsg(err, errlen, ret, "cannot load %s '%s' into guest RAM at 0x%llx: %s", what,
		       path, (unsigned long long)gpa, strerror(-ret));
}

struct boot_part {
	struct vm *vm;
	uint64_t gpa, off;
	size_t len;
	int fd, ret;
	pthread_t thread;
	bool started;
};

static void *vm_boot_part_thread(void *arg)
{
	struct boot_part *bp = arg;

	bp->ret = vm_boot_read_part(bp->vm, bp->gpa, bp->fd, bp->off, bp->len);
	return NULL;
}

#define BOOT_PART_MIN (8 * SZ_1M)
#define BOOT_PARTS_MAX 8

/*
 * Most of a big file's load is the kernel zeroing the fresh pages it is
 * read into (a 44 MB kernel: ~120 of ~150 ms in the lab) and the copy:
 * work that spreads over CPUs, idle while the machine is built. So a file
 * of 16 MiB or more is read in parts of at least 8 MiB (2 MiB-aligned in
 * RAM), one thread each, up to one per online CPU and 8.
 */
static int vm_boot_read(struct vm *vm, uint64_t gpa, int fd, uint64_t off, size_t len)
{
	struct boot_part parts[BOOT_PARTS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = MIN(len / BOOT_PART_MIN, (size_t)BOOT_PARTS_MAX), nr = 0;
	uint64_t step, at = 0;
	int ret = 0;

	if (cpus > 0 && n > (size_t)cpus)
		n = (size_t)cpus;
	n = MAX(n, (size_t)1); /* below 16 MiB: one part, on this thread */
	if (!guest_mem_ptr(&vm->mem, gpa, len))
		return -EFAULT;
	vm_ram_advise_edges(vm, gpa, len, MADV_NOHUGEPAGE);
	/* Parts end on 2 MiB boundaries of RAM: no two threads fault in the
	 * same huge page. */
	step = ALIGN_UP((len + n - 1) / n, (uint64_t)SZ_2M);
	for (; at < len; nr++) {
		uint64_t end = nr + 1 == n ? len : MIN(len, ALIGN_UP(gpa + at + step, SZ_2M) - gpa);

		parts[nr] = (struct boot_part){ .vm = vm,
						.gpa = gpa + at,
						.off = off + at,
						.len = (size_t)(end - at),
						.fd = fd };
		at = end;
	}
	for (size_t i = 1; i < nr; i++)
		parts[i].started =
			!pthread_create(&parts[i].thread, NULL, vm_boot_part_thread, &parts[i]);
	for (size_t i = 0; i < nr; i++) {
		if (!parts[i].started)
			vm_boot_part_thread(&parts[i]);
	}
	for (size_t i = 0; i < nr; i++) {
		if (parts[i].started)
			pthread_join(parts[i].thread, NULL);
		if (!ret)
			ret = parts[i].ret;
	}
	vm_ram_advise_edges(vm, gpa, len, MADV_HUGEPAGE);
	return ret;
}

static int vm_place_boot(struct vm *vm, const struct boot_files *files, char *err, size_t errlen)
{
	struct boot_image img;
	struct boot_layout lay;
	struct devtree_params fp;
	uint8_t *inflated = NULL, *fdt = NULL, seed[64];
	uint64_t *mpidr = NULL;
	const uint8_t *kdata = files->kernel;
	size_t ksize = files->kernel_size;
	int ret;

	if (boot_is_gzip(kdata, ksize)) {
		ret = boot_gunzip(kdata, ksize, vm->ram_size, &inflated, &ksize, err, errlen);
		if (ret)
			return ret;
		kdata = inflated;
	}
	ret = boot_image_parse(kdata, ksize, &img, err, errlen);
	if (!ret)
		ret = boot_plan(LAYOUT_RAM_BASE, vm->ram_size, &img, files->initrd_size,
				LAYOUT_FDT_MAX_SIZE, &lay, err, errlen);
	if (ret)
		goto out;
	/* An Image or flat binary is the file itself (from img.data on); a
	 * gzip'ed one was inflated into memory. boot_plan placed both inside
	 * RAM: a failure here is a bug there, or a file that shrank while we
	 * read it, and must not become a guest that boots half a kernel. */
	if (inflated)
		ret = vm_boot_write(vm, lay.kernel_gpa, img.data, img.size);
	else
		ret = vm_boot_read(vm, lay.kernel_gpa, files->kernel_fd,
				   (uint64_t)(img.data - files->kernel), img.size);
	if (ret) {
		vm_boot_read_error("kernel", vm->cfg->kernel, files->kernel_size, lay.kernel_gpa,
				   ret, err, errlen);
		goto out;
	}
	if (files->initrd_size)
		ret = vm_boot_read(vm, lay.initrd_gpa, files->initrd_fd, 0, files->initrd_size);
	if (ret) {
		vm_boot_read_error("initrd", vm->cfg->initrd, files->initrd_size, lay.initrd_gpa,
				   ret, err, errlen);
		goto out;
	}

	mpidr = calloc(vm->nr_vcpus, sizeof(*mpidr));
	fdt = calloc(1, LAYOUT_FDT_MAX_SIZE);
	if (!mpidr || !fdt) {
		ret = errmsg(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		mpidr[i] = vm->vcpus[i].mpidr;
	if (getrandom(seed, sizeof(seed), 0) != sizeof(seed))
		memset(seed, 0, sizeof(seed));
	fp = (struct devtree_params){
		.nr_cpus = vm->nr_vcpus,
		.mpidr = mpidr,
		.ram_base = LAYOUT_RAM_BASE,
		.ram_size = vm->ram_size,
		.gic = vm->gic.type,
		.pmu = vm->cfg->pmu,
		.bootargs = files->cmdline,
		.initrd_start = lay.initrd_gpa,
		.initrd_size = lay.initrd_size,
		.stdout_path = "/uart@1000000",
		.devices = &vm->devices,
		.rng_seed = seed,
		.rng_seed_len = sizeof(seed),
	};
	ret = devtree_build(&fp, fdt, LAYOUT_FDT_MAX_SIZE);
	if (ret) {
		errmsg(err, errlen, ret, "cannot build the device tree: %s", strerror(-ret));
		goto out;
	}
	if (vm->cfg->dump_dtb) {
		ret = vm_write_dtb_file(vm->cfg->dump_dtb, fdt, fdt_totalsize(fdt), err, errlen);
		if (ret)
			goto out;
	}
	ret = vm_boot_write(vm, lay.fdt_gpa, fdt, fdt_totalsize(fdt));
	if (ret) {
		errmsg(err, errlen, ret, "cannot place the device tree in guest RAM at 0x%llx: %s",
		       (unsigned long long)lay.fdt_gpa, strerror(-ret));
		goto out;
	}
	pr_info("kernel at 0x%llx (%s), initrd at 0x%llx (%llu bytes), DTB at 0x%llx",
		(unsigned long long)lay.kernel_gpa, img.has_header ? "Image" : "flat binary",
		(unsigned long long)lay.initrd_gpa, (unsigned long long)lay.initrd_size,
		(unsigned long long)lay.fdt_gpa);
	ret = vcpu_set_boot_regs(&vm->vcpus[0], lay.entry, lay.fdt_gpa);
	if (ret)
		errmsg(err, errlen, ret, "cannot set the boot vCPU's registers: %s",
		       strerror(-ret));
out:
	free(inflated);
	free(fdt);
	free(mpidr);
	return ret;
}

/*
 * The kernel and initrd are opened here, last, after everything that
 * depends only on the host and the options (harnesses written for kvmtool
 * probe with a kernel that does not exist), and open only while they are
 * copied into guest RAM: armvm holds no second copy while the guest runs.
 */
static int vm_load_boot(struct vm *vm, const char *cmdline, char *err, size_t errlen)
{
	struct boot_files f = { .kernel_fd = -1, .initrd_fd = -1 };
	int ret;

	if (!vm->cfg->kernel)
		return errmsg(err, errlen, -EINVAL, "no kernel to boot (-k)");
	ret = vm_map_boot_file("kernel", vm->cfg->kernel, vm->ram_size, &f.kernel, &f.kernel_size,
			       &f.kernel_fd, err, errlen);
	if (!ret && vm->cfg->initrd)
		ret = vm_map_boot_file("initrd", vm->cfg->initrd, vm->ram_size, NULL,
				       &f.initrd_size, &f.initrd_fd, err, errlen);
	f.cmdline = cmdline;
	if (!ret)
		ret = vm_place_boot(vm, &f, err, errlen);
	file_unmap(f.kernel, f.kernel_size);
	if (f.kernel_fd >= 0)
		close(f.kernel_fd);
	if (f.initrd_fd >= 0)
		close(f.initrd_fd);
	return ret;
}

int vm_create_bare(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned long vm_type = 0;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->gic.fd = vm->gic.its_fd = -1;
	vm->console.wake_fd = vm->signal_fd = -1;
	vm->loop.epfd = vm->loop.wake_fd = -1;
	vm->nr_vcpus = cfg->nr_cpus;
	vm->ram_size = cfg->ram_size;
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_cond_init(&vm->run_cond, NULL);
	device_list_init(&vm->devices);
	ret = bus_init(&vm->mmio);
	if (!ret)
		ret = evloop_init(&vm->loop);
	if (ret)
		return errmsg(err, errlen, ret, "cannot set up the I/O loop: %s", strerror(-ret));

	ret = vm_open_kvm(vm, err, errlen);
	if (!ret)
		ret = vm_check_limits(vm, &vm_type, err, errlen);
	if (ret)
		return ret;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, vm_type);
	if (vm->vm_fd < 0)
		return errmsg(err, errlen, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = vm->vcpus[i].stats_fd = -1;
	return vm_setup_ram(vm, err, errlen);
}

/* Decide on SVE: on whenever the host offers it, unless --no-sve. */
static int vm_want_sve(struct vm *vm, char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;

	if (cfg->no_sve)
		return 0;
	if (kvm_check_cap(vm->kvm_fd, KVM_CAP_ARM_SVE) > 0) {
		vm->sve = true;
		return 0;
	}
	if (cfg->sve.kind != SVE_REQ_HOST)
		return errmsg(err, errlen, -ENOTSUP,
			      "%s: this host's KVM offers no SVE (KVM_CAP_ARM_SVE)",
			      cfg->sve.kind == SVE_REQ_MAX ? "--sve-max-vl" : "--sve-vls");
	return 0;
}

/*
 * vCPUs in order (the vCPU-to-redistributor mapping depends on it), each
 * with exactly the features we mean. With SVE, the host's set is read from
 * the first vCPU, the user's request is checked against it before anything
 * is written, and every vCPU gets the same set, then FINALIZE.
 */
static int vm_create_vcpus(struct vm *vm, char *err, size_t errlen)
{
	uint32_t features = 1u << KVM_ARM_VCPU_PSCI_0_2;
	int ret;

	if (vm->cfg->pmu)
		features |= 1u << KVM_ARM_VCPU_PMU_V3;
	if (vm->sve)
		features |= 1u << KVM_ARM_VCPU_SVE;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		/* Secondaries wait powered off for the guest's PSCI CPU_ON. */
		uint32_t f = features | (i ? 1u << KVM_ARM_VCPU_POWER_OFF : 0);

		/* A restore: exactly the features the vCPU was saved with. */
		if (vm->cfg->snap && vm->cfg->snap->vcpus[i].features != f)
			return errmsg(
				err, errlen, -EINVAL,
				"restore: vCPU %u was saved with features 0x%x, this machine's are 0x%x",
				i, vm->cfg->snap->vcpus[i].features, f);
		ret = vcpu_create(vm, vcpu, i, f, err, errlen);
		if (ret)
			return ret;
		if (!vm->sve)
			continue;
		if (i == 0) {
			struct sve_vls host;

			ret = vcpu_sve_get_vls(vcpu, &host);
			if (ret)
				return errmsg(err, errlen, ret,
					      "cannot read the host's SVE vector lengths: %s",
					      strerror(-ret));
			ret = sve_negotiate(&host, &vm->cfg->sve, &vm->sve_vls, err, errlen);
			if (ret)
				return ret;
		}
		ret = vcpu_sve_finalize(vcpu, &vm->sve_vls);
		if (ret) {
			char vls[160];

			sve_vls_format(&vm->sve_vls, vls, sizeof(vls));
			return errmsg(err, errlen, ret,
				      "vCPU %u: KVM refused SVE vector lengths %s: %s", i, vls,
				      strerror(-ret));
		}
	}
	if (vm->sve) {
		char vls[160];

		sve_vls_format(&vm->sve_vls, vls, sizeof(vls));
		pr_info("SVE vector lengths: %s", vls);
	}
	return 0;
}

static void vm_kick_handler(int sig)
{
	(void)sig;
}

/*
 * The vCPU threads start as soon as their vCPUs exist, and wait for vm_run
 * (vm->go) before the first KVM_RUN: creating a thread and loading its
 * seccomp filter then overlap the rest of the machine's construction.
 * Every thread is created with the termination signals blocked (they reach
 * the I/O loop through a signalfd); each vCPU thread unblocks only
 * SIGUSR1, the kick out of KVM_RUN (installed here, without SA_RESTART).
 */
static int vm_start_vcpu_threads(struct vm *vm, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = vm_kick_handler };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		int ret = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);

		if (ret)
			return errmsg(err, errlen, -ret, "cannot start vCPU %u's thread: %s", i,
				      strerror(ret));
		vm->vcpus[i].started = true;
	}
	return 0;
}

/* Stop and join the vCPU threads, parked and waiting ones included. */
static void vm_stop_vcpu_threads(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	vm->stopping = true;
	pthread_mutex_lock(&vm->run_lock);
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
	vm_kick_vcpus(vm);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = false;
	}
}

/* For a vCPU thread: wait until vm_run lets the vCPUs run (or the VM ends). */
void vm_wait_go(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	while (!vm->go && !vm->stopping)
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	pthread_mutex_unlock(&vm->run_lock);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const char *cmdline, char *err,
	      size_t errlen)
{
	enum irqchip_type gic_type;
	int ret;

	ret = vm_create_bare(vm, cfg, err, errlen);
	if (!ret)
		ret = vm_want_sve(vm, err, errlen);
	if (!ret)
		ret = gic_resolve(vm->vm_fd, cfg->irqchip, vm->nr_vcpus, &gic_type, err, errlen);
	if (ret)
		goto err_destroy;
	phase_mark("kvm, vm, ram");
	ret = gic_create(&vm->gic, vm->vm_fd, gic_type, vm->nr_vcpus);
	if (ret) {
		errmsg(err, errlen, ret, "cannot create the %s: %s", gic_type_name(gic_type),
		       strerror(-ret));
		goto err_destroy;
	}
	phase_mark("gic");
	ret = vm_create_vcpus(vm, err, errlen);
	if (!ret)
		ret = vm_start_vcpu_threads(vm, err, errlen);
	if (ret)
		goto err_destroy;
	phase_mark("vcpus");
	ret = vm_setup_devices(vm, err, errlen);
	if (ret)
		goto err_destroy;
	phase_mark("devices");
	ret = gic_init(&vm->gic, vm->nr_spis);
	if (ret) {
		errmsg(err, errlen, ret, "cannot initialise the %s: %s", gic_type_name(gic_type),
		       strerror(-ret));
		goto err_destroy;
	}
	ret = irq_routes_init(&vm->routes, vm->vm_fd);
	for (struct device *d = vm->devices.head; !ret && d; d = d->next) {
		if (d->ops->start && (ret = d->ops->start(d)))
			errmsg(err, errlen, ret, "cannot start %s: %s", d->name, strerror(-ret));
	}
	if (ret)
		goto err_destroy;
	for (unsigned int i = 0; cfg->pmu && i < vm->nr_vcpus; i++) {
		ret = vcpu_init_pmu(&vm->vcpus[i]);
		if (ret) {
			errmsg(err, errlen, ret, "--pmu: cannot set up vCPU %u's PMU: %s", i,
			       strerror(-ret));
			goto err_destroy;
		}
	}
	phase_mark("gic init, routes, start");
	/* A new guest boots; a restored one takes its saved state. */
	if (cfg->snap)
		ret = vm_restore_state(vm, err, errlen);
	else
		ret = vm_load_boot(vm, cmdline, err, errlen);
	if (ret)
		goto err_destroy;
	phase_mark(cfg->snap ? "state" : "kernel, initrd, dtb");
	return 0;

err_destroy:
	vm_destroy(vm);
	return ret;
}

/* SIGTERM, SIGINT and SIGHUP end the run cleanly (terminal restored). */
static void vm_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vm->exit_signal = (int)si.ssi_signo;
	vm_request_exit(vm, VM_EXIT_SIGNAL, "terminated by signal %d (%s)", (int)si.ssi_signo,
			strsignal((int)si.ssi_signo));
}

/*
 * What the run cost, at info level: the vCPUs' exits as the kernel counts
 * them (those it handled itself included), and each virtio device's
 * notifications, interrupts and bytes. bench/blk divides them by requests.
 */
struct hits_line {
	char buf[512];
	size_t off;
};

static void vm_add_hits(void *arg, const char *name, uint64_t hits)
{
	struct hits_line *l = arg;

	if (hits && l->off < sizeof(l->buf))
		l->off += (size_t)snprintf(l->buf + l->off, sizeof(l->buf) - l->off, "%s%s %llu",
					   l->off ? ", " : "", name ? name : "?",
					   (unsigned long long)hits);
}

static void vm_log_run_summary(struct vm *vm)
{
	struct hits_line hl = { .off = 0 };
	uint64_t k[VCPU_KSTAT_NR] = { 0 }, one[VCPU_KSTAT_NR];
	bool have = true;

	if (log_get_level() < LOG_INFO)
		return;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vcpu_kvm_stats(&vm->vcpus[i], one)) {
			have = false;
			break;
		}
		for (int j = 0; j < VCPU_KSTAT_NR; j++)
			k[j] += one[j];
	}
	if (have)
		pr_info("run: vCPU exits %llu: MMIO %llu in the kernel, %llu to armvm; WFI %llu; "
			"HVC %llu; signals %llu",
			(unsigned long long)k[VCPU_KSTAT_EXITS],
			(unsigned long long)k[VCPU_KSTAT_MMIO_KERNEL],
			(unsigned long long)k[VCPU_KSTAT_MMIO_USER],
			(unsigned long long)k[VCPU_KSTAT_WFI],
			(unsigned long long)k[VCPU_KSTAT_HVC],
			(unsigned long long)k[VCPU_KSTAT_SIGNAL]);
	bus_for_each_hits(&vm->mmio, vm_add_hits, &hl);
	if (hl.off)
		pr_info("run: MMIO handled by armvm, by region: %s", hl.buf);
	for (struct device *d = vm->devices.head; d; d = d->next) {
		struct virtio_dev *vd = virtio_dev_of(d);
		char more[320];

		if (!vd)
			continue;
		/* Bytes and the backend's part only where they are counted
		 * (virtio-blk, once it had a request): zeros said nothing. */
		more[0] = '\0';
		if (vd->stat_reqs || vd->stat_submits)
			snprintf(more, sizeof(more),
				 ", %llu bytes read, %llu written; %llu requests to the backend, "
				 "%.1f us each from submission to completion; device thread busy "
				 "%.1f ms, %.1f ms of it in %llu submission calls",
				 (unsigned long long)vd->stat_read_bytes,
				 (unsigned long long)vd->stat_write_bytes,
				 (unsigned long long)vd->stat_reqs,
				 vd->stat_reqs ? vd->stat_backend_ns / 1e3 / vd->stat_reqs : 0.0,
				 vd->stat_busy_ns / 1e6, vd->stat_submit_ns / 1e6,
				 (unsigned long long)vd->stat_submits);
		pr_info("run: %s: %llu notifies, %llu interrupts%s", d->name,
			(unsigned long long)vd->stat_notifies, (unsigned long long)vd->stat_irqs,
			more);
	}
}

enum vm_exit vm_run(struct vm *vm)
{
	sigset_t block;
	int err;

	/* The termination signals, blocked since the vCPU threads started. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	vm->signal_fd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0 || evloop_add(&vm->loop, vm->signal_fd, EPOLLIN, vm_signal, vm) < 0) {
		vm_request_exit(vm, VM_EXIT_ERROR, "cannot watch signals: %s", strerror(errno));
		vm_stop_vcpu_threads(vm);
		return vm->exit_reason;
	}
	pthread_mutex_lock(&vm->run_lock);
	vm->go = true;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
	/* Set-up is over: the main thread keeps only what it needs from
	 * here (a reboot builds the next machine under the same filter). */
	if (jail_enter(JAIL_MAIN))
		vm_request_exit(vm, VM_EXIT_ERROR,
				"cannot install the main thread's seccomp filter");
	else if ((err = evloop_run(&vm->loop)))
		vm_request_exit(vm, VM_EXIT_ERROR, "I/O loop: %s", strerror(-err));

	/* Stop every vCPU, parked ones included. */
	if (vm->t_first_run_ns)
		pr_debug("the guest ran %.2f ms (first KVM_RUN to the end of the run)",
			 (vm->t_exit_ns - vm->t_first_run_ns) / 1e6);
	phase_mark_at("end of run", vm->t_exit_ns);
	phase_mark("I/O loop");
	vm_stop_vcpu_threads(vm);
	phase_mark("vCPU threads");
	vm_log_run_summary(vm);
	return vm->exit_reason;
}

void vm_destroy(struct vm *vm)
{
	vm_stop_vcpu_threads(vm); /* a machine that never ran has waiting threads */
	if (vm->signal_fd >= 0) {
		evloop_del(&vm->loop, vm->signal_fd);
		close(vm->signal_fd);
		vm->signal_fd = -1;
	}
	console_destroy(&vm->console);
	device_list_destroy(&vm->devices);
	phase_mark("devices");
	for (unsigned int i = 0; i < vm->nr_views; i++) {
		viommu_view_destroy(vm->views[i]);
		free(vm->views[i]);
	}
	vm->nr_views = 0;
	for (unsigned int i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	phase_mark("vCPUs");
	irq_routes_destroy(&vm->routes);
	gic_destroy(&vm->gic);
	phase_mark("GIC");
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	phase_mark("RAM");
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	phase_mark("VM");
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	evloop_destroy(&vm->loop);
	bus_destroy(&vm->mmio);
	pthread_mutex_destroy(&vm->exit_lock);
	pthread_mutex_destroy(&vm->run_lock);
	pthread_cond_destroy(&vm->run_cond);
}
