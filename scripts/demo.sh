#!/bin/bash
# demo.sh - `make demo`: ptdm's main job, shown.
#  1. what ptdm would give a guest, for every PCI device of this machine
#     (read through sysfs, read-only: nothing is written to any device);
#  2. a real Linux guest (QEMU 7.2, TCG, no KVM needed) booting with a
#     device served by ptdm through x-pci-proxy-dev, its `lspci -vvv` of
#     the device printed next to ptdm's host view.
# DEV= picks the device given to the guest: an image (default: the bundled
# examples/virtio-net.ptdm, a virtio-net device recorded with `ptdm
# capture`), or DEV=BDF for a real device through VFIO on a host that has
# one (make it assignable first: ptdm assignable-add BDF).  Through
# x-pci-proxy-dev the guest gets config and BARs; DMA needs vfio-user.
set -u
cd "$(dirname "$0")/.."
ptdm=build/ptdm
status=0

rule() { printf '\n==== %s\n' "$*"; }

rule "ptdm list: this machine's PCI devices"
$ptdm list || status=1

for dev in /sys/bus/pci/devices/*; do
	[ -e "$dev" ] || continue
	bdf=$(basename "$dev")
	rule "ptdm inspect $bdf (read-only)"
	if ! $ptdm inspect "$bdf"; then
		# bridges are refused by design; anything else is a failure
		hdr=$(od -An -tx1 -j14 -N1 "$dev/config" 2>/dev/null | tr -d ' ')
		[ $((0x${hdr:-0} & 0x7f)) = 1 ] || status=1
	fi
done

rule "ptdm inspect examples/virtio-net.ptdm (a recorded device image)"
$ptdm inspect examples/virtio-net.ptdm || status=1

rule "the guest's config space of that image, decoded by lspci -F"
$ptdm inspect examples/virtio-net.ptdm --dump guest >/tmp/ptdm-demo.$$ &&
	lspci -F /tmp/ptdm-demo.$$ -vvv 2>/dev/null || status=1
rm -f /tmp/ptdm-demo.$$

dev=${DEV:-examples/virtio-net.ptdm}
rule "a guest kernel uses $dev, served by ptdm (QEMU x-pci-proxy-dev)"
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "demo: qemu-system-x86_64 is missing and could not be installed"
	exit 1
fi
echo "preparing the guest (Debian kernel, fetched once, and a busybox initramfs)..."
if ! read -r kernel initrd < <(bash scripts/guest.sh); then
	echo "demo: could not prepare the guest kernel (no access to Debian's mirror?)"
	exit 1
fi
echo "booting the guest under QEMU TCG (about 10 s)..."
log=$(mktemp)
timeout 240 $ptdm serve "$dev" --mpqemu-exec \
	qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m 256M \
	-nographic -no-reboot -nodefaults -serial stdio -display none \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-machine memory-backend=mem \
	-device 'x-pci-proxy-dev,id=ptdm0,fd={fd},addr=4' \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3" >"$log" 2>&1
rc=$?
sed -n '/PTDM-GUEST-V-BEGIN/,/PTDM-GUEST-V-END/p' "$log" | tr -d '\r' |
	grep -v PTDM-GUEST >"$log.guest"
$ptdm inspect "$dev" >"$log.host" 2>&1
if [ "$rc" = 1 ] && [ -s "$log.guest" ]; then
	printf '%-78s | %s\n' "ptdm inspect (host | guest columns)" \
		"lspci -vvv inside the guest"
	pr -m -t -w 170 <(expand "$log.host") <(expand "$log.guest")
	echo
	echo "the guest booted, enumerated the device and shut down cleanly"
else
	echo "demo: the guest did not get through (QEMU exit $rc); its console:"
	tail -20 "$log"
	status=1
fi
rm -f "$log" "$log.guest" "$log.host"

[ $status = 0 ] && echo && echo "demo: done"
exit $status
