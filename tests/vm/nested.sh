#!/bin/bash
# nested.sh - the whole chain, nested: an L1 QEMU TCG guest (emulated VT-d
# and an edu device) binds edu to vfio-pci and runs ptdm with the VFIO
# backend, which serves edu to an L2 guest through QEMU 7.2's
# x-pci-proxy-dev (ptdm serve --mpqemu-exec).  In L2, busybox alone:
#   - the device shows ptdm's virtual config (compared with ptdm's
#     --dump-guest view after the run),
#   - edu's liveness and factorial registers work through BAR0 (L2 MMIO ->
#     proxy -> ptdm -> VFIO -> edu),
#   - an edu DMA reads a pattern from L2's RAM and writes it back elsewhere:
#     ptdm put L2's RAM (SYNC_SYSMEM memfds) into L1's IOMMU at IOVA = L2
#     guest-physical address.
# L1 runs the host's own QEMU and the built ptdm from the host's root,
# shared read-only over virtio-9p (a second share, writable, is the work
# directory).  Exit status comes back through isa-debug-exit.
#
#   tests/vm/nested.sh --ptdm BUILD/ptdm
#
# About 2-3 minutes under TCG (L2 is TCG inside TCG).  Timeout:
# PTDM_VM_NESTED_TIMEOUT (default 600 s).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ptdm=
while [ $# -gt 0 ]; do
	case $1 in
	--ptdm) ptdm=$(readlink -f "${2:-}"); shift 2 ;;
	*) echo "usage: nested.sh --ptdm PATH" >&2; exit 2 ;;
	esac
done
[ -x "$ptdm" ] || { echo "usage: nested.sh --ptdm PATH" >&2; exit 2; }
for tool in qemu-system-x86_64 busybox gzip timeout; do
	command -v "$tool" >/dev/null ||
		{ echo "nested: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done
tmo=${PTDM_VM_NESTED_TIMEOUT:-600}

mods=$("$here/kernel.sh" 6.1 vfio vfio_iommu_type1 vfio-pci virtio_pci \
	9pnet_virtio 9p) || { echo "nested: FAIL: no kernel" >&2; exit 1; }
work=$(mktemp -d /tmp/ptdm-nested.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# ---- L2: busybox and a script that uses edu at 00:04.0 ----------------------
l2=$work/l2root
mkdir -p "$l2"/{bin,dev,proc,sys}
cp "$(command -v busybox)" "$l2/bin/busybox"
cat >"$l2/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
B=/sys/bus/pci/devices/0000:00:04.0
say() { echo "L2: $*"; }
if [ ! -e $B ]; then say "no device at 00:04.0"; poweroff -f; fi
say "device $(cat $B/vendor):$(cat $B/device) class $(cat $B/class)"
echo 1 > $B/enable
bar=$(($(head -1 $B/resource | cut -d' ' -f1)))
say "BAR0 at $(printf %#x $bar)"
devmem $((bar + 4)) 32 0x12345678
v=$(devmem $((bar + 4)) 32)
[ "$v" = 0xEDCBA987 ] && say "liveness ok" || say "liveness FAILED ($v)"
devmem $((bar + 8)) 32 5
i=0; while [ $i -lt 1000 ] && [ $(( $(devmem $((bar + 0x20)) 32) & 1 )) = 1 ]; do i=$((i+1)); done
v=$(devmem $((bar + 8)) 32)
[ "$v" = 0x00000078 ] && say "factorial ok" || say "factorial FAILED ($v)"
# bus master on (COMMAND bit 2), then DMA: RAM 0x2000000 -> edu -> RAM 0x2001000
printf '\x07' | dd of=$B/config bs=1 seek=4 count=1 conv=notrunc 2>/dev/null
devmem 0x2000000 32 0x5a5aa5a5; devmem 0x2000004 32 0x0badcafe
devmem 0x2001000 32 0; devmem 0x2001004 32 0
dma() { # src dst cmd
	devmem $((bar + 0x80)) 32 $1; devmem $((bar + 0x88)) 32 $2
	devmem $((bar + 0x90)) 32 8; devmem $((bar + 0x98)) 32 $3
	i=0; while [ $i -lt 2000 ] && [ $(( $(devmem $((bar + 0x98)) 32) & 1 )) = 1 ]; do i=$((i+1)); done
}
dma 0x2000000 0x40000 1
dma 0x40000 0x2001000 3
a=$(devmem 0x2001000 32); b=$(devmem 0x2001004 32)
[ "$a $b" = "0x5A5AA5A5 0x0BADCAFE" ] && say "dma ok" || say "dma FAILED ($a $b)"
# the config as L2 leaves it, to compare with ptdm's final guest view
hexdump -v -e '"L2-CFG: " 16/1 "%02x " "\n"' -n 256 $B/config
say "done"
poweroff -f
EOF
chmod 755 "$l2/init"
(cd "$l2" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/l2.cpio.gz"
cp "$mods/vmlinuz" "$work/vmlinuz"
cp "$ptdm" "$work/ptdm" # L1 sees the work share wherever the build is

# ---- the L1 side, run from the host's root --------------------------------
cat >"$work/l1.sh" <<EOF
#!/bin/sh
# runs chrooted into the host's root inside L1
W=$work
E=
for d in /sys/bus/pci/devices/*; do
	[ "\$(cat \$d/vendor):\$(cat \$d/device)" = 0x1234:0x11e8 ] && E=\${d##*/}
done
echo "L1: edu at \${E:-nowhere}"
echo vfio-pci > /sys/bus/pci/devices/\$E/driver_override
echo \$E > /sys/bus/pci/drivers_probe
echo "L1: edu's driver: \$(basename \$(readlink /sys/bus/pci/devices/\$E/driver))"
PTDM_LOG=info timeout 500 \$W/ptdm serve \$E --dump-guest \$W/l2view.txt --mpqemu-exec \\
	qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m 256M \\
	-nographic -no-reboot -nodefaults -serial stdio -display none \\
	-object memory-backend-memfd,id=mem,size=256M,share=on \\
	-machine memory-backend=mem \\
	-device 'x-pci-proxy-dev,id=ptdm0,fd={fd},addr=4' \\
	-kernel \$W/vmlinuz -initrd \$W/l2.cpio.gz \\
	-append 'console=ttyS0 panic=-1 quiet loglevel=3 memmap=1M\$0x2000000' \\
	>\$W/l2.log 2>&1
echo "L1: ptdm exited \$?"
EOF

# ---- L1: busybox, the modules, mount the shares, chroot --------------------
l1=$work/l1root
mkdir -p "$l1"/{bin,dev,proc,sys,host,lib/modules}
cp "$(command -v busybox)" "$l1/bin/busybox"
cp "$mods"/*.ko "$mods/load-order" "$l1/lib/modules/"
cat >"$l1/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in \$(cat /lib/modules/load-order); do insmod /lib/modules/\$m.ko || echo "L1: insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || echo "L1: no host root"
mount -t tmpfs tmpfs /host/tmp; mkdir -p /host$work
mount -t 9p -o trans=virtio,version=9p2000.L work /host$work || echo "L1: no work share"
mount --bind /proc /host/proc; mount --bind /sys /host/sys; mount --bind /dev /host/dev
chroot /host /bin/sh $work/l1.sh
rc=0
grep -q "L2: done" /host$work/l2.log 2>/dev/null || rc=1
echo "L1-RC=\$rc"
printf "\\\\\$(printf %o \$rc)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
EOF
chmod 755 "$l1/init"
(cd "$l1" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/l1.cpio.gz"

start=$(date +%s)
timeout -k 10 "$tmo" qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
	-smp 1 -m 1536M -nographic -no-reboot -nodefaults -display none \
	-serial stdio \
	-device intel-iommu,intremap=on \
	-device edu,addr=02.0 \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev local,id=work,path="$work",security_model=none \
	-device virtio-9p-pci,fsdev=work,mount_tag=work \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$mods/vmlinuz" -initrd "$work/l1.cpio.gz" \
	-append "console=ttyS0 intel_iommu=on panic=-1 quiet loglevel=4" \
	</dev/null >"$work/l1.raw" 2>"$work/qemu.err"
qrc=$?
took=$(( $(date +%s) - start ))
tr -d '\r' <"$work/l1.raw" >"$work/l1.log"

pass=0 fail=0
check() {
	if [ "$1" = 0 ]; then pass=$((pass + 1)); echo "PASS: $2"; else fail=$((fail + 1)); echo "FAIL: $2"; fi
}
l2log=$work/l2.log
[ -f "$l2log" ] || : >"$l2log"
tr -d '\r' <"$l2log" >"$l2log.txt"
grep -q "L1: edu's driver: vfio-pci" "$work/l1.log"; check $? "L1: edu bound to vfio-pci ($(grep -o 'L1: edu at .*' "$work/l1.log"))"
grep -q "L2: device 0x1234:0x11e8" "$l2log.txt"; check $? "L2: the device ptdm serves appears ($(grep -o 'L2: device.*' "$l2log.txt"))"
g=$(sed -n 's/^L2-CFG: //p' "$l2log.txt" | tr -s ' ' | sed 's/ *$//')
p=$(sed -n 's/^[0-9a-f][0-9a-f]: //p' "$work/l2view.txt" 2>/dev/null | head -16 | tr -s ' ' | sed 's/ *$//')
[ -n "$g" ] && [ "$g" = "$p" ]; check $? "L2: its config space is ptdm's guest view, byte for byte ($(echo "$g" | grep -c .) lines)"
grep -q "L2: liveness ok" "$l2log.txt"; check $? "L2: edu liveness through BAR0"
grep -q "L2: factorial ok" "$l2log.txt"; check $? "L2: edu factorial through BAR0"
grep -q "L2: dma ok" "$l2log.txt"; check $? "L2: edu DMA from and to L2's RAM through L1's IOMMU"
grep -q "L1: ptdm exited 0" "$work/l1.log"; check $? "ptdm exited 0 when L2 powered off"
[ "$qrc" = 1 ]; check $? "L1 exit status (QEMU $qrc, want 1)"
if [ "$fail" != 0 ]; then
	echo "---- L1 serial ----"; tail -40 "$work/l1.log"
	echo "---- L2 serial ----"; tail -40 "$l2log.txt"
	sed 's/^/qemu: /' "$work/qemu.err" | tail -5
fi
echo "nested: L1 + L2 took $took s"
echo "RESULT: $pass passed, $fail failed"
[ "$fail" = 0 ]
