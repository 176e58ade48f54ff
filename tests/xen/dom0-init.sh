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
	# two of each: E and N for ptdm's guest, E2 and N2 for the xen_pt one
	# (once a domain has used an e1000e's MSI-X, the next domain to use it
	# gets no MSI-X from it, whichever device model serves either: each
	# guest gets devices nobody used before, as on a host with two NICs)
	# and at 00:07 a multi-function device (e1000e at .0, edu at .1) for
	# BB:DD.* in pci=[...]
	E= N= E2= N2= X=
	for p in /sys/bus/pci/devices/*; do
		case $(basename $p) in 0000:00:07.*) continue ;; esac
		case "$(cat $p/vendor):$(cat $p/device)" in
		0x1033:0x0194) X=$(basename $p) ;; # xHCI with a 16-vector MSI
		0x1234:0x11e8) if [ -z "$E" ]; then E=$(basename $p); elif [ -z "$E2" ]; then E2=$(basename $p); fi ;;
		0x8086:0x10d3) if [ -z "$N" ]; then N=$(basename $p); elif [ -z "$N2" ]; then N2=$(basename $p); fi ;;
		esac
	done
	M=0000:00:07
	say "REAL: edu at ${E:-nowhere}, e1000e at ${N:-nowhere}; $(xl dmesg | grep -c 'VT-d.*enabled') VT-d features enabled"
	say "REAL: for xen_pt: edu at ${E2:-nowhere}, e1000e at ${N2:-nowhere}"
	for d in $E $N $E2 $N2 $M.0 $M.1; do
		xl pci-assignable-add $d
		say "REAL: pci-assignable-add $d rc=$? driver=$(basename $(readlink /sys/bus/pci/devices/$d/driver))"
	done
	# the xHCI (multi-message MSI) goes to ptdm's guest only, at slot 6
	xl pci-assignable-add $X
	say "REAL: xhci $X pci-assignable-add rc=$? driver=$(basename $(readlink /sys/bus/pci/devices/$X/driver))"
	# guest view of one slot, from guestbios's watch loop: the last
	# "slot4 XXXXXXXX" line of domain $1
	# (through a file and one awk: busybox sh here crashes now and then in
	# a pipeline inside $(...) run in a loop)
	slot4() {
		xl dmesg >/tmp/dmesg.txt
		awk -v p="(d$1) guestbios: slot4 " 'index($0, p) { v = substr($0, index($0, p) + length(p)) } END { print v }' /tmp/dmesg.txt
	}
	wait_slot4() { # domid value
		i=0; v=
		while [ $i -lt 300 ]; do
			v=$(slot4 $1); [ "$v" = "$2" ] && break
			sleep 0.1; i=$((i+1))
		done
		say "REAL: guest sees slot 4 as $v at $(t)s"
	}
	cmdreg() { # the device's COMMAND register, as dom0 reads it
		hexdump -s 4 -n 2 -e '1/2 "%04x"' /sys/bus/pci/devices/$1/config
	}
	# -- first the guest with stock xen-pci-passthrough: the baseline ----
	echo "pci = [ '$E2@3', '$N2@4' ]" >> /etc/xen/hvm-xenpt.cfg
	say "XENPT: xl create at $(t)s"
	xl create /etc/xen/hvm-xenpt.cfg >/tmp/xl-xenpt.log 2>&1 || { say "XENPT: xl create failed"; sed 's/^/XENTEST: XENPT-XL: /' /tmp/xl-xenpt.log; }
	D2=$(xl domid hvmxenpt)
	say "XENPT: domid $D2"
	i=0
	while [ $i -lt 900 ] && ! xl dmesg | grep -q "(d$D2) guestbios: slot4"; do sleep 0.1; i=$((i+1)); done
	xl dmesg | grep "(d$D2) " | sed 's/^/XENTEST: XENPT-LOG: /'
	L=/var/log/xen/qemu-dm-hvmxenpt.log
	# the ioreqs QEMU handled for each device until guestbios was done
	# (and had read both config spaces once)
	for sbdf in 0x18 0x20; do
		say "XENPT: ioreqs sbdf=$sbdf config=$(grep -c "cpu_ioreq_config_[a-z]* .*sbdf=$sbdf " $L)"
	done
	grep -E "handle_ioreq .*type=1 " $L | sed 's/.*port=\(0x[0-9a-f]*\).*/\1/' | sort | uniq -c | sed 's/^/XENTEST: XENPT-MMIO: /'
	s0=$(t); xl destroy hvmxenpt 2>/dev/null
	say "XENPT: destroy in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s (the guest never ejects: libxl waits for QEMU)"
	grep -vE "cpu_ioreq|handle_ioreq" $L | tail -40 | sed 's/^/XENTEST: XENPT-DM: /'

	# -- ptdm through ptdm-xen-dm: an ordinary config + pci=[...] --------
	echo "pci = [ '$E@3', '$N@4', '$X@6' ]" >> /etc/xen/hvm-real.cfg
	export PTDM_LOG=debug # ptdm's Xen calls, one line each
	export PTDM_XEN_DM_PTDM=/bin/ptdm
	say "REAL: xl create at $(t)s"
	xl create /etc/xen/hvm-real.cfg >/tmp/xl-real.log 2>&1 || { say "REAL: xl create failed"; sed 's/^/XENTEST: REAL-XL: /' /tmp/xl-real.log; }
	D=$(xl domid hvmreal)
	say "REAL: domid $D"
	i=0
	# until guestbios has dumped both devices' config space and watches
	while [ $i -lt 900 ] && ! xl dmesg | grep -q "(d$D) guestbios: slot4"; do sleep 0.1; i=$((i+1)); done
	CTL=/var/run/xen/ptdm-dm-ctl-$D
	xl dmesg | grep "(d$D) " | sed 's/^/XENTEST: REAL-LOG: /'
	ptdm ctl $CTL --json query-devices | sed 's/^/XENTEST: REAL-QUERY: /'
	say "REAL: ptdm processes: $(pidof ptdm | wc -w); device model: $(pidof ptdm-xen-dm | wc -w) wrapper, $(pidof xen-qemu-system-i386 | wc -w) qemu"
	xl dmesg | grep -iE "dmar|iommu.*fault|fault.*iommu" | tail -5 | sed 's/^/XENTEST: REAL-XEN: /'
	if xl dmesg | grep -qE "(guestbios|edu|nic): .*FAILED"; then
		xl debug-keys M; xl debug-keys i
		xl dmesg | tail -60 | sed 's/^/XENTEST: REAL-DIAG: /'
	fi
	# what Xen has bound for the domain: edu's INTx (IO-APIC) and the
	# xHCI's MSI vectors, one IRQ each (the last "IRQ information" dump)
	xl debug-keys i
	xl dmesg | awk '/IRQ information:/ { b = "" } { b = b $0 "\n" } END { printf "%s", b }' |
		grep -E " d$D: *[0-9]+" | sed 's/^/XENTEST: REAL-IRQ: /'
	wait_slot4 $D 10d38086
	say "REAL: log-dirty with edu and e1000e assigned: $(logdirty $D)"
	xl pci-list hvmreal | sed 's/^/XENTEST: REAL-PCILIST1: /'
	# -- xl pci-detach / pci-attach of e1000e while the guest runs -------
	s0=$(t); xl pci-detach hvmreal $N >/tmp/xl-detach.log 2>&1
	say "REAL: pci-detach $N rc=$? in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s"
	sed 's/^/XENTEST: REAL-XL: /' /tmp/xl-detach.log
	wait_slot4 $D ffffffff
	xl pci-list hvmreal | sed 's/^/XENTEST: REAL-PCILIST2: /'
	say "REAL: after detach: $N COMMAND=$(cmdreg $N) driver=$(basename $(readlink /sys/bus/pci/devices/$N/driver)) assignable=$(xl pci-assignable-list | grep -c $N) ptdm-devices=$(ptdm ctl $CTL query-devices | grep -c "$N")"
	s0=$(t); xl pci-attach hvmreal $N@4 >/tmp/xl-attach.log 2>&1
	say "REAL: pci-attach $N@4 rc=$? in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s"
	sed 's/^/XENTEST: REAL-XL: /' /tmp/xl-attach.log
	wait_slot4 $D 10d38086
	xl pci-list hvmreal | sed 's/^/XENTEST: REAL-PCILIST3: /'
	s0=$(t); xl destroy hvmreal 2>/dev/null
	say "REAL: destroy in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s"
	i=0; while [ $i -lt 100 ] && pidof ptdm ptdm-xen-dm >/dev/null; do sleep 0.1; i=$((i+1)); done
	pidof ptdm >/dev/null && say "REAL: ptdm still running"
	pidof ptdm-xen-dm >/dev/null && say "REAL: ptdm-xen-dm still running"
	for d in $E $N; do say "REAL: after destroy: $d COMMAND=$(cmdreg $d) driver=$(basename $(readlink /sys/bus/pci/devices/$d/driver))"; done
	sed 's/^/XENTEST: REAL-DM: /' /var/log/xen/qemu-dm-hvmreal.log
	xl dmesg | grep -E "memory_map|ioport_map" | sed 's/^/XENTEST: REAL-MAP: /'

	# -- BB:DD.* of the multi-function device ---------------------------
	sed -e 's/^name = .*/name = "hvmmf"/' /etc/xen/hvm-real.cfg | grep -v "^pci = " >/etc/xen/hvm-mf.cfg
	echo "pci = [ '$M.*@5' ]" >> /etc/xen/hvm-mf.cfg
	xl create /etc/xen/hvm-mf.cfg >/tmp/xl-mf.log 2>&1 || { say "MF: xl create failed"; sed 's/^/XENTEST: MF-XL: /' /tmp/xl-mf.log; }
	D3=$(xl domid hvmmf)
	say "MF: domid $D3"
	i=0
	while [ $i -lt 900 ] && ! xl dmesg | grep -q "(d$D3) guestbios: slot4"; do sleep 0.1; i=$((i+1)); done
	xl dmesg | grep "(d$D3) pci dev" | sed 's/^/XENTEST: MF-LOG: /'
	xl pci-list hvmmf | sed 's/^/XENTEST: MF-PCILIST: /'
	ptdm ctl /var/run/xen/ptdm-dm-ctl-$D3 query-devices | sed 's/^/XENTEST: MF-QUERY: /'
	xl destroy hvmmf 2>/dev/null
	i=0; while [ $i -lt 100 ] && pidof ptdm ptdm-xen-dm >/dev/null; do sleep 0.1; i=$((i+1)); done
	pidof ptdm ptdm-xen-dm >/dev/null && say "MF: still running"
	grep "ptdm-xen-dm" /var/log/xen/qemu-dm-hvmmf.log | sed 's/^/XENTEST: MF-DM: /'

	# -- xl save / xl restore: an image device behind the wrapper ----------
	# (SeaBIOS: hvmloader places the image's BARs and sets its COMMAND
	# register, then SeaBIOS boots a disk whose boot sector idles for ever,
	# so the guest runs through save, restore and migrate; without a disk
	# SeaBIOS reboots after 60 s of guest time: on_reboot destroys it)
	sed -e 's/^name = .*/name = "hvmsave"/' -e '/^bios_path_override/d' -e '/^passthrough/d' \
		/etc/xen/hvm-real.cfg | grep -v "^pci = " >/etc/xen/hvm-save.cfg
	echo 'device_model_args_hvm = [ "-ptdm-image", "/images/dev.lspci-x4.txt@5", "-drive", "file=/images/idle.img,format=raw,if=ide,index=0,media=disk,file.locking=off" ]' >>/etc/xen/hvm-save.cfg
	echo 'on_reboot = "destroy"' >>/etc/xen/hvm-save.cfg
	dump() { # domid file: ptdm's guest view of the image, now (written in
		# the control socket's directory: the sandbox lets ptdm make
		# files nowhere else)
		v=/var/run/xen/ptdm-test-view-$1.txt
		ptdm ctl /var/run/xen/ptdm-dm-ctl-$1 raw "{\"execute\":\"device-dump\",\"arguments\":{\"id\":\"ptdm-img-05\",\"guest\":\"$v\"}}" >/dev/null 2>&1 &&
			mv $v $2 || echo "no dump" >$2
	}
	xl create /etc/xen/hvm-save.cfg >/tmp/xl-save.log 2>&1 || { say "SAVE: xl create failed"; sed 's/^/XENTEST: SAVE-XL: /' /tmp/xl-save.log; }
	D4=$(xl domid hvmsave)
	say "SAVE: domid $D4"
	i=0; while [ $i -lt 600 ] && ! xl dmesg | grep -qE "\(d$D4\) (Booting from|No bootable device)"; do sleep 0.1; i=$((i+1)); done
	xl dmesg | grep -E "\(d$D4\) (pci dev 05|No bootable|Booting from)" | sed 's/^/XENTEST: SAVE-LOG: /'
	dump $D4 /tmp/save-before.txt
	s0=$(t); xl save hvmsave /tmp/hvmsave.xl >/tmp/xl-savecmd.log 2>&1
	say "SAVE: xl save rc=$? in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s, $(wc -c </tmp/hvmsave.xl) bytes, ptdm sections: $(strings -n 8 /tmp/hvmsave.xl | grep -c PTDMXDM1)"
	sed 's/^/XENTEST: SAVE-XL: /' /tmp/xl-savecmd.log
	i=0; while [ $i -lt 100 ] && pidof ptdm ptdm-xen-dm >/dev/null; do sleep 0.1; i=$((i+1)); done
	say "SAVE: after the save: $(pidof ptdm | wc -w) ptdm, $(pidof ptdm-xen-dm | wc -w) wrapper; domain $(xl domid hvmsave 2>/dev/null || echo gone)"
	grep "ptdm-xen-dm" /var/log/xen/qemu-dm-hvmsave.log | sed 's/^/XENTEST: SAVE-DM1: /'
	s0=$(t); xl restore /tmp/hvmsave.xl >/tmp/xl-restore.log 2>&1
	say "SAVE: xl restore rc=$? in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s"
	sed 's/^/XENTEST: SAVE-XL: /' /tmp/xl-restore.log
	D5=$(xl domid hvmsave)
	dump $D5 /tmp/save-after.txt
	say "SAVE: restored as domain $D5; guest view $(cmp -s /tmp/save-before.txt /tmp/save-after.txt && echo equal || echo different)"
	for f in before after; do grep -E "^(00|10|20|30):" /tmp/save-$f.txt | sed "s/^/XENTEST: SAVE-VIEW-$f: /"; done
	sleep 1
	xl list | sed 's/^/XENTEST: SAVE-LIST: /'
	grep "ptdm-xen-dm\|state loaded" /var/log/xen/qemu-dm-hvmsave.log | sed 's/^/XENTEST: SAVE-DM2: /'
	# -- xl migrate to localhost of the restored domain -----------------
	# (-s "": xl runs its host argument as the receiving side's command,
	# here xl migrate-receive in this same dom0, over a pipe pair; libxl
	# sends QEMU's record, ptdm's section at its end, as the stream's
	# EMULATOR_CONTEXT, and the receiver restores from it as xl restore
	# does; the domain is "hvmsave--incoming" until the sender says go).
	dump $D5 /tmp/mig-before.txt
	OLD="$(pidof ptdm) $(pidof ptdm-xen-dm) $(pidof xen-qemu-system-i386)"
	for p in $(pidof xl); do grep -q restore /proc/$p/cmdline && OLD="$OLD $p"; done # its xl
	alive() { n=0; for p in $OLD; do [ -d /proc/$p ] && n=$((n+1)); done; echo $n; }
	files() { # the toolstack's and the wrapper's files, a domid as D
		ls /var/run/xen /var/lib/xen | sed -e "s/\([-.]\)$1\$/\1D/" -e "s/-$1-/-D-/" -e "s/^userdata-d\.$1\./userdata-d.D./" | sort
	}
	files $D5 >/tmp/mig-files-before.txt
	procs() { echo "$(pidof ptdm | wc -w) ptdm, $(pidof ptdm-xen-dm | wc -w) wrapper, $(pidof xen-qemu-system-i386 | wc -w) qemu, $(pidof xl | wc -w) xl"; }
	say "MIGRATE: before: domain $D5; $(procs)"
	xl list | sed 's/^/XENTEST: MIGRATE-LIST0: /'
	s0=$(t); xl migrate -s "" hvmsave "xl migrate-receive" >/tmp/xl-migrate.log 2>&1
	say "MIGRATE: xl migrate rc=$? in $(echo "$(t) $s0" | awk '{printf "%.1f", $1 - $2}') s"
	sed 's/^/XENTEST: MIGRATE-XL: /' /tmp/xl-migrate.log | tail -12
	D6=$(xl domid hvmsave 2>/dev/null)
	i=0; while [ $i -lt 100 ] && [ "$(alive)" != 0 ]; do sleep 0.1; i=$((i+1)); done
	say "MIGRATE: after: domain ${D6:-none}; the old one's processes left: $(alive) of $(echo $OLD | wc -w); $(procs)"
	xenstore-exists /local/domain/$D5 && say "MIGRATE: xenstore still has domain $D5"
	files ${D6:-none} >/tmp/mig-files-after.txt
	say "MIGRATE: files of the old domain left: $(diff /tmp/mig-files-before.txt /tmp/mig-files-after.txt | grep -c '^[-+][^-+]')"
	diff /tmp/mig-files-before.txt /tmp/mig-files-after.txt | sed 's/^/XENTEST: MIGRATE-FILES: /'
	xl list | sed 's/^/XENTEST: MIGRATE-LIST: /'
	dump ${D6:-none} /tmp/mig-after.txt
	say "MIGRATE: guest view $(cmp -s /tmp/mig-before.txt /tmp/mig-after.txt && echo equal || echo different)"
	for f in before after; do grep -E "^(00|10|20|30):" /tmp/mig-$f.txt | sed "s/^/XENTEST: MIGRATE-VIEW-$f: /"; done
	grep "ptdm-xen-dm" /var/log/xen/qemu-dm-hvmsave.log | tail -4 | sed 's/^/XENTEST: MIGRATE-DM1: /'
	grep "ptdm-xen-dm\|state loaded" /var/log/xen/qemu-dm-hvmsave--incoming.log | sed 's/^/XENTEST: MIGRATE-DM2: /'
	xl destroy hvmsave 2>/dev/null
	i=0; while [ $i -lt 100 ] && pidof ptdm ptdm-xen-dm >/dev/null; do sleep 0.1; i=$((i+1)); done
	# negative control: a byte of ptdm's section changed (inside the image's state)
	off=$(strings -n 8 -t d /tmp/hvmsave.xl | awk '{ s = $0; sub(/^ *[0-9]+ /, "", s); i = index(s, "PTDMXDM1"); if (i) { print $1 + i - 1 + 100; exit } }')
	# (in place: a second 75 MB copy does not fit in dom0's RAM-backed /tmp)
	mv /tmp/hvmsave.xl /tmp/hvmbad.xl
	[ -n "$off" ] && printf 'ZZZZ' | dd of=/tmp/hvmbad.xl bs=1 seek=$off conv=notrunc 2>/dev/null
	say "SAVE: corrupted 4 bytes at offset ${off:-none}"
	xl restore /tmp/hvmbad.xl >/tmp/xl-restore-bad.log 2>&1
	say "SAVE: xl restore of the corrupted record rc=$?; domain $(xl domid hvmsave 2>/dev/null || echo none)"
	sed 's/^/XENTEST: SAVE-BADXL: /' /tmp/xl-restore-bad.log | tail -8
	grep "ptdm-xen-dm" /var/log/xen/qemu-dm-hvmsave.log | sed 's/^/XENTEST: SAVE-BADDM: /'
	xl destroy hvmsave 2>/dev/null
	rm -f /tmp/hvmbad.xl
	i=0; while [ $i -lt 50 ] && pidof ptdm ptdm-xen-dm xen-qemu-system-i386 >/dev/null; do sleep 0.1; i=$((i+1)); done
	say "SAVE: left running: $(pidof ptdm ptdm-xen-dm xen-qemu-system-i386 | wc -w)"

	for d in $E $N $E2 $N2 $M.0 $M.1; do xl pci-assignable-remove $d; say "REAL: pci-assignable-remove $d rc=$?"; done
	xl pci-assignable-remove $X; say "REAL: xhci $X pci-assignable-remove rc=$?"
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
PTDM_LOG=info ptdm serve $IMG --xen-domid $D --xen-cf8 --dump-guest /tmp/guest.txt \
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
