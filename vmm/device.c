// SPDX-License-Identifier: MIT
#include "device.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void device_init(struct device *dev, const struct device_ops *ops, void *priv, const char *node,
		 uint64_t base, uint64_t size, uint32_t spi)
{
	dev->ops = ops;
	dev->priv = priv;
	dev->base = base;
	dev->size = size;
	dev->irq = spi;
	snprintf(dev->name, sizeof(dev->name), "%s@%llx", node, (unsigned long long)base);
}

int device_fdt_begin(struct device *dev, void *fdt, const char *node, const char *compat,
		     size_t compat_len, uint32_t irq_flags)
{
	uint64_t reg[2] = { cpu_to_fdt64(dev->base), cpu_to_fdt64(dev->size) };
	/* GIC binding: <SPI number flags>. */
	uint32_t irq[3] = { cpu_to_fdt32(0), cpu_to_fdt32(dev->irq), cpu_to_fdt32(irq_flags) };
	char name[48];
	int err;

	if (node)
		snprintf(name, sizeof(name), "%s@%llx", node, (unsigned long long)dev->base);
	err = fdt_begin_node(fdt, node ? name : dev->name);
	if (!err)
		err = fdt_property(fdt, "compatible", compat, (int)compat_len);
	if (!err)
		err = fdt_property(fdt, "reg", reg, sizeof(reg));
	if (!err)
		err = fdt_property(fdt, "interrupts", irq, sizeof(irq));
	return err;
}

void device_list_init(struct device_list *list)
{
	list->head = NULL;
	list->tail = &list->head;
}

void device_list_add(struct device_list *list, struct device *dev)
{
	dev->next = NULL;
	*list->tail = dev;
	list->tail = &dev->next;
}

struct device *device_list_find(struct device_list *list, const char *name)
{
	for (struct device *d = list->head; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

void device_list_destroy(struct device_list *list)
{
	struct device *d = list->head, *next;

	for (; d; d = next) {
		next = d->next;
		if (d->ops->destroy)
			d->ops->destroy(d);
	}
	device_list_init(list);
}

int device_list_save(struct device_list *list, struct state_buf *sb)
{
	uint32_t count = 0;

	for (struct device *d = list->head; d; d = d->next)
		count++;
	state_put_u32(sb, count);
	for (struct device *d = list->head; d; d = d->next) {
		struct state_buf one;
		int err = 0;

		state_writer_init(&one);
		if (d->ops->save)
			err = d->ops->save(d, &one);
		if (!err)
			err = state_error(&one);
		if (err) {
			state_free(&one);
			return err;
		}
		state_put_u32(sb, (uint32_t)strlen(d->name));
		state_put_bytes(sb, d->name, strlen(d->name));
		state_put_u32(sb, d->ops->state_version);
		state_put_u32(sb, (uint32_t)one.len);
		state_put_bytes(sb, one.data, one.len);
		state_free(&one);
	}
	return state_error(sb);
}

/*
 * Two passes: the whole blob is parsed first (every device named once,
 * each one we have, at a version we know, lengths inside the blob), and
 * only then is any device touched. Each device's load is itself all or
 * nothing; one that refuses its blob is left reset (power-on state).
 */
int device_list_load(struct device_list *list, struct state_buf *sb)
{
	uint32_t count = state_get_u32(sb), have = 0, i;
	struct {
		struct device *dev;
		uint32_t version;
		size_t pos, len;
	} *ent = NULL;
	struct device *d;
	int err = -EINVAL;

	for (d = list->head; d; d = d->next)
		have++;
	if (state_error(sb) || count != have)
		return -EINVAL;
	ent = calloc(count ? count : 1, sizeof(*ent));
	if (!ent)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		char name[sizeof(((struct device *)0)->name)];
		uint32_t nlen = state_get_u32(sb), blen;

		if (state_error(sb) || nlen >= sizeof(name))
			goto out;
		state_get_bytes(sb, name, nlen);
		name[nlen] = '\0';
		ent[i].version = state_get_u32(sb);
		blen = state_get_u32(sb);
		if (state_error(sb) || blen > sb->len - sb->pos)
			goto out;
		d = device_list_find(list, name);
		/* A device without state (the PCI host) takes only an empty blob. */
		if (!d || ent[i].version > d->ops->state_version || (!d->ops->load && blen))
			goto out;
		for (uint32_t k = 0; k < i; k++)
			if (ent[k].dev == d)
				goto out; /* twice: another device would get none */
		ent[i].dev = d;
		ent[i].pos = sb->pos;
		ent[i].len = blen;
		sb->pos += blen;
	}
	for (i = 0; i < count; i++) {
		struct state_buf one;

		d = ent[i].dev;
		if (!d->ops->load)
			continue;
		state_reader_init(&one, sb->data + ent[i].pos, ent[i].len);
		if (d->ops->reset)
			d->ops->reset(d);
		err = d->ops->load(d, &one, ent[i].version);
		if (!err)
			err = state_finish(&one);
		if (err) {
			if (d->ops->reset)
				d->ops->reset(d);
			goto out;
		}
	}
	err = 0;
out:
	free(ent);
	return err;
}

void device_list_freeze(struct device_list *list)
{
	for (struct device *d = list->head; d; d = d->next)
		if (d->ops->freeze)
			d->ops->freeze(d);
}

static void thaw_from(struct device *d)
{
	if (!d)
		return;
	thaw_from(d->next);
	if (d->ops->thaw)
		d->ops->thaw(d);
}

void device_list_thaw(struct device_list *list)
{
	thaw_from(list->head);
}
