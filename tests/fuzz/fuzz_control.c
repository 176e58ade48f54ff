/*
 * fuzz_control.c - libFuzzer target: a hostile client of the control
 * socket (`ptdm serve --control`, src/cli/serve_control.c) - the real
 * listener, connection, strict json-c stream parser and command table,
 * in the real serving loop (serve_devices.c), linked from the CLI sources
 * unchanged.  The input is what the client sends, in pieces of up to 512
 * bytes with loop rounds between them; its replies are read and thrown
 * away.
 *
 * device-add and device-del work for real, so a spec, socket or dump path
 * from the input could name any file: the target works in an empty
 * directory of its own (the cwd, under /tmp) that holds one image, "img"
 * (with BAR sizes), and every '/' and '\\' of the input becomes '_', so no
 * path (nor a JSON escape of one) leaves that directory.  A BDF spec asks
 * the VFIO backend, which only opens what is already bound to vfio-pci and
 * never writes sysfs.  Give libFuzzer absolute paths (the cwd
 * changes): the binary (for -merge/-fork), the corpora, -artifact_prefix.
 * Must never crash, hang, leak memory or fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "ptdm/image.h"
#include "ptdm/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char ptdm_version[] = "fuzz";
static volatile sig_atomic_t stop;

static void silent(enum ptdm_log_level lvl, const char *line, void *o)
{
	(void)lvl;
	(void)line;
	(void)o;
}

/* the one image the inputs can serve, written as ptdm would capture it */
static void write_image(const char *path)
{
	static uint8_t cfg[256];
	struct ptdm_err err = { "" };
	struct host_dev *h;
	FILE *f;

	memcpy(cfg, "\x86\x80\xd3\x10\x00\x00\x10\x00", 8);
	cfg[0x13] = 0xfe; /* BAR0 mem32 */
	cfg[0x34] = 0x70;
	cfg[0x3d] = 1;
	memcpy(cfg + 0x70, "\x11\x00\x03\x00\x00\x20\x00\x00\x00\x30\x00\x00",
	       12);
	if (image_new(&h, "img", cfg, sizeof(cfg), &err) ||
	    image_set_bar_size(h, 0, 0x4000, &err))
		abort();
	f = fopen(path, "we");
	if (!f || image_write(f, h, &err) || fclose(f))
		abort();
	host_close(h);
}

static char workdir[] = "/tmp/ptdm-fuzz-control.XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* the directory and whatever the inputs made in it (dumps, sockets) */
static void remove_workdir(void)
{
	nftw(workdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{

	(void)argc;
	(void)argv;
	ptdm_log_set_sink(silent, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(workdir) || chdir(workdir))
		abort();
	atexit(remove_workdir);
	write_image("img");
	return 0;
}

static int connect_ctl(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "ctl" };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		abort();
	return fd;
}

/* Read what came back; true at end of stream (the server closed). */
static bool drain(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 && getenv("FUZZ_CONTROL_SHOW"))
			fwrite(buf, 1, (size_t)n, stderr);
		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ptdm_err err = { "" };
	struct server s;
	bool closed = false;
	uint8_t *in;
	int fd;

	if (size > 256 * 1024)
		return 0;
	in = malloc(size + 1);
	if (!in)
		abort();
	for (size_t i = 0; i < size; i++) /* no path leaves the cwd */
		in[i] = data[i] == '/' || data[i] == '\\' ? '_' : data[i];
	if (server_init(&s, &stop))
		abort();
	if (ctl_server_start(&s, "ctl", &err))
		abort();
	fd = connect_ctl();
	for (size_t off = 0; off < size && !closed && !s.quit;) {
		size_t piece = size - off < 512 ? size - off : 512;
		ssize_t n = send(fd, in + off, piece, MSG_DONTWAIT);

		if (n > 0)
			off += (size_t)n;
		else if (errno != EAGAIN)
			break;
		if (ptdm_loop_once(&s.loop, 0))
			abort();
		closed = drain(fd);
	}
	shutdown(fd, SHUT_WR);
	for (int round = 0; round < 1000 && !closed && !s.quit; round++) {
		if (ptdm_loop_once(&s.loop, 0))
			abort();
		closed = drain(fd);
	}
	close(fd);
	server_fini(&s);
	free(in);
	return 0;
}
