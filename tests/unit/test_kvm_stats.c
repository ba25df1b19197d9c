// SPDX-License-Identifier: MIT
/* KVM's binary statistics reader, on made-up stats files. */
#include "kvm_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "tap.h"
#include "util.h"

#define NAME_SIZE 48

struct fake {
	const char *name;
	uint32_t flags;
	uint16_t size;
	uint64_t v[3];
};

/* A stats file as KVM lays it out: header, id, descriptors, data. */
static int make_file(const struct fake *f, unsigned int n, size_t cut)
{
	size_t dsize = sizeof(struct kvm_stats_desc) + NAME_SIZE;
	struct kvm_stats_header h = {
		.name_size = NAME_SIZE,
		.num_desc = n,
		.id_offset = sizeof(h),
		.desc_offset = sizeof(h) + NAME_SIZE,
	};
	uint8_t *buf;
	size_t len, data = 0;
	FILE *t = tmpfile();
	int fd;

	h.data_offset = (uint32_t)(h.desc_offset + dsize * n);
	for (unsigned int i = 0; i < n; i++)
		data += 8u * f[i].size;
	len = h.data_offset + data;
	buf = calloc(1, len);
	memcpy(buf, &h, sizeof(h));
	snprintf((char *)buf + h.id_offset, NAME_SIZE, "kvm-1234/vcpu0");
	data = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct kvm_stats_desc *d = (void *)(buf + h.desc_offset + i * dsize);

		d->flags = f[i].flags;
		d->size = f[i].size;
		d->offset = (uint32_t)data;
		snprintf(d->name, NAME_SIZE, "%s", f[i].name);
		memcpy(buf + h.data_offset + data, f[i].v, 8u * f[i].size);
		data += 8u * f[i].size;
	}
	if (fwrite(buf, 1, cut ? cut : len, t) != (cut ? cut : len))
		return -1;
	fflush(t);
	free(buf);
	fd = dup(fileno(t));
	fclose(t);
	return fd;
}

int main(void)
{
	static const struct fake f[] = {
		{ "halt_wakeup", KVM_STATS_TYPE_CUMULATIVE, 1, { 7 } },
		{ "exits", KVM_STATS_TYPE_CUMULATIVE, 1, { 1000 } },
		{ "halt_poll_success_hist", KVM_STATS_TYPE_LOG_HIST, 3, { 1, 2, 3 } },
		{ "mmio_exit_kernel", KVM_STATS_TYPE_CUMULATIVE, 1, { 600 } },
		{ "two_values", KVM_STATS_TYPE_INSTANT, 2, { 5, 6 } },
	};
	static const char *const names[] = { "exits", "mmio_exit_kernel", "not_in_this_kernel",
					     "halt_poll_success_hist", "two_values" };
	uint64_t out[5] = { 1, 0, 0, 0, 0 };
	int fd = make_file(f, 5, 0);

	ok(fd >= 0, "a made-up stats file");
	is_int(kvm_stats_add(fd, names, 5, out), 0, "read");
	is_int(out[0], 1001, "a counter is added to what was there");
	is_int(out[1], 600, "a second counter, by name");
	is_int(out[2], 0, "a name the kernel lacks adds nothing");
	is_int(out[3], 0, "histograms are not counters: skipped");
	is_int(out[4], 11, "a counter of two values adds both");
	is_int(kvm_stats_add(fd, names, 5, out), 0, "read again");
	is_int(out[0], 2001, "the same file read twice counts twice");
	close(fd);

	fd = make_file(f, 5, 100);
	memset(out, 0, sizeof(out));
	ok(kvm_stats_add(fd, names, 5, out) < 0, "a truncated file: an error");
	close(fd);
	{
		struct kvm_stats_header h = { .name_size = 0, .num_desc = 3 };
		FILE *t = tmpfile();

		fwrite(&h, sizeof(h), 1, t);
		fflush(t);
		ok(kvm_stats_add(fileno(t), names, 5, out) == -EINVAL,
		   "a header with no name size: -EINVAL");
		fclose(t);
	}
	ok(kvm_stats_add(-1, names, 5, out) == -EBADF, "no file: -EBADF");
	return tap_done();
}
