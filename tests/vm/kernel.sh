#!/bin/bash
# kernel.sh - a Debian 12 kernel and a set of its modules for the VM tests,
# cached outside the tree so that repeated runs download nothing.
#
#   tests/vm/kernel.sh SERIES MODULE...      SERIES: 6.1 or 6.12
#
# Prints one line: the directory holding vmlinuz, kver, load-order and
# the listed modules plus their dependencies as plain .ko files (6.12's
# are .ko.xz in the package), in load order.
#
# The package is resolved on every run through its meta package
# (linux-image-amd64 for 6.1, linux-image-6.12-amd64 for 6.12): Debian
# keeps only the newest ABI in bookworm-security.  It is fetched with
# `apt-get download` and unpacked with dpkg-deb - never installed.  The
# package ships no modules.dep, so depmod builds one from a full unpack,
# which is then thrown away: the cache keeps the .deb, vmlinuz,
# modules.dep and one directory per module set.
#
# Cache: ${PTDM_VM_CACHE:-/var/cache/ptdm-vm}; one flock per package.
set -euo pipefail

series=${1:?usage: kernel.sh 6.1|6.12 MODULE...}
shift
[ $# -gt 0 ] || { echo "kernel.sh: name at least one module" >&2; exit 2; }
case $series in
6.1) meta=linux-image-amd64 ;;
6.12) meta=linux-image-6.12-amd64 ;;
*) echo "kernel.sh: unknown kernel series '$series' (want 6.1 or 6.12)" >&2; exit 2 ;;
esac

for tool in apt-cache apt-get dpkg-deb depmod xz flock; do
	command -v "$tool" >/dev/null || {
		echo "kernel.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

cache=${PTDM_VM_CACHE:-/var/cache/ptdm-vm}
mkdir -p "$cache/debs"

resolve() {
	apt-cache depends "$meta" 2>/dev/null |
		awk '/Depends: linux-image-/ {print $2; exit}'
}
pkg=$(resolve)
if [ -z "$pkg" ]; then
	echo "kernel.sh: $meta unknown to apt-cache; running apt-get update" >&2
	apt-get update -qq </dev/null >&2
	pkg=$(resolve)
fi
[ -n "$pkg" ] || { echo "kernel.sh: cannot resolve $meta to a kernel package" >&2; exit 1; }

dir=$cache/$pkg
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
	echo "kernel.sh: downloading $pkg" >&2
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root \
		"$pkg" </dev/null >&2)
	deb=$(ls "$cache/debs/${pkg}_"*.deb | head -1)
fi

if [ ! -f "$dir/modules.dep" ] || [ ! -f "$dir/vmlinuz" ] || [ ! -f "$dir/kver" ]; then
	echo "kernel.sh: unpacking $(basename "$deb") for depmod" >&2
	tmp=$(mktemp -d "$cache/unpack.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	dpkg-deb -x "$deb" "$tmp"
	mroot=$tmp/lib/modules
	[ -d "$mroot" ] || mroot=$tmp/usr/lib/modules
	kver=$(ls "$mroot" | head -1)
	depmod -b "$(dirname "$(dirname "$mroot")")" "$kver"
	cp "$mroot/$kver/modules.dep" "$dir/modules.dep.new"
	cp "$tmp/boot/vmlinuz-$kver" "$dir/vmlinuz.new"
	mv "$dir/modules.dep.new" "$dir/modules.dep"
	mv "$dir/vmlinuz.new" "$dir/vmlinuz"
	echo "$kver" >"$dir/kver"
	rm -rf "$tmp"
	trap - EXIT
fi
kver=$(cat "$dir/kver")

# The module files to load, dependencies first (modules.dep lists each
# module's whole closure; modprobe loads it last-listed-first).
norm() { sed -e 's,.*/,,' -e 's/\.ko\(\.[a-z]*\)\?$//' -e 's/-/_/g'; }
order=$(
	for m in "$@"; do
		want=$(echo "$m" | norm)
		line=$(awk -F: -v w="$want" '{
			n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n)
			gsub(/-/, "_", n)
			if (n == w) { print; exit }
		}' "$dir/modules.dep")
		[ -n "$line" ] || { echo "kernel.sh: no module $m in $pkg" >&2; exit 1; }
		deps=${line#*:}
		for d in $(echo $deps | tr ' ' '\n' | tac); do echo "$d"; done
		echo "${line%%:*}"
	done | awk '!seen[$0]++'
)
key=$(echo "$order" | md5sum | cut -c1-12)
mods=$dir/mods-$key
if [ ! -f "$mods/load-order" ]; then
	echo "kernel.sh: extracting $(echo "$order" | wc -l) modules" >&2
	tmp=$(mktemp -d "$cache/mods.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	pats=()
	for p in $order; do pats+=("*/modules/$kver/$p"); done
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "${pats[@]}"
	mkdir -p "$tmp/out"
	: >"$tmp/out/load-order"
	for p in $order; do
		src=$(find "$tmp" -path "*/modules/$kver/$p" -print -quit)
		name=$(basename "$p" | sed 's/\.ko\(\.[a-z]*\)\?$//')
		case $p in
		*.ko.xz) xz -dc "$src" >"$tmp/out/$name.ko" ;;
		*.ko) cp "$src" "$tmp/out/$name.ko" ;;
		*) echo "kernel.sh: $p: unsupported module compression" >&2; exit 1 ;;
		esac
		echo "$name" >>"$tmp/out/load-order"
	done
	cp "$dir/vmlinuz" "$tmp/out/vmlinuz"
	echo "$kver" >"$tmp/out/kver"
	rm -rf "$mods"
	mv "$tmp/out" "$mods"
	rm -rf "$tmp"
	trap - EXIT
fi
echo "$mods"
