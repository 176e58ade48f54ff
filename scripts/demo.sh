#!/bin/bash
# demo.sh - `make demo`: what ptdm would give a guest, for every PCI device
# of this machine (read through sysfs, read-only: nothing is written to any
# device) and for the bundled example image examples/virtio-net.ptdm (a
# virtio-net device recorded with `ptdm capture`).
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

[ $status = 0 ] && echo && echo "demo: done"
exit $status
