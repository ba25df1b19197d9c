// SPDX-License-Identifier: MIT
/*
 * The platform devices (8250 UART, PL031 RTC) driven through their register
 * windows as a guest driver would, their save/load round trip, the MMIO bus
 * and checked guest memory, and the event loop's deletion rule.
 */
#include <stdlib.h>
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evloop.h"
#include "bus.h"
#include "guest_mem.h"
#include "pl031.h"
#include "state.h"
#include "tap.h"
#include "uart8250.h"

struct fake_irq {
	int level;
	int changes;
};

static void fake_irq_set(void *opaque, uint32_t line, int level)
{
	struct fake_irq *f = opaque;

	f->level = level;
	f->changes++;
}

struct sink {
	char buf[256];
	size_t n;
};

static void sink_tx(void *opaque, uint8_t b)
{
	struct sink *s = opaque;

	if (s->n < sizeof(s->buf) - 1)
		s->buf[s->n++] = (char)b;
}

static uint8_t rd(struct uart8250 *u, unsigned int reg)
{
	uint8_t d[8];

	uart8250_mmio(u, reg, d, 1, false);
	return d[0];
}

static void wr(struct uart8250 *u, unsigned int reg, uint8_t v)
{
	uart8250_mmio(u, reg, &v, 1, true);
}

static void test_uart(void)
{
	struct fake_irq fi = { 0 };
	struct irq_line irq = { fake_irq_set, &fi, 0 };
	struct uart8250 u, u2;
	struct sink out = { 0 };
	struct state_buf sb;
	uint8_t in[40];

	uart8250_init(&u, 0x1000000, 0, &irq);
	u.tx = sink_tx;
	u.tx_opaque = &out;

	is_int(rd(&u, 5) & 0x60, 0x60, "LSR: THR empty and transmitter idle");
	is_int(rd(&u, 2) & 0x0f, 0x01, "IIR: nothing pending at reset");
	wr(&u, 0, 'h'), wr(&u, 0, 'i');
	ok(out.n == 2 && !memcmp(out.buf, "hi", 2), "THR writes reach the console");

	wr(&u, 3, 0x80); /* DLAB */
	wr(&u, 0, 0x01), wr(&u, 1, 0x02);
	is_int(rd(&u, 0), 0x01, "DLL reads back with DLAB");
	is_int(rd(&u, 1), 0x02, "DLM reads back with DLAB");
	wr(&u, 3, 0x03);
	is_int(out.n, 2, "divisor writes are not transmitted");

	wr(&u, 1, 0x02); /* ETBEI */
	is_int(fi.level, 1, "enabling THRI with THR empty raises the line");
	is_int(rd(&u, 2) & 0x0f, 0x02, "IIR says THR empty");
	is_int(fi.level, 0, "reading IIR clears the THRE interrupt");
	wr(&u, 1, 0x00), wr(&u, 1, 0x02);
	is_int(fi.level, 1, "re-enabling THRI raises it again (no UART_BUG_THRE)");
	wr(&u, 1, 0x00);
	is_int(fi.level, 0, "disabling THRI lowers the line");

	wr(&u, 1, 0x01); /* ERBFI */
	is_int(uart8250_rx_push(&u, (const uint8_t *)"ab", 2), 2, "RX accepts input");
	is_int(fi.level, 1, "received data raises the line");
	is_int(rd(&u, 2) & 0x0f, 0x04, "IIR says data available");
	is_int(rd(&u, 5) & 0x01, 1, "LSR data ready");
	is_int(rd(&u, 0), 'a', "RBR gives bytes in order");
	is_int(rd(&u, 0), 'b', "RBR second byte");
	is_int(rd(&u, 5) & 0x01, 0, "LSR: no more data");
	is_int(fi.level, 0, "empty FIFO lowers the line");

	memset(in, 'x', sizeof(in));
	is_int(uart8250_rx_push(&u, in, sizeof(in)), UART8250_FIFO, "FIFO takes at most its depth");
	is_int(uart8250_rx_space(&u), 0, "FIFO full");

	/* Save while full and in a non-default configuration, load into a fresh UART. */
	wr(&u, 7, 0x5a);
	state_writer_init(&sb);
	is_int(u.dev.ops->save(&u.dev, &sb), 0, "UART saves");
	uart8250_init(&u2, 0x1000000, 0, &irq);
	{
		struct state_buf rb;

		state_reader_init(&rb, sb.data, sb.len);
		is_int(u2.dev.ops->load(&u2.dev, &rb, 1), 0, "UART loads");
		is_int(state_finish(&rb), 0, "load consumes the whole blob");
	}
	is_int(rd(&u2, 7), 0x5a, "scratch register restored");
	is_int(rd(&u2, 1), 0x01, "IER restored");
	is_int(uart8250_rx_space(&u2), 0, "FIFO contents restored");
	is_int(rd(&u2, 0), 'x', "FIFO byte restored");
	{
		struct state_buf rb;

		state_reader_init(&rb, sb.data, sb.len - 1);
		ok(u2.dev.ops->load(&u2.dev, &rb, 1) != 0 || state_finish(&rb) != 0,
		   "truncated state refused");
		sb.data[8] = 200; /* FIFO count beyond the depth */
		state_reader_init(&rb, sb.data, sb.len);
		is_int(u2.dev.ops->load(&u2.dev, &rb, 1), -EINVAL, "impossible FIFO count refused");
	}
	state_free(&sb);

	wr(&u, 4, 0x10); /* loopback */
	wr(&u, 2, 0x02); /* clear RX FIFO */
	wr(&u, 0, 'L');
	is_int(rd(&u, 0), 'L', "loopback returns what is sent");
	wr(&u, 4, 0x10 | 0x03);
	is_int(rd(&u, 6) & 0x30, 0x30, "loopback MSR mirrors DTR/RTS");

	uart8250_mmio(&u, 0x800, in, 4, false);
	is_int(in[0], 0, "offsets past the registers read zero");
	u.dev.ops->destroy(&u.dev);
	u2.dev.ops->destroy(&u2.dev);
}

static int64_t fake_now_val = 1000;
static int64_t fake_now(void)
{
	return fake_now_val;
}

static uint32_t rtc_rd(struct pl031 *r, uint64_t off)
{
	uint8_t d[4];

	pl031_mmio(r, off, d, 4, false);
	return bus_data_get(d, 4);
}

static void rtc_wr(struct pl031 *r, uint64_t off, uint32_t v)
{
	uint8_t d[4];

	bus_data_set(d, 4, v);
	pl031_mmio(r, off, d, 4, true);
}

static void test_rtc(void)
{
	struct fake_irq fi = { 0 };
	struct irq_line irq = { fake_irq_set, &fi, 1 };
	struct pl031 r, r2;
	struct state_buf sb, rb;

	is_int(pl031_init(&r, 0x1010000, 1, &irq, NULL), 0, "RTC initialises");
	r.now = fake_now;
	is_int(rtc_rd(&r, 0xfe0), 0x31, "PeriphID0 (AMBA probe)");
	is_int(rtc_rd(&r, 0xff0), 0x0d, "PCellID0");
	is_int(rtc_rd(&r, 0xffc), 0xb1, "PCellID3");
	is_int(rtc_rd(&r, 0x00), 1000, "DR follows the host clock");
	rtc_wr(&r, 0x08, 5000);
	is_int(rtc_rd(&r, 0x00), 5000, "LR sets the counter");
	fake_now_val += 10;
	is_int(rtc_rd(&r, 0x00), 5010, "counter advances with time");
	rtc_wr(&r, 0x04, 5010);
	rtc_wr(&r, 0x10, 1);
	is_int(fi.level, 1, "match now with the interrupt unmasked raises it");
	is_int(rtc_rd(&r, 0x18), 1, "MIS set");
	rtc_wr(&r, 0x1c, 1);
	is_int(fi.level, 0, "ICR clears it");

	state_writer_init(&sb);
	is_int(r.dev.ops->save(&r.dev, &sb), 0, "RTC saves");
	pl031_init(&r2, 0x1010000, 1, &irq, NULL);
	r2.now = fake_now;
	state_reader_init(&rb, sb.data, sb.len);
	is_int(r2.dev.ops->load(&r2.dev, &rb, 1), 0, "RTC loads");
	is_int(rtc_rd(&r2, 0x00), 5010, "restored counter keeps the guest's time");
	is_int(rtc_rd(&r2, 0x04), 5010, "restored match register");
	is_int(rtc_rd(&r2, 0x10), 1, "restored mask");
	state_free(&sb);
	r.dev.ops->destroy(&r.dev);
	r2.dev.ops->destroy(&r2.dev);
}

static void test_device_list_state(void)
{
	struct fake_irq fi = { 0 };
	struct irq_line irq = { fake_irq_set, &fi, 0 };
	struct device_list a, b;
	struct uart8250 u1, u2;
	struct pl031 r1, r2;
	struct state_buf sb, rb;

	device_list_init(&a);
	device_list_init(&b);
	uart8250_init(&u1, 0x1000000, 0, &irq);
	pl031_init(&r1, 0x1010000, 1, &irq, NULL);
	uart8250_init(&u2, 0x1000000, 0, &irq);
	pl031_init(&r2, 0x1010000, 1, &irq, NULL);
	device_list_add(&a, &u1.dev);
	device_list_add(&a, &r1.dev);
	device_list_add(&b, &u2.dev);
	device_list_add(&b, &r2.dev);
	wr(&u1, 7, 0x33);

	state_writer_init(&sb);
	is_int(device_list_save(&a, &sb), 0, "machine devices save");
	state_reader_init(&rb, sb.data, sb.len);
	is_int(device_list_load(&b, &rb), 0, "machine devices load");
	is_int(rd(&u2, 7), 0x33, "device state carried across by name");

	/* A blob from a newer format version is refused. */
	state_reader_init(&rb, sb.data, sb.len);
	sb.data[4 + 4 + strlen(u1.dev.name)] = 9;
	is_int(device_list_load(&b, &rb), -EINVAL, "unknown device state version refused");
	state_free(&sb);

	device_list_destroy(&a);
	device_list_destroy(&b);
}

static void nop_access(void *o, uint64_t off, uint8_t *d, unsigned int len, bool w)
{
	int *hits = o;

	(*hits)++;
	if (!w)
		bus_data_set(d, len, off);
}

static void test_bus_and_memory(void)
{
	struct bus bus;
	struct guest_mem gm = { 0 };
	uint8_t d[8], *ram = calloc(1, 8192);
	int hits = 0;

	bus_init(&bus);
	is_int(bus_add(&bus, 0x1000, 0x100, nop_access, &hits, "a"), 0, "region added");
	is_int(bus_add(&bus, 0x1080, 0x100, nop_access, &hits, "b"), -EBUSY, "overlap refused");
	is_int(bus_add(&bus, 0x2000, 0, nop_access, &hits, "c"), -EINVAL, "zero length refused");
	is_int(bus_add(&bus, ~0ULL - 10, 0x100, nop_access, &hits, "d"), -EINVAL,
	       "wrapping region refused");
	is_int(bus_add(&bus, 0x800, 0x800, nop_access, &hits, "e"), 0, "adjacent region added");
	ok(bus_access(&bus, 0x1010, d, 4, false) && bus_data_get(d, 4) == 0x10,
	   "access dispatched with offset");
	ok(!bus_access(&bus, 0x10fe, d, 4, false), "access straddling the end refused");
	ok(!bus_access(&bus, 0x3000, d, 4, false), "unmapped access refused");
	is_int(bus_remove(&bus, 0x1000), 0, "region removed");
	ok(!bus_access(&bus, 0x1010, d, 4, false), "removed region no longer answers");
	bus_destroy(&bus);

	is_int(guest_mem_add(&gm, 0x80000000, 8192, ram), 0, "RAM region added");
	is_int(guest_mem_add(&gm, 0x80001000, 8192, ram), -EINVAL, "overlapping RAM refused");
	ok(guest_mem_ptr(&gm, 0x80000000, 8192) == ram, "whole region translates");
	ok(!guest_mem_ptr(&gm, 0x80000001, 8192), "one byte past the end refused");
	ok(!guest_mem_ptr(&gm, 0x7fffffff, 2), "one byte before the start refused");
	ok(!guest_mem_ptr(&gm, ~0ULL - 2, 8), "wrapping range refused");
	ok(!guest_mem_ptr(&gm, 0x80000000, ~0ULL), "absurd length refused");
	is_int(guest_mem_write(&gm, 0x80001ffc, "abcd", 4), 0, "write at the very end");
	is_int(guest_mem_write(&gm, 0x80001ffd, "abcd", 4), -EFAULT, "write past the end refused");
	free(ram);
}

/*
 * Two ready eventfds; whichever callback runs first deletes the other's
 * handler. Both are in the same epoll batch: the deleted one must not run
 * (it used to be freed while the batch still named it).
 */
static struct evloop ev_loop;
static int ev_fd[3], ev_calls;

static void ev_cb(void *opaque, uint32_t events)
{
	int me = (int)(intptr_t)opaque;
	uint64_t v, one = 1;

	(void)events;
	if (read(ev_fd[me], &v, sizeof(v)) < 0) {
		/* Nothing to clear. */
	}
	ev_calls++;
	evloop_del(&ev_loop, ev_fd[1 - me]);
	evloop_del(&ev_loop, ev_fd[me]);
	if (write(ev_fd[2], &one, sizeof(one)) < 0) {
		/* Already signalled. */
	}
}

static void ev_stop(void *opaque, uint32_t events)
{
	(void)opaque, (void)events;
	evloop_stop(&ev_loop);
}

static void test_evloop_del(void)
{
	uint64_t one = 1;

	is_int(evloop_init(&ev_loop), 0, "evloop: created");
	for (int i = 0; i < 3; i++)
		ev_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ok(!evloop_add(&ev_loop, ev_fd[0], EPOLLIN, ev_cb, (void *)0) &&
		   !evloop_add(&ev_loop, ev_fd[1], EPOLLIN, ev_cb, (void *)1) &&
		   !evloop_add(&ev_loop, ev_fd[2], EPOLLIN, ev_stop, NULL),
	   "evloop: three handlers");
	ok(write(ev_fd[0], &one, 8) == 8 && write(ev_fd[1], &one, 8) == 8, "evloop: two ready");
	is_int(evloop_run(&ev_loop), 0, "evloop: ran until stopped");
	is_int(ev_calls, 1, "evloop: a handler deleted in the same batch is not called");
	is_int(evloop_del(&ev_loop, ev_fd[0]), -ENOENT, "evloop: a deleted fd is gone");
	evloop_destroy(&ev_loop);
	for (int i = 0; i < 3; i++)
		close(ev_fd[i]);
}

int main(void)
{
	test_uart();
	test_rtc();
	test_device_list_state();
	test_bus_and_memory();
	test_evloop_del();
	return tap_done();
}
