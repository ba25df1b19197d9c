// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.2 §5.1) on a tap device. The tap carries the same
 * 12-byte virtio_net_hdr the guest uses (IFF_VNET_HDR, TUNSETVNETHDRSZ), so
 * checksum and segmentation offloads pass through untouched: the guest may
 * send partially checksummed TSO frames of up to 64 KiB (CSUM, HOST_TSO*),
 * and the tap hands it such frames once the guest has accepted them
 * (GUEST_CSUM, GUEST_TSO*: TUNSETOFFLOAD at DRIVER_OK).
 *
 * Two data paths, one device model:
 *  - vhost-net (vhost.c) when /dev/vhost-net can be used: while the device
 *    is live the kernel moves the frames between the rings and the tap;
 *  - userspace on the device's I/O thread otherwise (or with vhost=0):
 *    transmit writes each chain straight from guest memory into the tap;
 *    receive reads a frame into a bounce buffer and spreads it over one
 *    chain, or over as many as it needs with MRG_RXBUF (num_buffers).
 * A frame that has no buffers yet waits, and the tap is not read until the
 * guest posts some. Queue 0 receives, queue 1 transmits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>
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
#include "vhost.h"
#include "virtio_devices.h"

#define NET_QUEUE_SIZE 256
#define NET_MAX_CHAIN 64
/* The header with num_buffers (VIRTIO_F_VERSION_1 makes it always there). */
#define NET_HDR_LEN ((int)sizeof(struct virtio_net_hdr_mrg_rxbuf))
#define NET_HDR_NUM_BUFFERS offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers)
/* The config space up to status: mac and status (no max_virtqueue_pairs). */
#define NET_CFG_SIZE offsetof(struct virtio_net_config, max_virtqueue_pairs)
_Static_assert(NET_HDR_LEN == 12 && NET_CFG_SIZE == 8, "virtio-net layouts");
/* The largest frame a tap hands over: 64 KiB of GSO payload and headers. */
#define NET_FRAME_MAX (NET_HDR_LEN + 65536 + 256)
#ifndef IFNAMSIZ
#define IFNAMSIZ 16
#endif

#define BIT(n) (1ULL << (n))
#define NET_FEATURES_GUEST_OFFLOAD                                                                 \
	(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |                             \
	 BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN))
#define NET_FEATURES_HOST_OFFLOAD                                                                  \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |      \
	 BIT(VIRTIO_NET_F_HOST_ECN))

struct virtio_net {
	struct virtio_dev vd;
	int tap;
	struct evloop *loop;
	bool rx_polling;
	uint8_t mac[6];
	char ifname[IFNAMSIZ];
	struct virtq_buf tx_bufs[NET_MAX_CHAIN];
	struct iovec iov[NET_MAX_CHAIN];

	/* vhost-net: opened at creation, running while the device is live. */
	bool has_vhost, resume_vhost;
	struct vhost vhost;

	/* Userspace receive: the frame being delivered, and how far. */
	uint8_t *frame;
	size_t frame_len, frame_off; /* frame_len 0: none */
	struct virtq_buf first_bufs[NET_MAX_CHAIN], rx_bufs[NET_MAX_CHAIN];
	struct virtq_chain first; /* the frame's first chain (header) */
	uint16_t nr_used;	  /* chains filled for it so far */
	uint16_t used_head[NET_QUEUE_SIZE];
	uint32_t used_len[NET_QUEUE_SIZE];
};

static void net_rx_poll(struct virtio_net *n, bool on)
{
	if (n->rx_polling == on || !n->loop)
		return;
	if (evloop_mod(n->loop, n->tap, on ? EPOLLIN : 0) == 0)
		n->rx_polling = on;
}

/* Hand the frame's chains to the guest, the header saying how many. */
static void net_rx_complete(struct virtio_net *n)
{
	struct virtq *q = &n->vd.vqs[0];
	uint16_t nb = n->nr_used;

	virtq_chain_write(&n->first, NET_HDR_NUM_BUFFERS, &nb, sizeof(nb));
	for (unsigned int i = 0; i < n->nr_used; i++)
		virtq_push(q, n->used_head[i], n->used_len[i]);
	n->nr_used = 0;
	n->frame_len = n->frame_off = 0;
}

/*
 * Spread the pending frame over receive chains: 1 when it went (or was
 * dropped), 0 when the queue ran dry first (the frame waits), -1 when the
 * guest broke the queue.
 */
static int net_rx_deliver(struct virtio_net *n)
{
	struct virtq *q = &n->vd.vqs[0];
	bool mrg = virtio_feature(&n->vd, VIRTIO_NET_F_MRG_RXBUF);

	while (n->frame_off < n->frame_len) {
		struct virtq_chain c = { .bufs = n->nr_used ? n->rx_bufs : n->first_bufs,
					 .cap = NET_MAX_CHAIN };
		size_t put;
		int r;

		if ((n->nr_used && !mrg) || n->nr_used == NET_QUEUE_SIZE)
			break; /* the rest does not fit: truncated */
		r = virtq_pop(q, &c);
		if (r == 0)
			return 0;
		if (r == -EINVAL)
			return -1;
		if (r < 0) { /* too long a chain for us: give it back empty */
			virtq_push(q, c.head, 0);
			continue;
		}
		if (!n->nr_used && c.in_len < NET_HDR_LEN) {
			virtq_push(q, c.head, 0); /* no room for a header */
			continue;
		}
		put = virtq_chain_write(&c, 0, n->frame + n->frame_off,
					n->frame_len - n->frame_off);
		if (!n->nr_used)
			n->first = c;
		n->used_head[n->nr_used] = c.head;
		n->used_len[n->nr_used++] = (uint32_t)put;
		n->frame_off += put;
		if (!put && mrg)
			break; /* a chain with no writable bytes ends it */
	}
	net_rx_complete(n);
	return 1;
}

/* Frames from the tap into receive buffers (I/O thread, lock held). */
static void net_rx(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vd;
	struct virtq *q = &vd->vqs[0];
	uint16_t used_before = q->used_idx;

	if (!virtio_dev_live(vd) || !q->ready || q->broken || n->vhost.running) {
		net_rx_poll(n, false);
		return;
	}
	for (;;) {
		int r;

		if (!n->frame_len) {
			ssize_t len = read(n->tap, n->frame, NET_FRAME_MAX);

			if (len < 0 && (errno == EAGAIN || errno == EINTR)) {
				net_rx_poll(n, true);
				break;
			}
			if (len < 0) {
				pr_warn("%s: reading tap %s: %s; receiving stops", vd->dev.name,
					n->ifname, strerror(errno));
				net_rx_poll(n, false);
				break;
			}
			if (len < NET_HDR_LEN)
				continue; /* a runt: nothing to deliver */
			n->frame_len = (size_t)len;
		}
		r = net_rx_deliver(n);
		if (r < 0) {
			virtio_queue_broken(vd, 0);
			break;
		}
		if (r == 0) {
			/* No buffers: wait for the guest to post some. */
			net_rx_poll(n, false);
			if (virtq_enable_notify(q))
				continue;
			break;
		}
	}
	if (q->used_idx != used_before)
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

	/* vhost owns the rings while it runs: a notification read just
	 * before it started must not send frames a second time. */
	if (!virtio_dev_live(vd) || !q->ready || q->broken || n->vhost.running)
		return;
	do {
		while ((r = virtq_pop(q, &c)) != 0) {
			int iovcnt = 0;

			if (r == -EINVAL) {
				virtio_queue_broken(vd, 1);
				return;
			}
			for (unsigned int i = 0; r > 0 && i < c.n; i++)
				if (!c.bufs[i].write)
					n->iov[iovcnt++] =
						(struct iovec){ c.bufs[i].host, c.bufs[i].len };
			/* A frame the tap refuses (too short, too long, a bad
			 * GSO header) is dropped. */
			if (c.out_len >= NET_HDR_LEN && iovcnt &&
			    writev(n->tap, n->iov, iovcnt) < 0 && errno != EAGAIN)
				pr_guest(LOG_DEBUG, "%s: tap write: %s", vd->dev.name,
					 strerror(errno));
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

/* What the guest accepted, as the tap's offload flags. */
static unsigned int net_tap_offloads(struct virtio_dev *vd)
{
	unsigned int f = 0;

	if (!virtio_feature(vd, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	f = TUN_F_CSUM;
	if (virtio_feature(vd, VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (virtio_feature(vd, VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && virtio_feature(vd, VIRTIO_NET_F_GUEST_ECN))
		f |= TUN_F_TSO_ECN;
	return f;
}

static int net_vhost_backend(struct virtio_net *n, int fd)
{
	for (unsigned int q = 0; q < 2; q++) {
		struct vhost_vring_file b = { q, fd };

		if (ioctl(n->vhost.fd, VHOST_NET_SET_BACKEND, &b) < 0)
			return -errno;
	}
	return 0;
}

/* The device went live (DRIVER_OK, or restored live): start a data path. */
static void net_start(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vd;
	int err;

	if (!virtio_dev_live(vd))
		return; /* DRIVER_OK on a device that needs a reset first */
	if (ioctl(n->tap, TUNSETOFFLOAD, net_tap_offloads(vd)) < 0)
		pr_warn("%s: tap %s refuses the offloads: %s", vd->dev.name, n->ifname,
			strerror(errno));
	if (n->has_vhost && !n->vhost.running) {
		err = vhost_start(&n->vhost, n->loop);
		if (!err) {
			err = net_vhost_backend(n, n->tap);
			if (err)
				vhost_stop(&n->vhost);
		}
		if (!err) {
			net_rx_poll(n, false);
			/* A kick armvm read before vhost took the eventfd
			 * would be lost: vhost looks at both rings once now. */
			for (unsigned int q = 0; q < 2; q++) {
				int kfd = vd->transport.kick_fd(vd, q, true);
				uint64_t one = 1;

				if (kfd >= 0 && write(kfd, &one, sizeof(one)) < 0) {
					/* already pending */
				}
			}
			return;
		}
		pr_warn("%s: vhost-net would not start (%s): frames go through armvm", vd->dev.name,
			strerror(-err));
	}
	net_rx_poll(n, true);
}

/* Take the rings back from vhost (their indices read into ours). */
static void net_vhost_stop(struct virtio_net *n)
{
	if (!n->vhost.running)
		return;
	net_vhost_backend(n, -1);
	vhost_stop(&n->vhost);
}

static void net_activate(struct virtio_dev *vd)
{
	net_start(vd->priv);
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	net_vhost_stop(n);
	net_rx_poll(n, false);
	n->frame_len = n->frame_off = 0;
	n->nr_used = 0;
	if (ioctl(n->tap, TUNSETOFFLOAD, 0) < 0) {
		/* The tap is as it was; nothing else to undo. */
	}
}

/*
 * Before a snapshot: the rings become armvm's again (their indices read
 * back from vhost), and a frame half delivered goes out as it is (the guest
 * sees a truncated frame, as after a loss), so no chain is held outside
 * the rings when the core saves the indices.
 */
static void net_quiesce(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	n->resume_vhost = n->vhost.running;
	net_vhost_stop(n);
	if (n->nr_used) {
		net_rx_complete(n);
		virtio_queue_interrupt(vd, 0);
	}
}

static void net_resume(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	if (n->resume_vhost && virtio_dev_live(vd))
		net_start(n);
	n->resume_vhost = false;
}

static int net_load(struct virtio_dev *vd, struct state_buf *sb)
{
	struct virtio_net *n = vd->priv;

	(void)sb;
	if (virtio_dev_live(vd))
		net_start(n);
	return 0;
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = vd->priv;
	struct virtio_net_config cfg = { .status = htole16(VIRTIO_NET_S_LINK_UP) };

	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	/* off + len <= NET_CFG_SIZE <= sizeof(cfg): virtio.c checks */
	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

static int net_attach(struct virtio_dev *vd, struct evloop *loop)
{
	struct virtio_net *n = vd->priv;
	int err = evloop_add(loop, n->tap, 0, net_tap_event, n);

	if (!err)
		n->loop = loop;
	return err;
}

static void net_free(struct virtio_net *n)
{
	if (n->has_vhost)
		vhost_close(&n->vhost);
	if (n->tap >= 0)
		close(n->tap);
	free(n->frame);
	free(n);
}

static void net_destroy(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	net_vhost_stop(n);
	net_free(n);
}

static const struct virtio_dev_ops virtio_net_ops = {
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x0200, /* ethernet */
	.config_read = net_config_read,
	.queue_notify = net_notify,
	.activate = net_activate,
	.reset = net_reset,
	.quiesce = net_quiesce,
	.resume = net_resume,
	.load = net_load,
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
				      "--network %s: this armvm offers mode=tap and mode=none",
				      tok);
		} else if (!strcmp(tok, "vhost=1") || !strcmp(tok, "vhost=on")) {
			o->vhost = NET_VHOST_ON;
		} else if (!strcmp(tok, "vhost=0") || !strcmp(tok, "vhost=off")) {
			o->vhost = NET_VHOST_OFF;
		} else if (!strcmp(tok, "vhost=auto")) {
			o->vhost = NET_VHOST_AUTO;
		} else if (!strncmp(tok, "tapif=", 6) && strlen(tok + 6) < IFNAMSIZ && tok[6]) {
			snprintf(o->tapif, sizeof(o->tapif), "%s", tok + 6);
		} else if (!strncmp(tok, "guest_mac=", 10) &&
			   sscanf(tok + 10, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3],
				  &m[4], &m[5]) == 6 &&
			   strlen(tok + 10) == 17) {
			for (int i = 0; i < 6; i++)
				o->mac[i] = (uint8_t)m[i];
			o->has_mac = true;
			if (o->mac[0] & 1)
				return errmsg(err, errlen, -EINVAL,
					      "--network %s: a multicast MAC cannot be a guest's",
					      tok);
		} else {
			return errmsg(
				err, errlen, -EINVAL,
				"--network '%s': unknown '%s' (mode=tap|none, tapif=NAME, guest_mac=XX:XX:XX:XX:XX:XX, vhost=0|1|auto)",
				arg, tok);
		}
	}
	return 0;
}

/* Open vhost-net as asked: 0 with it, 0 without (auto, said why), or -errno. */
static int net_vhost_open(struct virtio_net *n, const struct net_opts *o, uint64_t ring_features,
			  char *err, size_t errlen)
{
	char why[160];
	int ret;

	if (o->vhost == NET_VHOST_OFF)
		return 0;
	ret = vhost_open(&n->vhost, "/dev/vhost-net", &n->vd, 2, why, sizeof(why));
	if (!ret && (ring_features & ~n->vhost.features)) {
		snprintf(why, sizeof(why), "/dev/vhost-net lacks ring features 0x%llx",
			 (unsigned long long)(ring_features & ~n->vhost.features));
		vhost_close(&n->vhost);
		ret = -EOPNOTSUPP;
	}
	if (!ret) {
		n->has_vhost = true;
		return 0;
	}
	if (o->vhost == NET_VHOST_ON)
		return errmsg(err, errlen, ret, "--network vhost=1: %s", why);
	pr_info("network: no vhost-net (%s): frames go through armvm", why);
	return 0;
}

struct virtio_dev *virtio_net_new(const struct net_opts *o, const struct guest_mem *mem, char *err,
				  size_t errlen)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct ifreq ifr = { 0 };
	int hdr = NET_HDR_LEN, s;
	uint64_t features = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
			    BIT(VIRTIO_NET_F_MRG_RXBUF) | NET_FEATURES_HOST_OFFLOAD;
	/* What vhost must do itself; the net header's offloads are the tap's. */
	const uint64_t ring_features = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
				       BIT(VIRTIO_RING_F_INDIRECT_DESC) |
				       BIT(VIRTIO_NET_F_MRG_RXBUF);

	if (!n || !(n->frame = malloc(NET_FRAME_MAX))) {
		if (n)
			free(n);
		errmsg(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	n->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (n->tap < 0) {
		errmsg(err, errlen, -errno, "--network mode=tap: cannot open /dev/net/tun: %s",
		       strerror(errno));
		net_free(n);
		return NULL;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tapif[0] ? o->tapif : "armvm%d");
	if (ioctl(n->tap, TUNSETIFF, &ifr) < 0 || ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0) {
		errmsg(err, errlen, -errno, "--network mode=tap: cannot set up tap '%s': %s",
		       ifr.ifr_name, strerror(errno));
		net_free(n);
		return NULL;
	}
	/* Offer the guest-side offloads only if the tap can hand them over. */
	if (ioctl(n->tap, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0)
		features |= NET_FEATURES_GUEST_OFFLOAD;
	if (ioctl(n->tap, TUNSETOFFLOAD, 0) < 0) {
		errmsg(err, errlen, -errno, "--network mode=tap: tap '%s': offloads: %s",
		       ifr.ifr_name, strerror(errno));
		net_free(n);
		return NULL;
	}
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifr.ifr_name);
	if (net_vhost_open(n, o, ring_features, err, errlen)) {
		net_free(n);
		return NULL;
	}
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
	pr_info("network: tap %s, %s data path", n->ifname,
		n->has_vhost ? "vhost-net" : "userspace");
	virtio_dev_init(&n->vd, &virtio_net_ops, "virtio-net", 2, NET_QUEUE_SIZE, features,
			NET_CFG_SIZE, mem, n);
	return &n->vd;
}
