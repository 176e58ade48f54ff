#!/bin/bash
# fetch.sh - Debian's Xen 4.17 (hypervisor, toolstack, libraries) for the
# Xen tests, downloaded with `apt-get download` and unpacked with
# `dpkg-deb -x`: nothing is installed on the host (the packages' scripts
# would touch grub).  See tests/xen/README.md.
#
#   tests/xen/fetch.sh
#
# Prints one line: a directory holding
#   xen.elf   the hypervisor, gunzipped (a multiboot ELF32 QEMU can -kernel)
#   root/     every package unpacked (usr/lib/xen-4.17/bin/xl, hvmloader...)
#   versions  "package=version" of what was unpacked
# Cache: ${PTDM_VM_CACHE:-/var/cache/ptdm-vm}/xen/<key>, key = hash of the
# package versions apt offers, so a security update is fetched once and
# then reused; one flock around fetch + unpack.
set -euo pipefail

# The list of reference/xen-testing.md section 1, less libxen-dev (the
# host has it installed to build ptdm) and xen-hypervisor-common (grub
# snippets only).  libxenlight and libxenctrl are in libxenmisc4.17.
pkgs="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common
libxenmisc4.17 libxenstore4 libxentoollog1 libxencall1 libxendevicemodel1
libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxentoolcore1
libxenhypfs1 xenstore-utils libyajl2"

for tool in apt-cache apt-get dpkg-deb flock zcat md5sum; do
	command -v "$tool" >/dev/null || {
		echo "fetch.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

cache=${PTDM_VM_CACHE:-/var/cache/ptdm-vm}/xen
mkdir -p "$cache"

# "pkg=candidate" for each package; empty output when apt knows none of
# them, a line with an empty version for a package it does not know
resolve() {
	# shellcheck disable=SC2086
	apt-cache policy $pkgs 2>/dev/null | awk '
		/^[^ ].*:$/ { if (p != "") print p "=" v; p = substr($0, 1, length($0) - 1); v = "" }
		/^  Candidate:/ { v = $2; if (v == "(none)") v = "" }
		END { if (p != "") print p "=" v }'
}
complete() { # every package resolved to a version
	local n
	n=$(echo "$1" | grep -c '=.' || true)
	[ "$n" = "$(echo $pkgs | wc -w)" ]
}

versions=$(resolve)
if ! complete "$versions"; then
	echo "fetch.sh: apt does not know every Xen package; running apt-get update" >&2
	apt-get update -qq </dev/null >&2
	versions=$(resolve)
fi
complete "$versions" || {
	echo "fetch.sh: apt cannot resolve these packages:" >&2
	echo "$versions" | grep -v '=.' >&2
	exit 1
}
key=$(echo "$versions" | sort | md5sum | cut -c1-12)
dir=$cache/$key
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [ ! -f "$dir/versions" ] || [ ! -f "$dir/xen.elf" ]; then
	tmp=$(mktemp -d "$cache/fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/debs" "$tmp/root"
	echo "fetch.sh: downloading $(echo $pkgs | wc -w) Xen 4.17 packages" >&2
	# exact versions: what the key says is what gets unpacked
	# shellcheck disable=SC2046
	(cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root \
		$(echo "$versions" | sort) </dev/null >&2) || {
		echo "fetch.sh: apt-get download failed (stale lists? try apt-get update)" >&2
		exit 1
	}
	for f in "$tmp"/debs/*.deb; do dpkg-deb -x "$f" "$tmp/root"; done
	[ -f "$tmp/root/boot/xen-4.17-amd64.gz" ] || {
		echo "fetch.sh: no boot/xen-4.17-amd64.gz in the hypervisor package" >&2
		exit 1
	}
	zcat "$tmp/root/boot/xen-4.17-amd64.gz" >"$tmp/xen.elf"
	rm -rf "$dir/root" "$dir/debs"
	mv "$tmp/root" "$tmp/debs" "$tmp/xen.elf" "$dir/"
	echo "$versions" | sort >"$dir/versions"
	rm -rf "$tmp"
	trap - EXIT
fi
echo "$dir"
