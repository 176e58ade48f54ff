#!/bin/bash
# guest_proxy.sh PTDM DUMPS_DIR EXAMPLES_DIR - a real guest kernel uses a
# device ptdm serves: QEMU 7.2 (TCG) with -device x-pci-proxy-dev talks to
# `ptdm serve --mpqemu-exec`; the guest's /init prints `lspci -xxx` and
# `lspci -vvv` of the device (scripts/guest.sh).  For each device: the
# guest boots and finds it, its config bytes equal ptdm's guest view at
# the end, only allowlisted capabilities show, and the BAR sizes the
# guest kernel found equal the -vvv file's.
set -u
ptdm=$1
dumps=$2
examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "SKIP: qemu-system-x86_64 not installed (scripts/deps.sh)"
	exit 77
fi
if ! read -r kernel initrd < <(bash "$(dirname "$0")/../../scripts/guest.sh"); then
	echo "FAIL: could not prepare the guest kernel and initramfs"
	exit 1
fi
allowed='^(Power Management|MSI:|MSI-X:|Express|Vendor Specific|Null)'

run_guest() { # device, log, dump
	timeout 240 "$ptdm" serve "$1" --dump-guest "$3" --mpqemu-exec \
		qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m 256M \
		-nographic -no-reboot -nodefaults -serial stdio -display none \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-machine memory-backend=mem \
		-device 'x-pci-proxy-dev,id=ptdm0,fd={fd},addr=4' \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3" >"$2" 2>&1
}

for dev in "$dumps/intel-10c9-82576-sriov-nic.lspci-x4.txt" \
	   "$dumps/nvidia-228b-ga104-hda-audio.lspci-x4.txt" \
	   "$examples/virtio-net.ptdm"; do
	name=$(basename "$dev")
	why=""
	start=$(date +%s)
	run_guest "$dev" "$tmp/log" "$tmp/view"
	rc=$?
	sed -n '/PTDM-GUEST-X-BEGIN/,/PTDM-GUEST-X-END/p' "$tmp/log" |
		tr -d '\r' | grep -E '^[0-9a-f]{2}: ' >"$tmp/guest-x"
	sed -n '/PTDM-GUEST-V-BEGIN/,/PTDM-GUEST-V-END/p' "$tmp/log" | tr -d '\r' >"$tmp/guest-v"
	grep -E '^[0-9a-f]{2}: ' "$tmp/view" | head -16 >"$tmp/ptdm-x"
	if [ "$rc" != 1 ]; then
		why="guest did not finish its checks (QEMU exit $rc): $(tail -3 "$tmp/log" | tr '\n' ' ')"
	elif [ "$(wc -l <"$tmp/guest-x")" != 16 ]; then
		why="guest printed no config space"
	elif ! diff -q "$tmp/guest-x" "$tmp/ptdm-x" >/dev/null; then
		why="guest lspci -xxx differs from ptdm's guest view: $(diff "$tmp/guest-x" "$tmp/ptdm-x" | head -4 | tr '\n' ' ')"
	else
		bad=$(sed -n 's/^[ \t]*Capabilities: \[[0-9a-f]*\( v[0-9]*\)\?\] //p' \
			"$tmp/guest-v" | grep -Ev "$allowed" | head -1)
		[ -n "$bad" ] && why="guest sees a capability not on the allowlist: $bad"
		vvv=${dev%.lspci-x?.txt}.lspci-vvv.txt
		if [ -z "$why" ] && [ "$vvv" != "$dev" ] && [ -f "$vvv" ]; then
			want=$(awk '/Capabilities:/ {exit} /^[ \t]+(Region [0-5]|Expansion ROM)/ && /size=/ {
				sub(/.*size=/, ""); sub(/\].*/, ""); print }' "$vvv" | tr '\n' ' ')
			got=$(awk '/Capabilities:/ {exit} /^[ \t]+(Region [0-5]|Expansion ROM)/ && /size=/ {
				sub(/.*size=/, ""); sub(/\].*/, ""); print }' "$tmp/guest-v" | tr '\n' ' ')
			[ "$want" = "$got" ] || why="BAR sizes in the guest ($got) differ from the -vvv file ($want)"
		fi
	fi
	if [ -z "$why" ]; then
		echo "PASS $name (guest booted and checked in $(( $(date +%s) - start )) s)"
		pass=$((pass + 1))
	else
		echo "FAIL $name: $why"
		fail=$((fail + 1))
	fi
done
echo "guest: $pass passed, $fail failed"
[ "$fail" = 0 ]
