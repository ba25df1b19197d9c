// SPDX-License-Identifier: MIT
/*
 * A hostile guest on PCI, in C: a bare-metal payload (flat binary at RAM +
 * 512 KiB, MMU off, built -ffreestanding -mstrict-align) run with
 * `--virtio-transport pci -d DISK` on a GICv3 ITS machine: slot 0 is a
 * virtio-blk function with MSI-X. It abuses
 *   - config space: BAR0 sized, then moved onto RAM, onto the GIC, onto
 *     the MSI-X BAR, outside the window; the capability pointer and the
 *     read-only IDs written; reads past the end;
 *   - the MSI-X table and PBA: writes past the table, into the PBA, with
 *     odd sizes;
 *   - the virtio-pci common config: queue_select out of range, a queue
 *     size above the maximum, a queue enabled twice, rings outside RAM;
 *   - virtio-blk requests: a header the device may write, a status byte
 *     it may not, a length not a multiple of 512, a sector past the end, a
 *     status byte outside RAM;
 * and after each, armvm must still be there (this code runs on), the
 * device must report NEEDS_RESET or ignore the abuse (an I/O error for a
 * bad request), and a well-behaved read must work after a reset. It prints
 * "HOSTILE-PCI <case> ok|FAIL" on the UART and powers off.
 */
#include <stdint.h>

#define UART 0x1000000UL
#define ECAM 0x40000000UL
#define PCI_WIN 0x50000000UL
#define GIC 0x3fff0000UL
#define RAM 0x80000000UL

#define DESC (RAM + 0x200000)
#define AVAIL (RAM + 0x201000)
#define USED (RAM + 0x202000)
#define HDR (RAM + 0x210000)
#define DATA (RAM + 0x211000)
#define STATUS (RAM + 0x212000)

/* virtio-pci common config (virtio 1.2 §4.1.4.3) */
#define C_STATUS 0x14
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QENABLE 0x1c
#define C_QNOTIFY_OFF 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30
#define C_GFSEL 0x08
#define C_GF 0x0c

static uint64_t bar0, common, notify, isr;
static uint32_t notify_mul;
static int fails;

static inline void w8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline void w16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline void w32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline void w64(uint64_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}
static inline uint8_t r8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}
static inline uint16_t r16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}
static inline uint32_t r32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}

static void puts_(const char *s)
{
	while (*s)
		w8(UART, (uint8_t)*s++);
}

static void say(const char *what, int good)
{
	puts_("HOSTILE-PCI ");
	puts_(what);
	puts_(good ? " ok\r\n" : " FAIL\r\n");
	fails += !good;
}

static uint64_t cfg(unsigned int off)
{
	return ECAM + off;
} /* slot 0 */

static void zero(uint64_t a, unsigned int n)
{
	for (unsigned int i = 0; i < n; i += 8)
		w64(a + i, 0);
}

/* Find the virtio capabilities and BAR0 (§4.1.4). */
static int probe(void)
{
	unsigned int cap;

	if (r16(cfg(0)) != 0x1af4 || r16(cfg(2)) != 0x1042)
		return 0;
	bar0 = r32(cfg(0x10)) & ~0xfUL;
	for (cap = r8(cfg(0x34)); cap; cap = r8(cfg(cap + 1))) {
		if (r8(cfg(cap)) != 0x09)
			continue;
		uint8_t type = r8(cfg(cap + 3));
		uint32_t off = r32(cfg(cap + 8));

		if (type == 1)
			common = bar0 + off;
		else if (type == 2) {
			notify = bar0 + off;
			notify_mul = r32(cfg(cap + 16));
		} else if (type == 3)
			isr = bar0 + off;
	}
	return common && notify && isr;
}

static void reset(void)
{
	w8(common + C_STATUS, 0);
	for (int i = 0; i < 1000000 && r8(common + C_STATUS); i++)
		;
}

static int wait_needs_reset(void)
{
	for (long i = 0; i < 20000000; i++)
		if (r8(common + C_STATUS) & 0x40)
			return 1;
	return 0;
}

/* ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK. */
static void negotiate(void)
{
	reset();
	zero(DESC, 0x3000); /* descriptors, avail and used rings */
	w8(common + C_STATUS, 1 | 2);
	w32(common + C_GFSEL, 1);
	w32(common + C_GF, 1); /* VERSION_1 */
	w32(common + C_GFSEL, 0);
	w32(common + C_GF, 0);
	w8(common + C_STATUS, 1 | 2 | 8);
}

static void queue0(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	w16(common + C_QSEL, 0);
	w16(common + C_QSIZE, size);
	w64(common + C_QDESC, desc);
	w64(common + C_QDRIVER, avail);
	w64(common + C_QDEVICE, used);
	w16(common + C_QENABLE, 1);
}

static void desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t d = DESC + 16 * (uint64_t)i;

	w64(d, addr);
	w32(d + 8, len);
	w16(d + 12, flags);
	w16(d + 14, next);
}

/* Offer chain `head` and kick queue 0; wait for the used index to reach n. */
static int submit(uint16_t head, uint16_t n)
{
	uint16_t idx = r16(AVAIL + 2);

	w16(AVAIL + 4 + 2 * (idx % 8), head);
	w16(AVAIL + 2, (uint16_t)(idx + 1));
	w16(notify + notify_mul * r16(common + C_QNOTIFY_OFF), 0);
	for (long i = 0; i < 20000000; i++)
		if (r16(USED + 2) == n)
			return 1;
	return 0;
}

/* A blk request: header (type, sector), data, status. */
static void blk_req(uint32_t type, uint64_t sector, uint32_t len, uint16_t hflags, uint16_t sflags,
		    uint64_t status)
{
	w32(HDR, type);
	w32(HDR + 4, 0);
	w64(HDR + 8, sector);
	w8(status < RAM ? STATUS : status, 0xaa);
	desc(0, HDR, 16, (uint16_t)(1 | hflags), 1);
	desc(1, DATA, len, 1 | 2, 2); /* NEXT | WRITE: a read */
	desc(2, status, 1, sflags, 0);
}

/* After a reset: a good 4 KiB read from sector 0 works. */
static int well_behaved(void)
{
	negotiate();
	queue0(8, DESC, AVAIL, USED);
	w8(common + C_STATUS, 1 | 2 | 8 | 4);
	blk_req(0, 0, 4096, 0, 2, STATUS);
	return submit(0, 1) && r8(STATUS) == 0 && (r8(common + C_STATUS) & 0x40) == 0;
}

int main(void);
int main(void)
{
	uint32_t v, bar1;

	if (!probe()) {
		say("no virtio-blk function at slot 0", 0);
		return 1;
	}
	say("well-behaved-first", well_behaved());

	/* Config space: BAR sizing, then BAR0 onto RAM, the GIC, BAR1, out. */
	w32(cfg(0x10), 0xffffffff);
	v = r32(cfg(0x10));
	say("bar-sizing-reads-the-size-mask", (v & ~0xfU) == 0xffffc000U);
	bar1 = r32(cfg(0x14)) & ~0xfU;
	w32(RAM + 0x300000, 0x5a5a1234);
	w32(cfg(0x10), (uint32_t)(RAM + 0x300000));
	say("bar-onto-RAM-leaves-RAM-alone", r32(RAM + 0x300000) == 0x5a5a1234);
	w32(cfg(0x10), (uint32_t)GIC);
	w32(cfg(0x10), bar1);		/* onto the MSI-X BAR */
	w32(cfg(0x10), 0xfffff000U);	/* beyond the window */
	w32(cfg(0x10), (uint32_t)bar0); /* home again */
	say("bar-moves-survived-and-home-again", r16(common + 0x12) == 1);
	/* Read-only fields stay, capability pointer included. */
	w16(cfg(0), 0x1234);
	w8(cfg(0x34), 0x80);
	w32(cfg(0x08), 0);
	say("read-only-config-unchanged",
	    r16(cfg(0)) == 0x1af4 && r8(cfg(0x34)) != 0x80 && r32(cfg(0x08)) != 0);
	(void)r32(cfg(0xffc)); /* past the end of type-0 space: reads nothing */
	w32(cfg(0x100), 0xdeadbeef);
	say("config-past-the-end-ignored", r32(cfg(0x100)) == 0 || r32(cfg(0x100)) == 0xffffffff);

	/* MSI-X table and PBA (BAR1): past the table, the PBA, odd sizes. */
	w32(bar1 + 16 * 63 + 12, 0); /* beyond the vectors the device has */
	w64(bar1 + 0x800, ~0ULL);    /* the PBA is read-only */
	w8(bar1 + 3, 0xff);	     /* a byte into an entry */
	w16(bar1 + 0x7fe, 0xffff);
	say("msix-abuse-survived", well_behaved());

	/* Common config: queue_select out of range; a size above the max. */
	negotiate();
	w16(common + C_QSEL, 200);
	w16(common + C_QSIZE, 8);
	say("queue-select-out-of-range-reads-zero", r16(common + C_QSIZE) == 0);
	w16(common + C_QSEL, 0);
	queue0(1024, DESC, AVAIL, USED);
	w8(common + C_STATUS, 1 | 2 | 8 | 4);
	say("queue-size-above-max-needs-reset", wait_needs_reset());
	say("well-behaved-after-reset-1", well_behaved());

	/* Enable twice, with the rings moved under the second. */
	negotiate();
	queue0(8, DESC, AVAIL, USED);
	w64(common + C_QDESC, 0x10000000UL);
	w16(common + C_QENABLE, 1);
	w8(common + C_STATUS, 1 | 2 | 8 | 4);
	blk_req(0, 0, 512, 0, 2, STATUS);
	say("enable-twice-keeps-the-first-rings", submit(0, 1) && r8(STATUS) == 0);
	say("well-behaved-after-reset-2", well_behaved());

	/* Rings outside RAM. */
	negotiate();
	queue0(8, 0x10000000UL, AVAIL, USED);
	w8(common + C_STATUS, 1 | 2 | 8 | 4);
	say("rings-outside-RAM-needs-reset", wait_needs_reset());
	say("well-behaved-after-reset-3", well_behaved());

	/* virtio-blk requests the device must refuse: an I/O error. */
	blk_req(0, 0, 512, 2, 2, STATUS); /* header device-writable */
	say("blk-writable-header-ioerr", submit(0, 2) && r8(STATUS) == 1);
	blk_req(0, 0, 100, 0, 2, STATUS); /* not a multiple of 512 */
	say("blk-odd-length-ioerr", submit(0, 3) && r8(STATUS) == 1);
	blk_req(0, 1ULL << 40, 512, 0, 2, STATUS); /* past the end */
	say("blk-past-the-end-ioerr", submit(0, 4) && r8(STATUS) == 1);
	blk_req(7, 0, 512, 0, 2, STATUS); /* an unknown type */
	say("blk-unknown-type-unsupp", submit(0, 5) && r8(STATUS) == 2);
	say("blk-device-still-live", (r8(common + C_STATUS) & 0x40) == 0);
	/* ... or breaks the queue: NEEDS_RESET, the status byte untouched. */
	blk_req(0, 0, 512, 0, 0, STATUS); /* status device-readable */
	submit(0, 6);
	say("blk-readable-status-needs-reset", wait_needs_reset() && r8(STATUS) == 0xaa);
	say("well-behaved-after-reset-4", well_behaved());
	blk_req(0, 0, 512, 0, 2, 0x10000000UL); /* status outside RAM */
	submit(0, 2);
	say("blk-status-outside-RAM-needs-reset", wait_needs_reset());
	say("well-behaved-after-reset-5", well_behaved());

	puts_(fails ? "HOSTILE-PCI done with failures\r\n" : "HOSTILE-PCI all done\r\n");
	return 0;
}

/* Entry: a stack below the payload, then main, then PSCI SYSTEM_OFF. */
__asm__(".section .text.start\n"
	".globl _start\n"
	"_start:\n"
	"	movz x0, #0x8007, lsl #16\n" /* sp = 0x80070000 */
	"	mov sp, x0\n"
	"	bl main\n"
	"	movz x0, #0x0008\n"
	"	movk x0, #0x8400, lsl #16\n"
	"	hvc #0\n"
	"1:	wfi\n"
	"	b 1b\n");
