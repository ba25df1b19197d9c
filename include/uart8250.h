/* SPDX-License-Identifier: MIT */
/*
 * An 8250/16550A-compatible UART (the guest's ttyS0), byte registers at
 * stride 1. Transmit is immediate (THR always empty); receive goes through a
 * 16-byte FIFO fed by the console. Interrupts are level-triggered.
 */
#ifndef ARMVM_UART8250_H
#define ARMVM_UART8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

#define UART8250_FIFO 16
#define UART8250_CLOCK 1843200

struct uart8250 {
	struct device dev;
	pthread_mutex_t lock;
	struct irq_line irq;
	/* Transmitted bytes go here; called with the lock held. */
	void (*tx)(void *opaque, uint8_t byte);
	void *tx_opaque;
	/* Called (lock held) when the guest frees FIFO space. */
	void (*rx_ready)(void *opaque);
	void *rx_opaque;

	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool overrun;
	bool thre_pending;
	int irq_level;
	uint8_t rx[UART8250_FIFO];
	unsigned int rx_head, rx_count;
};

void uart8250_init(struct uart8250 *u, uint64_t base, uint32_t spi, const struct irq_line *irq);
void uart8250_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);
/* Queue received bytes; returns how many fit. */
size_t uart8250_rx_push(struct uart8250 *u, const uint8_t *buf, size_t n);
size_t uart8250_rx_space(struct uart8250 *u);

#endif
