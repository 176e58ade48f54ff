#!/bin/bash
# nested.sh - the whole chain, nested: an L1 QEMU TCG guest (emulated VT-d;
# an edu alone at 00:02.0, and two edus as the functions of one slot,
# 01:00.0 and 01:00.1 behind a root port, one IOMMU group) binds all three
# to vfio-pci and runs ptdm with the VFIO backend, which serves them to one
# L2 guest through QEMU 7.2's x-pci-proxy-dev:
#   ptdm serve 0000:00:02.0 --mpqemu-exec sh l2vmm.sh W {fd}   (one device)
#   l2vmm.sh: ptdm serve '0000:01:00.*' --mpqemu-exec qemu ...  (the slot)
#     -device x-pci-proxy-dev,fd=$2,addr=5            -> L2 00:05.0
#     -device x-pci-proxy-dev,fd={fd.0},addr=4.0,multifunction=on -> 00:04.0
#     -device x-pci-proxy-dev,fd={fd.1},addr=4.1      -> L2 00:04.1
# (the outer ptdm's socket passes through the inner one to QEMU), so one
# L2 boot has a single device and a slot's two functions.  In L2, busybox
# alone, for each of the three edus:
#   - the device shows ptdm's virtual config (compared with ptdm's
#     --dump-guest view after the run); function 0 of the slot has the
#     header's multifunction bit, the single device has not,
#   - edu's liveness and factorial registers work through BAR0 (L2 MMIO ->
#     proxy -> ptdm -> VFIO -> edu),
#   - an edu DMA reads a pattern from L2's RAM and writes it back elsewhere:
#     ptdm put L2's RAM (SYNC_SYSMEM memfds) into L1's IOMMU at IOVA = L2
#     guest-physical address (for the slot: two connections of one VMM
#     mapping the same memory into one DMA space).
# L1 also checks that --mpqemu-exec's placeholder mistakes on the real slot
# are refused before any VMM starts.
# L1 runs the host's own QEMU and the built ptdm from the host's root,
# shared read-only over virtio-9p (a second share, writable, is the work
# directory).  Exit status comes back through isa-debug-exit.
#
#   tests/vm/nested.sh --ptdm BUILD/ptdm
#
# L2 is TCG inside TCG: about 7 minutes on a 2-core machine shared with
# other VMs and fuzzers (L2 booted in 160 s, its checks took 115 s), far
# more under heavier load; the times are printed at the end.  Timeout:
# PTDM_VM_NESTED_TIMEOUT (default 1200 s; L1's ptdm gets 80 s less).
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
tmo=${PTDM_VM_NESTED_TIMEOUT:-1200}

mods=$("$here/kernel.sh" 6.1 vfio vfio_iommu_type1 vfio-pci virtio_pci \
	9pnet_virtio 9p) || { echo "nested: FAIL: no kernel" >&2; exit 1; }
work=$(mktemp -d /tmp/ptdm-nested.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# ---- L2: busybox and a script that uses the three edus --------------------
l2=$work/l2root
mkdir -p "$l2"/{bin,dev,proc,sys}
cp "$(command -v busybox)" "$l2/bin/busybox"
cat >"$l2/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
say() { echo "L2: $*"; }
say "up $(cut -d' ' -f1 /proc/uptime) s"
dma() { # src dst cmd, on the edu at $bar
	devmem $((bar + 0x80)) 32 $1; devmem $((bar + 0x88)) 32 $2
	devmem $((bar + 0x90)) 32 8; devmem $((bar + 0x98)) 32 $3
	i=0; while [ $i -lt 2000 ] && [ $(( $(devmem $((bar + 0x98)) 32) & 1 )) = 1 ]; do i=$((i+1)); done
}
# edu DD.F RAM: the checks on the edu at 00:DD.F; RAM and RAM + 0x1000 (in
# the 1M memmap= keeps from the kernel) are its DMA's source and target
edu() {
	d=$1 ram=$2 B=/sys/bus/pci/devices/0000:00:$1
	if [ ! -e $B ]; then say "$d: no device"; return; fi
	say "$d: device $(cat $B/vendor):$(cat $B/device) class $(cat $B/class)"
	say "$d: header type 0x$(hexdump -s 14 -n 1 -e '1/1 "%02x"' $B/config)"
	echo 1 > $B/enable
	bar=$(($(head -1 $B/resource | cut -d' ' -f1)))
	say "$d: BAR0 at $(printf %#x $bar)"
	devmem $((bar + 4)) 32 0x12345678
	v=$(devmem $((bar + 4)) 32)
	[ "$v" = 0xEDCBA987 ] && say "$d: liveness ok" || say "$d: liveness FAILED ($v)"
	devmem $((bar + 8)) 32 5
	i=0; while [ $i -lt 1000 ] && [ $(( $(devmem $((bar + 0x20)) 32) & 1 )) = 1 ]; do i=$((i+1)); done
	v=$(devmem $((bar + 8)) 32)
	[ "$v" = 0x00000078 ] && say "$d: factorial ok" || say "$d: factorial FAILED ($v)"
	# bus master on (COMMAND bit 2), then DMA: RAM -> edu -> RAM + 0x1000
	printf '\x07' | dd of=$B/config bs=1 seek=4 count=1 conv=notrunc 2>/dev/null
	devmem $ram 32 0x5a5aa5a5; devmem $((ram + 4)) 32 0x0badcafe
	devmem $((ram + 0x1000)) 32 0; devmem $((ram + 0x1004)) 32 0
	dma $ram 0x40000 1
	dma 0x40000 $((ram + 0x1000)) 3
	a=$(devmem $((ram + 0x1000)) 32); b=$(devmem $((ram + 0x1004)) 32)
	[ "$a $b" = "0x5A5AA5A5 0x0BADCAFE" ] && say "$d: dma ok" || say "$d: dma FAILED ($a $b)"
	# the config as L2 leaves it, to compare with ptdm's final guest view
	hexdump -v -e '"L2-CFG-'$d': " 16/1 "%02x " "\n"' -n 256 $B/config
}
edu 05.0 0x2000000
edu 04.0 0x2002000
edu 04.1 0x2004000
say "checks done at $(cut -d' ' -f1 /proc/uptime) s"
say "done"
poweroff -f
EOF
chmod 755 "$l2/init"
(cd "$l2" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/l2.cpio.gz"
cp "$mods/vmlinuz" "$work/vmlinuz"
cp "$ptdm" "$work/ptdm" # L1 sees the work share wherever the build is

# ---- the L1 side, run from the host's root (argument: the work dir) -------
cat >"$work/l1.sh" <<EOF
#!/bin/sh
# runs chrooted into the host's root inside L1
W=\$1
dev=/sys/bus/pci/devices
for d in 0000:00:02.0 0000:01:00.0 0000:01:00.1; do
	echo "L1: \$d: \$(cat \$dev/\$d/vendor):\$(cat \$dev/\$d/device) IOMMU group \$(basename \$(readlink \$dev/\$d/iommu_group))"
	echo vfio-pci > \$dev/\$d/driver_override
	echo \$d > /sys/bus/pci/drivers_probe
	echo "L1: \$d: driver \$(basename \$(readlink \$dev/\$d/driver))"
done
# placeholder mistakes on the real slot: refused, no VMM started
for args in 'fd={fd.0}' 'fd={fd} fd={fd.1}' 'fd={fd.0} fd={fd.1} fd={fd.2}'; do
	\$W/ptdm serve '0000:01:00.*' --mpqemu-exec touch \$W/started \$args \\
		>\$W/mistake.txt 2>&1
	echo "L1-MISTAKE: exit \$? \$(grep -o -- '--mpqemu-exec: .*' \$W/mistake.txt)"
done
[ -e \$W/started ] && echo "L1: a refused VMM started"
echo "L1: up \$(cut -d' ' -f1 /proc/uptime) s, starting L2"
PTDM_LOG=info timeout $((tmo - 80)) \$W/ptdm serve 0000:00:02.0 --dump-guest \$W/l2view-05.0.txt \\
	--mpqemu-exec sh \$W/l2vmm.sh \$W '{fd}' >\$W/l2.log 2>&1
echo "L1: ptdm exited \$?"
EOF
# the VMM the outer ptdm starts: $1 the work directory, $2 the outer
# ptdm's socket; the inner ptdm serves the slot and starts L2's QEMU
cat >"$work/l2vmm.sh" <<'EOF'
#!/bin/sh
W=$1
exec $W/ptdm serve '0000:01:00.*' --dump-guest "$W/l2view-04.{fn}.txt" \
	--mpqemu-exec \
	qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m 256M \
	-nographic -no-reboot -nodefaults -serial stdio -display none \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-machine memory-backend=mem \
	-device "x-pci-proxy-dev,id=single,fd=$2,addr=5" \
	-device 'x-pci-proxy-dev,id=fn0,fd={fd.0},addr=4.0,multifunction=on' \
	-device 'x-pci-proxy-dev,id=fn1,fd={fd.1},addr=4.1' \
	-kernel $W/vmlinuz -initrd $W/l2.cpio.gz \
	-append 'console=ttyS0 panic=-1 quiet loglevel=3 memmap=1M$0x2000000'
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
chroot /host /bin/sh $work/l1.sh $work
rc=0
grep -q "L2: done" /host$work/l2.log 2>/dev/null || rc=1
echo "L1-RC=\$rc"
printf "\\\\\$(printf %o \$rc)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
EOF
chmod 755 "$l1/init"
(cd "$l1" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/l1.cpio.gz"

# the slot: a root port at 2.5 GT/s (tests/vm/README.md: a secondary bus
# reset then works), two edus as its functions 0 and 1, no ACS: one group
start=$(date +%s)
timeout -k 10 "$tmo" qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
	-smp 1 -m 1536M -nographic -no-reboot -nodefaults -display none \
	-serial stdio \
	-device intel-iommu,intremap=on \
	-device edu,addr=02.0 \
	-device pcie-root-port,id=rp1,chassis=1,addr=05.0,x-speed=2_5,x-width=1 \
	-device edu,bus=rp1,addr=00.0,multifunction=on \
	-device edu,bus=rp1,addr=00.1 \
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
l1log=$work/l1.log
l2log=$work/l2.log
[ -f "$l2log" ] || : >"$l2log"
tr -d '\r' <"$l2log" >"$l2log.txt"
l2=$l2log.txt
group() { sed -n "s/^L1: $1: .* IOMMU group //p" "$l1log"; }
for d in 0000:00:02.0 0000:01:00.0 0000:01:00.1; do
	grep -q "^L1: $d: driver vfio-pci" "$l1log"; check $? "L1: $d bound to vfio-pci ($(grep -o "L1: $d: 0x.*" "$l1log"))"
done
[ -n "$(group 0000:01:00.0)" ] && [ "$(group 0000:01:00.0)" = "$(group 0000:01:00.1)" ] &&
	[ "$(group 0000:01:00.0)" != "$(group 0000:00:02.0)" ]
check $? "L1: the slot's two functions share an IOMMU group, 00:02.0 has its own"
mistake() { grep -q "^L1-MISTAKE: exit 2 --mpqemu-exec: .*$1" "$l1log"; }
mistake "function 1 is served but the command has no {fd.1}"; check $? "L1: a slot's function without {fd.F}: refused"
mistake "{fd} in \"fd={fd}\": functions 0 and 1 are served"; check $? "L1: {fd} for a slot: refused"
mistake "{fd.2} in \"fd={fd.2}\": function 2 of the slot is not served"; check $? "L1: {fd.F} of a function not served: refused"
! grep -q "L1: a refused VMM started" "$l1log"; check $? "L1: no refused command was started"
for d in 05.0 04.0 04.1; do
	grep -q "L2: $d: device 0x1234:0x11e8" "$l2"; check $? "L2: 00:$d: the edu ptdm serves appears ($(grep -o "L2: $d: device.*" "$l2"))"
	g=$(sed -n "s/^L2-CFG-$d: //p" "$l2" | tr -s ' ' | sed 's/ *$//')
	p=$(sed -n 's/^[0-9a-f][0-9a-f]: //p' "$work/l2view-$d.txt" 2>/dev/null | head -16 | tr -s ' ' | sed 's/ *$//')
	[ -n "$g" ] && [ "$g" = "$p" ]; check $? "L2: 00:$d: its config space is ptdm's guest view, byte for byte ($(echo "$g" | grep -c .) lines)"
	grep -q "L2: $d: liveness ok" "$l2"; check $? "L2: 00:$d: edu liveness through BAR0"
	grep -q "L2: $d: factorial ok" "$l2"; check $? "L2: 00:$d: edu factorial through BAR0"
	grep -q "L2: $d: dma ok" "$l2"; check $? "L2: 00:$d: edu DMA from and to L2's RAM through L1's IOMMU"
done
grep -q "L2: 04.0: header type 0x[89a-f]" "$l2"; check $? "L2: 00:04.0 (function 0) has the multifunction bit ($(grep -o 'L2: 04.0: header type.*' "$l2"))"
grep -q "L2: 05.0: header type 0x[0-7]" "$l2"; check $? "L2: 00:05.0 (one device) has not ($(grep -o 'L2: 05.0: header type.*' "$l2"))"
# Within one DMA space the second function's DMA reaches L2's RAM through
# the first one's kernel mapping (same IOVA, same memfd pages) even when its
# own DMA_MAP was refused, so the DMA checks alone do not show that each
# connection got its mappings: ptdm's warnings do.  Only those after L2's
# kernel is up count: while the firmware changes the RAM layout (PAM) one
# connection's new range can meet the other's old one (docs/serving.md)
sed -n '/L2: up /,$p' "$l2" |
	grep -E "is not reachable by the device's DMA|DMA map .* overlaps" >"$work/dmawarn"
[ $? = 1 ] && grep -q "L2: up " "$l2"
check $? "ptdm: every connection's DMA_MAP of L2's RAM accepted once L2 is up ($(head -1 "$work/dmawarn"))"
# both ptdm (the outer VFIO one with a child VMM, the inner slot one) ran
# inside their Landlock file rules, and still wrote their dumps (above)
n=$(grep -c "sandbox: .*files by Landlock ABI [1-9]" "$l2")
[ "$n" = 2 ]; check $? "ptdm: both serve inside Landlock file rules ($n: $(grep -o 'files by Landlock ABI [0-9]* ([^)]*)' "$l2" | head -1))"
grep -q "L1: ptdm exited 0" "$l1log"; check $? "both ptdm exited 0 when L2 powered off"
[ "$qrc" = 1 ]; check $? "L1 exit status (QEMU $qrc, want 1)"
if [ "$fail" != 0 ]; then
	echo "---- L1 serial ----"; tail -40 "$l1log"
	echo "---- L2 serial and ptdm ----"; tail -60 "$l2"
	sed 's/^/qemu: /' "$work/qemu.err" | tail -5
fi
t1=$(sed -n 's/^L1: up \([0-9.]*\) s.*/\1/p' "$l1log")
t2=$(sed -n 's/.*L2: up \([0-9.]*\) s.*/\1/p' "$l2")
t3=$(sed -n 's/^L2: checks done at \([0-9.]*\) s/\1/p' "$l2")
echo "nested: L1 + L2 took $took s (L1 up at ${t1:-?} s; L2 up at ${t2:-?} s, its checks done at ${t3:-?} s of its uptime)"
echo "RESULT: $pass passed, $fail failed"
[ "$fail" = 0 ]
