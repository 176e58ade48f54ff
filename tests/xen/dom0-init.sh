#!/bin/busybox sh
# /init of dom0 (tests/xen/run.sh): bring up the Xen toolstack, then the
# scenarios, each printing "XENTEST: ..." lines run.sh checks.  Kernel
# command-line words without a dot arrive here as environment (IMG=...).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /var/run/xen /var/log/xen/console
say() { echo "XENTEST: $*"; }
t() { cut -d' ' -f1 /proc/uptime; }
for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m.ko || say "insmod $m failed"; done
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xenstored.pid || say "xenstored failed"
xen-init-dom0 >/dev/null || say "xen-init-dom0 failed"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
say "dom0 up at $(t)s: $(xl info | grep -E '^(xen_version|virt_caps)' | tr -s ' ' | tr '\n' ' ')"
IMG=/images/dev.lspci-x4.txt

if [ "${SCENARIO:-image}" = real ]; then
	# -- real devices: the outer QEMU's edu and e1000e, through sysfs ------
	E= N=
	for p in /sys/bus/pci/devices/*; do
		case "$(cat $p/vendor):$(cat $p/device)" in
		0x1234:0x11e8) E=$(basename $p) ;;
		0x8086:0x10d3) N=$(basename $p) ;;
		esac
	done
	say "REAL: edu at ${E:-nowhere}, e1000e at ${N:-nowhere}; $(xl dmesg | grep -c 'VT-d.*enabled') VT-d features enabled"
	for d in $E $N; do
		xl pci-assignable-add $d
		say "REAL: pci-assignable-add $d rc=$? driver=$(basename $(readlink /sys/bus/pci/devices/$d/driver))"
	done
	printf '%s@3\n%s@4\n' $E $N > /etc/xen/ptdm.args
	: > /var/log/ptdm-1.log; : > /var/log/ptdm-2.log
	export PTDM_LOG=debug # ptdm's Xen calls, one line each
	xl create /etc/xen/hvm-real.cfg >/tmp/xl-real.log 2>&1 || { say "REAL: xl create failed"; sed 's/^/XENTEST: REAL-XL: /' /tmp/xl-real.log; }
	i=0
	while [ $i -lt 900 ] && ! xl dmesg | grep -q "guestbios: done"; do sleep 0.1; i=$((i+1)); done
	xl dmesg | grep -E "\(d[0-9]+\) (pci dev|guestbios|edu|nic)" | sed 's/^/XENTEST: REAL-LOG: /'
	xl dmesg | grep -iE "dmar|iommu.*fault|fault.*iommu" | tail -5 | sed 's/^/XENTEST: REAL-XEN: /'
	if xl dmesg | grep -qE "(guestbios|edu|nic): .*FAILED"; then
		xl debug-keys M; xl debug-keys i
		xl dmesg | tail -60 | sed 's/^/XENTEST: REAL-DIAG: /'
	fi
	xl destroy hvmreal 2>/dev/null
	i=0; while [ $i -lt 50 ] && pidof ptdm >/dev/null; do sleep 0.1; i=$((i+1)); done
	pidof ptdm >/dev/null && say "REAL: ptdm still running"
	sed 's/^/XENTEST: REAL-PTDM1: /' /var/log/ptdm-1.log
	sed 's/^/XENTEST: REAL-PTDM2: /' /var/log/ptdm-2.log
	for d in $E $N; do xl pci-assignable-remove $d; say "REAL: pci-assignable-remove $d rc=$?"; done
	say "END"
	sync
	reboot -f
fi

# -- bad input: a domain that does not exist ----------------------------
ptdm serve $IMG --xen-domid 77 >/tmp/nodom.out 2>/tmp/nodom.err
say "unknown domain: rc=$? $(tail -1 /tmp/nodom.err)"

# -- HVM: hvmloader and SeaBIOS enumerate the device ---------------------
echo "$IMG --dump-guest /tmp/hvm-guest.txt" > /etc/xen/ptdm.args
: > /var/log/ptdm-1.log
say "HVM: xl create at $(t)s"
xl create /etc/xen/hvm.cfg >/tmp/xl-hvm.log 2>&1 || { say "HVM: xl create failed"; cat /tmp/xl-hvm.log; }
i=0
while [ $i -lt 300 ] && ! xl dmesg | grep -qE "\(d[0-9]+\) (Booting from|No bootable device)"; do sleep 0.1; i=$((i+1)); done
xl dmesg | grep -E "\(d[0-9]+\) " | sed 's/^/XENTEST: HVM-LOG: /'
xl destroy hvm1 2>/dev/null
i=0; while [ $i -lt 50 ] && pidof ptdm >/dev/null; do sleep 0.1; i=$((i+1)); done
sed 's/^/XENTEST: HVM-PTDM: /' /var/log/ptdm-1.log
head -17 /tmp/hvm-guest.txt | sed 's/^/XENTEST: HVM-DUMP-GUEST: /'
say "HVM: done at $(t)s"

# -- PVH: a Linux guest drives the device, ptdm the only device model -----
say "PVH: xl create -p at $(t)s"
xl create -p /etc/xen/pvh.cfg >/tmp/xl-pvh.log 2>&1 || { say "PVH: xl create failed"; cat /tmp/xl-pvh.log; }
D=$(xl domid pvh1)
ptdm serve $IMG --xen-domid $D --xen-cf8 --dump-guest /tmp/guest.txt \
	--dump-host /tmp/host.txt >/tmp/ptdm.out 2>/tmp/ptdm-pvh.log &
P=$!
i=0; while [ $i -lt 100 ] && ! grep -q "ptdm: ready" /tmp/ptdm.out; do sleep 0.1; i=$((i+1)); done
say "PVH: ptdm $(cat /tmp/ptdm.out); unpause at $(t)s"
xl unpause $D
C=/var/log/xen/console/guest-pvh1.log
i=0; while [ $i -lt 900 ] && ! grep -q "GUEST: MSI armed" $C 2>/dev/null && ! grep -q GUEST-DONE $C 2>/dev/null; do sleep 0.1; i=$((i+1)); done
if [ -n "${NOIRQ:-}" ]; then # run.sh's negative control: the MSI check must fail
	say "PVH: guest armed MSI at $(t)s: NOIRQ, not raising the interrupt"
else
	say "PVH: guest armed MSI at $(t)s: raising the device's interrupt"
	kill -USR1 $P
fi
i=0; while [ $i -lt 600 ] && ! grep -q GUEST-DONE $C 2>/dev/null; do sleep 0.1; i=$((i+1)); done
grep -E "^GUEST" $C | tr -d '\r' | sed 's/^/XENTEST: PVH-/'
grep -vE "^GUEST" $C | tr -d '\r' | tail -25 | sed 's/^/XENTEST: PVH-CONSOLE: /'
# the domain dies under ptdm: it must notice, tear down and exit 0
xl destroy $D
i=0; while [ $i -lt 50 ] && kill -0 $P 2>/dev/null; do sleep 0.1; i=$((i+1)); done
if kill -0 $P 2>/dev/null; then say "PVH: ptdm still running after the domain died"; kill $P; fi
wait $P; say "PVH: ptdm exited rc=$? after the domain was destroyed"
sed 's/^/XENTEST: PVH-PTDM: /' /tmp/ptdm-pvh.log
sed 's/^/XENTEST: DUMP-GUEST: /' /tmp/guest.txt
sed 's/^/XENTEST: DUMP-HOST: /' /tmp/host.txt
say "PVH: done at $(t)s"
say "END"
sync
reboot -f
