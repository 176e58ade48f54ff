#!/bin/bash
# run.sh - ptdm as a Xen ioreq server on real Xen: Debian's Xen 4.17 under
# QEMU 7.2 TCG, a PV dom0 on Debian's 6.1 kernel, and in one boot:
#   HVM  hvmloader + SeaBIOS enumerate a ptdm image device and size its
#        BARs; ptdm is the only device model (tests/xen/fakedm.c stands in
#        for QEMU towards libxl);
#   PVH  a Linux guest with no QEMU at all: its lspci -xxx equals ptdm's
#        guest view, MMIO and port accesses reach the image, a guest
#        COMMAND write clearing decode stays virtual, an MSI ptdm injects
#        arrives on the vector the guest programmed, and ptdm tears down
#        cleanly when the domain is destroyed under it;
#   plus ptdm's error for a domain that does not exist.
#
# With --scenario real, a second boot instead hands the outer QEMU's edu
# (behind QEMU's emulated VT-d, which Xen drives) to an HVM guest: ptdm in
# dom0 opens it through sysfs, assigns it to the guest's IOMMU context, has
# Xen map BAR0 into the guest's p2m and bind its INTx as a pirq;
# tests/xen/guestbios.S, run by hvmloader as the guest's BIOS, checks edu's
# liveness and factorial registers through the mapping (no ioreqs) and a
# DMA from guest RAM to edu and back.
#
#   tests/xen/run.sh --ptdm BUILD/ptdm --fakedm BUILD/tests/xen/fakedm
#                    [--scenario image|real]
#
# PTDM_XEN_NO_IRQ=1 is a negative control: dom0 never sends ptdm SIGUSR1,
# so the PVH MSI check must fail (and only it).
#
# Packages are fetched with apt-get download and unpacked, never installed
# (cache: ${PTDM_VM_CACHE:-/var/cache/ptdm-vm}/xen-4.17).  Prints "PASS: ..." /
# "FAIL: ..." per check and "RESULT: N passed, M failed"; exits non-zero on
# any failure.  See tests/xen/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ptdm= fakedm= xendm= logdirty= scenario=image
while [ $# -gt 0 ]; do
	case $1 in
	--ptdm) ptdm=$2; shift 2 ;;
	--fakedm) fakedm=$2; shift 2 ;;
	--xendm) xendm=$2; shift 2 ;;
	--logdirty) logdirty=$2; shift 2 ;;
	--scenario) scenario=$2; shift 2 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -x "$ptdm" ] && [ -x "$fakedm" ] || { echo "usage: run.sh --ptdm PATH --fakedm PATH" >&2; exit 2; }
case $scenario in image|real) ;; *) echo "run.sh: --scenario image|real" >&2; exit 2 ;; esac
[ "$scenario" = image ] || { [ -x "$xendm" ] && [ -x "$logdirty" ]; } ||
	{ echo "run.sh: --scenario real needs --xendm PATH (ptdm-xen-dm) and --logdirty PATH" >&2; exit 2; }
for tool in qemu-system-x86_64 busybox apt-get dpkg-deb gzip python3 ldd lspci setpci flock as ld; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

img_src=$src/../shared/pci-dumps/intel-10c9-82576-sriov-nic
cache=${PTDM_VM_CACHE:-/var/cache/ptdm-vm}
xc=$cache/xen-4.17
mkdir -p "$xc"

# ---- Xen 4.17 userland + hypervisor, unpacked once -------------------------
pkgs="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common libxenmisc4.17
libxenstore4 libxentoollog1 libxencall1 libxendevicemodel1 libxenevtchn1
libxenforeignmemory1 libxengnttab1 libxentoolcore1 libxenhypfs1 xenstore-utils
libyajl2"
(
	flock 9
	if [ ! -f "$xc/root/.done" ]; then
		echo "run.sh: fetching Xen 4.17 packages" >&2
		rm -rf "$xc/debs" "$xc/root"; mkdir -p "$xc/debs" "$xc/root"
		# shellcheck disable=SC2086
		(cd "$xc/debs" && apt-get download -q -o APT::Sandbox::User=root $pkgs </dev/null >&2) ||
			{ apt-get update -qq </dev/null >&2; (cd "$xc/debs" && apt-get download -q -o APT::Sandbox::User=root $pkgs </dev/null >&2); }
		for f in "$xc"/debs/*.deb; do dpkg-deb -x "$f" "$xc/root"; done
		zcat "$xc"/root/boot/xen-4.17-amd64.gz >"$xc/xen.elf"
		touch "$xc/root/.done"
	fi
) 9>"$xc/.lock"
# ---- Debian's qemu-xen (package qemu-system-xen), for the real scenario ---
qemu_xen=/usr/libexec/xen-qemu-system-i386
if [ "$scenario" = real ] && [ ! -x "$qemu_xen" ]; then
	qx=$cache/qemu-xen-7.2
	mkdir -p "$qx"
	(
		flock 9
		if [ ! -f "$qx/root/.done" ]; then
			echo "run.sh: fetching qemu-system-xen" >&2
			rm -rf "$qx/debs" "$qx/root"; mkdir -p "$qx/debs" "$qx/root"
			(cd "$qx/debs" && apt-get download -q -o APT::Sandbox::User=root qemu-system-xen </dev/null >&2)
			dpkg-deb -x "$qx"/debs/*.deb "$qx/root"
			touch "$qx/root/.done"
		fi
	) 9>"$qx/.lock"
	qemu_xen=$qx/root/usr/libexec/xen-qemu-system-i386
fi
mods=$("$here/../vm/kernel.sh" 6.1 xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc xen-pciback)

work=$(mktemp -d "$(dirname "$ptdm")/xen-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- the PVH guest's initramfs: busybox, lspci/setpci, /init ----------------
g=$work/guest
mkdir -p "$g/bin" "$g/proc" "$g/sys" "$g/dev" "$g/usr/share/misc"
cp "$(command -v busybox)" "$g/bin/busybox"
copy_elf() { # file root: the file and its libraries
	local f=$1 r=$2 lib
	mkdir -p "$r$(dirname "$f")"; cp -L "$f" "$r$f"
	for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$r$(dirname "$lib")"; cp -Ln "$lib" "$r$lib" 2>/dev/null || true
	done
}
copy_elf "$(command -v lspci)" "$g"
copy_elf "$(command -v setpci)" "$g"
cp /usr/share/misc/pci.ids "$g/usr/share/misc/" 2>/dev/null || true
cp "$here/guest-init.sh" "$g/init"; chmod 755 "$g/init"
(cd "$g" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/guest.cpio.gz"

# ---- dom0's initramfs: Xen userland, modules, ptdm, the image --------------
d=$work/dom0
mkdir -p "$d"/{bin,sbin,lib/modules,etc/xen,proc,sys,dev,tmp,run,var/run,var/lib/xen,var/lib/xenstored,var/log/xen,boot,images,usr/share/seabios,usr/share/misc}
(cd "$xc/root" && tar cf - --exclude=./usr/include --exclude='*.a' --exclude=./usr/share/doc \
	--exclude=./usr/share/man --exclude=./boot --exclude=./usr/lib/xen-4.17/lib/python .) | (cd "$d" && tar xf -)
cp "$(command -v busybox)" "$d/bin/busybox"
cp "$ptdm" "$d/bin/ptdm"; cp "$fakedm" "$d/bin/fakedm"
for m in $(cat "$mods/load-order"); do cp "$mods/$m.ko" "$d/lib/modules/"; done
cp "$mods/load-order" "$d/lib/modules/"
cp /usr/share/seabios/bios-256k.bin "$d/usr/share/seabios/"
cp /usr/share/misc/pci.ids "$d/usr/share/misc/" 2>/dev/null || true
cp "$img_src.lspci-x4.txt" "$d/images/dev.lspci-x4.txt"
cp "$img_src.lspci-vvv.txt" "$d/images/dev.lspci-vvv.txt"
cp "$here/hvm.cfg" "$here/pvh.cfg" "$here/hvm-real.cfg" "$here/hvm-xenpt.cfg" "$d/etc/xen/"
if [ "$scenario" = real ]; then # the wrapper in front of Debian's qemu-xen
	mkdir -p "$d/usr/libexec/ptdm" "$d/usr/share/qemu/keymaps"
	cp "$xendm" "$d/usr/libexec/ptdm/ptdm-xen-dm"
	cp "$logdirty" "$d/bin/logdirty"
	cp "$qemu_xen" "$d/usr/libexec/xen-qemu-system-i386"
	cp /usr/share/qemu/keymaps/en-us "$d/usr/share/qemu/keymaps/" # libxl passes -vnc none
	# the save/migrate guest's disk: a boot sector that idles (sti; hlt; jmp)
	{ printf '\373\364\353\375'; head -c 506 /dev/zero; printf '\125\252'; } >"$d/images/idle.img"
	truncate -s 1M "$d/images/idle.img"
fi
as --32 -o "$work/guestbios.o" "$here/guestbios.S"
ld -m elf_i386 -Ttext=0 -e _start --oformat binary -o "$d/etc/xen/guestbios.bin" "$work/guestbios.o"
cp "$mods/vmlinuz" "$d/boot/guest-vmlinuz"; cp "$work/guest.cpio.gz" "$d/boot/"
cp "$here/dom0-init.sh" "$d/init"; chmod 755 "$d/init"
export LD_LIBRARY_PATH=$xc/root/usr/lib/x86_64-linux-gnu
if [ "$scenario" = real ] && ldd "$d/usr/libexec/xen-qemu-system-i386" | grep "not found"; then
	echo "run.sh: qemu-xen needs libraries this host lacks (scripts/deps.sh test)" >&2; exit 1
fi
for f in $(find "$d/usr" "$d/bin/ptdm" "$d/bin/fakedm" "$d/bin/logdirty" -type f -perm -u+x 2>/dev/null) $(find "$d/usr" -name '*.so*' -type f); do
	head -c4 "$f" | grep -q ELF && ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true
done | sort -u | grep -v "^$xc" | while read -r lib; do
	mkdir -p "$d$(dirname "$lib")"; cp -Ln "$lib" "$d$lib" 2>/dev/null || true
done
unset LD_LIBRARY_PATH
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$d/lib/x86_64-linux-gnu/" # xl dlopens it
mkdir -p "$d/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$d/lib64/"
(cd "$d" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/dom0.cpio.gz"

# ---- boot: Xen, dom0, both guests ------------------------------------------
log=$work/serial.log
extra=()
[ "$scenario" = real ] && extra=(-device intel-iommu,intremap=on -device edu,addr=04.0
	-netdev hubport,id=n0,hubid=0 -device e1000e,netdev=n0,addr=03.0
	-device edu,addr=06.0 -netdev hubport,id=n1,hubid=1 -device e1000e,netdev=n1,addr=05.0
	-netdev hubport,id=n2,hubid=2 -device e1000e,netdev=n2,addr=07.0,multifunction=on -device edu,addr=07.1
	-device nec-usb-xhci,msix=off,addr=08.0)
echo "run.sh: booting Xen under QEMU TCG ($scenario scenario)" >&2
start=$(date +%s)
# real: dom0 on one vCPU.  With qemu-xen's threads busy in a 2-vCPU dom0,
# its other processes now and then crash at their first instructions, in
# code of the program they replaced (a mapping another vCPU still holds)
# (and a console ring that holds both guests' lines for xl dmesg)
dom0cpus=; [ "$scenario" = real ] && dom0cpus=" dom0_max_vcpus=1 conring_size=1M"
timeout $([ "$scenario" = real ] && echo 800 || echo 400) qemu-system-x86_64 -accel tcg -machine q35 -cpu max,-smap -m 1G -smp 2 \
	-nographic -no-reboot -nodefaults -serial stdio -display none "${extra[@]}" \
	-kernel "$xc/xen.elf" \
	-append "dom0_mem=512M,max:512M$dom0cpus bootscrub=0 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all" \
	-initrd "$mods/vmlinuz console=hvc0 earlyprintk=xen panic=-1 SCENARIO=$scenario${PTDM_XEN_NO_IRQ:+ NOIRQ=1},$work/dom0.cpio.gz" \
	</dev/null >"$log" 2>&1 || echo "run.sh: QEMU exited with $?" >&2
echo "run.sh: QEMU ran $(( $(date +%s) - start )) s" >&2
tr -d '\r' <"$log" >"$log.txt"
keep=${PTDM_XEN_LOG:-/tmp/ptdm-xen-$scenario.log}
cp "$log.txt" "$keep" && echo "run.sh: serial log kept in $keep" >&2

# ---- verdict ---------------------------------------------------------------
set +e +o pipefail # (grep -q ends a pipe early)
pass=0 fail=0
check() { # cond-exit-status description
	if [ "$1" = 0 ]; then pass=$((pass + 1)); echo "PASS: $2"; else fail=$((fail + 1)); echo "FAIL: $2"; fi
}
has() { grep -qE "$1" "$log.txt"; }
line() { grep -E "$1" "$log.txt" | head -1 | sed 's/^.*XENTEST: //'; }

has "XENTEST: dom0 up.*virt_caps.*hvm"; check $? "dom0 up with HVM: $(line 'XENTEST: dom0 up')"

if [ "$scenario" = real ]; then
	D=$(sed -n 's/.*XENTEST: REAL: domid \([0-9]*\).*/\1/p' "$log.txt" | head -1)
	D2=$(sed -n 's/.*XENTEST: XENPT: domid \([0-9]*\).*/\1/p' "$log.txt" | head -1)
	# one guest's debug-port lines, as dom0 read them with xl dmesg (the
	# serial log interleaves them with dom0's console)
	dom() { sed -n "s/^.*XENTEST: \(REAL\|XENPT\)-LOG: \((d${1:-x}) \)/\2/p" "$log.txt"; }
	dhas() { dom "$1" | grep -qE "$2"; }
	dm() { grep "XENTEST: REAL-DM: " "$log.txt" | sed 's/^.*XENTEST: REAL-DM: //'; }
	has "REAL: edu at 0000:.*, e1000e at 0000:.* [1-9] VT-d features enabled"; check $? "Xen drives QEMU's emulated VT-d: $(line 'REAL: edu at')"
	E=$(line 'REAL: edu at' | sed 's/.*edu at \([^,]*\),.*/\1/'); N=$(line 'REAL: edu at' | sed 's/.*e1000e at \([^;]*\);.*/\1/')
	[ "$(grep -c 'REAL: pci-assignable-add .* rc=0 driver=pciback' "$log.txt")" = 6 ]; check $? "three edus and three e1000es handed to pciback ($(line 'REAL: for xen_pt'); and 0000:00:07.0/.1)"
	[ -n "$D" ] && ! has "REAL: xl create failed"; check $? "xl create of a config with pci=[...] and device_model_override=ptdm-xen-dm (domain ${D:-none})"
	has "REAL: ptdm processes: 1; device model: 1 wrapper, 1 qemu"; check $? "one ptdm serves both devices beside Debian's qemu-xen ($(line 'REAL: ptdm processes'))"
	dhas "$D" "pci dev 03:0 bar 10 size 000100000"; check $? "HVM: hvmloader sized edu's 1 MiB BAR0 through ptdm"
	[ "$(dom "$D" | grep -oE 'pci dev 04:0 bar (10|14|18|1c) size' | sort -u | wc -l)" = 4 ]; check $? "HVM: hvmloader sized e1000e's 4 BARs through ptdm"
	dhas "$D" "edu: liveness ok"; check $? "edu: liveness register through the p2m mapping"
	dhas "$D" "edu: factorial ok"; check $? "edu: factorial through the p2m mapping"
	dhas "$D" "edu: dma ok"; check $? "edu: DMA from guest RAM and back through the guest's IOMMU context"
	dhas "$D" "edu: msi ok"; check $? "edu: its MSI, bound by ptdm as a pirq, arrives on the guest's vector 0x40"
	dm | grep -qE "ptdm serve: [1-9][0-9]* ioreqs \([1-9][0-9]* config, 0 port, 0 mmio.* 0 refused.*\[$E\]"; check $? "edu: no BAR access trapped, the device was mapped ($(dm | grep -E "ioreqs.*\[$E\]" | head -1))"
	# INTx of a real device through the guest's IOAPIC; multi-message MSI
	dhas "$D" "edu: intx ok"; check $? "edu: its INTx (MSI off), bound by ptdm through the GSI's pirq, arrives through the guest's IOAPIC on vector 0x42 and is EOIed ($(dom "$D" | grep -o 'intx through GSI ..' | head -1))"
	grep "REAL-IRQ: " "$log.txt" | grep -q "IO-APIC-level.* d$D: *[0-9]"; check $? "Xen has the INTx line bound to domain $D: $(grep 'REAL-IRQ: .*IO-APIC' "$log.txt" | sed 's/.*IRQ: *//' | head -1 | tr -s ' ')"
	# the guest asks for 32 vectors; it gets what the device can (MMC)
	xctl=$(dom "$D" | sed -n 's/.*xhci: msi control \([0-9a-f]*\).*/\1/p' | head -1); xctl=${xctl:-0}
	mmc=$(( (0x$xctl >> 1) & 7 )); mme=$(( (0x$xctl >> 4) & 7 )); xn=$((1 << mme))
	[ $((0x$xctl & 1)) = 1 ] && [ $mmc -ge 1 ] && [ $mmc -lt 5 ] && [ $mme = $mmc ]; check $? "xhci: the guest asked for 32 MSI vectors of a device capable of $((1 << mmc)) and got $xn (Message Control $xctl)"
	dm | grep -qE "xen: MSI $xn vectors -> pirqs [0-9]+-[0-9]+"; check $? "xhci: ptdm mapped the $xn vectors as one MULTI_MSI block ($(dm | grep -oE 'MSI [0-9]+ vectors -> pirqs [0-9-]+' | head -1))"
	xp=$(grep "REAL-IRQ: .*PCI-MSI .* d$D:" "$log.txt" | sed "s/.* d$D: *\([0-9]*\).*/\1/" | sort -n | tr '\n' ' ')
	set -- $xp; [ $# = $xn ] && [ $# -gt 1 ] && eval "[ \$(( \${$#} - $1 + 1 )) = $xn ]"; check $? "xhci: Xen reports $xn MSI IRQs bound to domain $D, consecutive pirqs: ${xp:-none}"
	# delivery of the xHCI's vectors: reported, not checked (README: the
	# controller sends its MSIs, they have not reached this guest yet)
	echo "INFO: xhci: interrupters 0, 1, 3 raised for the guest's vectors 0x50, 0x51, 0x53: $(dom "$D" | grep -E 'xhci: (vectors seen|USBSTS|interrupter 1|multi-message)' | sed 's/^(d[0-9]*) xhci: //' | tr '\n' ';')"
	dhas "$D" "nic: registers ok"; check $? "e1000e: a register through BAR0's p2m mapping"
	dm | grep -qE "ptdm: debug: xen: BAR3 mapped .* on: ok"; check $? "e1000e: BAR3 mapped around its MSI-X table and PBA pages"
	dhas "$D" "nic: msi-x ok"; check $? "e1000e: the MSI-X entry written into ptdm's trapped table, bound as a pirq, arrives on vector 0x41"
	dm | grep -E "ptdm serve: [0-9]+ ioreqs.*\[$N\]" | head -1 | grep -qE "[1-9][0-9]* config, 0 port, 4 mmio.* 0 refused"; check $? "e1000e: only the 4 table writes were trapped ($(dm | grep -E "ioreqs.*\[$N\]" | head -1))"
	# (edu has no reset: libxl says so too)
	! dm | grep "ptdm: warning" | grep -vq "$E: host reset failed: Inappropriate ioctl"; check $? "no Xen call ptdm made failed"
	has "REAL: log-dirty with edu and e1000e assigned: log-dirty: rc=-1 errno=22"; check $? "Xen refuses log-dirty mode (live save/migration) for a domain with assigned devices: $(line 'REAL: log-dirty')"
	grep "REAL-PCILIST1: " "$log.txt" | grep -q "03.0 *$E" && grep "REAL-PCILIST1: " "$log.txt" | grep -q "04.0 *$N"; check $? "xl pci-list: libxl read both guest slots back from the wrapper's query-pci"
	# run time: detach, the guest's view, the device's state, attach
	has "REAL: pci-detach $N rc=0"; check $? "xl pci-detach of e1000e: $(line 'REAL: pci-detach')"
	[ "$(grep -c 'REAL: guest sees slot 4 as ffffffff' "$log.txt")" = 1 ]; check $? "the guest's config read of 00:04.0 returns all-ones after the detach"
	! grep "REAL-PCILIST2: " "$log.txt" | grep -q "$N"; check $? "xl pci-list no longer has e1000e"
	a=$(line 'REAL: after detach'); bm=$(echo "$a" | sed 's/.*COMMAND=\([0-9a-f]*\).*/\1/')
	[ -n "$bm" ] && [ $((0x$bm & 4)) = 0 ] && echo "$a" | grep -q "driver=pciback assignable=1 ptdm-devices=0"; check $? "detached: bus mastering off, back in pciback, assignable again, gone from ptdm ($a)"
	dm | grep -q "pci-pt-00_03.0 ($N at slot 4): removed, reset and released"; check $? "ptdm reset and released e1000e on device_del"
	has "REAL: pci-attach $N@4 rc=0"; check $? "xl pci-attach of e1000e back at slot 4: $(line 'REAL: pci-attach')"
	[ "$(grep -c 'REAL: guest sees slot 4 as 10d38086' "$log.txt")" = 2 ]; check $? "the guest sees e1000e at 00:04.0 before the detach and again after the attach"
	grep "REAL-PCILIST3: " "$log.txt" | grep -q "04.0 *$N"; check $? "xl pci-list has e1000e again"
	! has "REAL: ptdm still running" && ! has "REAL: ptdm-xen-dm still running"; check $? "xl destroy: the wrapper, QEMU and ptdm are gone ($(line 'REAL: destroy in'))"
	ok=0; for b in $E $N; do a=$(grep "XENTEST: REAL: after destroy: $b" "$log.txt" | sed 's/.*COMMAND=\([0-9a-f]*\).*/\1/'); [ -n "$a" ] && [ $((0x$a & 4)) = 0 ] || ok=1; done
	check $ok "after destroy both devices have bus mastering off ($(grep 'REAL: after destroy' "$log.txt" | sed 's/.*after destroy: //' | tr '\n' ';'))"
	grep -q "REAL-MAP: .*memory_map:remove: d$D " "$log.txt"; check $? "Xen unmapped the BARs from domain $D"
	# BB:DD.* of a multi-function device: libxl 4.17 adds only the highest
	# function (its loop in device_pci_add_stubdom_done returns after the
	# first do_pci_add), here 07.1 at addr 5.1 - with xen_pt just the same
	D3=$(sed -n 's/.*XENTEST: MF: domid \([0-9]*\).*/\1/p' "$log.txt" | head -1)
	[ -n "$D3" ] && ! has "MF: xl create failed"; check $? "xl create with pci=[ '0000:00:07.*@5' ] (domain ${D3:-none})"
	grep -qE "MF-LOG: \(d${D3:-x}\) pci dev 05:1 bar 10 size 000100000" "$log.txt"; check $? "hvmloader sized edu's BAR0 at guest function 05.1 through ptdm"
	grep -q "MF-PCILIST: 05.1 *0000:00:07.1" "$log.txt"; check $? "xl pci-list: 05.1 0000:00:07.1 (libxl read the function back from query-pci)"
	grep -q "MF-QUERY: pci-pt-00_07.1 .*00:05\.1 of domain" "$log.txt"; check $? "ptdm serves 0000:00:07.1 at the guest's 00:05.1 (device-add xen-function 1)"
	echo "INFO: libxl 4.17 added for '0000:00:07.*@5': $(grep -oE 'MF-QUERY: pci-pt-[0-9a-f_.]+' "$log.txt" | sed 's/MF-QUERY: //' | tr '\n' ' ')"
	! has "MF: still running"; check $? "xl destroy: the multi-function guest's wrapper and ptdm are gone"
	# xl save / xl restore of a domain with an image device behind the wrapper
	has "SAVE: domid [0-9]" && ! has "SAVE: xl create failed"; check $? "xl create of a domain with -ptdm-image in device_model_args_hvm ($(line 'SAVE: domid'))"
	grep -qE "SAVE-LOG: .*pci dev 05:0 bar" "$log.txt"; check $? "hvmloader placed the image's BARs at slot 5 ($(grep -cE 'SAVE-LOG: .*pci dev 05:0 bar' "$log.txt") BARs)"
	has "SAVE: xl save rc=0 .* ptdm sections: 1"; check $? "xl save: rc 0, ptdm's section in the saved file ($(line 'SAVE: xl save'))"
	has "SAVE: after the save: 0 ptdm, 0 wrapper; domain gone"; check $? "after the save the domain, its wrapper and ptdm are gone"
	has "SAVE: xl restore rc=0"; check $? "xl restore: $(line 'SAVE: xl restore rc')"
	grep -q "SAVE-DM2: .*restore: ptdm's section (1 devices) split off" "$log.txt" && grep -q "SAVE-DM2: .*ptdm-img-05: .*its saved state loaded" "$log.txt"; check $? "the restore split ptdm's section off before QEMU read the record and loaded the image's state"
	b0=$(grep "SAVE-VIEW-before: 10:" "$log.txt" | sed 's/.*10: //'); a0=$(grep "SAVE-VIEW-after: 10:" "$log.txt" | sed 's/.*10: //')
	has "SAVE: restored as domain .*; guest view equal" && [ -n "$b0" ] && [ "$b0" = "$a0" ] && ! echo "$b0" | grep -qE "^00 00 00 00"; check $? "ptdm's guest view of the image after the restore equals the one before (BARs as hvmloader placed them: 10: $b0)"
	grep -q "SAVE-LIST: hvmsave " "$log.txt"; check $? "the restored domain runs ($(grep 'SAVE-LIST: hvmsave ' "$log.txt" | head -1 | sed 's/.*SAVE-LIST: //' | tr -s ' '))"
	# xl migrate to localhost of the restored domain (the receiver: xl
	# migrate-receive in the same dom0)
	M0=$(sed -n 's/.*XENTEST: MIGRATE: before: domain \([0-9]*\);.*/\1/p' "$log.txt" | head -1)
	M1=$(sed -n 's/.*XENTEST: MIGRATE: after: domain \([0-9]*\);.*/\1/p' "$log.txt" | head -1)
	grep -q "SAVE-LOG: .*Booting from Hard Disk" "$log.txt" && grep "MIGRATE-LIST0: " "$log.txt" | sed 's/.*LIST0: //' | awk -v d="$M0" '$1 == "hvmsave" && $2 == d && $5 !~ /p/' | grep -q .
	check $? "the domain runs when the migrate starts (SeaBIOS booted the idle disk: $(grep "MIGRATE-LIST0: hvmsave " "$log.txt" | sed 's/.*LIST0: //' | tr -s ' '))"
	has "MIGRATE: xl migrate rc=0 "; check $? "xl migrate of it to localhost: $(line 'MIGRATE: xl migrate rc')"
	mrun=$(grep "MIGRATE-LIST: " "$log.txt" | sed 's/.*MIGRATE-LIST: //' | awk -v d="$M1" '$1 == "hvmsave" && $2 == d && $5 !~ /p/ { print $2, $5 }')
	has "MIGRATE: after: domain [0-9]+; the old one's processes left: 0 of 4; 1 ptdm, 1 wrapper, 1 qemu, 1 xl" && [ -n "$M1" ] && [ "$M1" != "$M0" ] &&
		[ -n "$mrun" ] && ! grep "MIGRATE-LIST: " "$log.txt" | sed 's/.*MIGRATE-LIST: //' | awk -v d="$M0" '$2 == d' | grep -q .
	check $? "after the migrate the old domain $M0, its wrapper, QEMU, ptdm and xl are gone and the new domain runs (${mrun:-not running}: $(line 'MIGRATE: after'))"
	grep -q "MIGRATE-DM1: .*save: ptdm's section (1 devices" "$log.txt" && grep -q "MIGRATE-DM2: .*restore: ptdm's section (1 devices) split off" "$log.txt" &&
		grep -q "MIGRATE-DM2: .*ptdm-img-05: .*its saved state loaded" "$log.txt"
	check $? "the sender's wrapper appended ptdm's section, the receiver's split it off the stream's record and its ptdm loaded the image's state"
	mb=$(grep "MIGRATE-VIEW-before: " "$log.txt" | sed 's/.*before: //'); ma=$(grep "MIGRATE-VIEW-after: " "$log.txt" | sed 's/.*after: //')
	m0=$(echo "$ma" | sed -n 's/^10: //p')
	has "MIGRATE: guest view equal" && [ "$(echo "$mb" | wc -l)" = 4 ] && [ "$mb" = "$ma" ] && [ "$m0" = "$b0" ] && ! echo "$m0" | grep -qE "^00 00 00 00"
	check $? "ptdm's guest view of the image after the migrate equals the one before it and the one before the save (10: ${m0:-none})"
	has "MIGRATE: files of the old domain left: 0" && ! has "MIGRATE: xenstore still has"; check $? "nothing of the old domain leaked: its files in /var/run/xen and /var/lib/xen are gone (the new domain has the same), xenstore forgot it ($(line 'MIGRATE: files'))"
	has "SAVE: xl restore of the corrupted record rc=[1-9].*domain none" && grep -q "SAVE-BADDM: .*restore refused: ptdm section damaged" "$log.txt"; check $? "negative control: a record whose ptdm section was changed is refused with ptdm's message ($(grep 'SAVE-BADDM: .*restore refused' "$log.txt" | head -1 | sed 's/.*ptdm-xen-dm: //'))"
	has "SAVE: left running: 0"; check $? "nothing of the refused restore is left running"
	[ "$(grep -c 'REAL: pci-assignable-remove .* rc=0' "$log.txt")" = 6 ]; check $? "all six devices back to dom0 after the guests are gone"
	# the same guest with stock xen-pci-passthrough
	[ -n "$D2" ] && dhas "$D2" "edu: msi ok" && dhas "$D2" "nic: msi-x ok"; check $? "xen_pt: the same guestbios checks pass with stock xen-pci-passthrough (domain ${D2:-none})"
	echo "INFO: xen_pt's guest: $(dom "$D2" | grep -E 'edu: intx|xhci:' | tr '\n' ';')"
	python3 "$here/compare.py" "$log.txt" "$D" "$D2" "$E" "$N" >"$work/table.txt"; check $? "side by side with xen_pt: the guest's view of both devices and their ioreqs (table below)"
	cat "$work/table.txt"
	has "XENTEST: END"; check $? "the dom0 script ran to its end"
else
has "XENTEST: unknown domain: rc=1 .*domain 77"; check $? "unknown domain refused: $(line 'unknown domain')"

# HVM: every BAR hvmloader sized has the image's size, and all were sized
expected=$("$ptdm" inspect "$img_src.lspci-x4.txt" --json | python3 -c '
import json, sys
for b in json.load(sys.stdin)["bars"]:
    reg = 0x30 if b["kind"] == "rom" else 0x10 + 4 * b["index"]
    print("%02x %x" % (reg, b["size"]))' | sort)
seen=$(grep -oE "\(d[0-9]+\) pci dev 03:0 bar [0-9a-f]+ size [0-9a-f]+" "$log.txt" |
	while read -r _ _ _ _ _ reg _ size; do printf "%s %x\n" "$reg" $((0x$size)); done | sort -u)
[ -n "$seen" ] && [ "$seen" = "$expected" ]; check $? "HVM: hvmloader sized the BARs as the device has them ($(echo $seen | tr '\n' ' '))"
# ... and the addresses it wrote there are what ptdm's guest view holds
# at the end (ptdm's --dump-guest after the domain is gone)
bars=$(python3 - "$log.txt" <<'EOF'
import re, sys
log = open(sys.argv[1], errors="replace").read()
wrote = {int(r, 16): int(v, 16) & 0xffffffff for r, v in re.findall(
    r"^\(d\d+\) pci dev 03:0 bar ([0-9a-f]+) size [0-9a-f]+: ([0-9a-f]+)$", log, re.M)}
cfg = []
for rest in re.findall(r"XENTEST: HVM-DUMP-GUEST: [0-9a-f]0: (.*)$", log, re.M):
    cfg += [int(x, 16) for x in rest.split()]
if not wrote or len(cfg) != 256:
    print("%d BAR lines from hvmloader, %d bytes of ptdm's guest view" % (len(wrote), len(cfg)))
    sys.exit(1)
bad = ["%02x: wrote %08x, ptdm has %08x" % (r, v, int.from_bytes(bytes(cfg[r:r + 4]), "little"))
       for r, v in sorted(wrote.items()) if int.from_bytes(bytes(cfg[r:r + 4]), "little") != v]
print("; ".join(bad) if bad else " ".join("%02x=%08x" % kv for kv in sorted(wrote.items())))
sys.exit(1 if bad else 0)
EOF
)
check $? "HVM: ptdm's guest view holds the BAR addresses hvmloader wrote (${bars:-nothing to compare})"
has "\(d[0-9]+\) Found [1-9][0-9]* PCI device"; check $? "HVM: SeaBIOS enumerated: $(grep -oE 'Found [0-9]+ PCI devices?' "$log.txt" | head -1)"
has "HVM-PTDM: ptdm serve: [1-9][0-9]* ioreqs \([1-9][0-9]* config.* 0 refused"; check $? "HVM: config ioreqs answered by ptdm: $(line 'HVM-PTDM: ptdm serve: [0-9]+ ioreqs')"

has "PVH-GUEST: device 0x8086:0x10c9"; check $? "PVH: the guest kernel found the device: $(line 'PVH-GUEST: device')"
has "PVH-GUEST: MMIO read -> 0xCAFEF00D"; check $? "PVH: MMIO round trip through the image: $(line 'PVH-GUEST: MMIO read')"
has "PVH-GUEST: PIO read -> 3412"; check $? "PVH: port I/O round trip through the image: $(line 'PVH-GUEST: PIO read')"
has "PVH-GUEST: MSI arrived: .*\.208 No irq handler for vector"; check $? "PVH: the MSI ptdm injected arrived on vector 0xd0: $(line 'PVH-GUEST: MSI arrived')"
has "PVH-GUEST: MMIO with memory decode off -> 0xFFFFFFFF"; check $? "PVH: decode off, the BAR stops answering"
g_x=$(sed -n 's/.*XENTEST: PVH-GUEST-X: \([0-9a-f][0-9a-f]: .*\)$/\1/p' "$log.txt" | sed 's/ *$//')
p_x=$(sed -n 's/.*XENTEST: DUMP-GUEST: \([0-9a-f][0-9a-f]: .*\)$/\1/p' "$log.txt" | head -16 | sed 's/ *$//')
[ "$(echo "$g_x" | wc -l)" = 16 ] && [ "$g_x" = "$p_x" ]; check $? "PVH: the guest's lspci -xxx equals ptdm's guest view ($(echo "$g_x" | wc -l) lines)"
hcmd=$(sed -n 's/.*XENTEST: DUMP-HOST: 00: \(.. \)\{4\}\(..\).*/\2/p' "$log.txt" | head -1)
gcmd=$(sed -n 's/.*XENTEST: DUMP-GUEST: 00: \(.. \)\{4\}\(..\).*/\2/p' "$log.txt" | head -1)
[ -n "$hcmd" ] && [ $((0x$hcmd & 3)) = 3 ] && [ $((0x$gcmd & 2)) = 0 ]; check $? "PVH: the guest's decode-off write stayed virtual (guest COMMAND low byte $gcmd, device $hcmd)"
has "PVH-PTDM: ptdm: info: sandbox: .*files by Landlock ABI [1-9].*xen"; check $? "PVH: ptdm served inside Landlock file rules (/dev/xen, /sys; dumps written): $(line 'PVH-PTDM: ptdm: info: sandbox' | grep -o 'files by [^)]*)')"
has "PVH: ptdm exited rc=0 after the domain was destroyed"; check $? "PVH: ptdm noticed the domain die and tore down cleanly"
has "PVH-PTDM: ptdm serve: [1-9][0-9]* ioreqs .*[1-9][0-9]* port, [1-9][0-9]* mmio.* from 2 vCPUs"; check $? "PVH: $(line 'PVH-PTDM: ptdm serve: [0-9]+ ioreqs')"
has "XENTEST: END"; check $? "the dom0 script ran to its end"
fi

if [ "$fail" != 0 ]; then
	echo "---- serial log (XENTEST lines and the last 60 others) ----"
	grep "XENTEST" "$log.txt" | tail -120
	grep -v "XENTEST" "$log.txt" | tail -60
fi
echo "RESULT: $pass passed, $fail failed"
[ "$fail" = 0 ]
