#!/bin/bash
# kmod.sh - build an out-of-tree kernel module for a VM test kernel
# against Debian's own linux-headers for exactly that kernel, cached
# outside the tree like the kernel itself (tests/vm/kernel.sh).
#
#   tests/vm/kmod.sh SERIES SRCDIR       SERIES: 6.1 or 6.12
#
# Prints the path of the built .ko (one module per SRCDIR, named after
# its Kbuild's obj-m).  The headers package is resolved through the same
# meta package as the kernel, so the two move together (bookworm-security
# keeps only the newest ABI; CONFIG_MODVERSIONS needs the same one).  The
# headers, their -common part, the kbuild tools and pahole (6.12's BTF
# step) are fetched with `apt-get download` and unpacked, never installed
# (../shared/reference/kmod-testing.md has the recipe and its pitfalls).
# A build is kept per kernel and source hash.
set -euo pipefail

series=${1:?usage: kmod.sh 6.1|6.12 SRCDIR}
src=$(cd "${2:?usage: kmod.sh 6.1|6.12 SRCDIR}" && pwd)
case $series in
6.1) meta=linux-image-amd64 ;;
6.12) meta=linux-image-6.12-amd64 ;;
*) echo "kmod.sh: unknown kernel series '$series'" >&2; exit 2 ;;
esac
for tool in apt-cache apt-get dpkg-deb make flock md5sum; do
	command -v "$tool" >/dev/null || {
		echo "kmod.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

cache=${PTDM_VM_CACHE:-/var/cache/ptdm-vm}
mkdir -p "$cache/debs"
pkg=$(apt-cache depends "$meta" 2>/dev/null |
	awk '/Depends: linux-image-/ {print $2; exit}')
[ -n "$pkg" ] || { echo "kmod.sh: cannot resolve $meta" >&2; exit 1; }
kver=${pkg#linux-image-}
hroot=$cache/headers-$kver
mkdir -p "$hroot"
exec 9>"$hroot.lock"
flock 9

if [ ! -f "$hroot/.done" ]; then
	want="linux-headers-$kver $(apt-cache depends "linux-headers-$kver" |
		awk '/Depends: linux-(headers|kbuild)-/ {print $2}')"
	[ "$series" = 6.12 ] && want="$want pahole"
	echo "kmod.sh: downloading $want" >&2
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root \
		$want </dev/null >&2)
	rm -rf "$hroot" && mkdir -p "$hroot"
	for p in $want; do
		deb=$(ls "$cache/debs/${p}_"*.deb | head -1)
		dpkg-deb -x "$deb" "$hroot"
	done
	# the arch Makefile includes the -common one by an absolute path
	sed -i "s#^include /usr/src/#include $hroot/usr/src/#" \
		"$hroot/usr/src/linux-headers-$kver/Makefile"
	touch "$hroot/.done"
fi

key=$(cat "$src"/* | md5sum | cut -c1-12)
out=$cache/kmod-$kver-$(basename "$src")-$key
if [ ! -f "$out/.done" ]; then
	rm -rf "$out" && mkdir -p "$out"
	cp "$src"/* "$out/"
	pahole=()
	[ -x "$hroot/usr/bin/pahole" ] && pahole=(PAHOLE="$hroot/usr/bin/pahole")
	nice -n 10 make -s -C "$hroot/usr/src/linux-headers-$kver" M="$out" \
		"${pahole[@]}" W=1 modules >&2 ||
		{ echo "kmod.sh: build against $kver failed" >&2; exit 1; }
	touch "$out/.done"
fi
ko=$(ls "$out"/*.ko | head -1)
[ -f "$ko" ] || { echo "kmod.sh: no .ko built" >&2; exit 1; }
echo "$ko"
