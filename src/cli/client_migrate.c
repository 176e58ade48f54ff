/*
 * client_migrate.c - `ptdm client SRC migrate DST [--no-pre-copy]`: move
 * a device's state from one vfio-user server to another the way a VMM
 * does (VFIO migration v2 over vfio-user):
 *
 *   both: DEVICE_FEATURE MIGRATION (what each offers; ENOTTY: the device
 *         cannot migrate, and nothing is touched)
 *   dst:  RUNNING -> RESUMING
 *   src:  RUNNING -> PRE_COPY when both offer it, MIG_DATA_READ until a
 *         short read, each piece MIG_DATA_WRITE to dst, while src runs
 *   src:  -> STOP_COPY (the device stops: downtime starts), the rest
 *         read and written
 *   dst:  RESUMING -> RUNNING (the destination checks the stream whole
 *         at RESUMING->STOP; downtime ends when it runs)
 *   src:  -> STOP (a VMM leaves the source stopped)
 *
 * A refused stream leaves the destination as it was (ERROR until a
 * reset) and the source is set RUNNING again.  client_migrate() is also
 * what `ptdm bench migration` times.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ptdm/vfio_user.h"
#include "ptdm/vfu_client.h"

#define F_GET (1u << 16)
#define F_SET (1u << 17)
#define CHUNK (1u << 20) /* bytes a MIG_DATA_READ asks for */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* DEVICE_FEATURE whose reply must carry all olen bytes of out */
static int feature(struct vfu_client *c, uint32_t flags, const void *data,
		   size_t dlen, void *out, size_t olen)
{
	size_t got = 0;
	int rc = vfu_client_feature(c, flags, data, dlen, out, olen, &got);

	return !rc && out && got < olen ? -EPROTO : rc;
}

static int set_state(struct vfu_client *c, uint32_t state)
{
	uint32_t st[2] = { state, (uint32_t)-1 };

	return feature(c, F_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, st,
		       sizeof(st), NULL, 0);
}

/* Copy src's stream to dst until src reads short; bytes added to *n. */
static int pump(struct vfu_client *src, struct vfu_client *dst, uint8_t *buf,
		uint64_t *n, struct ptdm_err *err)
{
	for (;;) {
		uint32_t q[2] = { 8 + CHUNK, CHUNK }, r[2];
		size_t got = 0;
		int rc = vfu_client_call(src, VFU_MIG_DATA_READ, q, 8, NULL, 0,
					 buf, 8 + CHUNK, &got, NULL);

		if (rc)
			return ptdm_errf(err, rc, "source: MIG_DATA_READ: %s",
					 strerror(-rc));
		memcpy(r, buf, 8);
		if (got < 8 || r[1] != got - 8 || r[1] > CHUNK)
			return ptdm_errf(err, -EPROTO, "source: MIG_DATA_READ: "
					 "a reply of %zu bytes for %u", got,
					 r[1]);
		if (r[1]) {
			uint32_t w[2] = { 8, r[1] };

			memcpy(buf, w, 8); /* the data stays where it is */
			rc = vfu_client_call(dst, VFU_MIG_DATA_WRITE, buf,
					     8 + r[1], NULL, 0, NULL, 0, NULL,
					     NULL);
			if (rc)
				return ptdm_errf(err, rc, "destination: "
						 "MIG_DATA_WRITE: %s",
						 strerror(-rc));
			*n += r[1];
		}
		if (r[1] < CHUNK)
			return 0;
	}
}

int client_migrate(struct vfu_client *src, struct vfu_client *dst,
		   bool pre_copy, struct client_mig_result *res,
		   struct ptdm_err *err)
{
	uint64_t sf = 0, df = 0;
	uint8_t *buf;
	double t0;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = feature(src, F_GET | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, &sf,
		     8);
	if (rc)
		return ptdm_errf(err, rc, "source: cannot migrate (%s)%s",
				 strerror(-rc), rc == -ENOTTY
				 ? ": its host driver offers no migration v2 "
				   "(a plain vfio-pci or sysfs device)" : "");
	rc = feature(dst, F_GET | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, &df,
		     8);
	if (rc)
		return ptdm_errf(err, rc, "destination: cannot migrate (%s)",
				 strerror(-rc));
	res->pre_copy = pre_copy && (sf & VFIO_MIGRATION_PRE_COPY) &&
			(df & VFIO_MIGRATION_PRE_COPY);
	buf = malloc(8 + CHUNK);
	if (!buf)
		return ptdm_errf(err, -ENOMEM, "out of memory");
	rc = set_state(dst, VFIO_DEVICE_STATE_RESUMING);
	if (rc) {
		ptdm_errf(err, rc, "destination: RESUMING: %s", strerror(-rc));
		goto out;
	}
	if (res->pre_copy) {
		rc = set_state(src, VFU_STATE_PRE_COPY);
		if (rc) {
			ptdm_errf(err, rc, "source: PRE_COPY: %s", strerror(-rc));
			goto back;
		}
		rc = pump(src, dst, buf, &res->pre_copy_bytes, err);
		if (rc)
			goto back;
	}
	t0 = now_s();
	rc = set_state(src, VFIO_DEVICE_STATE_STOP_COPY);
	if (rc) {
		ptdm_errf(err, rc, "source: STOP_COPY: %s", strerror(-rc));
		goto back;
	}
	rc = pump(src, dst, buf, &res->stop_copy_bytes, err);
	if (rc)
		goto back;
	rc = set_state(dst, VFIO_DEVICE_STATE_RUNNING);
	res->downtime_s = now_s() - t0;
	if (rc) {
		ptdm_errf(err, rc, "destination refused the state (%s): it is "
			  "unchanged; the source runs on", strerror(-rc));
		goto back;
	}
	rc = set_state(src, VFIO_DEVICE_STATE_STOP);
	if (rc)
		ptdm_errf(err, rc, "source: STOP after the move: %s",
			  strerror(-rc));
	goto out;
back:
	/* the source goes on running; its error stays the one reported */
	(void)set_state(src, VFIO_DEVICE_STATE_RUNNING);
out:
	free(buf);
	return rc;
}

int cmd_client_migrate(int argc, char **argv)
{
	struct vfu_client src, dst;
	struct client_mig_result r;
	struct ptdm_err err = { "" };
	bool pre = true;
	int rc;

	if (argc == 5 && !strcmp(argv[4], "--no-pre-copy"))
		pre = false;
	else if (argc != 4) {
		fprintf(stderr, "usage: ptdm client SRC migrate DST "
				"[--no-pre-copy]\n");
		return EXIT_USAGE;
	}
	if (vfu_client_connect(&src, argv[1], &err) ||
	    vfu_client_version(&src, NULL, &err)) {
		fprintf(stderr, "ptdm client: %s: %s\n", argv[1], err.msg);
		return 1;
	}
	if (vfu_client_connect(&dst, argv[3], &err) ||
	    vfu_client_version(&dst, NULL, &err)) {
		fprintf(stderr, "ptdm client: %s: %s\n", argv[3], err.msg);
		vfu_client_close(&src);
		return 1;
	}
	rc = client_migrate(&src, &dst, pre, &r, &err);
	if (rc)
		fprintf(stderr, "ptdm client: migrate: %s\n", err.msg);
	else
		printf("migrated %s -> %s: %" PRIu64 " bytes (%" PRIu64
		       " pre-copy%s), downtime %.3f ms\n", argv[1], argv[3],
		       r.pre_copy_bytes + r.stop_copy_bytes, r.pre_copy_bytes,
		       r.pre_copy ? "" : ": not used", r.downtime_s * 1e3);
	vfu_client_close(&src);
	vfu_client_close(&dst);
	return rc ? 1 : 0;
}
