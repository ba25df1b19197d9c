// SPDX-License-Identifier: MIT
// A bare-metal payload without an Image header: armvm must load it as a flat
// binary at RAM + 512 KiB and enter it at its first byte. It prints through
// the 8250 at 0x1000000 (kvmtool's address) and powers off with PSCI.
	.text
	.globl _start
_start:
	mov	x1, #0x1000000		// UART THR
	adr	x2, msg
1:	ldrb	w3, [x2], #1
	cbz	w3, 2f
	strb	w3, [x1]
	b	1b
2:	movz	x0, #0x0008
	movk	x0, #0x8400, lsl #16	// PSCI_0_2_FN_SYSTEM_OFF
	hvc	#0
3:	wfi
	b	3b
msg:	.asciz	"FLAT-BINARY-OK\r\n"
