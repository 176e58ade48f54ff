#!/bin/bash
# guest.sh - a small Linux guest for the demo and the guest tests: Debian
# 12's kernel (fetched with apt-get download, unpacked, never installed)
# and a busybox initramfs whose /init prints the guest's view of the
# device at 00:04.0 between markers, then powers off through
# isa-debug-exit (QEMU exits 1 when the guest's tests passed).
#
#   scripts/guest.sh        prints "VMLINUZ INITRD"
#
# Everything is cached under ${PTDM_VM_CACHE:-/var/cache/ptdm-vm}/guest,
# so only the first run downloads (about 70 MB).
set -euo pipefail
cache=${PTDM_VM_CACHE:-/var/cache/ptdm-vm}/guest
mkdir -p "$cache"
cd "$cache"

# the kernel: whatever linux-image-amd64 points at today
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get update -qq </dev/null >&2
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "guest.sh: cannot resolve linux-image-amd64" >&2; exit 1; }
if [ ! -s "vmlinuz-$pkg" ]; then
	echo "guest.sh: fetching $pkg (once)" >&2
	rm -f ./*.deb
	apt-get download -q "$pkg" </dev/null >&2 2>/dev/null ||
		apt-get download "$pkg" </dev/null >&2
	deb=$(ls ./"$pkg"_*.deb | head -1)
	dpkg-deb --fsys-tarfile "$deb" | tar -xf - --wildcards './boot/vmlinuz-*'
	mv boot/vmlinuz-* "vmlinuz-$pkg.tmp" && mv "vmlinuz-$pkg.tmp" "vmlinuz-$pkg"
	rm -rf boot "$deb"
fi

# the initramfs: busybox, lspci with its libraries and pci.ids
init_src=$(cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
rc=1
if [ -e /sys/bus/pci/devices/0000:00:04.0 ]; then
	echo "PTDM-GUEST-X-BEGIN"; lspci -xxx -s 00:04.0; echo "PTDM-GUEST-X-END"
	echo "PTDM-GUEST-V-BEGIN"; lspci -vvv -s 00:04.0 2>/dev/null; echo "PTDM-GUEST-V-END"
	rc=0
else
	echo "PTDM-GUEST: no device at 00:04.0"; lspci -nn
fi
echo "PTDM-GUEST-RC=$rc"
printf "\\$(printf %o $rc)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
INIT
)
sum=$( (echo "$init_src"; ls -l /bin/busybox /usr/bin/lspci) | md5sum | cut -c1-12)
initrd=$cache/initrd-$sum.cpio.gz
if [ ! -s "$initrd" ]; then
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,proc,sys,dev,usr/share/misc,lib64}
	cp /bin/busybox "$root/bin/busybox"
	cp /usr/bin/lspci "$root/bin/lspci"
	for lib in $(ldd /usr/bin/lspci | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	cp /usr/share/misc/pci.ids "$root/usr/share/misc/" 2>/dev/null || true
	echo "$init_src" >"$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) \
		>"$initrd.tmp" && mv "$initrd.tmp" "$initrd"
	rm -rf "$root"
fi
echo "$cache/vmlinuz-$pkg $initrd"
