// SPDX-License-Identifier: MIT
// A hostile guest: a bare-metal payload (a flat binary, loaded at RAM +
// 512 KiB) that drives the virtio device at the first virtio-mmio slot the
// way no driver should: notifications before anything is set up, rings
// outside RAM, a queue size that is not a power of two, a descriptor
// cycle, an absurd length, a buffer outside RAM. After each, the device
// must say NEEDS_RESET (and armvm go on); after a reset a well-behaved
// request must still be served. It prints "HOSTILE <case> ok|FAIL" lines
// on the UART and powers off.
//  - hostile.bin: the virtio-rng (--nodefaults --virtio-transport mmio
//    --rng), its queue 0, device-writable buffers; armvm's own queue code
//    judges every descriptor;
//  - hostile-net.bin (-DHOSTILE_NET): a virtio-net with vhost=1; queue 0
//    (receive) well set up and empty, the abuse on queue 1 (transmit,
//    device-readable buffers), where the kernel's vhost judges the
//    descriptors and armvm turns its error eventfd into NEEDS_RESET.
// (MMU off: fine under the lab's emulation and on hosts with stage-2 FWB.)

	.text
	.globl	_start

#define UART	0x1000000
#define VMMIO	0x3000000
#define DESC	0x80200000
#define AVAIL	0x80201000
#define USED	0x80202000
#define BUF	0x80210000
#define RXDESC	0x80204000
#define RXAVAIL	0x80205000
#define RXUSED	0x80206000

#ifdef HOSTILE_NET
#define TQ	1	// the queue under test
#define FDATA	0	// transmit: device-readable
#define GOODLEN	0	// the device writes nothing into a transmit chain
#else
#define TQ	0
#define FDATA	2	// WRITE
#define GOODLEN	64
#endif

#define REG_MAGIC	0x000
#define REG_DRV_FEAT	0x020
#define REG_DRV_SEL	0x024
#define REG_QSEL	0x030
#define REG_QNUM	0x038
#define REG_QREADY	0x044
#define REG_NOTIFY	0x050
#define REG_STATUS	0x070
#define REG_DESC_LO	0x080
#define REG_DRIVER_LO	0x090
#define REG_DEVICE_LO	0x0a0

	.macro	wreg off, val
	mov	w1, #\val
	str	w1, [x20, #\off]
	.endm

	.macro	mov64 reg, val
	movz	\reg, #((\val) & 0xffff)
	movk	\reg, #(((\val) >> 16) & 0xffff), lsl #16
	.endm

	.macro	say msg
	adr	x0, \msg
	bl	puts
	.endm

_start:
	mov64	x20, VMMIO
	mov64	x21, UART
	ldr	w0, [x20, #REG_MAGIC]
	mov64	x1, 0x74726976
	cmp	w0, w1
	b.eq	1f
	say	m_nodev
	b	off
1:
	// Notifications before features, queues or status: ignored.
	str	wzr, [x20, #REG_NOTIFY]
	wreg	REG_NOTIFY, 5
	wreg	REG_NOTIFY, 0x7fff

	// Rings outside guest RAM.
	bl	negotiate
	mov64	x2, 0x10000000
	mov64	x3, 0x10001000
	mov64	x4, 0x10002000
	mov	w5, #8
	bl	setup_queue
	bl	expect_needs_reset
	say	m_outside

	// A queue size that is not a power of two.
	bl	negotiate
	mov64	x2, DESC
	mov64	x3, AVAIL
	mov64	x4, USED
	mov	w5, #3
	bl	setup_queue
	bl	expect_needs_reset
	say	m_size

	// A descriptor cycle: 0 -> 0, device-writable.
	bl	negotiate
	mov64	x6, BUF
	mov	w7, #64
	mov	w8, #(1 | FDATA)	// NEXT
	mov	w9, #0
	bl	one_request
	bl	expect_needs_reset
	say	m_cycle

	// An absurd length.
	bl	negotiate
	mov64	x6, BUF
	mov	w7, #0xffffffff
	mov	w8, #FDATA
	mov	w9, #0
	bl	one_request
	bl	expect_needs_reset
	say	m_length

	// A buffer outside RAM.
	bl	negotiate
	mov64	x6, 0x10000000
	mov	w7, #64
	mov	w8, #FDATA
	mov	w9, #0
	bl	one_request
	bl	expect_needs_reset
	say	m_bufout

	// Well-behaved, after all that: 64 bytes (random from the rng; a
	// 12-byte header and a 52-byte frame of zeroes into the tap).
	bl	negotiate
	mov64	x6, BUF
	mov	w7, #64
	mov	w8, #FDATA
	mov	w9, #0
	bl	one_request
	mov64	x10, USED
	mov64	x11, 200000000
2:	ldrh	w0, [x10, #2]		// used idx
	cmp	w0, #1
	b.eq	3f
	subs	x11, x11, #1
	b.ne	2b
	say	m_good_fail
	b	off
3:	ldr	w0, [x10, #8]		// used ring[0].len
	cmp	w0, #GOODLEN
	b.ne	4f
	say	m_good
	b	off
4:	say	m_good_fail

off:	movz	x0, #0x0008
	movk	x0, #0x8400, lsl #16	// PSCI SYSTEM_OFF
	hvc	#0
5:	wfi
	b	5b

// Reset, then ACK | DRIVER, VERSION_1 only, FEATURES_OK.
negotiate:
	str	wzr, [x20, #REG_STATUS]
	wreg	REG_STATUS, 1
	wreg	REG_STATUS, 3
	wreg	REG_DRV_SEL, 1
	wreg	REG_DRV_FEAT, 1
	wreg	REG_DRV_SEL, 0
	str	wzr, [x20, #REG_DRV_FEAT]
	wreg	REG_STATUS, 0xb
	ret

// Queue TQ with size w5 at desc x2, driver x3, device x4; ready; DRIVER_OK.
// (virtio-net: first its receive queue, well-formed and empty.)
setup_queue:
	mov	x14, x30
#ifdef HOSTILE_NET
	mov	x16, x2
	mov	x17, x3
	mov	x18, x4
	mov	w19, w5
	mov64	x1, RXAVAIL
	str	xzr, [x1]
	mov64	x1, RXUSED
	str	xzr, [x1]
	str	wzr, [x20, #REG_QSEL]
	mov64	x2, RXDESC
	mov64	x3, RXAVAIL
	mov64	x4, RXUSED
	mov	w5, #8
	bl	queue_regs
	mov	x2, x16
	mov	x3, x17
	mov	x4, x18
	mov	w5, w19
#endif
	mov	w1, #TQ
	str	w1, [x20, #REG_QSEL]
	bl	queue_regs
	wreg	REG_STATUS, 0xf
	mov	x30, x14
	ret

// The selected queue: size w5, desc x2, driver x3, device x4; ready.
queue_regs:
	str	w5, [x20, #REG_QNUM]
	str	w2, [x20, #REG_DESC_LO]
	lsr	x1, x2, #32
	str	w1, [x20, #REG_DESC_LO + 4]
	str	w3, [x20, #REG_DRIVER_LO]
	lsr	x1, x3, #32
	str	w1, [x20, #REG_DRIVER_LO + 4]
	str	w4, [x20, #REG_DEVICE_LO]
	lsr	x1, x4, #32
	str	w1, [x20, #REG_DEVICE_LO + 4]
	wreg	REG_QREADY, 1
	ret

// A good queue of 8; descriptor 0 = {x6, w7, w8, w9}; offered; notified.
one_request:
	mov	x15, x30
	mov64	x10, DESC
	str	x6, [x10]
	str	w7, [x10, #8]
	strh	w8, [x10, #12]
	strh	w9, [x10, #14]
	mov64	x10, USED
	str	xzr, [x10]
	str	xzr, [x10, #8]
	mov64	x10, AVAIL
	strh	wzr, [x10]		// flags
	strh	wzr, [x10, #4]		// ring[0] = 0
	mov	w1, #1
	strh	w1, [x10, #2]		// idx = 1
	mov64	x2, DESC
	mov64	x3, AVAIL
	mov64	x4, USED
	mov	w5, #8
	bl	setup_queue
	mov	w1, #TQ
	str	w1, [x20, #REG_NOTIFY]
	mov	x30, x15
	ret

// Wait (bounded) for NEEDS_RESET (0x40) in the status; on timeout say so.
expect_needs_reset:
	mov	x15, x30
	mov64	x11, 200000000
1:	ldr	w0, [x20, #REG_STATUS]
	tbnz	w0, #6, 2f
	subs	x11, x11, #1
	b.ne	1b
	say	m_no_reset
2:	mov	x30, x15
	ret

// Print the NUL-terminated string at x0.
puts:
1:	ldrb	w1, [x0], #1
	cbz	w1, 2f
	strb	w1, [x21]
	b	1b
2:	ret

m_nodev:	.asciz	"HOSTILE no virtio-mmio device at 0x3000000 FAIL\r\n"
m_no_reset:	.asciz	"HOSTILE (the next case) FAIL: no NEEDS_RESET\r\n"
m_outside:	.asciz	"HOSTILE rings-outside-RAM done\r\n"
m_size:		.asciz	"HOSTILE queue-size-3 done\r\n"
m_cycle:	.asciz	"HOSTILE descriptor-cycle done\r\n"
m_length:	.asciz	"HOSTILE absurd-length done\r\n"
m_bufout:	.asciz	"HOSTILE buffer-outside-RAM done\r\n"
m_good:		.asciz	"HOSTILE well-behaved-after-reset ok\r\n"
m_good_fail:	.asciz	"HOSTILE well-behaved-after-reset FAIL\r\n"
