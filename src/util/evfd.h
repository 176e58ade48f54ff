/*
 * evfd.h - interrupt eventfds that come from a peer (a VMM client).
 *
 * A peer can hand over any fd as an "eventfd": a pipe nobody reads, a
 * socket, a regular file, or a real eventfd whose counter it filled to
 * 0xfffffffffffffffe.  A blocking write() to any of them stalls the whole
 * serving loop.  evfd_check() refuses what is not an eventfd and makes
 * the file non-blocking; evfd_signal() is the one way ptdm signals such an
 * fd, and it never blocks, even if the peer clears O_NONBLOCK again.
 */
#ifndef PTDM_UTIL_EVFD_H
#define PTDM_UTIL_EVFD_H

/*
 * 0 when fd is an eventfd (now O_NONBLOCK), -EINVAL when it is something
 * else, another -errno when it cannot be looked at.
 */
int evfd_check(int fd);
/*
 * Add 1 to the eventfd's counter without blocking: 0, -EAGAIN when the
 * counter is full (the reader has a pending signal anyway, so nothing is
 * lost), or another -errno.
 */
int evfd_signal(int fd);
/*
 * evfd_signal's last step, exposed for tests: write 1 under this thread's
 * timer, so even a blocking fd with a full counter returns (-EAGAIN)
 * within 20 ms.  The calling thread must not block SIGRTMIN+4.
 */
int evfd_write_guarded(int fd);

#endif
