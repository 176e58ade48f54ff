/*
 * rom.c - the guest's expansion ROM: the device's, a file's, or none.
 *
 * rombar=0 (opts.no_rombar) takes the ROM BAR away: the ROM register reads
 * 0 and no front end offers a ROM region.  romfile=PATH (opts.romfile)
 * gives the guest an image instead of the device's ROM: read once at
 * attach (a regular file, at most PTDM_ROM_MAX bytes), checked as the PCI
 * Firmware spec lays a ROM out, kept in memory and served read-only
 * through the ROM BAR (vfio-user's ROM region, Xen's trapped ROM BAR).
 * The ROM BAR keeps the device's size when it has one (the image must fit
 * in it); a device without one gets a ROM BAR of the image's size rounded
 * up to a power of two.  Bytes past the image read 0.
 *
 * The check, image by image (at most 16, each 512-byte aligned): 0x55 0xaa
 * at its start; the PCI data structure pointer at 0x18 inside it; "PCIR"
 * there with a length of at least 0x18; its vendor and device (or one of
 * the PCIR 3.0 device list) the IDs the guest is shown; its image length
 * inside the file; the last-image bit ends the walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dev_priv.h"

#define ROM_SIG 0xaa55u
#define PCIR_PTR 0x18
#define PCIR_SIG 0x52494350u /* "PCIR" */
#define PCIR_MIN_LEN 0x18
#define ROM_MAX_IMAGES 16

static uint32_t le(const uint8_t *p, unsigned n)
{
	return cfg_le_get(p, n);
}

/* Is device in the PCIR 3.0 device list at list (0-terminated)? */
static bool in_device_list(const uint8_t *rom, size_t len, size_t list,
			   uint16_t device)
{
	for (unsigned i = 0; i < 256 && list + 2 <= len; i++, list += 2) {
		uint16_t id = (uint16_t)le(rom + list, 2);

		if (!id)
			return false;
		if (id == device)
			return true;
	}
	return false;
}

int ptdm_rom_check(const uint8_t *rom, size_t len, uint16_t vendor,
		   uint16_t device, uint64_t bar_size, struct ptdm_err *err)
{
	size_t at = 0;

	if (len < PCIR_PTR + 2)
		return ptdm_errf(err, -EINVAL, "%zu bytes: too short for a "
				 "PCI expansion ROM", len);
	if (bar_size && len > bar_size)
		return ptdm_errf(err, -EFBIG, "%zu bytes: larger than the "
				 "device's ROM BAR (%llu bytes)", len,
				 (unsigned long long)bar_size);
	for (unsigned n = 0; n < ROM_MAX_IMAGES; n++) {
		size_t pcir, images;
		uint16_t v, dv;

		if (at + PCIR_PTR + 2 > len)
			return ptdm_errf(err, -EINVAL, "image %u at %#zx: "
					 "past the end of the file", n, at);
		if (le(rom + at, 2) != ROM_SIG)
			return ptdm_errf(err, -EINVAL, "image %u at %#zx: no "
					 "ROM signature 0x55 0xaa (found %#04x "
					 "%#04x): not a PCI expansion ROM", n,
					 at, rom[at], rom[at + 1]);
		pcir = at + le(rom + at + PCIR_PTR, 2);
		if (pcir + PCIR_MIN_LEN > len)
			return ptdm_errf(err, -EINVAL, "image %u: its PCI data "
					 "structure pointer %#zx points past "
					 "the end", n, pcir);
		if (le(rom + pcir, 4) != PCIR_SIG)
			return ptdm_errf(err, -EINVAL, "image %u: no \"PCIR\" "
					 "signature at %#zx", n, pcir);
		if (le(rom + pcir + 0x0a, 2) < PCIR_MIN_LEN)
			return ptdm_errf(err, -EINVAL, "image %u: PCI data "
					 "structure of %u bytes (at least %u)",
					 n, le(rom + pcir + 0x0a, 2),
					 PCIR_MIN_LEN);
		v = (uint16_t)le(rom + pcir + 4, 2);
		dv = (uint16_t)le(rom + pcir + 6, 2);
		if (v != vendor ||
		    (dv != device &&
		     !(rom[pcir + 0x0c] >= 3 && le(rom + pcir + 8, 2) &&
		       in_device_list(rom, len, pcir + le(rom + pcir + 8, 2),
				      device))))
			return ptdm_errf(err, -EINVAL, "image %u is for "
					 "%04x:%04x, the device is %04x:%04x",
					 n, v, dv, vendor, device);
		images = (size_t)le(rom + pcir + 0x10, 2) * 512;
		if (!images || at + images > len)
			return ptdm_errf(err, -EINVAL, "image %u: its length "
					 "(%zu bytes at %#zx) runs past the end "
					 "of the file (%zu bytes)", n, images,
					 at, len);
		if (rom[pcir + 0x15] & 0x80)
			return 0; /* the last image */
		at += images;
		if (at >= len)
			return 0; /* no last-image bit, but nothing after */
	}
	return ptdm_errf(err, -EINVAL, "more than %d images", ROM_MAX_IMAGES);
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 2048; /* the smallest ROM BAR */

	while (p < v)
		p <<= 1;
	return p;
}

static int read_rom_file(const char *path, uint8_t **out, size_t *len,
			 struct ptdm_err *err)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return ptdm_errf(err, -errno, "romfile %s: %s", path,
				 strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > PTDM_ROM_MAX) {
		close(fd);
		return ptdm_errf(err, -EINVAL, "romfile %s: want a regular "
				 "file of 1 byte to %u MiB", path,
				 PTDM_ROM_MAX >> 20);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return ptdm_errf(err, -ENOMEM, "romfile %s: out of memory",
				 path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return ptdm_errf(err, -e, "romfile %s: %s", path,
					 r < 0 ? strerror(e) : "shorter than "
					 "its size");
		}
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

int rom_attach(struct ptdm_dev *d, struct ptdm_err *err)
{
	struct host_bar *b = &d->bars[PTDM_ROM_INDEX].host;
	const char *path = d->opts.romfile;
	uint16_t vendor, device;
	struct ptdm_err why = { "" };
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	d->opts.romfile = NULL; /* the caller's string: not kept */
	if (d->opts.no_rombar) {
		if (path)
			return ptdm_errf(err, -EINVAL, "%s: romfile and rombar=0 "
					 "exclude each other", d->host->name);
		*b = (struct host_bar){ .kind = HOST_BAR_NONE };
		return 0;
	}
	if (!path)
		return 0;
	vendor = d->opts.vendor_id >= 0 ? (uint16_t)d->opts.vendor_id
					: (uint16_t)cfg_host_init(d, 0, 2);
	device = d->opts.device_id >= 0 ? (uint16_t)d->opts.device_id
					: (uint16_t)cfg_host_init(d, 2, 2);
	rc = read_rom_file(path, &buf, &len, err);
	if (rc)
		return rc;
	rc = ptdm_rom_check(buf, len, vendor, device,
			    b->kind == HOST_BAR_ROM && b->size_known ? b->size
								     : 0,
			    &why);
	if (rc) {
		free(buf);
		return ptdm_errf(err, rc, "%s: romfile %s: %s", d->host->name,
				 path, why.msg);
	}
	if (b->kind != HOST_BAR_ROM || !b->size_known)
		*b = (struct host_bar){ .kind = HOST_BAR_ROM,
					.size_known = true,
					.size = pow2_at_least(len) };
	d->rom = buf;
	d->rom_len = len;
	return 0;
}

void rom_read(const struct ptdm_dev *d, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t in = 0;

	if (off < d->rom_len)
		in = d->rom_len - off < len ? d->rom_len - (size_t)off : len;
	if (in)
		memcpy(p, d->rom + off, in);
	memset(p + in, 0, len - in);
}
