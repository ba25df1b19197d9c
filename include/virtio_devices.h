/* SPDX-License-Identifier: MIT */
/* The virtio devices (devices/virtio_*.c). Each returns a virtio_dev to
 * place on a transport; the transport frees it with the device. */
#ifndef ARMVM_VIRTIO_DEVICES_H
#define ARMVM_VIRTIO_DEVICES_H

#include "virtio.h"

struct virtio_dev *virtio_rng_new(const struct guest_mem *mem);

#endif
