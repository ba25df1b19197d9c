/* SPDX-License-Identifier: MIT */
/*
 * Interrupt plumbing to KVM: the GSI routing table (SPI routes for irqfds,
 * MSI routes through the ITS, with device IDs), irqfds and ioeventfds.
 * KVM_SET_GSI_ROUTING replaces the whole table, so one owner keeps it.
 */
#ifndef ARMVM_IRQ_H
#define ARMVM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_MSI_GSI_BASE 1024 /* above every SPI */
#define IRQ_MAX_ROUTES 4096

struct kvm_irq_routing_entry;

/* The GSI routing table as KVM_SET_GSI_ROUTING takes it, grown as routes
 * come (a machine has a few dozen; IRQ_MAX_ROUTES at most). */
struct irq_routes {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned int cap;
	struct kvm_irq_routing *table; /* table->nr in use, room for cap */
	uint32_t next_msi_gsi;
};

int irq_routes_init(struct irq_routes *r, int vm_fd);
void irq_routes_destroy(struct irq_routes *r);
/* Route gsi == spi to that SPI (for irqfds on SPIs); commits. */
int irq_route_spi(struct irq_routes *r, uint32_t spi);
/* A new GSI for an MSI; not routed until irq_route_msi(). */
uint32_t irq_msi_gsi_alloc(struct irq_routes *r);
/* Point gsi at an MSI (address, data, device ID); commits. */
int irq_route_msi(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data, uint32_t devid);

/* irqfd: writes to efd inject gsi. */
int irq_irqfd(int vm_fd, int efd, uint32_t gsi, bool assign);
/*
 * ioeventfd: a guest write of len bytes at addr (with data == match if
 * match_data) signals efd without leaving the kernel.
 */
int irq_ioeventfd(int vm_fd, int efd, uint64_t addr, unsigned int len, bool match_data,
		  uint64_t match, bool assign);

#endif
