/* SPDX-License-Identifier: MIT */
/*
 * Arm PrimeCell PL031 real-time clock: a seconds counter with one match
 * (alarm) interrupt. The counter is the host's wall clock plus an offset the
 * guest sets through the load register.
 */
#ifndef ARMVM_PL031_H
#define ARMVM_PL031_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "evloop.h"

struct pl031 {
	struct device dev;
	pthread_mutex_t lock;
	struct irq_line irq;
	int timer_fd;	/* fires at the match time; -1 in unit tests */
	int64_t offset; /* guest seconds - host seconds */
	uint32_t mr, lr, imsc, ris;
	bool started;
	int irq_level;
	/* Host clock in seconds; replaceable in tests. */
	int64_t (*now)(void);
};

int pl031_init(struct pl031 *rtc, uint64_t base, uint32_t spi, const struct irq_line *irq,
	       struct evloop *loop);
void pl031_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
