/*
 * vfu_server.c - the vfio-user server loop: one poll loop over every
 * device's listening socket and its one connection.
 *
 * A device serves one client at a time (the protocol's model); while it has
 * one, its listener is not polled, so a second client waits in the backlog
 * until the first goes away.  A connection that ends or breaks is closed
 * with its DMA maps and interrupt fds; the device keeps its state for the
 * next client.  SIGTERM/SIGINT set *stop and the loop returns cleanly.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ptdm/vfu_server.h"

int vfu_listen_unix(const char *path, struct ptdm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ptdm_errf(err, -ENAMETOOLONG, "%s: path too long for a "
				 "UNIX socket", path);
	strcpy(sa.sun_path, path);
	if (!stat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return ptdm_errf(err, -EEXIST, "%s: exists and is not "
					 "a socket", path);
		unlink(path); /* a stale socket from an earlier run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ptdm_errf(err, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)) {
		int e = errno;

		close(fd);
		return ptdm_errf(err, -e, "%s: %s", path, strerror(e));
	}
	return fd;
}

int vfu_serve(struct vfu_listener *l, unsigned n, volatile sig_atomic_t *stop)
{
	struct vfu_conn *conns = calloc(n, sizeof(*conns));
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	bool *live = calloc(n, sizeof(*live)), *done = calloc(n, sizeof(*done));
	unsigned left = n;
	int rc = 0;

	if (!conns || !pfd || !live || !done) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!l[i].connected)
			continue;
		rc = vfu_conn_init(&conns[i], l[i].fd, l[i].dev);
		if (rc)
			goto out;
		live[i] = true;
	}
	while (!*stop && left) {
		for (unsigned i = 0; i < n; i++) {
			pfd[i].fd = done[i] ? -1
				  : live[i] ? conns[i].fd : l[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, n, 500) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (unsigned i = 0; i < n && !*stop; i++) {
			if (!pfd[i].revents || done[i])
				continue;
			if (!live[i]) {
				int fd = accept4(l[i].fd, NULL, NULL,
						 SOCK_CLOEXEC);

				if (fd < 0)
					continue;
				if (vfu_conn_init(&conns[i], fd, l[i].dev)) {
					close(fd);
					continue;
				}
				ptdm_log(PTDM_LOG_INFO, "%s: client connected",
					 l[i].name);
				live[i] = true;
				continue;
			}
			int r = vfu_conn_handle(&conns[i]);

			if (!r)
				continue;
			ptdm_log(PTDM_LOG_INFO, "%s: client gone (%s)",
				 l[i].name, strerror(-r));
			vfu_conn_close(&conns[i]);
			live[i] = false;
			if (l[i].connected) { /* --fd: nothing to accept */
				done[i] = true;
				left--;
			}
		}
	}
out:
	for (unsigned i = 0; live && i < n; i++)
		if (live[i])
			vfu_conn_close(&conns[i]);
	free(conns);
	free(pfd);
	free(live);
	free(done);
	return rc;
}
