// SPDX-License-Identifier: MIT
/*
 * The seccomp programs that vmm/jail.c writes, run here by a classic-BPF
 * interpreter of the test's own (the subset the kernel accepts for
 * seccomp) for every call number and for another architecture: each
 * kind's program must allow exactly its lists, raise SIGSYS for any other
 * call, and kill for another architecture's calls. The lab (tests/kvm/
 * jail.c) checks the same programs loaded in a real kernel.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "jail.h"
#include "tap.h"

/* Run prog on d; the return value, or ~0u if the program is malformed
 * (a jump out of range, a fall off the end, an instruction seccomp forbids). */
static uint32_t run(const struct sock_filter *p, size_t len, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	size_t pc = 0;

	for (int steps = 0; pc < len && steps < 4096; steps++) {
		const struct sock_filter *f = &p[pc++];
		uint32_t src = BPF_SRC(f->code) == BPF_X ? x : f->k;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (f->k % 4 || f->k + 4 > sizeof(*d))
				return ~0u;
			memcpy(&a, (const char *)d + f->k, 4);
			break;
		case BPF_LD | BPF_IMM:
			a = f->k;
			break;
		case BPF_LD | BPF_MEM:
		case BPF_ST:
			if (f->k >= BPF_MEMWORDS)
				return ~0u;
			if (f->code == BPF_ST)
				mem[f->k] = a;
			else
				a = mem[f->k];
			break;
		case BPF_MISC | BPF_TAX:
			x = a;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= src;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
		case BPF_ALU | BPF_RSH | BPF_X:
			if (src >= 32)
				return ~0u;
			a >>= src;
			break;
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
			if ((BPF_OP(f->code) == BPF_JEQ && a == src) ||
			    (BPF_OP(f->code) == BPF_JGE && a >= src))
				pc += f->jt;
			else
				pc += f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			return ~0u;
		}
	}
	return ~0u;
}

int main(void)
{
	static const char *const names[] = { "main", "vCPU", "I/O" };
	struct sock_filter prog[JAIL_PROG_MAX];

	is_int(jail_build(JAIL_NR, prog, JAIL_PROG_MAX), 0, "no program for a kind that is not");
	is_int(jail_build(JAIL_MAIN, prog, JAIL_PROG_MAX - 1), 0, "no program in a short buffer");
	for (int k = 0; k < JAIL_NR; k++) {
		size_t len = jail_build((enum jail_kind)k, prog, JAIL_PROG_MAX);
		struct seccomp_data d = { .arch = AUDIT_ARCH_AARCH64 };
		int wrong = -1, allowed = 0, listed = 0;

		ok(len > 0 && len <= JAIL_PROG_MAX, "%s: a program of %zu instructions", names[k],
		   len);
		/* Every number a 32-bit field can carry, sampled above 4096. */
		for (uint64_t nr = 0; nr <= 0xffffffffu; nr += nr < 4096 ? 1 : 0x10001) {
			uint32_t ret;
			bool want;

			d.nr = (int)nr;
			ret = run(prog, len, &d);
			want = jail_allows((enum jail_kind)k, (int)nr);
			listed += want;
			allowed += ret == SECCOMP_RET_ALLOW;
			if (ret != (want ? SECCOMP_RET_ALLOW : SECCOMP_RET_TRAP) && wrong < 0)
				wrong = (int)nr;
		}
		ok(wrong < 0,
		   "%s: every call number: allowed if listed, SIGSYS if not (first wrong: %d)",
		   names[k], wrong);
		ok(listed > 30 && allowed == listed, "%s: %d calls allowed, %d listed", names[k],
		   allowed, listed);
		d.nr = __NR_read;
		d.arch = AUDIT_ARCH_X86_64;
		is_int(run(prog, len, &d), SECCOMP_RET_KILL_PROCESS,
		       "%s: another architecture's call kills", names[k]);
		d.arch = AUDIT_ARCH_ARM;
		is_int(run(prog, len, &d), SECCOMP_RET_KILL_PROCESS, "%s: a 32-bit ARM call kills",
		       names[k]);
	}
	/* What the lists must say, whatever else changes. */
	for (int k = 0; k < JAIL_NR; k++) {
		ok(jail_allows((enum jail_kind)k, __NR_read) &&
			   jail_allows((enum jail_kind)k, __NR_ioctl) &&
			   jail_allows((enum jail_kind)k, __NR_futex),
		   "%s: read, ioctl and futex are allowed", names[k]);
		ok(!jail_allows((enum jail_kind)k, __NR_execve) &&
			   !jail_allows((enum jail_kind)k, __NR_umount2) &&
			   !jail_allows((enum jail_kind)k, __NR_ptrace) &&
			   !jail_allows((enum jail_kind)k, __NR_bpf) &&
			   !jail_allows((enum jail_kind)k, __NR_init_module),
		   "%s: execve, umount2, ptrace, bpf and init_module are not", names[k]);
	}
	ok(jail_allows(JAIL_MAIN, __NR_openat) && !jail_allows(JAIL_VCPU, __NR_openat) &&
		   !jail_allows(JAIL_IO, __NR_openat),
	   "only the main thread opens files");
	ok(jail_allows(JAIL_MAIN, __NR_clone) && !jail_allows(JAIL_VCPU, __NR_clone) &&
		   !jail_allows(JAIL_IO, __NR_clone),
	   "only the main thread starts threads");
	ok(jail_allows(JAIL_MAIN, __NR_epoll_pwait) && jail_allows(JAIL_IO, __NR_epoll_pwait) &&
		   !jail_allows(JAIL_VCPU, __NR_epoll_pwait),
	   "the main and I/O threads wait in epoll, a vCPU thread does not");
	ok(!strcmp(jail_syscall_name(__NR_umount2), "umount2") &&
		   !strcmp(jail_syscall_name(__NR_io_uring_enter), "io_uring_enter") &&
		   !strcmp(jail_syscall_name(-1), "?") &&
		   !strcmp(jail_syscall_name(JAIL_MAX_NR), "?"),
	   "the report names calls by their names");
	return tap_done();
}
