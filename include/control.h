/* SPDX-License-Identifier: MIT */
/*
 * The control plane: every running guest listens on a UNIX socket,
 * DIR/NAME.sock, where DIR is $XDG_RUNTIME_DIR/armvm, else ~/.armvm
 * (made 0700; the socket is 0600 and a peer of another uid, root aside,
 * is refused with SO_PEERCRED). The protocol is one JSON object a line
 * each way (docs/control.md): {"cmd":"info"|"stat"|"pause"|"resume"|"stop"|
 * "snapshot"}. `armvm list|stat|pause|resume|stop|snapshot` are its clients.
 */
#ifndef ARMVM_CONTROL_H
#define ARMVM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct evloop;

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_LINE_MAX 4096

struct control;

struct control_client {
	struct control *owner;
	int fd;
	bool refused; /* another uid: told so, never served */
	bool waiting; /* owed a reply that comes later (a background save) */
	size_t len;
	char *buf; /* CONTROL_LINE_MAX bytes while connected (16 of them in
		    * struct control were 64 KiB to zero at every start-up) */
};

struct control {
	char path[256];
	char name[65];
	int fd;	       /* listening; -1 when closed */
	struct vm *vm; /* the machine answering, while attached */
	struct control_client clients[CONTROL_MAX_CLIENTS];
	int64_t t_start_ns;
	int serving_fd; /* the client being answered (progress lines), or -1 */
	struct control_client *serving;
	int64_t last_progress_ns;
	/* A `snapshot --resume` whose memory a child process is writing. */
	struct {
		int pid, fd;
		int64_t t0, pause_ns;
		struct control_client *client;
		char path[4096];
	} bg;
};

/* The directory of the sockets (created 0700 if missing when make). */
int control_dir(char *buf, size_t len, bool make, char *err, size_t errlen);
/*
 * Listen as NAME: a live guest of that name is refused, the socket of a
 * dead one is replaced. 0, or a negative errno with err set.
 */
int control_open(struct control *c, const char *name, char *err, size_t errlen);
/* Serve requests for vm on its main loop (one machine at a time). */
int control_attach(struct control *c, struct vm *vm);
void control_detach(struct control *c);
/* Stop listening and remove the socket. */
void control_close(struct control *c);

/*
 * One request: its JSON text in, the reply's JSON text out (malloc'ed).
 * The machine-independent half of the server, for tests.
 */
char *control_handle(struct control *c, const char *line);

/* The clients: `armvm list|pause|resume|stop ...`; the exit status. */
int control_main(const char *cmd, int argc, char **argv);

#endif
