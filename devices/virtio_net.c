// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.2 §5.1) on a tap device, in userspace: the tap
 * carries the same 12-byte virtio_net_hdr the guest uses (IFF_VNET_HDR,
 * TUNSETVNETHDRSZ), so frames move between tap and guest buffers without
 * reformatting. No offloads are offered, so the header is all zeroes both
 * ways. Queue 0 receives, queue 1 transmits; when the guest has posted no
 * receive buffers, armvm stops reading the tap until it does.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"
#include "virtio_devices.h"

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define NET_QUEUE_SIZE 256
#define NET_MAX_CHAIN 64
#define NET_HDR_LEN 12
#ifndef IFNAMSIZ
#define IFNAMSIZ 16
#endif

struct virtio_net {
	struct virtio_dev vd;
	int tap;
	struct evloop *loop;
	bool rx_polling;
	uint8_t mac[6];
	char ifname[IFNAMSIZ];
	struct virtq_buf rx_bufs[NET_MAX_CHAIN], tx_bufs[NET_MAX_CHAIN];
	struct iovec iov[NET_MAX_CHAIN];
};

static void net_rx_poll(struct virtio_net *n, bool on)
{
	if (n->rx_polling == on || !n->loop)
		return;
	if (evloop_mod(n->loop, n->tap, on ? EPOLLIN : 0) == 0)
		n->rx_polling = on;
}

/* Frames from the tap into receive buffers (I/O thread, lock held). */
static void net_rx(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vd;
	struct virtq *q = &vd->vqs[0];
	struct virtq_chain c = { .bufs = n->rx_bufs, .cap = NET_MAX_CHAIN };
	bool pushed = false;
	int r;

	if (!virtio_dev_live(vd) || !q->ready || q->broken) {
		net_rx_poll(n, false);
		return;
	}
	for (;;) {
		ssize_t len;
		int iovcnt = 0;

		r = virtq_pop(q, &c);
		if (r == 0) {
			/* No buffers: wait for the guest to post some. */
			net_rx_poll(n, false);
			if (virtq_enable_notify(q))
				continue;
			break;
		}
		if (r == -EINVAL) {
			virtio_queue_broken(vd, 0);
			break;
		}
		for (unsigned int i = 0; r > 0 && i < c.n; i++)
			if (c.bufs[i].write)
				n->iov[iovcnt++] = (struct iovec){ c.bufs[i].host, c.bufs[i].len };
		len = iovcnt ? readv(n->tap, n->iov, iovcnt) : -1;
		if (len < 0 && (errno == EAGAIN || errno == EINTR) && iovcnt) {
			virtq_unpop(q); /* nothing to receive: keep the buffer */
			net_rx_poll(n, true);
			break;
		}
		virtq_push(q, c.head, len > 0 ? (uint32_t)len : 0);
		pushed = true;
	}
	if (pushed)
		virtio_queue_interrupt(vd, 0);
}

static void net_tap_event(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	pthread_mutex_lock(&n->vd.lock);
	net_rx(n);
	pthread_mutex_unlock(&n->vd.lock);
}

static void net_tx(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vd;
	struct virtq *q = &vd->vqs[1];
	struct virtq_chain c = { .bufs = n->tx_bufs, .cap = NET_MAX_CHAIN };
	bool pushed = false;
	int r;

	do {
		while ((r = virtq_pop(q, &c)) != 0) {
			int iovcnt = 0;

			if (r == -EINVAL) {
				virtio_queue_broken(vd, 1);
				return;
			}
			for (unsigned int i = 0; r > 0 && i < c.n; i++)
				if (!c.bufs[i].write)
					n->iov[iovcnt++] = (struct iovec){ c.bufs[i].host, c.bufs[i].len };
			/* A frame the tap refuses (too short, too long) is dropped. */
			if (c.out_len >= NET_HDR_LEN && iovcnt &&
			    writev(n->tap, n->iov, iovcnt) < 0 && errno != EAGAIN)
				pr_guest(LOG_DEBUG, "%s: tap write: %s", vd->dev.name, strerror(errno));
			virtq_push(q, c.head, 0);
			pushed = true;
		}
	} while (virtq_enable_notify(q));
	if (pushed)
		virtio_queue_interrupt(vd, 1);
}

static void net_notify(struct virtio_dev *vd, unsigned int qi)
{
	struct virtio_net *n = vd->priv;

	if (qi == 0)
		net_rx(n); /* new receive buffers */
	else
		net_tx(n);
}

static void net_activate(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	net_rx_poll(n, true);
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, void *buf,
			    uint32_t len)
{
	struct virtio_net *n = vd->priv;
	uint8_t cfg[8];

	memcpy(cfg, n->mac, 6);
	cfg[6] = VIRTIO_NET_S_LINK_UP, cfg[7] = 0;
	memcpy(buf, cfg + off, len);
}

static int net_attach(struct virtio_dev *vd, struct evloop *loop)
{
	struct virtio_net *n = vd->priv;
	int err = evloop_add(loop, n->tap, 0, net_tap_event, n);

	if (!err)
		n->loop = loop;
	return err;
}

static void net_destroy(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	close(n->tap);
	free(n);
}

static const struct virtio_dev_ops virtio_net_ops = {
	.device_id = 1,
	.pci_class = 0x0200, /* ethernet */
	.config_read = net_config_read,
	.queue_notify = net_notify,
	.activate = net_activate,
	.attach = net_attach,
	.destroy = net_destroy,
};

int net_opts_parse(const char *arg, struct net_opts *o, char *err, size_t errlen)
{
	char buf[256], *tok, *save = NULL;

	memset(o, 0, sizeof(*o));
	o->mode = NET_MODE_NONE;
	if (strlen(arg) >= sizeof(buf))
		return errmsg(err, errlen, -EINVAL, "--network: argument too long");
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned int m[6];

		if (!strcmp(tok, "mode=none")) {
			o->mode = NET_MODE_NONE;
		} else if (!strcmp(tok, "mode=tap")) {
			o->mode = NET_MODE_TAP;
		} else if (!strncmp(tok, "mode=", 5)) {
			return errmsg(err, errlen, -EINVAL,
				      "--network %s: this armvm offers mode=tap and mode=none", tok);
		} else if (!strncmp(tok, "tapif=", 6) && strlen(tok + 6) < IFNAMSIZ && tok[6]) {
			snprintf(o->tapif, sizeof(o->tapif), "%s", tok + 6);
		} else if (!strncmp(tok, "guest_mac=", 10) &&
			   sscanf(tok + 10, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2],
				  &m[3], &m[4], &m[5]) == 6 && strlen(tok + 10) == 17) {
			for (int i = 0; i < 6; i++)
				o->mac[i] = (uint8_t)m[i];
			o->has_mac = true;
			if (o->mac[0] & 1)
				return errmsg(err, errlen, -EINVAL,
					      "--network %s: a multicast MAC cannot be a guest's", tok);
		} else {
			return errmsg(err, errlen, -EINVAL,
				      "--network '%s': unknown '%s' (mode=tap|none, tapif=NAME, guest_mac=XX:XX:XX:XX:XX:XX)",
				      arg, tok);
		}
	}
	return 0;
}

struct virtio_dev *virtio_net_new(const struct net_opts *o,
				  const struct guest_mem *mem, char *err,
				  size_t errlen)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct ifreq ifr = { 0 };
	int hdr = NET_HDR_LEN, s;

	if (!n) {
		errmsg(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	n->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (n->tap < 0) {
		errmsg(err, errlen, -errno, "--network mode=tap: cannot open /dev/net/tun: %s",
		       strerror(errno));
		free(n);
		return NULL;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tapif[0] ? o->tapif : "armvm%d");
	if (ioctl(n->tap, TUNSETIFF, &ifr) < 0 ||
	    ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(n->tap, TUNSETOFFLOAD, 0) < 0) {
		errmsg(err, errlen, -errno, "--network mode=tap: cannot set up tap '%s': %s",
		       ifr.ifr_name, strerror(errno));
		close(n->tap);
		free(n);
		return NULL;
	}
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifr.ifr_name);
	/* Bring the host side up; its addresses are the user's business. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			pr_warn("--network: cannot bring %s up: %s", n->ifname, strerror(errno));
	}
	if (s >= 0)
		close(s);
	if (o->has_mac) {
		memcpy(n->mac, o->mac, 6);
	} else {
		/* A random, locally administered, unicast address. */
		if (getrandom(n->mac, 6, 0) != 6)
			memset(n->mac, 0x42, 6);
		n->mac[0] = (uint8_t)((n->mac[0] & 0xfe) | 0x02);
	}
	pr_info("network: tap %s", n->ifname);
	virtio_dev_init(&n->vd, &virtio_net_ops, "virtio-net", 2, NET_QUEUE_SIZE,
			1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS, 8,
			mem, n);
	return &n->vd;
}
