/*
 * test_msgio.c - the non-blocking framing every front end reads and writes
 * through (src/util/msgio.c) and the event loop (src/util/loop.c): a
 * message that arrives in pieces, fds that travel with the first byte and
 * never with the next message's, a queue that overflows into -ENOBUFS
 * instead of blocking, an fd that waits in the queue, a reply sent from
 * the caller's buffer without a copy (and copied when the caller needs the
 * buffer back before the peer read it), and watches removed
 * from inside a round.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ptdm/loop.h"
#include "util/msgio.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(msgio_nonblock(sv[0]), 0);
}

static void send_fd(int s, const void *buf, size_t len, int fd)
{
	char ctrl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctrl, .msg_controllen = sizeof(ctrl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	assert_int_equal(sendmsg(s, &mh, 0), (ssize_t)len);
}

static void test_pieces_and_fds(void **state)
{
	uint8_t rx[64];
	struct msgio m;
	int sv[2], e1 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);

	pair(sv);
	msgio_init(&m, sv[0], rx, sizeof(rx), 1024);
	assert_int_equal(msgio_fill(&m, 8), 0); /* nothing yet */
	send_fd(sv[1], "abc", 3, e1);           /* message 1 starts, its fd */
	assert_int_equal(msgio_fill(&m, 8), 0); /* 3 of 8 */
	assert_int_equal(m.rx_have, 3);
	assert_int_equal(m.rx_nfds, 1);
	/* the rest of message 1 and message 2 with its own fd, back to back */
	assert_int_equal(send(sv[1], "defgh", 5, 0), 5);
	send_fd(sv[1], "12345678", 8, e2);
	assert_int_equal(msgio_fill(&m, 8), 1);
	assert_memory_equal(rx, "abcdefgh", 8);
	assert_int_equal(m.rx_nfds, 1); /* only message 1's */
	msgio_next(&m);                 /* closes it */
	assert_int_equal(msgio_fill(&m, 8), 1);
	assert_memory_equal(rx, "12345678", 8);
	assert_int_equal(m.rx_nfds, 1);
	msgio_next(&m);
	/* more than the buffer holds is refused, not overrun */
	assert_int_equal(msgio_fill(&m, sizeof(rx) + 1), -EMSGSIZE);
	/* a payload to throw away, in pieces */
	msgio_skip(&m, 10);
	assert_int_equal(send(sv[1], "0123", 4, 0), 4);
	assert_int_equal(msgio_fill(&m, 0), 0);
	assert_int_equal(send(sv[1], "456789XY", 8, 0), 8);
	assert_int_equal(msgio_fill(&m, 2), 1);
	assert_memory_equal(rx, "XY", 2);
	msgio_next(&m);
	close(sv[1]);
	assert_int_equal(msgio_fill(&m, 1), -ECONNRESET);
	msgio_fini(&m);
	close(sv[0]);
	close(e1);
	close(e2);
}

static void test_queue_bounded(void **state)
{
	static uint8_t big[256 << 10];
	uint8_t rx[16], got[64];
	struct msgio m;
	struct iovec iov = { big, sizeof(big) };
	int sv[2], rc, n = 0, efd = eventfd(0, EFD_CLOEXEC);
	struct stat st;

	pair(sv);
	msgio_init(&m, sv[0], rx, sizeof(rx), 1u << 20);
	/* the peer never reads: the socket fills, then the queue, then no */
	while ((rc = msgio_send(&m, &iov, 1, -1)) == 0)
		n++;
	assert_int_equal(rc, -ENOBUFS);
	assert_true(n >= 4);
	assert_true(m.out_bytes <= (1u << 20));
	assert_true(msgio_pending(&m));
	assert_int_equal(msgio_flush(&m), 1); /* still full: no blocking */
	msgio_fini(&m);
	close(sv[0]);
	close(sv[1]);

	/* an fd queued behind a full socket goes with its message's first
	 * byte, and the queue's copy is closed once it went */
	pair(sv);
	msgio_init(&m, sv[0], rx, sizeof(rx), 8u << 20);
	while (!msgio_pending(&m))
		assert_int_equal(msgio_send(&m, &iov, 1, -1), 0);
	assert_int_equal(msgio_send(&m, &(struct iovec){ (void *)"FD", 2 }, 1, efd), 0);
	close(efd); /* the queue holds its own copy */
	for (;;) {
		char ctrl[CMSG_SPACE(sizeof(int))];
		struct iovec riov = { got, sizeof(got) };
		struct msghdr mh = { .msg_iov = &riov, .msg_iovlen = 1,
				     .msg_control = ctrl,
				     .msg_controllen = sizeof(ctrl) };
		ssize_t k;

		msgio_flush(&m);
		k = recvmsg(sv[1], &mh, MSG_DONTWAIT);
		if (k < 0)
			continue;
		if (CMSG_FIRSTHDR(&mh)) {
			int fd;

			memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(fd));
			assert_int_equal(got[0], 'F');
			assert_int_equal(fstat(fd, &st), 0);
			close(fd);
			break;
		}
	}
	assert_int_equal(msgio_flush(&m), 0);
	msgio_fini(&m);
	close(sv[0]);
	close(sv[1]);
}

struct two {
	struct ptdm_loop l;
	struct ptdm_watch a, b;
	int calls_a, calls_b;
};

static void on_a(struct ptdm_watch *w, uint32_t ev)
{
	struct two *t = container_of(w, struct two, a);

	t->calls_a++;
	ptdm_loop_del(&t->l, &t->b); /* b's event of this round is dropped */
	ptdm_loop_del(&t->l, &t->a);
}

static void on_b(struct ptdm_watch *w, uint32_t ev)
{
	struct two *t = container_of(w, struct two, b);

	t->calls_b++;
	ptdm_loop_del(&t->l, &t->a);
	ptdm_loop_del(&t->l, &t->b);
}

/* Read everything the peer has, with flushes between, into out. */
static size_t drain(struct msgio *m, int peer, uint8_t *out, size_t cap)
{
	size_t have = 0;

	for (int idle = 0; idle < 3;) {
		ssize_t k = recv(peer, out + have, cap - have, MSG_DONTWAIT);

		idle = k > 0 ? 0 : idle + 1;
		if (k > 0)
			have += (size_t)k;
		msgio_flush(m);
	}
	return have;
}

/*
 * msgio_send_ref: a reply larger than the socket takes stays in the
 * caller's buffer (nothing copied) until the flush wrote it; the caller
 * needing the buffer again first has it copied into the queue
 * (msgio_unref), after which changing the buffer changes nothing sent;
 * messages queued behind it keep their order; one such buffer at a time.
 */
static void test_send_ref(void **state)
{
	static uint8_t tx[1u << 20], want[(1u << 20) + 64], got[(1u << 20) + 64];
	struct iovec iov[2] = { { (void *)"HEAD", 4 }, { tx, sizeof(tx) } };
	uint8_t rx[16];
	struct msgio m;
	int sv[2];

	for (size_t i = 0; i < sizeof(tx); i++)
		tx[i] = (uint8_t)(i * 7 + 1);
	memcpy(want, "HEAD", 4);
	memcpy(want + 4, tx, sizeof(tx));
	memcpy(want + 4 + sizeof(tx), "NEXT", 4);

	/* 1: the peer reads; the rest goes from tx itself */
	pair(sv);
	msgio_init(&m, sv[0], rx, sizeof(rx), 4u << 20);
	assert_int_equal(msgio_send_ref(&m, iov, 2, -1), 0);
	assert_true(msgio_ref_busy(&m)); /* 1 MiB is more than a socket takes */
	assert_int_equal(msgio_send_ref(&m, iov, 2, -1), -EBUSY);
	assert_int_equal(msgio_send(&m, &(struct iovec){ (void *)"NEXT", 4 },
				    1, -1), 0);
	assert_int_equal(drain(&m, sv[1], got, sizeof(got)), 4 + sizeof(tx) + 4);
	assert_memory_equal(got, want, 4 + sizeof(tx) + 4);
	assert_false(msgio_ref_busy(&m));
	assert_false(msgio_pending(&m));
	assert_int_equal(m.out_bytes, 0);
	msgio_fini(&m);
	close(sv[0]);
	close(sv[1]);

	/* 2: the caller needs tx back before the peer read: copied once,
	 * what was sent is what tx held then */
	pair(sv);
	msgio_init(&m, sv[0], rx, sizeof(rx), 4u << 20);
	assert_int_equal(msgio_send_ref(&m, iov, 2, -1), 0);
	assert_true(msgio_ref_busy(&m));
	assert_int_equal(msgio_send(&m, &(struct iovec){ (void *)"NEXT", 4 },
				    1, -1), 0);
	assert_int_equal(msgio_unref(&m), 0);
	assert_false(msgio_ref_busy(&m));
	assert_true(msgio_pending(&m));
	memset(tx, 0xee, sizeof(tx)); /* the next reply */
	assert_int_equal(drain(&m, sv[1], got, sizeof(got)), 4 + sizeof(tx) + 4);
	assert_memory_equal(got, want, 4 + sizeof(tx) + 4);
	assert_int_equal(m.out_bytes, 0);
	assert_int_equal(msgio_unref(&m), 0); /* nothing referenced: no-op */
	msgio_fini(&m);
	close(sv[0]);
	close(sv[1]);

	/* 3: gone with a referenced chunk queued: fini frees it, no leak */
	pair(sv);
	msgio_init(&m, sv[0], rx, sizeof(rx), 4u << 20);
	assert_int_equal(msgio_send_ref(&m, iov, 2, -1), 0);
	assert_true(msgio_ref_busy(&m));
	msgio_fini(&m);
	assert_false(msgio_ref_busy(&m));
	close(sv[0]);
	close(sv[1]);
}

static void test_loop_del_in_round(void **state)
{
	struct two t = { 0 };
	int e1 = eventfd(1, EFD_CLOEXEC), e2 = eventfd(1, EFD_CLOEXEC);

	assert_int_equal(ptdm_loop_init(&t.l), 0);
	assert_int_equal(ptdm_loop_add(&t.l, &t.a, e1, EPOLLIN, on_a), 0);
	assert_int_equal(ptdm_loop_add(&t.l, &t.b, e2, EPOLLIN, on_b), 0);
	assert_int_equal(ptdm_loop_once(&t.l, 100), 0);
	/* whichever ran first removed both: the other never ran */
	assert_int_equal(t.calls_a + t.calls_b, 1);
	assert_int_equal(t.l.nwatch, 0);
	assert_int_equal(ptdm_loop_once(&t.l, 10), 0);
	assert_int_equal(t.calls_a + t.calls_b, 1);
	ptdm_loop_fini(&t.l);
	close(e1);
	close(e2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces_and_fds),
		cmocka_unit_test(test_queue_bounded),
		cmocka_unit_test(test_send_ref),
		cmocka_unit_test(test_loop_del_in_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
