/*
 * loop.c - see ptdm/loop.h.  epoll's data field holds the watch pointer;
 * a watch removed mid-round goes on a short dead list so the rest of the
 * round's events for it are skipped.  If more watches die in one round
 * than the list holds, the round stops early and the remaining events come
 * back in the next epoll_wait (level-triggered: nothing is lost).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ptdm/loop.h"

int ptdm_loop_init(struct ptdm_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void ptdm_loop_fini(struct ptdm_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int ptdm_loop_add(struct ptdm_loop *l, struct ptdm_watch *w, int fd,
		  uint32_t events, ptdm_watch_fn *fn)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	w->fd = fd;
	w->events = events;
	w->fn = fn;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	w->added = true;
	w->gen = ++l->gen;
	l->nwatch++;
	/* a new watch at a recycled address is alive again */
	for (unsigned i = 0; i < l->ndead; i++)
		if (l->dead[i] == w)
			l->dead[i] = NULL;
	return 0;
}

int ptdm_loop_mod(struct ptdm_loop *l, struct ptdm_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!w->added)
		return -ENOENT;
	if (w->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev))
		return -errno;
	w->events = events;
	return 0;
}

void ptdm_loop_del(struct ptdm_loop *l, struct ptdm_watch *w)
{
	if (!w->added)
		return;
	/* the fd may be closed already (then epoll dropped it itself) */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = false;
	l->nwatch--;
	if (l->in_round && l->ndead < PTDM_LOOP_BATCH)
		l->dead[l->ndead++] = w;
	else if (l->in_round)
		l->ndead = PTDM_LOOP_BATCH + 1; /* overflow: end the round */
}

static bool dead(const struct ptdm_loop *l, const struct ptdm_watch *w)
{
	for (unsigned i = 0; i < l->ndead && i < PTDM_LOOP_BATCH; i++)
		if (l->dead[i] == w)
			return true;
	return false;
}

int ptdm_loop_once(struct ptdm_loop *l, int timeout_ms)
{
	struct epoll_event ev[PTDM_LOOP_BATCH];
	int n = epoll_wait(l->epfd, ev, PTDM_LOOP_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n)
		l->wakeups++;
	l->in_round = true;
	l->ndead = 0;
	for (int i = 0; i < n && l->ndead <= PTDM_LOOP_BATCH; i++) {
		struct ptdm_watch *w = ev[i].data.ptr;

		if (dead(l, w) || !w->added)
			continue;
		w->fn(w, ev[i].events);
	}
	l->in_round = false;
	l->ndead = 0;
	return 0;
}

int ptdm_loop_run(struct ptdm_loop *l, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int rc = ptdm_loop_once(l, 250);

		if (rc)
			return rc;
	}
	return 0;
}
