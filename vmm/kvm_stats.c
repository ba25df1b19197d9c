// SPDX-License-Identifier: MIT
/* KVM's binary statistics reader (see kvm_stats.h). */
#include "kvm_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "util.h"

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t r = pread(fd, buf, len, (off_t)off);

	return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EINVAL;
}

int kvm_stats_add(int fd, const char *const *names, unsigned int n, uint64_t *out)
{
	struct kvm_stats_header h;
	size_t dsize;
	uint8_t *descs;
	int ret = read_at(fd, &h, sizeof(h), 0);

	if (ret)
		return ret;
	/* Bounded: a descriptor's name is at most a few dozen bytes in any
	 * kernel, and there are some tens of counters. */
	if (h.name_size == 0 || h.name_size > 256 || h.num_desc > 4096)
		return -EINVAL;
	dsize = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsize * h.num_desc);
	if (!descs)
		return -ENOMEM;
	ret = read_at(fd, descs, dsize * h.num_desc, h.desc_offset);
	for (uint32_t i = 0; !ret && i < h.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * dsize);
		char name[257];

		memcpy(name, d->name, h.name_size);
		name[h.name_size] = '\0';
		if ((d->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_LOG_HIST ||
		    (d->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_LINEAR_HIST)
			continue;
		for (unsigned int k = 0; k < n; k++) {
			uint64_t v;

			if (strcmp(name, names[k]))
				continue;
			for (uint32_t j = 0; !ret && j < d->size && j < 64; j++) {
				ret = read_at(fd, &v, sizeof(v),
					      (uint64_t)h.data_offset + d->offset + 8ULL * j);
				if (!ret)
					out[k] += v;
			}
		}
	}
	free(descs);
	return ret;
}
