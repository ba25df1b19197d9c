// SPDX-License-Identifier: MIT
//
// Small guest payloads for vCPU-level tests and `armvm selftest`, and the
// host-side helpers that must control the FP/SIMD/SVE registers exactly
// (no compiler between them and KVM_RUN).
//
// Payloads are position-independent; each starts 4 KiB-aligned so that its
// vector table (2 KiB-aligned, VBAR_EL1) keeps its alignment when copied to
// the start of guest RAM. Register contract on entry, set by the host:
//   x19  ucall address (MMIO outside RAM): a 64-bit store of the code
//   x20  dump buffer (guest-physical), x21 load buffer, x22 iterations
// The guest reports with `str xN, [x19]`; the host reads x1..x3 for more.

	.arch	armv8.2-a+sve

#define UCALL(code)		\
	mov	x0, #(code);	\
	str	x0, [x19]

// Enable FP/SIMD and SVE at EL1/EL0: CPACR_EL1.FPEN = ZEN = 0b11.
#define ENABLE_FP_SVE		\
	movz	x0, #0x33, lsl #16; \
	msr	cpacr_el1, x0;	\
	isb

	.section .rodata.guest, "a"

// Store Z0..Z31, P0..P15 and FFR, at the current VL, to [x20]: Z at
// n * VL, P at 32 * VL + n * VL/8, FFR after P15.
	.macro	DUMP_SVE
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	str	z\n, [x20, #\n, mul vl]
	.endr
	addvl	x1, x20, #16
	addvl	x1, x1, #16
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	str	p\n, [x1, #\n, mul vl]
	.endr
	rdffr	p0.b
	str	p0, [x1, #16, mul vl]
	ldr	p0, [x1, #0, mul vl]	// P0 back: the dump must not change state
	.endm

// The reverse, from [x21]: FFR first (through P0), then P, then Z.
	.macro	LOAD_SVE
	addvl	x1, x21, #16
	addvl	x1, x1, #16
	ldr	p0, [x1, #16, mul vl]
	wrffr	p0.b
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	ldr	p\n, [x1, #\n, mul vl]
	.endr
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ldr	z\n, [x21, #\n, mul vl]
	.endr
	.endm

// sve_regs: ucall 1 with x1 = VL after dumping what the host wrote
// through ONE_REG; then load the new patterns the host put in the load
// buffer and ucall 2 (the host reads them back through ONE_REG).
	.balign	4096
	.globl	guest_sve_regs, guest_sve_regs_end
guest_sve_regs:
	ENABLE_FP_SVE
	DUMP_SVE
	rdvl	x1, #1
	UCALL(1)
	LOAD_SVE
	UCALL(2)
1:	UCALL(3)
	b	1b
guest_sve_regs_end:

// sve_hold: load the pattern, then forever: spin x22 times, dump, ucall 1.
// The host checks every dump against the pattern while it preempts and
// migrates this vCPU's thread and runs SVE code beside it.
	.balign	4096
	.globl	guest_sve_hold, guest_sve_hold_end
guest_sve_hold:
	ENABLE_FP_SVE
	LOAD_SVE
1:	mov	x2, x22
2:	subs	x2, x2, #1
	b.ne	2b
	DUMP_SVE
	UCALL(1)
	b	1b
guest_sve_hold_end:

// idle: no FP at all; ucall 1 forever.
	.balign	4096
	.globl	guest_idle, guest_idle_end
guest_idle:
1:	UCALL(1)
	b	1b
guest_idle_end:

// fp_clobber: every exit, new values in V0..V31, FPCR and FPSR.
	.balign	4096
	.globl	guest_fp_clobber, guest_fp_clobber_end
guest_fp_clobber:
	ENABLE_FP_SVE
	mov	x5, #0x5a
1:	add	x5, x5, #1
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	dup	v\n\().16b, w5
	.endr
	and	x6, x5, #3
	lsl	x6, x6, #22		// FPCR.RMode
	msr	fpcr, x6
	and	x7, x5, #0x1f		// FPSR cumulative flags
	msr	fpsr, x7
	UCALL(1)
	b	1b
guest_fp_clobber_end:

// sve_clobber: every exit, new values in all of Z0..Z31, P0..P15, FFR.
	.balign	4096
	.globl	guest_sve_clobber, guest_sve_clobber_end
guest_sve_clobber:
	ENABLE_FP_SVE
	mov	x5, #0xa5
1:	add	x5, x5, #1
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	dup	z\n\().b, w5
	.endr
	.irp	n, 0,2,4,6,8,10,12,14
	ptrue	p\n\().b
	.endr
	.irp	n, 1,3,5,7,9,11,13,15
	pfalse	p\n\().b
	.endr
	setffr
	msr	fpcr, xzr
	UCALL(1)
	b	1b
guest_sve_clobber_end:

// probe_nosve: ucall 1 with x1 = ID_AA64PFR0_EL1 as the guest reads it;
// then try an SVE instruction (RDVL): ucall 2 with x1 = ESR_EL1 if it
// trapped, ucall 3 with x1 = its result if it ran.
	.balign	4096
	.globl	guest_probe_nosve, guest_probe_nosve_end
guest_probe_nosve:
	adr	x0, probe_vectors
	msr	vbar_el1, x0
	ENABLE_FP_SVE
	mrs	x1, id_aa64pfr0_el1
	UCALL(1)
	rdvl	x1, #1
	UCALL(3)
1:	b	1b
	.balign	2048
probe_vectors:
	.rept	16		// every vector: report ESR, never return
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mov	x0, #2
	str	x0, [x19]
	b	.
	.balign	128
	.endr
guest_probe_nosve_end:

	.text

// int st_kvm_run_fp(int fd, const uint8_t in[512], uint8_t out[512],
//                   const uint64_t ctl_in[2], uint64_t ctl_out[2])
// Load V0..V31 from in and FPCR/FPSR from ctl_in, issue KVM_RUN as a raw
// syscall, store V0..V31 to out and FPCR/FPSR to ctl_out. Returns the
// syscall's result (0 or -errno). Nothing runs between the loads, the
// syscall and the stores, so any change is the kernel's.
	.globl	st_kvm_run_fp
	.type	st_kvm_run_fp, %function
st_kvm_run_fp:
	stp	x29, x30, [sp, #-96]!
	mov	x29, sp
	stp	x19, x20, [sp, #16]
	stp	d8, d9, [sp, #32]	// AAPCS64: the low halves of v8-v15
	stp	d10, d11, [sp, #48]
	stp	d12, d13, [sp, #64]
	stp	d14, d15, [sp, #80]
	mov	x19, x2
	mov	x20, x4
	mrs	x9, fpcr
	str	x9, [sp, #-16]!
	ld1	{v0.16b-v3.16b}, [x1], #64
	ld1	{v4.16b-v7.16b}, [x1], #64
	ld1	{v8.16b-v11.16b}, [x1], #64
	ld1	{v12.16b-v15.16b}, [x1], #64
	ld1	{v16.16b-v19.16b}, [x1], #64
	ld1	{v20.16b-v23.16b}, [x1], #64
	ld1	{v24.16b-v27.16b}, [x1], #64
	ld1	{v28.16b-v31.16b}, [x1], #64
	ldp	x9, x10, [x3]
	msr	fpcr, x9
	msr	fpsr, x10
	mov	x1, #0xae80		// KVM_RUN = _IO(0xae, 0x80)
	mov	x2, #0
	mov	x8, #29			// __NR_ioctl
	svc	#0
	mov	x1, x19
	st1	{v0.16b-v3.16b}, [x1], #64
	st1	{v4.16b-v7.16b}, [x1], #64
	st1	{v8.16b-v11.16b}, [x1], #64
	st1	{v12.16b-v15.16b}, [x1], #64
	st1	{v16.16b-v19.16b}, [x1], #64
	st1	{v20.16b-v23.16b}, [x1], #64
	st1	{v24.16b-v27.16b}, [x1], #64
	st1	{v28.16b-v31.16b}, [x1], #64
	mrs	x9, fpcr
	mrs	x10, fpsr
	stp	x9, x10, [x20]
	ldr	x9, [sp], #16
	msr	fpcr, x9
	ldp	x19, x20, [sp, #16]
	ldp	d8, d9, [sp, #32]
	ldp	d10, d11, [sp, #48]
	ldp	d12, d13, [sp, #64]
	ldp	d14, d15, [sp, #80]
	ldp	x29, x30, [sp], #96
	ret
	.size	st_kvm_run_fp, . - st_kvm_run_fp

// void st_sve_spin(const uint8_t *in, uint8_t *out, uint64_t iters)
// Load Z0..Z31, P0..P15 and FFR from in (the DUMP_SVE layout at this
// thread's VL), spin, store them to out. No syscall in between (a syscall
// may discard SVE state by the ABI), so only preemption can touch them.
	.globl	st_sve_spin
	.type	st_sve_spin, %function
st_sve_spin:
	stp	x29, x30, [sp, #-112]!
	mov	x29, sp
	stp	x20, x21, [sp, #16]
	stp	d8, d9, [sp, #32]
	stp	d10, d11, [sp, #48]
	stp	d12, d13, [sp, #64]
	stp	d14, d15, [sp, #80]
	mov	x21, x0
	mov	x20, x1
	LOAD_SVE
1:	subs	x2, x2, #1
	b.ne	1b
	DUMP_SVE
	ldp	x20, x21, [sp, #16]
	ldp	d8, d9, [sp, #32]
	ldp	d10, d11, [sp, #48]
	ldp	d12, d13, [sp, #64]
	ldp	d14, d15, [sp, #80]
	ldp	x29, x30, [sp], #112
	ret
	.size	st_sve_spin, . - st_sve_spin

// uint64_t st_rdvl(void): this thread's SVE vector length in bytes.
	.globl	st_rdvl
	.type	st_rdvl, %function
st_rdvl:
	rdvl	x0, #1
	ret
	.size	st_rdvl, . - st_rdvl

	.section .note.GNU-stack, "", %progbits
