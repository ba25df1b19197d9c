// SPDX-License-Identifier: MIT
/*
 * The control socket (see control.h and docs/control.md). JSON with
 * jansson (Debian's libjansson-dev, static): small, MIT, maintained, and
 * it refuses malformed text for us.
 */
#include "cli.h"
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "minivm.h"
#include "snapshot.h"
#include "vcpu_state.h"
#include "util.h"
#include "virtio.h"
#include "virtio_iommu.h"
#include "vm.h"

/* ---- where the sockets live ------------------------------------------- */

int control_dir(char *buf, size_t len, bool make, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	struct stat st;
	int n;

	if (xdg && *xdg == '/')
		n = snprintf(buf, len, "%s/armvm", xdg);
	else if (home && *home == '/')
		n = snprintf(buf, len, "%s/.armvm", home);
	else
		return errmsg(
			err, errlen, -ENOENT,
			"no place for control sockets: neither XDG_RUNTIME_DIR nor HOME is set");
	if (n < 0 || (size_t)n >= len)
		return errmsg(err, errlen, -ENAMETOOLONG, "control directory path too long");
	if (make && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return errmsg(err, errlen, -errno, "cannot create %s: %s", buf, strerror(errno));
	if (stat(buf, &st) < 0)
		return errmsg(err, errlen, -errno, "%s: %s", buf, strerror(errno));
	/* Ours, and nobody else's to write in. */
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return errmsg(err, errlen, -EPERM,
			      "%s must be a directory owned by you and writable by nobody else",
			      buf);
	return 0;
}

static int sock_path(char *buf, size_t len, const char *dir, const char *name)
{
	struct sockaddr_un sun;
	int n = snprintf(buf, len, "%s/%s.sock", dir, name);

	return n < 0 || (size_t)n >= len || (size_t)n >= sizeof(sun.sun_path) ? -ENAMETOOLONG : 0;
}

/* Connect to a socket path: the fd, or -errno (ECONNREFUSED: nobody there). */
static int sock_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* ---- the server ---------------------------------------------------------- */

int control_open(struct control *c, const char *name, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[200];
	mode_t old;
	int fd, ret;

	memset(c, 0, sizeof(*c));
	c->fd = c->serving_fd = c->bg.fd = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->t_start_ns = clock_monotonic_ns();
	ret = control_dir(dir, sizeof(dir), true, err, errlen);
	if (ret)
		return ret;
	if (sock_path(c->path, sizeof(c->path), dir, name))
		return errmsg(err, errlen, -ENAMETOOLONG, "--name %s: socket path too long", name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errmsg(err, errlen, -errno, "control socket: %s", strerror(errno));
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1); /* fits: sock_path */
	/*
	 * Bind first (the usual case: no socket there). A socket in the way
	 * is a live guest's, refused, or a dead armvm's (its connect is
	 * refused), removed and bound over.
	 */
	for (int tries = 0;; tries++) {
		old = umask(0177); /* the socket is 0600 from its birth */
		ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
		if (ret == 0 || errno != EADDRINUSE || tries)
			break;
		ret = sock_connect(c->path);
		if (ret >= 0) {
			close(ret);
			close(fd);
			return errmsg(
				err, errlen, -EEXIST,
				"--name %s: a guest of that name is running (%s); pick another name",
				name, c->path);
		}
		if (ret != -ECONNREFUSED) { /* not a socket, or not ours to judge */
			errno = EADDRINUSE;
			ret = -1;
			break;
		}
		unlink(c->path);
	}
	if (ret < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		close(fd);
		return errmsg(err, errlen, ret, "control socket %s: %s", c->path, strerror(-ret));
	}
	c->fd = fd;
	return 0;
}

void control_close(struct control *c)
{
	control_detach(c);
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	c->fd = -1;
}

static void client_close(struct control *c, struct control_client *cl)
{
	cl->waiting = false;
	if (cl->fd < 0)
		return;
	if (c->vm)
		evloop_del(&c->vm->loop, cl->fd);
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
	free(cl->buf);
	cl->buf = NULL;
}

static char *reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *reply_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	json_t *j;
	char *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static const char *vm_state(struct vm *vm)
{
	return vm->paused ? "paused" : "running";
}

/* Memory, each vCPU with its exits, each device with its counters. */
static json_t *control_stat(struct control *c)
{
	struct vm *vm = c->vm;
	json_t *vcpus = json_array(), *devs = json_array();

	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t k[VCPU_KSTAT_NR];
		json_t *j =
			json_pack("{s:i, s:s, s:I, s:I}", "id", (int)i, "state",
				  v->parked ? "paused" : "running", "exits", (json_int_t)v->exits,
				  "mmio_exits", (json_int_t)v->mmio_exits);

		/* The kernel's count, exits it handled itself included. */
		if (!vcpu_kvm_stats(v, k)) {
			json_t *kj = json_object();

			for (int n = 0; n < VCPU_KSTAT_NR; n++)
				json_object_set_new(kj, vcpu_kstat_names[n],
						    json_integer((json_int_t)k[n]));
			json_object_set_new(j, "kvm", kj);
		}
		json_array_append_new(vcpus, j);
	}
	for (struct device *d = vm->devices.head; d; d = d->next) {
		struct virtio_dev *vd = virtio_dev_of(d);
		json_t *j = json_pack("{s:s, s:s}", "name", d->name, "type",
				      d->ops && d->ops->type ? d->ops->type : "?");

		if (vd) {
			json_object_set_new(j, "notifies",
					    json_integer((json_int_t)vd->stat_notifies));
			json_object_set_new(j, "interrupts",
					    json_integer((json_int_t)vd->stat_irqs));
			json_object_set_new(j, "read_bytes",
					    json_integer((json_int_t)vd->stat_read_bytes));
			json_object_set_new(j, "write_bytes",
					    json_integer((json_int_t)vd->stat_write_bytes));
		}
		json_array_append_new(devs, j);
	}
	return json_pack("{s:b, s:s, s:i, s:s, s:I, s:o, s:o}", "ok", 1, "name", c->name, "pid",
			 (int)getpid(), "state", vm_state(vm), "memory_mib",
			 (json_int_t)(vm->ram_size >> 20), "vcpus", vcpus, "devices", devs);
}

/* While a snapshot is written: a progress line to the client, 4 a second. */
static void snapshot_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct control *c = opaque;
	int64_t now = clock_monotonic_ns();
	char line[128];
	int n;

	if (c->serving_fd < 0 || (now - c->last_progress_ns < 250000000 && done < total))
		return;
	c->last_progress_ns = now;
	n = snprintf(line, sizeof(line), "{\"progress\":{\"done\":%llu,\"total\":%llu}}\n",
		     (unsigned long long)done, (unsigned long long)total);
	if (send(c->serving_fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* a slow or gone reader misses a line; the reply still comes */
	}
}

/*
 * Send a reply line whole. Most fit the socket buffer at once; a long one
 * (debug --regs of many vCPUs) waits for the client to read, up to 5 s
 * without progress. 0, or -1 if the client is gone or stuck.
 */
static int send_line(int fd, char *reply)
{
	size_t len = strlen(reply) + 1, done = 0;

	reply[len - 1] = '\n'; /* json_dumps leaves room: we own its buffer */
	while (done < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, reply + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (poll(&pfd, 1, 5000) <= 0)
			return -1;
	}
	return 0;
}

/* Send a reply line to a client, if it is still there. */
static void client_reply(struct control_client *cl, char *reply)
{
	if (reply && cl->fd >= 0 && send_line(cl->fd, reply)) {
		/* it went away, or reads nothing: it loses the reply */
	}
}

/* The child writing a background save is done (or died): reply. */
static void snapshot_bg_done(void *opaque, uint32_t events)
{
	struct control *c = opaque;
	struct snap_bg bg = { .pid = c->bg.pid, .fd = c->bg.fd, .t0 = c->bg.t0 };
	struct snap_result res = { .pause_ns = c->bg.pause_ns };
	struct control_client *cl = c->bg.client;
	char err[512], *reply;
	json_t *j;
	int ret;

	(void)events;
	if (c->vm)
		evloop_del(&c->vm->loop, c->bg.fd);
	ret = snapshot_bg_collect(&bg, &res, err, sizeof(err));
	c->bg.pid = 0;
	c->bg.fd = -1;
	if (ret) {
		pr_warn("%s", err);
		reply = reply_error("%s", err);
	} else {
		pr_info("snapshot %s: %llu MiB of memory stored in %.1f ms while the guest ran",
			c->bg.path, (unsigned long long)(res.mem_bytes >> 20), res.write_ns / 1e6);
		j = json_pack("{s:b, s:s, s:s, s:f, s:f, s:I, s:I}", "ok", 1, "path", c->bg.path,
			      "state", "running", "pause_ms", res.pause_ns / 1e6, "write_ms",
			      res.write_ns / 1e6, "memory_bytes", (json_int_t)res.mem_bytes,
			      "file_bytes", (json_int_t)res.mem_bytes);
		reply = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	}
	if (cl && cl->waiting) {
		cl->waiting = false;
		client_reply(cl, reply);
	}
	c->bg.client = NULL;
	free(reply);
}

/*
 * {"cmd":"snapshot","path":ABSOLUTE,"then":"pause"|"resume"|"stop"}: the
 * guest is saved to path and then left paused (the default), resumed or
 * stopped. A failure leaves it as it was.
 */
static json_t *control_snapshot(struct control *c, json_t *req, char **out)
{
	const char *path = json_string_value(json_object_get(req, "path"));
	const char *then = json_string_value(json_object_get(req, "then"));
	struct snap_result res;
	char err[512];
	const char *state;
	int ret;

	if (!then)
		then = "pause";
	if (!path || path[0] != '/') {
		*out = reply_error("snapshot: \"path\" must be an absolute path");
		return NULL;
	}
	if (strcmp(then, "pause") && strcmp(then, "resume") && strcmp(then, "stop")) {
		*out = reply_error("snapshot: \"then\" must be pause, resume or stop");
		return NULL;
	}
	if (c->bg.pid) {
		*out = reply_error("snapshot: another snapshot of this guest is being written");
		return NULL;
	}
	c->last_progress_ns = clock_monotonic_ns();
	/* --resume: memory is written by a child while the guest runs on. */
	if (!strcmp(then, "resume")) {
		struct snap_bg bg = { 0 };

		ret = vm_snapshot(c->vm, path, snapshot_progress, c, &res, &bg, err, sizeof(err));
		if (ret == 1) {
			vm_resume(c->vm);
			c->bg.pid = bg.pid;
			c->bg.fd = bg.fd;
			c->bg.t0 = bg.t0;
			c->bg.pause_ns = res.pause_ns;
			c->bg.client = c->serving;
			c->serving->waiting = true;
			snprintf(c->bg.path, sizeof(c->bg.path), "%s", path);
			if (evloop_add(&c->vm->loop, bg.fd, EPOLLIN, snapshot_bg_done, c) == 0)
				return NULL; /* the reply comes when the child is done */
			snapshot_bg_done(c, 0);
			return NULL;
		}
	} else {
		ret = vm_snapshot(c->vm, path, snapshot_progress, c, &res, NULL, err, sizeof(err));
	}
	if (ret) {
		pr_warn("%s", err);
		*out = reply_error("%s", err);
		return NULL;
	}
	if (!strcmp(then, "resume")) {
		vm_resume(c->vm);
		state = "running";
	} else if (!strcmp(then, "stop")) {
		vm_request_exit(c->vm, VM_EXIT_QUIT, "stopped after a snapshot to %s", path);
		state = "stopping";
	} else {
		state = "paused";
	}
	return json_pack("{s:b, s:s, s:s, s:f, s:f, s:I, s:I}", "ok", 1, "path", path, "state",
			 state, "pause_ms", res.pause_ns / 1e6, "write_ms", res.write_ns / 1e6,
			 "memory_bytes", (json_int_t)res.mem_bytes, "file_bytes",
			 (json_int_t)res.file_bytes);
}

/* A register's value as hex, most significant byte first. */
static json_t *reg_hex(const struct vcpu_state *st, uint64_t id, size_t bytes)
{
	const uint8_t *v = vcpu_state_value(st, id);
	char buf[2 + 2 * 256 + 1];
	size_t n = 2;

	if (!v)
		return json_null();
	buf[0] = '0', buf[1] = 'x';
	for (size_t i = bytes; i-- > 0;)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%02x", v[i]);
	return json_string(buf);
}

#define CORE_ID(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))

/* One vCPU's registers: core, and with SVE Z/P/FFR at the guest's VL. */
static json_t *vcpu_regs_json(struct vm *vm, unsigned int i, char *err, size_t errlen)
{
	struct vcpu_state st;
	json_t *core, *j;
	char name[16];
	int ret = vcpu_state_capture(&vm->vcpus[i], &st);

	if (ret) {
		errmsg(err, errlen, ret, "debug: cannot read vCPU %u's registers: %s", i,
		       strerror(-ret));
		return NULL;
	}
	core = json_object();
	for (unsigned int r = 0; r < 31; r++) {
		snprintf(name, sizeof(name), "x%u", r);
		json_object_set_new(core, name, reg_hex(&st, arm64_core_xreg_id(r), 8));
	}
	json_object_set_new(core, "sp", reg_hex(&st, CORE_ID(regs.sp), 8));
	json_object_set_new(core, "pc", reg_hex(&st, CORE_ID(regs.pc), 8));
	json_object_set_new(core, "pstate", reg_hex(&st, CORE_ID(regs.pstate), 8));
	json_object_set_new(core, "sp_el1", reg_hex(&st, CORE_ID(sp_el1), 8));
	json_object_set_new(core, "elr_el1", reg_hex(&st, CORE_ID(elr_el1), 8));
	json_object_set_new(core, "fpsr",
			    reg_hex(&st,
				    KVM_REG_ARM64 | KVM_REG_SIZE_U32 | KVM_REG_ARM_CORE |
					    KVM_REG_ARM_CORE_REG(fp_regs.fpsr),
				    4));
	json_object_set_new(core, "fpcr",
			    reg_hex(&st,
				    KVM_REG_ARM64 | KVM_REG_SIZE_U32 | KVM_REG_ARM_CORE |
					    KVM_REG_ARM_CORE_REG(fp_regs.fpcr),
				    4));
	j = json_pack("{s:i, s:s, s:o}", "id", (int)i, "mp_state",
		      st.mp_state == KVM_MP_STATE_STOPPED ? "stopped" : "runnable", "core", core);
	if (st.has_sve) {
		unsigned int vq = sve_vls_max_vq(&st.vls);
		json_t *z = json_array(), *p = json_array();

		/* Slice 0 holds every bit up to 2048; the guest's VL is vq * 128. */
		for (unsigned int r = 0; r < SVE_NR_ZREGS; r++)
			json_array_append_new(z, reg_hex(&st, sve_zreg_id(r, 0), vq * 16));
		for (unsigned int r = 0; r < SVE_NR_PREGS; r++)
			json_array_append_new(p, reg_hex(&st, sve_preg_id(r, 0), vq * 2));
		json_object_set_new(j, "sve",
				    json_pack("{s:i, s:o, s:o, s:o, s:o}", "vl", (int)vq * 128, "z",
					      z, "p", p, "ffr", reg_hex(&st, sve_ffr_id(0), vq * 2),
					      "zcr_el1", reg_hex(&st, ARM64_ZCR_EL1, 8)));
	} else {
		json_t *v = json_array();

		for (unsigned int r = 0; r < 32; r++)
			json_array_append_new(
				v, reg_hex(&st,
					   KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE |
						   KVM_REG_ARM_CORE_REG(fp_regs.vregs[r]),
					   16));
		json_object_set_new(j, "v", v);
	}
	vcpu_state_free(&st);
	return j;
}

/*
 * {"cmd":"debug","regs":true[,"vcpu":N]}: the vCPUs' registers, read
 * while they are paused (a running guest is paused for the read and
 * resumed after).
 */
/* {"cmd":"debug","info":"stats"}: the virtio-iommu's domains. */
static json_t *control_debug_stats(struct control *c)
{
	struct viommu *vi = c->vm->viommu;
	json_t *doms, *rep;

	if (!vi)
		return json_pack("{s:b, s:n}", "ok", 1, "viommu");
	doms = json_array();
	pthread_mutex_lock(&vi->lock);
	for (struct viommu_domain *d = vi->domains; d; d = d->next)
		json_array_append_new(
			doms,
			json_pack("{s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I}", "id",
				  (json_int_t)d->id, "endpoints", (json_int_t)d->nr_eps, "bypass",
				  d->bypass, "mappings", (json_int_t)d->nr_maps, "pages",
				  (json_int_t)d->pages, "maps", (json_int_t)d->st_maps, "unmaps",
				  (json_int_t)d->st_unmaps, "faults", (json_int_t)d->st_faults));
	rep = json_pack("{s:b, s:{s:I, s:I, s:I, s:b, s:o}}", "ok", 1, "viommu", "endpoints",
			(json_int_t)vi->nr_eps, "requests", (json_int_t)vi->st_requests, "refused",
			(json_int_t)vi->st_bad, "bypass", vi->bypass, "domains", doms);
	pthread_mutex_unlock(&vi->lock);
	return rep;
}

static json_t *control_debug(struct control *c, json_t *req, char **out)
{
	struct vm *vm = c->vm;
	json_t *jv = json_object_get(req, "vcpu"), *arr, *one, *info = json_object_get(req, "info");
	bool was_paused = vm->paused;
	char err[256];
	int ret;

	if (json_is_string(info) && !strcmp(json_string_value(info), "stats"))
		return control_debug_stats(c);
	if (!json_is_true(json_object_get(req, "regs"))) {
		*out = reply_error("debug: say what to show: \"regs\":true or \"info\":\"stats\"");
		return NULL;
	}
	if (jv && (!json_is_integer(jv) || json_integer_value(jv) < 0 ||
		   json_integer_value(jv) >= (json_int_t)vm->nr_vcpus)) {
		*out = reply_error("debug: \"vcpu\" must be 0 to %u", vm->nr_vcpus - 1);
		return NULL;
	}
	if (!was_paused && (ret = vm_pause(vm, NULL))) {
		*out = reply_error("debug: cannot pause the guest: %s", strerror(-ret));
		return NULL;
	}
	arr = json_array();
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (jv && (json_int_t)i != json_integer_value(jv))
			continue;
		one = vcpu_regs_json(vm, i, err, sizeof(err));
		if (!one) {
			json_decref(arr);
			arr = NULL;
			*out = reply_error("%s", err);
			break;
		}
		json_array_append_new(arr, one);
	}
	if (!was_paused)
		vm_resume(vm);
	return arr ? json_pack("{s:b, s:o}", "ok", 1, "vcpus", arr) : NULL;
}

char *control_handle(struct control *c, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr), *rep = NULL;
	const char *cmd;
	char *out = NULL;

	if (!req || !json_is_object(req)) {
		json_decref(req);
		return reply_error("malformed request: %s (one JSON object a line)",
				   req ? "not an object" : jerr.text);
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd) {
		json_decref(req);
		return reply_error("malformed request: %s", "no \"cmd\" string");
	}
	if (!c->vm) {
		out = reply_error("%s: the guest is between two boots; try again", cmd);
	} else if (!strcmp(cmd, "info")) {
		struct vm *vm = c->vm;

		rep = json_pack("{s:b, s:s, s:i, s:s, s:i, s:I, s:b, s:I, s:f}", "ok", 1, "name",
				c->name, "pid", (int)getpid(), "state", vm_state(vm), "vcpus",
				(int)vm->nr_vcpus, "memory_mib", (json_int_t)(vm->ram_size >> 20),
				"sve", vm->sve, "sve_max_vl",
				(json_int_t)(vm->sve ? 128 * sve_vls_max_vq(&vm->sve_vls) : 0),
				"uptime_s", (clock_monotonic_ns() - c->t_start_ns) / 1e9);
	} else if (!strcmp(cmd, "stat")) {
		rep = control_stat(c);
	} else if (!strcmp(cmd, "pause")) {
		int64_t took = 0;
		int err = vm_pause(c->vm, &took);

		if (err)
			out = reply_error("pause: %s", strerror(-err));
		else
			rep = json_pack("{s:b, s:s, s:f}", "ok", 1, "state", "paused", "took_ms",
					took / 1e6);
	} else if (!strcmp(cmd, "resume")) {
		vm_resume(c->vm);
		rep = json_pack("{s:b, s:s}", "ok", 1, "state", "running");
	} else if (!strcmp(cmd, "debug")) {
		rep = control_debug(c, req, &out);
	} else if (!strcmp(cmd, "snapshot")) {
		rep = control_snapshot(c, req, &out);
	} else if (!strcmp(cmd, "stop")) {
		vm_request_exit(c->vm, VM_EXIT_QUIT, "stopped through the control socket");
		rep = json_pack("{s:b, s:s}", "ok", 1, "state", "stopping");
	} else {
		out = reply_error(
			"unknown command '%s' (info, stat, pause, resume, stop, snapshot, debug)",
			cmd);
	}
	if (rep) {
		out = json_dumps(rep, JSON_COMPACT);
		json_decref(rep);
	}
	json_decref(req);
	return out;
}

/* Whole lines in, one reply line out for each. */
static void client_event(void *opaque, uint32_t events)
{
	struct control_client *cl = opaque;
	struct control *c = cl->owner;
	char *nl;
	ssize_t n;

	(void)events;
	n = recv(cl->fd, cl->buf + cl->len, CONTROL_LINE_MAX - 1 - cl->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c, cl);
		return;
	}
	if (cl->refused)
		return; /* told already; what it sends is dropped until it goes */
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	while ((nl = strchr(cl->buf, '\n'))) {
		char *reply;

		*nl = '\0';
		c->serving_fd = cl->fd;
		c->serving = cl;
		reply = control_handle(c, cl->buf);
		c->serving_fd = -1;
		c->serving = NULL;
		if (reply) {
			if (send_line(cl->fd, reply)) {
				free(reply);
				client_close(c, cl);
				return;
			}
			free(reply);
		}
		cl->len -= (size_t)(nl + 1 - cl->buf);
		memmove(cl->buf, nl + 1, cl->len + 1);
	}
	if (cl->len == CONTROL_LINE_MAX - 1) {
		static const char too_long[] =
			"{\"ok\":false,\"error\":\"request longer than 4095 bytes\"}\n";

		if (send(cl->fd, too_long, sizeof(too_long) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* closing anyway */
		}
		client_close(c, cl);
	}
}

/* A new connection: only our own uid (or root) may drive the guest. */
static void control_accept(void *opaque, uint32_t events)
{
	struct control *c = opaque;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct control_client *cl = NULL;
	bool refused;
	char *buf;
	int fd;

	(void)events;
	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	refused = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		  (cred.uid != geteuid() && cred.uid != 0);
	if (refused) {
		static const char no[] = "{\"ok\":false,\"error\":\"not your guest\"}\n";

		pr_warn("control: refused a client of uid %d", (int)cred.uid);
		if (send(fd, no, sizeof(no) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			close(fd);
			return;
		}
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	buf = cl ? malloc(CONTROL_LINE_MAX) : NULL;
	if (!buf || evloop_add(&c->vm->loop, fd, EPOLLIN, client_event, cl)) {
		free(buf);
		close(fd);
		return;
	}
	/* A refused client stays until it hangs up: closing at once, with
	 * its request unread, could reset the connection before it read
	 * the refusal. It is never served. */
	cl->fd = fd;
	cl->buf = buf;
	cl->len = 0;
	cl->owner = c;
	cl->refused = refused;
}

int control_attach(struct control *c, struct vm *vm)
{
	c->vm = vm;
	return c->fd >= 0 ? evloop_add(&vm->loop, c->fd, EPOLLIN, control_accept, c) : 0;
}

void control_detach(struct control *c)
{
	if (!c->vm)
		return;
	/* A background save still being written: the file is finished (or
	 * not) before the machine goes, and its client gets its reply. */
	if (c->bg.pid)
		snapshot_bg_done(c, 0);
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_close(c, &c->clients[i]);
	if (c->fd >= 0)
		evloop_del(&c->vm->loop, c->fd);
	c->vm = NULL;
}

/* ---- the clients --------------------------------------------------------- */

/* Progress of a long request on a terminal: bytes, rate, time left. */
struct progress {
	bool on;
	int64_t t0;
	bool shown;
};

static void progress_show(struct progress *p, json_t *prog)
{
	double done = (double)json_integer_value(json_object_get(prog, "done"));
	double total = (double)json_integer_value(json_object_get(prog, "total"));
	double secs = (clock_monotonic_ns() - p->t0) / 1e9, rate;

	/* Only for what takes more than a second, and only on a terminal. */
	if (!p->on || secs < 1.0 || total <= 0)
		return;
	rate = done / secs;
	fprintf(stderr, "\r%.0f/%.0f MiB, %.0f MiB/s, %.0f s left   ", done / 1048576,
		total / 1048576, rate / 1048576, rate > 0 ? (total - done) / rate : 0);
	p->shown = true;
}

/*
 * One request (a JSON line) to the socket at path; the reply object, or
 * NULL with err. Progress lines before the reply are shown on a terminal.
 */
static json_t *control_request(const char *path, const char *req, int timeout_ms, char *err,
			       size_t errlen)
{
	size_t got = 0, cap = CONTROL_LINE_MAX;
	char *buf = malloc(cap), *nb;
	json_error_t jerr;
	json_t *rep = NULL;
	struct progress prog = { .on = isatty(STDERR_FILENO), .t0 = clock_monotonic_ns() };
	int fd = sock_connect(path);

	if (fd < 0 || !buf) {
		errmsg(err, errlen, fd < 0 ? fd : -ENOMEM, "%s: %s", path,
		       strerror(fd < 0 ? -fd : ENOMEM));
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	if (write_full(fd, req, strlen(req)) || write_full(fd, "\n", 1)) {
		errmsg(err, errlen, -EIO, "%s: cannot send the request", path);
		close(fd);
		free(buf);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		while ((nl = memchr(buf, '\n', got))) {
			*nl = '\0';
			rep = json_loads(buf, 0, &jerr);
			got -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, got);
			if (rep && json_object_get(rep, "progress") &&
			    !json_object_get(rep, "ok")) {
				progress_show(&prog, json_object_get(rep, "progress"));
				json_decref(rep);
				rep = NULL;
				continue;
			}
			goto done;
		}
		/* Replies may be long (debug --regs): up to 16 MiB. */
		if (got == cap - 1) {
			if (cap >= (16u << 20) || !(nb = realloc(buf, cap * 2)))
				break;
			buf = nb;
			cap *= 2;
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		n = read(fd, buf + got, cap - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
done:
	if (prog.shown)
		fprintf(stderr, "\n");
	close(fd);
	free(buf);
	if (!rep)
		errmsg(err, errlen, -EPROTO, "%s: no reply, or not JSON", path);
	return rep;
}

static json_t *control_call(const char *path, const char *cmd, char *err, size_t errlen)
{
	char req[64];

	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", cmd);
	return control_request(path, req, 10000, err, errlen);
}

struct ctl_opts {
	const char *name;
	bool all, json;
	const char *output, *then; /* snapshot */
	bool regs;		   /* debug */
	bool stats;		   /* debug -i stats */
	int vcpu;		   /* debug: -1 for all */
};

/* 0, or the status to exit with (help shown: 0; bad usage said: 2). */
static int ctl_parse(const char *cmd, int argc, char **argv, struct ctl_opts *o)
{
	struct cli_parser p;
	char err[256];
	int c;

	memset(o, 0, sizeof(*o));
	o->vcpu = -1;
	cli_begin(&p, cmd, argc, argv, err, sizeof(err));
	while ((c = cli_next(&p)) > CLI_HELP) {
		switch (c) {
		case OPT_NAME:
			o->name = p.arg;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_OUTPUT:
			o->output = p.arg;
			break;
		case OPT_RESUME:
			o->then = "resume";
			break;
		case OPT_STOP:
			o->then = "stop";
			break;
		case OPT_REGS:
			o->regs = true;
			break;
		case OPT_INFO:
			if (strcmp(p.arg, "stats")) {
				pr_err("debug: -i shows 'stats' (the virtio-iommu's domains), not '%s'",
				       p.arg);
				return 2;
			}
			o->stats = true;
			break;
		case OPT_VCPU: {
			char *end;
			long v = strtol(p.arg, &end, 10);

			if (!*p.arg || *end || v < 0 || v > 4095) {
				pr_err("debug: --vcpu wants a vCPU number, not '%s'", p.arg);
				return 2;
			}
			o->vcpu = (int)v;
			break;
		}
		}
	}
	if ((c = cli_finish(&p, c)) >= 0)
		return c ? c : -1;
	if (!strcmp(cmd, "debug") && o->regs == o->stats) {
		pr_err("debug: say what to show: --regs, or -i stats");
		return 2;
	}
	if (!strcmp(cmd, "debug") && o->stats && !o->name == !o->all) {
		pr_err("debug: say which guest: --name NAME, or -a for all");
		return 2;
	}
	if ((!strcmp(cmd, "stat") || !strcmp(cmd, "snapshot") ||
	     (!strcmp(cmd, "debug") && o->regs)) &&
	    !o->name) {
		pr_err("%s: say which guest: --name NAME", cmd);
		return 2;
	}
	if (!strcmp(cmd, "snapshot") && !o->output) {
		pr_err("snapshot: say where to: -o FILE");
		return 2;
	}
	if (strcmp(cmd, "list") && strcmp(cmd, "stat") && strcmp(cmd, "snapshot") &&
	    strcmp(cmd, "debug") && !o->name == !o->all) {
		pr_err("%s: say which guest: --name NAME, or --all", cmd);
		return 2;
	}
	return 0;
}

/* Every live guest's socket, in name order; dead ones are removed. */
static int ctl_guests(const char *dir, char ***names, size_t *n)
{
	struct dirent **ents;
	int k = scandir(dir, &ents, NULL, alphasort);

	*names = NULL;
	*n = 0;
	if (k < 0)
		return errno == ENOENT ? 0 : -errno;
	*names = calloc((size_t)k + 1, sizeof(**names));
	for (int i = 0; i < k; i++) {
		size_t len = strlen(ents[i]->d_name);
		char path[256];
		int fd;

		if (len > 5 && !strcmp(ents[i]->d_name + len - 5, ".sock") && *names &&
		    snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) <
			    (int)sizeof(path)) {
			fd = sock_connect(path);
			if (fd >= 0) {
				close(fd);
				(*names)[(*n)++] = strndup(ents[i]->d_name, len - 5);
			} else if (fd == -ECONNREFUSED) {
				unlink(path); /* a dead armvm's */
			}
		}
		free(ents[i]);
	}
	free(ents);
	return *names ? 0 : -ENOMEM;
}

static void ctl_print_stat(json_t *rep, bool as_json)
{
	size_t i;
	json_t *v;

	if (as_json) {
		char *s = json_dumps(rep, JSON_INDENT(2));

		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	printf("%s: %s, pid %lld, %lld MiB\n", json_string_value(json_object_get(rep, "name")),
	       json_string_value(json_object_get(rep, "state")),
	       (long long)json_integer_value(json_object_get(rep, "pid")),
	       (long long)json_integer_value(json_object_get(rep, "memory_mib")));
	printf("%-6s %-8s %12s %12s\n", "VCPU", "STATE", "EXITS", "MMIO_EXITS");
	json_array_foreach(json_object_get(rep, "vcpus"), i, v)
		printf("%-6lld %-8s %12lld %12lld\n",
		       (long long)json_integer_value(json_object_get(v, "id")),
		       json_string_value(json_object_get(v, "state")),
		       (long long)json_integer_value(json_object_get(v, "exits")),
		       (long long)json_integer_value(json_object_get(v, "mmio_exits")));
	printf("%-22s %-12s %10s %10s %12s %12s\n", "DEVICE", "TYPE", "NOTIFIES", "IRQS",
	       "READ_BYTES", "WRITE_BYTES");
	json_array_foreach(json_object_get(rep, "devices"), i, v)
	{
		if (!json_object_get(v, "notifies")) { /* not a virtio device */
			printf("%-22s %-12s %10s %10s %12s %12s\n",
			       json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "type")), "-", "-", "-", "-");
			continue;
		}
		printf("%-22s %-12s %10lld %10lld %12lld %12lld\n",
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "type")),
		       (long long)json_integer_value(json_object_get(v, "notifies")),
		       (long long)json_integer_value(json_object_get(v, "interrupts")),
		       (long long)json_integer_value(json_object_get(v, "read_bytes")),
		       (long long)json_integer_value(json_object_get(v, "write_bytes")));
	}
}

/* The file's absolute path (its directory must exist), for the server. */
static int abs_path(const char *file, char *out, size_t len)
{
	char *copy = strdup(file), *dir, *base, real[4096];
	int n;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (!realpath(dir, real)) {
		int e = -errno;

		free(copy);
		return e;
	}
	free(copy);
	copy = strdup(file);
	if (!copy)
		return -ENOMEM;
	base = basename(copy);
	n = snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", base);
	free(copy);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	if (s)
		printf("%s\n", s);
	free(s);
}

/* A request whose reply must say ok: the reply, or NULL with the reason said. */
static json_t *ctl_request_ok(const char *cmd, const struct ctl_opts *o, const char *sock,
			      const char *req, int timeout_ms)
{
	char err[512];
	json_t *rep = control_request(sock, req, timeout_ms, err, sizeof(err));

	if (!rep) {
		if (strstr(err, "No such file") || strstr(err, "refused"))
			pr_err("%s: no running guest named '%s'", cmd, o->name);
		else
			pr_err("%s %s: %s", cmd, o->name, err);
		return NULL;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		pr_err("%s", json_string_value(json_object_get(rep, "error")));
		json_decref(rep);
		return NULL;
	}
	return rep;
}

static void print_hex_field(const char *label, json_t *v)
{
	printf("  %-6s %s\n", label, json_is_string(v) ? json_string_value(v) : "-");
}

/* debug -i stats of one guest: its virtio-iommu's domains. */
static int ctl_debug_stats(const struct ctl_opts *o, const char *name, const char *sock)
{
	struct ctl_opts one = *o;
	json_t *rep, *vi, *d;
	size_t i;

	one.name = name;
	rep = ctl_request_ok("debug", &one, sock, "{\"cmd\":\"debug\",\"info\":\"stats\"}", 10000);
	if (!rep)
		return 1;
	vi = json_object_get(rep, "viommu");
	if (o->json) {
		json_t *j = json_pack("{s:s, s:O}", "name", name, "viommu", vi);

		print_json(j);
		json_decref(j);
	} else if (!json_is_object(vi)) {
		printf("%s: no virtio-iommu\n", name);
	} else {
		printf("%s: virtio-iommu: %lld endpoint(s), %zu domain(s), %lld request(s), %lld refused, bypass %s\n",
		       name, (long long)json_integer_value(json_object_get(vi, "endpoints")),
		       json_array_size(json_object_get(vi, "domains")),
		       (long long)json_integer_value(json_object_get(vi, "requests")),
		       (long long)json_integer_value(json_object_get(vi, "refused")),
		       json_is_true(json_object_get(vi, "bypass")) ? "on" : "off");
		json_array_foreach(json_object_get(vi, "domains"), i, d) printf(
			"  domain %lld: %lld endpoint(s)%s, %lld mapping(s), %lld page(s) mapped, %lld map(s), %lld unmap(s), %lld fault(s)\n",
			(long long)json_integer_value(json_object_get(d, "id")),
			(long long)json_integer_value(json_object_get(d, "endpoints")),
			json_is_true(json_object_get(d, "bypass")) ? " (bypass)" : "",
			(long long)json_integer_value(json_object_get(d, "mappings")),
			(long long)json_integer_value(json_object_get(d, "pages")),
			(long long)json_integer_value(json_object_get(d, "maps")),
			(long long)json_integer_value(json_object_get(d, "unmaps")),
			(long long)json_integer_value(json_object_get(d, "faults")));
	}
	json_decref(rep);
	return 0;
}

static int ctl_debug(const struct ctl_opts *o, const char *sock)
{
	char req[96];
	json_t *rep, *v, *core;
	size_t i, k;

	if (o->vcpu >= 0)
		snprintf(req, sizeof(req), "{\"cmd\":\"debug\",\"regs\":true,\"vcpu\":%d}",
			 o->vcpu);
	else
		snprintf(req, sizeof(req), "{\"cmd\":\"debug\",\"regs\":true}");
	rep = ctl_request_ok("debug", o, sock, req, 10000);
	if (!rep)
		return 1;
	if (o->json) {
		print_json(rep);
		json_decref(rep);
		return 0;
	}
	json_array_foreach(json_object_get(rep, "vcpus"), i, v)
	{
		json_t *sve = json_object_get(v, "sve"), *r;
		static const char *const named[] = { "pc",	"sp",	"pstate", "sp_el1",
						     "elr_el1", "fpsr", "fpcr" };
		char label[32];

		core = json_object_get(v, "core");
		printf("vCPU %lld (%s)\n", (long long)json_integer_value(json_object_get(v, "id")),
		       json_string_value(json_object_get(v, "mp_state")));
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
			print_hex_field(named[k], json_object_get(core, named[k]));
		for (k = 0; k < 31; k++) {
			snprintf(label, sizeof(label), "x%zu", k);
			print_hex_field(label, json_object_get(core, label));
		}
		if (sve) {
			printf("  SVE, vector length %lld bits\n",
			       (long long)json_integer_value(json_object_get(sve, "vl")));
			print_hex_field("zcr", json_object_get(sve, "zcr_el1"));
			json_array_foreach(json_object_get(sve, "z"), k, r)
			{
				snprintf(label, sizeof(label), "z%zu", k);
				print_hex_field(label, r);
			}
			json_array_foreach(json_object_get(sve, "p"), k, r)
			{
				snprintf(label, sizeof(label), "p%zu", k);
				print_hex_field(label, r);
			}
			print_hex_field("ffr", json_object_get(sve, "ffr"));
		} else {
			json_array_foreach(json_object_get(v, "v"), k, r)
			{
				snprintf(label, sizeof(label), "v%zu", k);
				print_hex_field(label, r);
			}
		}
	}
	json_decref(rep);
	return 0;
}

static int ctl_snapshot(const struct ctl_opts *o, const char *sock)
{
	char path[4096], *req;
	json_t *j, *rep;
	int ret = abs_path(o->output, path, sizeof(path));

	if (ret) {
		pr_err("snapshot: %s: %s", o->output, strerror(-ret));
		return 1;
	}
	j = json_pack("{s:s, s:s, s:s}", "cmd", "snapshot", "path", path, "then",
		      o->then ? o->then : "pause");
	req = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!req)
		return 1;
	/* A save writes all of memory: allow it a minute between lines. */
	rep = ctl_request_ok("snapshot", o, sock, req, 60000);
	free(req);
	if (!rep)
		return 1;
	if (o->json) {
		print_json(rep);
	} else {
		printf("%s: saved to %s (%.1f MiB of memory stored, guest paused %.1f ms); %s\n",
		       o->name, path,
		       (double)json_integer_value(json_object_get(rep, "memory_bytes")) / 1048576,
		       json_real_value(json_object_get(rep, "pause_ms")),
		       json_string_value(json_object_get(rep, "state")));
	}
	json_decref(rep);
	return 0;
}

int control_main(const char *cmd, int argc, char **argv)
{
	struct ctl_opts o;
	char dir[200], err[512], path[256], **names = NULL;
	size_t n = 0;
	int status = 0, ret;
	json_t *all = NULL;

	ret = ctl_parse(cmd, argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = control_dir(dir, sizeof(dir), false, err, sizeof(err));
	if (ret == -ENOENT) {
		dir[0] = '\0'; /* no guest ever ran: none runs now */
	} else if (ret) {
		pr_err("%s: %s", cmd, err);
		return 1;
	}
	if (!strcmp(cmd, "snapshot") || (!strcmp(cmd, "debug") && !o.stats)) {
		if (!dir[0] || sock_path(path, sizeof(path), dir, o.name)) {
			pr_err("%s: no running guest named '%s'", cmd, o.name);
			return 1;
		}
		return !strcmp(cmd, "debug") ? ctl_debug(&o, path) : ctl_snapshot(&o, path);
	}
	if (o.name) {
		names = calloc(2, sizeof(*names));
		if (!names)
			return 1;
		names[0] = strdup(o.name);
		n = 1;
	} else if (dir[0] && ctl_guests(dir, &names, &n)) {
		pr_err("%s: cannot read %s: %s", cmd, dir, strerror(errno));
		return 1;
	}
	if (!strcmp(cmd, "list")) {
		all = json_array();
		if (!o.json)
			printf("%-20s %8s %-8s %5s %8s %8s\n", "NAME", "PID", "STATE", "VCPUS",
			       "MEM_MIB", "SVE_VL");
	}
	for (size_t i = 0; i < n; i++) {
		const char *what = !strcmp(cmd, "list") ? "info" : cmd;
		json_t *rep = NULL;

		if (o.stats) { /* debug -i stats: its own request and output */
			if (!dir[0] || sock_path(path, sizeof(path), dir, names[i])) {
				pr_err("%s: no running guest named '%s'", cmd, names[i]);
				status = 1;
			} else {
				status |= ctl_debug_stats(&o, names[i], path);
			}
			free(names[i]);
			continue;
		}
		if (!dir[0])
			snprintf(err, sizeof(err), "No such file or directory");
		else if (sock_path(path, sizeof(path), dir, names[i]) == 0)
			rep = control_call(path, what, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "%s: name too long", names[i]);
		if (!rep || !json_is_true(json_object_get(rep, "ok"))) {
			if (!rep && o.name &&
			    (strstr(err, "No such file") || strstr(err, "refused")))
				pr_err("%s: no running guest named '%s'", cmd, names[i]);
			else
				pr_err("%s %s: %s", cmd, names[i],
				       rep ? json_string_value(json_object_get(rep, "error"))
					   : err);
			status = 1;
		} else if (!strcmp(cmd, "stat")) {
			ctl_print_stat(rep, o.json);
		} else if (all) {
			if (o.json)
				json_array_append(all, rep);
			else
				printf("%-20s %8lld %-8s %5lld %8lld %8lld\n", names[i],
				       (long long)json_integer_value(json_object_get(rep, "pid")),
				       json_string_value(json_object_get(rep, "state")),
				       (long long)json_integer_value(json_object_get(rep, "vcpus")),
				       (long long)json_integer_value(
					       json_object_get(rep, "memory_mib")),
				       (long long)json_integer_value(
					       json_object_get(rep, "sve_max_vl")));
		} else {
			printf("%s: %s\n", names[i],
			       json_string_value(json_object_get(rep, "state")));
		}
		json_decref(rep);
		free(names[i]);
	}
	if (all && o.json) {
		char *s = json_dumps(all, JSON_INDENT(2));

		if (s)
			printf("%s\n", s);
		free(s);
	}
	json_decref(all);
	free(names);
	return status;
}
