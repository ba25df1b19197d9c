// SPDX-License-Identifier: MIT
/*
 * Save and restore of the in-kernel GICv3 and its ITS through the device
 * attributes (Documentation/virt/kvm/devices/arm-vgic-v3.rst and
 * arm-vgic-its.rst). The save writes a list of register writes in the
 * order a restore must make them, and the restore replays it:
 *
 *   GICD_IIDR, GICD_CTLR
 *   each redistributor's PROPBASER and PENDBASER (before GICR_CTLR: once
 *     LPIs are enabled they are read-only)
 *   each redistributor: CTLR, WAKER, then its SGI/PPI configuration
 *     before pending and active state (clear-all, then set)
 *   the SPIs: enables, groups, routes, configuration, line levels, then
 *     pending and active state, priorities
 *   each CPU interface: ICC_SRE, ICC_CTLR before the rest, APnR last
 *   the ITS: IIDR, CBASER, CREADR, CWRITER, BASERn, RESTORE_TABLES, CTLR
 *
 * Every access is EBUSY while a vCPU runs: the caller has them parked.
 * Before reading, SAVE_PENDING_TABLES and the ITS's SAVE_TABLES put the
 * LPI state in guest RAM, which is saved after this.
 */
#include "gic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "util.h"

#define GIC_STATE_VERSION 1

enum gic_op {
	OP_DIST = 1,	/* u32 distributor register */
	OP_REDIST,	/* u32 redistributor register of vCPU cpu */
	OP_ICC,		/* u64 CPU interface system register of vCPU cpu */
	OP_LEVEL,	/* u32 line levels of 32 SPIs from intid */
	OP_ITS,		/* u64 ITS register */
	OP_ITS_RESTORE, /* KVM_DEV_ARM_ITS_RESTORE_TABLES */
	OP_MAX
};

/* Register offsets (GIC architecture v3, 12.8, 12.9, 12.11). */
#define GICD_CTLR 0x0000
#define GICD_IIDR 0x0008
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ISPENDR 0x0200
#define GICD_ICPENDR 0x0280
#define GICD_ISACTIVER 0x0300
#define GICD_ICACTIVER 0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000
#define GICR_CTLR 0x0000
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078
#define GICR_SGI 0x10000 /* the SGI/PPI frame */
#define GICR_TYPER_PLPIS (1u << 0)
#define GITS_CTLR 0x0000
#define GITS_IIDR 0x0004
#define GITS_CBASER 0x0080
#define GITS_CWRITER 0x0088
#define GITS_CREADR 0x0090
#define GITS_BASER 0x0100

#define SYSREG(op0, op1, crn, crm, op2)                                                            \
	((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2))
#define ICC_PMR_EL1 SYSREG(3, 0, 4, 6, 0)
#define ICC_BPR0_EL1 SYSREG(3, 0, 12, 8, 3)
#define ICC_AP0R_EL1(n) SYSREG(3, 0, 12, 8, 4 + (n))
#define ICC_AP1R_EL1(n) SYSREG(3, 0, 12, 9, (n))
#define ICC_BPR1_EL1 SYSREG(3, 0, 12, 12, 3)
#define ICC_CTLR_EL1 SYSREG(3, 0, 12, 12, 4)
#define ICC_SRE_EL1 SYSREG(3, 0, 12, 12, 5)
#define ICC_IGRPEN0_EL1 SYSREG(3, 0, 12, 12, 6)
#define ICC_IGRPEN1_EL1 SYSREG(3, 0, 12, 12, 7)

/* The affinity of an MPIDR_EL1 as the attributes want it (bits 63:32). */
static uint64_t mpidr_attr(uint64_t mpidr)
{
	return ((mpidr >> 32 & 0xff) << 24 | (mpidr & 0xffffff)) << 32;
}

static int attr_io(int fd, uint32_t group, uint64_t attr, void *val, bool write)
{
	struct kvm_device_attr a = { .group = group,
				     .attr = attr,
				     .addr = (uint64_t)(uintptr_t)val };

	return ioctl(fd, write ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

struct gic_saver {
	struct gic *gic;
	const uint64_t *mpidr;
	struct state_buf *sb;
	uint32_t count;
	int err;
	char *msg;
	size_t msglen;
};

static void emit(struct gic_saver *s, uint8_t op, uint32_t cpu, uint32_t reg, uint64_t val)
{
	state_put_u8(s->sb, op);
	state_put_u32(s->sb, cpu);
	state_put_u32(s->sb, reg);
	state_put_u64(s->sb, val);
	s->count++;
}

static const char *op_name(uint8_t op)
{
	static const char *const n[] = { "?",
					 "distributor register",
					 "redistributor register",
					 "CPU interface register",
					 "line level",
					 "ITS register",
					 "ITS table restore" };

	return op < OP_MAX ? n[op] : "?";
}

/* One access as the list describes it. */
static int op_io(struct gic *gic, const uint64_t *mpidr, uint8_t op, uint32_t cpu, uint32_t reg,
		 uint64_t *val, bool write)
{
	uint32_t v32 = (uint32_t)*val;
	int err;

	switch (op) {
	case OP_DIST:
		err = attr_io(gic->fd, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, reg, &v32, write);
		break;
	case OP_REDIST:
		err = attr_io(gic->fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
			      mpidr_attr(mpidr[cpu]) | reg, &v32, write);
		break;
	case OP_LEVEL:
		err = attr_io(gic->fd, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
			      mpidr_attr(mpidr[0]) |
				      (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL
					      << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT |
				      reg,
			      &v32, write);
		break;
	case OP_ICC:
		return attr_io(gic->fd, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
			       mpidr_attr(mpidr[cpu]) | reg, val, write);
	case OP_ITS:
		return attr_io(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, reg, val, write);
	case OP_ITS_RESTORE:
		return attr_io(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
			       KVM_DEV_ARM_ITS_RESTORE_TABLES, NULL, true);
	default:
		return -EINVAL;
	}
	*val = v32;
	return err;
}

/* Read a register and put it in the list. */
static uint64_t save(struct gic_saver *s, uint8_t op, uint32_t cpu, uint32_t reg)
{
	uint64_t v = 0;
	int err;

	if (s->err)
		return 0;
	err = op_io(s->gic, s->mpidr, op, cpu, reg, &v, false);
	if (err) {
		s->err = errmsg(s->msg, s->msglen, err, "GIC: cannot read %s 0x%x (vCPU %u): %s",
				op_name(op), reg, cpu, strerror(-err));
		return 0;
	}
	emit(s, op, cpu, reg, v);
	return v;
}

/* A set/clear register pair: clear all, then set what was set. */
static void save_pair(struct gic_saver *s, uint8_t op, uint32_t cpu, uint32_t set, uint32_t clr)
{
	if (!s->err)
		emit(s, op, cpu, clr, 0xffffffffu);
	save(s, op, cpu, set);
}

static void save_redist(struct gic_saver *s, uint32_t cpu)
{
	save(s, OP_REDIST, cpu, GICR_CTLR);
	save(s, OP_REDIST, cpu, GICR_WAKER);
	save(s, OP_REDIST, cpu, GICR_SGI + GICD_IGROUPR);
	save_pair(s, OP_REDIST, cpu, GICR_SGI + GICD_ISENABLER, GICR_SGI + GICD_ICENABLER);
	save(s, OP_REDIST, cpu, GICR_SGI + GICD_ICFGR + 4); /* PPIs; SGIs are fixed */
	save_pair(s, OP_REDIST, cpu, GICR_SGI + GICD_ISPENDR, GICR_SGI + GICD_ICPENDR);
	save_pair(s, OP_REDIST, cpu, GICR_SGI + GICD_ISACTIVER, GICR_SGI + GICD_ICACTIVER);
	for (uint32_t i = 0; i < 8; i++)
		save(s, OP_REDIST, cpu, GICR_SGI + GICD_IPRIORITYR + 4 * i);
}

static void save_spis(struct gic_saver *s, uint32_t nr_irqs)
{
	for (uint32_t irq = GIC_SPI_BASE; irq < nr_irqs; irq += 32) {
		uint32_t o = irq / 8;

		save_pair(s, OP_DIST, 0, GICD_ISENABLER + o, GICD_ICENABLER + o);
		save(s, OP_DIST, 0, GICD_IGROUPR + o);
	}
	for (uint32_t irq = GIC_SPI_BASE; irq < nr_irqs; irq++) {
		save(s, OP_DIST, 0, GICD_IROUTER + 8 * irq);
		save(s, OP_DIST, 0, GICD_IROUTER + 8 * irq + 4);
	}
	for (uint32_t irq = GIC_SPI_BASE; irq < nr_irqs; irq += 16)
		save(s, OP_DIST, 0, GICD_ICFGR + irq / 4);
	/* Configuration before pending state: level lines need their level. */
	for (uint32_t irq = GIC_SPI_BASE; irq < nr_irqs; irq += 32)
		save(s, OP_LEVEL, 0, irq);
	for (uint32_t irq = GIC_SPI_BASE; irq < nr_irqs; irq += 32) {
		uint32_t o = irq / 8;

		save_pair(s, OP_DIST, 0, GICD_ISPENDR + o, GICD_ICPENDR + o);
		save_pair(s, OP_DIST, 0, GICD_ISACTIVER + o, GICD_ICACTIVER + o);
	}
	for (uint32_t irq = GIC_SPI_BASE; irq < nr_irqs; irq += 4)
		save(s, OP_DIST, 0, GICD_IPRIORITYR + irq);
}

static void save_icc(struct gic_saver *s, uint32_t cpu)
{
	uint64_t ctlr;
	unsigned int pri_bits, nr_apr;

	save(s, OP_ICC, cpu, ICC_SRE_EL1);
	ctlr = save(s, OP_ICC, cpu, ICC_CTLR_EL1);
	save(s, OP_ICC, cpu, ICC_IGRPEN0_EL1);
	save(s, OP_ICC, cpu, ICC_IGRPEN1_EL1);
	save(s, OP_ICC, cpu, ICC_PMR_EL1);
	save(s, OP_ICC, cpu, ICC_BPR0_EL1);
	save(s, OP_ICC, cpu, ICC_BPR1_EL1);
	/* ICC_CTLR_EL1.PRIbits: 5 bits of priority have one APnR, 6 two, 7 four. */
	pri_bits = (unsigned int)(ctlr >> 8 & 7) + 1;
	nr_apr = pri_bits >= 7 ? 4 : pri_bits == 6 ? 2 : 1;
	for (unsigned int n = 0; n < nr_apr; n++)
		save(s, OP_ICC, cpu, ICC_AP0R_EL1(n));
	for (unsigned int n = 0; n < nr_apr; n++)
		save(s, OP_ICC, cpu, ICC_AP1R_EL1(n));
}

int gic_state_save(struct gic *gic, const uint64_t *mpidr, unsigned int nr_cpus,
		   struct state_buf *sb, char *err, size_t errlen)
{
	struct state_buf list;
	struct gic_saver s = {
		.gic = gic, .mpidr = mpidr, .sb = &list, .msg = err, .msglen = errlen
	};
	uint64_t typer;
	int ret;

	if (gic->type == IRQCHIP_GICV2)
		return errmsg(
			err, errlen, -ENOTSUP,
			"snapshot of a GICv2 guest is not supported (run it with --irqchip gicv3)");
	/* LPI state into guest RAM first (it is saved with memory). */
	if (gic->its_fd >= 0) {
		ret = attr_io(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES,
			      NULL, true);
		if (!ret)
			ret = attr_io(gic->fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
				      KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, NULL, true);
		if (ret)
			return errmsg(err, errlen, ret,
				      "GIC: cannot save the ITS tables to guest memory: %s",
				      strerror(-ret));
	}
	state_writer_init(&list);
	save(&s, OP_DIST, 0, GICD_IIDR);
	save(&s, OP_DIST, 0, GICD_CTLR);
	{
		uint64_t lo = 0, hi = 0;

		ret = op_io(gic, mpidr, OP_REDIST, 0, GICR_TYPER, &lo, false);
		if (!ret)
			ret = op_io(gic, mpidr, OP_REDIST, 0, GICR_TYPER + 4, &hi, false);
		if (ret && !s.err)
			s.err = errmsg(err, errlen, ret, "GIC: cannot read GICR_TYPER: %s",
				       strerror(-ret));
		typer = hi << 32 | lo;
	}
	if (typer & GICR_TYPER_PLPIS) {
		for (uint32_t c = 0; c < nr_cpus; c++) {
			save(&s, OP_REDIST, c, GICR_PROPBASER);
			save(&s, OP_REDIST, c, GICR_PROPBASER + 4);
			save(&s, OP_REDIST, c, GICR_PENDBASER);
			save(&s, OP_REDIST, c, GICR_PENDBASER + 4);
		}
	}
	for (uint32_t c = 0; c < nr_cpus; c++)
		save_redist(&s, c);
	save_spis(&s, gic->nr_irqs);
	for (uint32_t c = 0; c < nr_cpus; c++)
		save_icc(&s, c);
	if (gic->its_fd >= 0) {
		save(&s, OP_ITS, 0, GITS_IIDR);
		save(&s, OP_ITS, 0, GITS_CBASER);
		save(&s, OP_ITS, 0, GITS_CREADR);
		save(&s, OP_ITS, 0, GITS_CWRITER);
		for (uint32_t n = 0; n < 8; n++)
			save(&s, OP_ITS, 0, GITS_BASER + 8 * n);
		if (!s.err)
			emit(&s, OP_ITS_RESTORE, 0, 0, 0);
		save(&s, OP_ITS, 0, GITS_CTLR);
	}
	if (s.err) {
		state_free(&list);
		return s.err;
	}
	state_put_u32(sb, gic->type);
	state_put_u32(sb, gic->nr_irqs);
	state_put_u32(sb, nr_cpus);
	state_put_u32(sb, s.count);
	state_put_bytes(sb, list.data, list.len);
	state_free(&list);
	return state_error(sb);
}

int gic_state_load(struct gic *gic, const uint64_t *mpidr, unsigned int nr_cpus,
		   struct state_buf *sb, char *err, size_t errlen)
{
	uint32_t type = state_get_u32(sb), nr_irqs = state_get_u32(sb);
	uint32_t cpus = state_get_u32(sb), count = state_get_u32(sb);
	size_t start;

	if (state_error(sb))
		return errmsg(err, errlen, -EINVAL, "GIC state is cut short");
	if (type != gic->type || nr_irqs != gic->nr_irqs || cpus != nr_cpus)
		return errmsg(
			err, errlen, -EINVAL,
			"GIC state is for a %s with %u interrupts and %u vCPUs, this guest has a %s with %u and %u",
			gic_type_name((enum irqchip_type)(type <= IRQCHIP_GICV3_ITS ? type : 0)),
			nr_irqs, cpus, gic_type_name(gic->type), gic->nr_irqs, nr_cpus);
	/* Check the whole list before the first write. */
	start = sb->pos;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t op = state_get_u8(sb);
		uint32_t cpu = state_get_u32(sb);

		state_get_u32(sb);
		state_get_u64(sb);
		if (state_error(sb) || op == 0 || op >= OP_MAX || cpu >= nr_cpus ||
		    ((op == OP_ITS || op == OP_ITS_RESTORE) && gic->its_fd < 0))
			return errmsg(err, errlen, -EINVAL, "GIC state entry %u of %u is not valid",
				      i + 1, count);
	}
	if (state_finish(sb))
		return errmsg(err, errlen, -EINVAL, "GIC state has %zu stray bytes",
			      sb->len - sb->pos);
	sb->pos = start;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t op = state_get_u8(sb);
		uint32_t cpu = state_get_u32(sb), reg = state_get_u32(sb);
		uint64_t val = state_get_u64(sb);
		int ret = op_io(gic, mpidr, op, cpu, reg, &val, true);

		if (ret)
			return errmsg(err, errlen, ret, "GIC: KVM refused %s 0x%x (vCPU %u): %s",
				      op_name(op), reg, cpu, strerror(-ret));
	}
	return 0;
}
