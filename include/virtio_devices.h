/* SPDX-License-Identifier: MIT */
/* The virtio devices (devices/virtio_*.c). Each returns a virtio_dev to
 * place on a transport; the transport frees it with the device. */
#ifndef ARMVM_VIRTIO_DEVICES_H
#define ARMVM_VIRTIO_DEVICES_H

#include "virtio.h"

struct virtio_dev *virtio_rng_new(const struct guest_mem *mem);

struct console;
struct console_port;
/* A virtio console (hvc0) wired to con; fills *port for console_init. */
struct virtio_dev *virtio_console_new(const struct guest_mem *mem,
				      struct console *con,
				      struct console_port *port);

#endif
