/*
 * serve.h - the serving process behind `ptdm serve`: one loop, a list of
 * served devices (each a host device, its core state and one front end),
 * and an optional control socket that adds and removes devices while the
 * others keep serving.
 *
 * A served device is named by an id ("dev0", or the caller's) and made from
 * a spec string plus where to serve it (struct serve_where).  Removing one
 * drops its peer (the client is told to go by its socket closing), resets
 * the device, writes the dumps it was asked for, releases everything and
 * removes its socket file.
 */
#ifndef PTDM_CLI_SERVE_H
#define PTDM_CLI_SERVE_H

#include <signal.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "ptdm/front.h"
#include "ptdm/loop.h"

enum serve_kind { SERVE_VFIO_USER, SERVE_FD, SERVE_MPQEMU_FD, SERVE_XEN };

struct serve_where {
	enum serve_kind kind;
	const char *path;     /* SERVE_VFIO_USER */
	int fd;               /* SERVE_FD, SERVE_MPQEMU_FD */
	/* SERVE_MPQEMU_FD of BB:DD.* (--mpqemu-exec): function F's socket
	 * is fn_fd[F] (8 entries, -1 none) */
	const int *fn_fd;
	long domid;           /* SERVE_XEN */
	bool xen_cf8;
	bool xen_toolstack_assigns; /* libxl assigns the device (ptdm-xen-dm) */
	bool xen_gfx_passthru; /* xl gfx_passthru: an IGD gets the VGA ranges */
	int xen_fn;           /* guest function at the spec's slot, 0..7 */
	const char *dump_guest, *dump_host; /* written when it goes */
	const char *state;    /* a ptdm_dev_save blob loaded before serving */
};

struct served {
	struct served *next;
	char id[32];
	char spec[1024];
	char where[128];      /* for people: "/tmp/x.sock", "fd 3", "domain 4" */
	char path[108];       /* socket file to remove, "" none */
	enum serve_kind kind;
	struct opened_dev od;
	struct ptdm_dev *dev;
	struct ptdm_front *front;
	char *dump_guest, *dump_host;
	bool gone;            /* its front end ended: remove at the next turn */
	struct server *srv;
	/* trace: the control connection that asked, or NULL */
	void *trace_to;
};

struct server {
	struct ptdm_loop loop;
	struct served *devs;
	unsigned ndevs, next_id;
	bool control;         /* a control socket keeps it alive when empty */
	bool quit;
	volatile sig_atomic_t *stop, *raise_irq, *hup;
	struct ctl_server *ctl;
	/* adding the command line's devices: the IOMMU-group rule waits
	 * for server_check_groups(), which sees them all */
	bool group_check_at_end;
	/* set by the sandbox's file rules (sandbox_fs.c): appended to an
	 * EACCES a control command ends in, NULL without them */
	const char *fs_hint;
};

int server_init(struct server *s, volatile sig_atomic_t *stop);
/* Open, attach and start serving; 0 or -errno with err set.  id may be
 * NULL (then "devN"). */
int server_add(struct server *s, const char *spec, const char *id,
	       const struct serve_where *w, struct served **out,
	       struct ptdm_err *err);
/*
 * The same for a spec that may name every function of a slot (BB:DD.*):
 * one device per function (vfio-user: PATH with "{fn}" replaced by the
 * function number, or PATH.F; Xen: the functions of one virtual slot;
 * mpqemu: the socket w->fn_fd[F]), the IOMMU-group rule checked first,
 * all or none added.  Each function's --dump-guest/--dump-host file is
 * the path given with "{fn}" replaced, or with ".F" added.  ids: "ID.F"
 * with id, else the usual.  Returns how many were added or -errno.
 */
int server_add_slot(struct server *s, const char *spec, const char *id,
		    const struct serve_where *w, struct served **first,
		    struct ptdm_err *err);
void server_del(struct server *s, struct served *d);
/*
 * The IOMMU-group rule (slot.h) for every VFIO device s serves, against
 * all of them (each with its own group= key); ends group_check_at_end.
 * server_add and server_add_slot check it at once unless that is set.
 */
int server_check_groups(struct server *s, struct ptdm_err *err);
/* The device's state (ptdm_dev_save) into a new file at path (0600,
 * replacing one there); the bytes written or -errno with err set. */
long server_save_state(struct served *d, const char *path,
		       struct ptdm_err *err);
/* Its guest (or host) view, lspci -xxxx form, into path now. */
int server_write_view(struct served *d, const char *path, bool guest,
		      struct ptdm_err *err);
struct served *server_find(struct server *s, const char *id);
/* Serve until stopped, told to quit, or (with no control socket) every
 * device has gone; 0, or 1 if the loop failed. */
int server_run(struct server *s);
void server_fini(struct server *s);
/* SIGUSR1: every image device raises interrupt vector 0 */
void server_raise_irqs(struct server *s);

/* serve_xen.c: the Xen front end for a device (built with Xen only) */
int serve_xen_front(struct served *d, const struct serve_where *w,
		    struct ptdm_front **out, struct ptdm_err *err);

/* serve_control.c: the control socket (QMP-style JSON) */
int ctl_server_start(struct server *s, const char *path,
		     struct ptdm_err *err);
void ctl_server_stop(struct server *s);
/* its socket file, or NULL without one */
const char *ctl_server_path(const struct server *s);
/* a guest config write on a traced device, one line (also logged) */
void ctl_trace_line(struct served *d, const char *line);

#endif
