// SPDX-License-Identifier: MIT
/*
 * PL031, after the ARM PrimeCell Real Time Clock (PL031) Technical
 * Reference Manual, DDI 0224: register map §3.2, identification registers
 * §3.3 (Linux's AMBA bus reads them to bind the driver).
 */
#include "pl031.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "devtree.h"
#include "layout.h"
#include "util.h"

enum {
	RTC_DR = 0x00,
	RTC_MR = 0x04,
	RTC_LR = 0x08,
	RTC_CR = 0x0c,
	RTC_IMSC = 0x10,
	RTC_RIS = 0x14,
	RTC_MIS = 0x18,
	RTC_ICR = 0x1c,
	RTC_ID = 0xfe0, /* PeriphID0..3, PCellID0..3 */
};

static const uint8_t pl031_id[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

static int64_t host_seconds(void)
{
	return (int64_t)time(NULL);
}

static uint32_t rtc_count(struct pl031 *rtc)
{
	return (uint32_t)(rtc->now() + rtc->offset);
}

static void rtc_update_irq(struct pl031 *rtc)
{
	int level = !!(rtc->ris & rtc->imsc & 1);

	if (level != rtc->irq_level) {
		rtc->irq_level = level;
		irq_line_set(&rtc->irq, level);
	}
}

/* Arm the host timer for the next time the counter equals MR. */
static void rtc_arm(struct pl031 *rtc)
{
	struct itimerspec its = { 0 };
	uint32_t delta = rtc->mr - rtc_count(rtc); /* wraps like the counter */

	if (delta == 0) {
		rtc->ris |= 1;
		return;
	}
	if (rtc->timer_fd < 0)
		return;
	its.it_value.tv_sec = delta;
	timerfd_settime(rtc->timer_fd, 0, &its, NULL);
}

static void rtc_timer(void *opaque, uint32_t events)
{
	struct pl031 *rtc = opaque;
	uint64_t expirations;

	(void)events;
	if (read(rtc->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	pthread_mutex_lock(&rtc->lock);
	if (rtc_count(rtc) == rtc->mr)
		rtc->ris |= 1;
	else
		rtc_arm(rtc); /* the guest moved the clock meanwhile */
	rtc_update_irq(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

void pl031_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct pl031 *rtc = opaque;
	uint32_t v = (uint32_t)bus_data_get(data, len > 4 ? 4 : len);

	pthread_mutex_lock(&rtc->lock);
	if (is_write) {
		switch (offset) {
		case RTC_MR:
			rtc->mr = v;
			rtc_arm(rtc);
			break;
		case RTC_LR:
			rtc->lr = v;
			rtc->offset = (int64_t)v - rtc->now();
			rtc_arm(rtc);
			break;
		case RTC_CR:
			/* Writing 1 starts the clock; once started it runs. */
			if (v & 1)
				rtc->started = true;
			break;
		case RTC_IMSC:
			rtc->imsc = v & 1;
			break;
		case RTC_ICR:
			rtc->ris &= ~(v & 1);
			break;
		default:
			break;
		}
	} else {
		switch (offset) {
		case RTC_DR:
			v = rtc_count(rtc);
			break;
		case RTC_MR:
			v = rtc->mr;
			break;
		case RTC_LR:
			v = rtc->lr;
			break;
		case RTC_CR:
			v = rtc->started;
			break;
		case RTC_IMSC:
			v = rtc->imsc;
			break;
		case RTC_RIS:
			v = rtc->ris;
			break;
		case RTC_MIS:
			v = rtc->ris & rtc->imsc;
			break;
		default:
			v = 0;
			if (offset >= RTC_ID && offset < RTC_ID + 32 && !(offset & 3))
				v = pl031_id[(offset - RTC_ID) / 4];
			break;
		}
		bus_data_set(data, len > 4 ? 4 : len, v);
	}
	rtc_update_irq(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_reset(struct device *dev)
{
	struct pl031 *rtc = dev->priv;

	pthread_mutex_lock(&rtc->lock);
	/* The clock keeps its time across a reset, as a battery RTC does. */
	rtc->mr = rtc->imsc = rtc->ris = 0;
	rtc_update_irq(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

static int rtc_save(struct device *dev, struct state_buf *sb)
{
	struct pl031 *rtc = dev->priv;

	pthread_mutex_lock(&rtc->lock);
	state_put_u64(sb, (uint64_t)rtc->offset);
	state_put_u32(sb, rtc->mr);
	state_put_u32(sb, rtc->lr);
	state_put_u32(sb, rtc->imsc);
	state_put_u32(sb, rtc->ris);
	state_put_u8(sb, rtc->started);
	pthread_mutex_unlock(&rtc->lock);
	return state_error(sb);
}

static int rtc_load(struct device *dev, struct state_buf *sb, uint32_t ver)
{
	struct pl031 *rtc = dev->priv;
	int64_t offset = (int64_t)state_get_u64(sb);
	uint32_t mr = state_get_u32(sb), lr = state_get_u32(sb);
	uint32_t imsc = state_get_u32(sb), ris = state_get_u32(sb);
	uint8_t started = state_get_u8(sb);

	(void)ver;
	if (state_error(sb))
		return state_error(sb);
	pthread_mutex_lock(&rtc->lock);
	rtc->offset = offset;
	rtc->mr = mr;
	rtc->lr = lr;
	rtc->imsc = imsc & 1;
	rtc->ris = ris & 1;
	rtc->started = started & 1;
	rtc_arm(rtc);
	rtc_update_irq(rtc);
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}

static int rtc_fdt(struct device *dev, void *fdt)
{
	static const char compat[] = "arm,pl031\0arm,primecell";
	int err = device_fdt_begin(dev, fdt, NULL, compat, sizeof(compat), DEVICE_IRQ_LEVEL_HIGH);

	/* AMBA devices need their bus clock: the fixed "apb-pclk" node. */
	if (!err)
		err = fdt_property_cell(fdt, "clocks", DEVTREE_PHANDLE_APB_PCLK);
	if (!err)
		err = fdt_property_string(fdt, "clock-names", "apb_pclk");
	if (!err)
		err = fdt_end_node(fdt);
	return err ? -EINVAL : 0;
}

static void rtc_destroy(struct device *dev)
{
	struct pl031 *rtc = dev->priv;

	if (rtc->timer_fd >= 0)
		close(rtc->timer_fd);
	pthread_mutex_destroy(&rtc->lock);
}

static const struct device_ops pl031_ops = {
	.type = "pl031",
	.state_version = 1,
	.fdt = rtc_fdt,
	.reset = rtc_reset,
	.save = rtc_save,
	.load = rtc_load,
	.destroy = rtc_destroy,
};

int pl031_init(struct pl031 *rtc, uint64_t base, uint32_t spi, const struct irq_line *irq,
	       struct evloop *loop)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->irq = *irq;
	rtc->now = host_seconds;
	rtc->timer_fd = -1;
	rtc->started = true;
	device_init(&rtc->dev, &pl031_ops, rtc, "rtc", base, LAYOUT_RTC_SIZE, spi);
	if (loop) {
		int err;

		rtc->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
		if (rtc->timer_fd < 0)
			return -errno;
		err = evloop_add(loop, rtc->timer_fd, EPOLLIN, rtc_timer, rtc);
		if (err) {
			close(rtc->timer_fd);
			rtc->timer_fd = -1;
			return err;
		}
	}
	return 0;
}
