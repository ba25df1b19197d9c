// SPDX-License-Identifier: MIT
/*
 * 8250/16550A UART, after the TI PC16550D datasheet (register map, IIR
 * priorities). The guest's 8250 driver probes it through the device tree
 * ("ns16550a"), so no autoconfiguration quirks are needed, but it does test
 * that THRE is re-raised when ETBEI is set again (UART_BUG_THRE), which the
 * datasheet behaviour below gives.
 */
#include "uart8250.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

enum {
	UART_RBR_THR = 0, /* DLL when LCR.DLAB */
	UART_IER = 1,	  /* DLM when LCR.DLAB */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08
#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static uint8_t uart_iir(struct uart8250 *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	/* Highest priority first: line status, data, THR empty, modem. */
	if ((u->ier & IER_RLSI) && u->overrun)
		return fifo | IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count)
		return fifo | IIR_RDI;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NO_INT;
}

static void uart_update_irq(struct uart8250 *u)
{
	int level = !(uart_iir(u) & IIR_NO_INT);

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

static void uart_rx_put(struct uart8250 *u, uint8_t b)
{
	if (u->rx_count == UART8250_FIFO) {
		u->overrun = true;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART8250_FIFO] = b;
	u->rx_count++;
}

static uint8_t uart_msr(struct uart8250 *u)
{
	if (u->mcr & MCR_LOOP) /* loopback: MCR outputs feed the inputs */
		return (u->mcr & MCR_DTR ? MSR_DSR : 0) | (u->mcr & MCR_RTS ? MSR_CTS : 0) |
		       (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0);
	return MSR_DCD | MSR_DSR | MSR_CTS;
}

static uint8_t uart_read(struct uart8250 *u, unsigned int reg)
{
	uint8_t v = 0, iir;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			bool was_full = u->rx_count == UART8250_FIFO;

			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART8250_FIFO;
			u->rx_count--;
			if (was_full && u->rx_ready)
				u->rx_ready(u->rx_opaque);
		}
		return v;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR:
		iir = uart_iir(u);
		/* Reading IIR clears a THRE interrupt it reports. */
		if ((iir & 0x0f) == IIR_THRI)
			u->thre_pending = false;
		return iir;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->overrun ? LSR_OE : 0);
		u->overrun = false; /* reading LSR clears the error bits */
		return v;
	case UART_MSR:
		return uart_msr(u);
	case UART_SCR:
		return u->scr;
	}
	return 0;
}

static void uart_write(struct uart8250 *u, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			break;
		}
		if (u->mcr & MCR_LOOP)
			uart_rx_put(u, v);
		else if (u->tx)
			u->tx(u->tx_opaque, v);
		/* The byte leaves at once, so THR is empty again. */
		u->thre_pending = true;
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises it (PC16550D). */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thre_pending = true;
		u->ier = v & 0x0f;
		break;
	case UART_IIR_FCR:
		if (v & FCR_CLEAR_RX) {
			bool was_full = u->rx_count == UART8250_FIFO;

			u->rx_count = 0;
			u->rx_head = 0;
			if (was_full && u->rx_ready)
				u->rx_ready(u->rx_opaque);
		}
		u->fcr = v & 0xc9;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default: /* LSR and MSR writes have no effect */
		break;
	}
}

void uart8250_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct uart8250 *u = opaque;

	/* Registers are bytes; wider accesses act on the low byte. */
	if (offset >= 8 || !len) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&u->lock);
	if (is_write)
		uart_write(u, (unsigned int)offset, data[0]);
	else
		data[0] = uart_read(u, (unsigned int)offset);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart8250_rx_space(struct uart8250 *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = UART8250_FIFO - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart8250_rx_push(struct uart8250 *u, const uint8_t *buf, size_t n)
{
	size_t done = 0;

	pthread_mutex_lock(&u->lock);
	while (done < n && u->rx_count < UART8250_FIFO)
		uart_rx_put(u, buf[done++]);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return done;
}

static void uart_reset(struct device *dev)
{
	struct uart8250 *u = dev->priv;

	pthread_mutex_lock(&u->lock);
	u->ier = u->lcr = u->mcr = u->scr = u->fcr = u->dll = u->dlm = 0;
	u->overrun = u->thre_pending = false;
	u->rx_head = u->rx_count = 0;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static int uart_save(struct device *dev, struct state_buf *sb)
{
	struct uart8250 *u = dev->priv;
	uint8_t regs[7];

	pthread_mutex_lock(&u->lock);
	regs[0] = u->ier, regs[1] = u->lcr, regs[2] = u->mcr, regs[3] = u->scr;
	regs[4] = u->fcr, regs[5] = u->dll, regs[6] = u->dlm;
	state_put_bytes(sb, regs, sizeof(regs));
	state_put_u8(sb, u->overrun | u->thre_pending << 1);
	state_put_u8(sb, (uint8_t)u->rx_count);
	for (unsigned int i = 0; i < u->rx_count; i++)
		state_put_u8(sb, u->rx[(u->rx_head + i) % UART8250_FIFO]);
	pthread_mutex_unlock(&u->lock);
	return state_error(sb);
}

static int uart_load(struct device *dev, struct state_buf *sb, uint32_t ver)
{
	struct uart8250 *u = dev->priv;
	uint8_t regs[7], flags, count;

	(void)ver;
	state_get_bytes(sb, regs, sizeof(regs));
	flags = state_get_u8(sb);
	count = state_get_u8(sb);
	if (state_error(sb) || count > UART8250_FIFO)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->ier = regs[0] & 0x0f, u->lcr = regs[1], u->mcr = regs[2] & 0x1f;
	u->scr = regs[3], u->fcr = regs[4] & 0xc9, u->dll = regs[5];
	u->dlm = regs[6];
	u->overrun = flags & 1;
	u->thre_pending = flags & 2;
	u->rx_head = 0;
	u->rx_count = 0;
	for (unsigned int i = 0; i < count; i++)
		uart_rx_put(u, state_get_u8(sb));
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return state_error(sb);
}

static int uart_fdt(struct device *dev, void *fdt)
{
	static const char compat[] = "ns16550a";
	int err = device_fdt_begin(dev, fdt, NULL, compat, sizeof(compat), DEVICE_IRQ_LEVEL_HIGH);

	if (!err)
		err = fdt_property_cell(fdt, "clock-frequency", UART8250_CLOCK);
	if (!err)
		err = fdt_end_node(fdt);
	return err ? -EINVAL : 0;
}

static void uart_destroy(struct device *dev)
{
	struct uart8250 *u = dev->priv;

	pthread_mutex_destroy(&u->lock);
}

static const struct device_ops uart8250_ops = {
	.type = "uart8250",
	.state_version = 1,
	.fdt = uart_fdt,
	.reset = uart_reset,
	.save = uart_save,
	.load = uart_load,
	.destroy = uart_destroy,
};

void uart8250_init(struct uart8250 *u, uint64_t base, uint32_t spi, const struct irq_line *irq)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->irq = *irq;
	device_init(&u->dev, &uart8250_ops, u, "uart", base, 8, spi);
}
