// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a hostile guest on the register files of the
 * machine's buses. Per input, a machine of two virtio-rng functions on
 * the PCI host bridge (with MSI-X, or INTx when the first byte says no
 * ITS) and one virtio-rng on virtio-mmio, with the real vmm/pci.c,
 * devices/virtio_pci.c and devices/virtio_mmio.c over stubbed KVM calls
 * (kvm_stubs.c). The input is a list of accesses: ECAM config space (BAR
 * sizing and moves, onto each other or anywhere, capability pointers, the
 * MSI-X control), and MMIO anywhere in the PCI window or on the
 * virtio-mmio slot (the virtio-pci common config, ISR, device config and
 * notify, the MSI-X table and PBA, the virtio-mmio registers). After each
 * access: every mapped BAR lies inside the PCI window, and nothing of
 * armvm's is touched outside guest RAM (ASan). The machine is then torn
 * down, as armvm does at exit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pci.h"
#include "util.h"
#include "virtio_devices.h"
#include "virtio_transport.h"
#include "vm.h"

#define RAM_SIZE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **d, size_t *n, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && *n; i++, (*d)++, (*n)--)
		v |= (uint64_t) * *d << (8 * i);
	return v;
}

static void check_bars(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->pci.nr; i++) {
		struct pci_dev *pd = vm->pci.devs[i];

		for (int b = 0; pd && b < PCI_STD_NUM_BARS; b++) {
			struct pci_bar *bar = &pd->bars[b];

			if (bar->mapped && (bar->mapped_addr < LAYOUT_PCI_MMIO_BASE ||
					    bar->mapped_addr + bar->size >
						    LAYOUT_PCI_MMIO_BASE + LAYOUT_PCI_MMIO_SIZE))
				abort(); /* a BAR over RAM, the GIC, or outside the window */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct vm *vm;
	char err[256];
	int ops = 0;

	if (size < 1)
		return 0;
	if (!ram) {
		log_set_level(LOG_ERROR);
		ram = calloc(1, RAM_SIZE);
	}
	memset(ram, 0, RAM_SIZE);
	vm = calloc(1, sizeof(*vm));
	vm->vm_fd = -1;
	vm->nr_vcpus = 1;
	bus_init(&vm->mmio);
	device_list_init(&vm->devices);
	guest_mem_add(&vm->mem, LAYOUT_RAM_BASE, RAM_SIZE, ram);
	pci_bus_init(&vm->pci, vm, data[0] & 1);
	if (virtio_pci_create(vm, virtio_rng_new(&vm->mem), err, sizeof(err)) ||
	    virtio_pci_create(vm, virtio_rng_new(&vm->mem), err, sizeof(err)) ||
	    virtio_mmio_create(vm, virtio_rng_new(&vm->mem), err, sizeof(err)))
		abort();
	for (struct device *d = vm->devices.head; d; d = d->next)
		if (d->ops->start && d->ops->start(d))
			abort();
	data++, size--;
	while (size && ops++ < 256) {
		uint8_t op = (uint8_t)take(&data, &size, 1);
		unsigned int len = 1u << (op >> 1 & 3); /* 1, 2, 4, 8 */
		bool w = op & 1;
		uint8_t buf[8];
		uint64_t v;

		if ((op >> 3) % 2 == 0) {
			/* ECAM: slot 0..3, any register. */
			uint64_t off = take(&data, &size, 2);

			off = (off & 0x3000) << 3 | (off & 0xfff);
			if (len == 8)
				len = 4;
			v = take(&data, &size, 4);
			memcpy(buf, &v, sizeof(buf));
			pci_ecam_access(&vm->pci, off, buf, len, w);
		} else {
			/* MMIO: the first 1 MiB of the PCI window (where the
			 * BARs start, and where the guest may move them), or
			 * the virtio-mmio slot, or anywhere in the window. */
			uint64_t a = take(&data, &size, 4), addr;

			switch (op >> 4 & 3) {
			case 0:
				addr = LAYOUT_PCI_MMIO_BASE + (a & 0xfffff);
				break;
			case 1:
				addr = LAYOUT_VIRTIO_MMIO_BASE + (a & 0x1ff);
				break;
			default:
				addr = LAYOUT_PCI_MMIO_BASE + a % LAYOUT_PCI_MMIO_SIZE;
				break;
			}
			v = take(&data, &size, len);
			memcpy(buf, &v, sizeof(buf));
			bus_access(&vm->mmio, addr, buf, len, w);
		}
		check_bars(vm);
	}
	device_list_destroy(&vm->devices);
	bus_destroy(&vm->mmio);
	free(vm);
	return 0;
}
