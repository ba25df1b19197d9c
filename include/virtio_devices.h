/* SPDX-License-Identifier: MIT */
/* The virtio devices (devices/virtio_*.c). Each returns a virtio_dev to
 * place on a transport, which takes it (see virtio_transport.h). */
#ifndef ARMVM_VIRTIO_DEVICES_H
#define ARMVM_VIRTIO_DEVICES_H

#include <stdbool.h>

#include "virtio.h"

enum net_mode { NET_MODE_NONE, NET_MODE_TAP };
/* vhost=: auto (if /dev/vhost-net can be used), 0/off, 1/on (or fail). */
enum net_vhost { NET_VHOST_AUTO, NET_VHOST_OFF, NET_VHOST_ON };

struct net_opts {
	enum net_mode mode;
	enum net_vhost vhost;
	char tapif[16];
	bool has_mac;
	uint8_t mac[6];
};

/* Parse kvmtool's "-n mode=tap[,tapif=NAME][,guest_mac=...][,vhost=0|1]". */
int net_opts_parse(const char *arg, struct net_opts *o, char *err, size_t errlen);
/* A virtio-net on a tap device (created if need be, and brought up). */
struct virtio_dev *virtio_net_new(const struct net_opts *o, const struct guest_mem *mem, char *err,
				  size_t errlen);

struct virtio_dev *virtio_rng_new(const struct guest_mem *mem);

struct console;
struct console_port;
/* A virtio console (hvc0) wired to con; fills *port for console_init. */
struct virtio_dev *virtio_console_new(const struct guest_mem *mem, struct console *con,
				      struct console_port *port);

#endif
