// SPDX-License-Identifier: MIT
/* api.rst §4.52 KVM_SET_GSI_ROUTING, §4.75 KVM_IRQFD, §4.59 KVM_IOEVENTFD. */
#include "irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

int irq_routes_init(struct irq_routes *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->next_msi_gsi = IRQ_MSI_GSI_BASE;
	r->table = calloc(1, sizeof(*r->table));
	if (!r->table)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

void irq_routes_destroy(struct irq_routes *r)
{
	if (!r->table)
		return;
	free(r->table);
	r->table = NULL;
	pthread_mutex_destroy(&r->lock);
}

static int routes_commit(struct irq_routes *r)
{
	return ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->table) < 0 ? -errno : 0;
}

/* gsi's entry, a new (zeroed) one if it has none; NULL when full. */
static struct kvm_irq_routing_entry *route_slot(struct irq_routes *r, uint32_t gsi)
{
	struct kvm_irq_routing *t = r->table;

	for (unsigned int i = 0; i < t->nr; i++)
		if (t->entries[i].gsi == gsi)
			return &t->entries[i];
	if (t->nr == r->cap) {
		unsigned int cap = r->cap ? r->cap * 2 : 32;

		if (r->cap >= IRQ_MAX_ROUTES)
			return NULL;
		if (cap > IRQ_MAX_ROUTES)
			cap = IRQ_MAX_ROUTES;
		t = realloc(t, sizeof(*t) + cap * sizeof(t->entries[0]));
		if (!t)
			return NULL;
		r->table = t;
		r->cap = cap;
	}
	memset(&t->entries[t->nr], 0, sizeof(t->entries[0]));
	t->entries[t->nr].gsi = gsi;
	return &t->entries[t->nr++];
}

int irq_route_spi(struct irq_routes *r, uint32_t spi)
{
	struct kvm_irq_routing_entry *e;
	int err;

	pthread_mutex_lock(&r->lock);
	e = route_slot(r, spi);
	if (!e) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = 0;
	e->u.irqchip.pin = spi;
	err = routes_commit(r);
	pthread_mutex_unlock(&r->lock);
	return err;
}

uint32_t irq_msi_gsi_alloc(struct irq_routes *r)
{
	uint32_t gsi;

	pthread_mutex_lock(&r->lock);
	gsi = r->next_msi_gsi++;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

int irq_route_msi(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	struct kvm_irq_routing_entry *e;
	int err;

	pthread_mutex_lock(&r->lock);
	e = route_slot(r, gsi);
	if (!e) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	e->type = KVM_IRQ_ROUTING_MSI;
	e->flags = KVM_MSI_VALID_DEVID;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	e->u.msi.devid = devid;
	err = routes_commit(r);
	pthread_mutex_unlock(&r->lock);
	return err;
}

int irq_irqfd(int vm_fd, int efd, uint32_t gsi, bool assign)
{
	struct kvm_irqfd f = { .fd = (uint32_t)efd,
			       .gsi = gsi,
			       .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int irq_ioeventfd(int vm_fd, int efd, uint64_t addr, unsigned int len, bool match_data,
		  uint64_t match, bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = match,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = (match_data ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}
