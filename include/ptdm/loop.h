/*
 * loop.h - the one event loop of a ptdm process (epoll, level-triggered).
 *
 * Everything a serving process waits on is a struct ptdm_watch: an fd, the
 * events wanted and a callback.  A front end embeds its watches in its own
 * objects and finds them back with container_of.  Callbacks never block:
 * every fd is non-blocking, and a callback that has more work than its
 * budget returns and is called again (level-triggered).  A watch may be
 * removed from inside any callback, its own included: the loop drops
 * events of watches removed during the current round.
 */
#ifndef PTDM_LOOP_H
#define PTDM_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

struct ptdm_watch;
typedef void ptdm_watch_fn(struct ptdm_watch *w, uint32_t events);

struct ptdm_watch {
	int fd;
	uint32_t events;  /* EPOLLIN | EPOLLOUT as last set */
	ptdm_watch_fn *fn;
	bool added;
	uint64_t gen;     /* which add this is, to drop stale events */
};

#define PTDM_LOOP_BATCH 64

struct ptdm_loop {
	int epfd;
	uint64_t gen;
	unsigned nwatch;
	unsigned long wakeups; /* epoll_wait returns that had events */
	/* watches removed during the current round: their pending events are
	 * skipped (the memory may be gone, so they are matched by pointer) */
	struct ptdm_watch *dead[PTDM_LOOP_BATCH];
	unsigned ndead;
	bool in_round;
};

int ptdm_loop_init(struct ptdm_loop *l);
void ptdm_loop_fini(struct ptdm_loop *l);
int ptdm_loop_add(struct ptdm_loop *l, struct ptdm_watch *w, int fd,
		  uint32_t events, ptdm_watch_fn *fn);
int ptdm_loop_mod(struct ptdm_loop *l, struct ptdm_watch *w, uint32_t events);
void ptdm_loop_del(struct ptdm_loop *l, struct ptdm_watch *w);
/*
 * One round: wait up to timeout_ms for events and dispatch them.  0, or a
 * negative errno on a loop failure (EINTR is not one: it returns 0).
 */
int ptdm_loop_once(struct ptdm_loop *l, int timeout_ms);
/* Rounds until *stop; returns 0 or the failure of a round. */
int ptdm_loop_run(struct ptdm_loop *l, volatile sig_atomic_t *stop);

#endif
