#!/bin/busybox sh
# /init of the PVH Linux guest (tests/xen/run.sh): uses the device ptdm
# serves at 00:03.0 the way a driver would, through its own kernel, and
# prints "GUEST: ..." lines the dom0 script and run.sh check.
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
S=00:03.0
B=/sys/bus/pci/devices/0000:$S
echo "GUEST: up $(cut -d' ' -f1 /proc/uptime)s"
if [ ! -e $B ]; then
	echo "GUEST: no device at $S"; lspci -nn; echo GUEST-DONE; exec sleep 1000
fi
echo "GUEST: device $(cat $B/vendor):$(cat $B/device) class $(cat $B/class)"
dmesg | grep "0000:$S" | sed 's/^/GUEST: dmesg: /'
echo 1 > $B/enable
setpci -s $S COMMAND.w=0007
# the first memory and I/O BARs the kernel assigned
n=0; mem=; io=
while read s e f; do
	n=$((n + 1)); [ $n -le 6 ] || break
	[ $((s)) = 0 ] && continue
	[ -z "$mem" ] && [ $((f & 0x200)) != 0 ] && mem=$((s))
	[ -z "$io" ] && [ $((f & 0x100)) != 0 ] && io=$((s))
done < $B/resource
echo "GUEST: memory BAR at $mem, I/O BAR at port $io"
echo "GUEST: $(grep -c ^processor /proc/cpuinfo) CPUs"
# the write from vCPU 1, the read from vCPU 0: ioreqs come from both
taskset 2 devmem $((mem + 0x10)) 32 0xcafef00d
echo "GUEST: MMIO read -> $(taskset 1 devmem $((mem + 0x10)) 32)"
printf '\x34\x12' | dd of=/dev/port bs=1 seek=$((io + 4)) count=2 2>/dev/null
echo "GUEST: PIO read -> $(dd if=/dev/port bs=1 skip=$((io + 4)) count=2 2>/dev/null | hexdump -v -e '2/1 "%02x"')"
# MSI as a driver programs it: APIC 0, vector 0xd0 (which no handler owns,
# so the kernel names the vector when it arrives), then enable
flags=$(setpci -s $S CAP_MSI+2.w)
data=8; [ $((0x$flags & 0x80)) != 0 ] && data=c
setpci -s $S CAP_MSI+4.l=fee00000
[ $data = c ] && setpci -s $S CAP_MSI+8.l=0
setpci -s $S CAP_MSI+$data.w=00d0
# per-vector masking: unmask vector 0, as the kernel does for its drivers
if [ $((0x$flags & 0x100)) != 0 ]; then
	setpci -s $S CAP_MSI+$(printf %x $((0x$data + 4))).l=0
fi
setpci -s $S CAP_MSI+2.w=0001:0071
echo "GUEST: MSI armed (control $(setpci -s $S CAP_MSI+2.w))"
# (no sleep: timers do not fire in this TCG PVH guest, so poll by work)
i=0
while [ $i -lt 400 ] && ! dmesg | grep -q "No irq handler for vector"; do i=$((i + 1)); done
line=$(dmesg | grep "No irq handler for vector" | head -1)
if [ -n "$line" ]; then echo "GUEST: MSI arrived: $line"; else echo "GUEST: MSI not seen"; fi
# decode off: the BAR no longer answers (and, ptdm's host dump shows, the
# device itself keeps decoding)
setpci -s $S COMMAND.w=0005
echo "GUEST: MMIO with memory decode off -> $(devmem $((mem + 0x10)) 32)"
echo "GUEST-LSPCI-BEGIN"; lspci -xxx -s $S | sed 's/^/GUEST-X: /'; echo "GUEST-LSPCI-END"
echo "GUEST-DONE $(cut -d' ' -f1 /proc/uptime)s"
exec sleep 1000
