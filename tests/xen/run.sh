#!/bin/bash
# run.sh - ptdm as the ioreq server of real Xen guests: Debian's Xen 4.17
# under QEMU 7.2 TCG with a PV dom0 on Debian's 6.1 kernel, one boot
# running (tests/xen/README.md):
#   boot  the toolstack works (xl info: hvm + hap) and ptdm runs in dom0
#   hvm   an HVM guest, hvmloader + SeaBIOS, ptdm its only device model
#         (tests/xen/fakedm.c answers libxl for it): hvmloader sizes exactly
#         the image's BARs, SeaBIOS finds the device, ptdm logs no error
#   pvh   a PVH Linux guest, no QEMU at all, ptdm --xen-cf8: lspci -xxx in
#         the guest = ptdm's guest view, MMIO and port round trips through
#         the image, a COMMAND write clearing decode stays virtual, an MSI
#         raised by ptdm (SIGUSR1) arrives on the vector the guest set
#
#   tests/xen/run.sh --ptdm BUILD/ptdm --fakedm BUILD/tests/xen/fakedm
#                    [--scenario all|boot|hvm|pvh|boot,hvm,...]
#
# Env: PTDM_XEN_TIMEOUT (QEMU, default 480 s), PTDM_VM_CACHE (package
# cache, default /var/cache/ptdm-vm), PTDM_XEN_KEEP=1 (keep the work
# directory; it is always kept on failure), PTDM_XEN_KARGS (more dom0
# kernel arguments: ptdm.nousr1 = never raise the interrupt, which must
# fail the MSI check).
# Prints every check as "PASS name: ..." / "FAIL name: ...", then
# "RESULT: N passed, M failed"; exits 0 only when everything passed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ptdm="" fakedm="" scenario=all
usage() { echo "usage: run.sh --ptdm PATH --fakedm PATH [--scenario all|boot|hvm|pvh]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--ptdm) ptdm=${2:-}; shift 2 ;;
	--fakedm) fakedm=${2:-}; shift 2 ;;
	--scenario) scenario=${2:-}; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$ptdm" ] && [ -n "$fakedm" ] || usage
case ",$scenario," in
,all,) ;;
*) for s in ${scenario//,/ }; do
	case $s in boot | hvm | pvh | shell) ;; *) usage ;; esac
   done ;;
esac
for f in "$ptdm" "$fakedm"; do
	[ -x "$f" ] || { echo "run.sh: FAIL: $f: no such program (build it first)" >&2; exit 1; }
done
for tool in qemu-system-x86_64 busybox gzip timeout ldd python3 lspci setpci \
	od tar apt-get dpkg-deb flock; do
	command -v "$tool" >/dev/null ||
		{ echo "run.sh: FAIL: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done
seabios=/usr/share/seabios/bios-256k.bin
pciids=/usr/share/misc/pci.ids
libgcc=/lib/x86_64-linux-gnu/libgcc_s.so.1
for f in "$seabios" "$pciids" "$libgcc"; do
	[ -f "$f" ] || { echo "run.sh: FAIL: $f is missing (packages seabios, pciutils, libgcc-s1)" >&2; exit 1; }
done
# the test image: an Intel 82576 NIC - memory BARs 0, 1, 3, an I/O BAR 2,
# a ROM, MSI (64-bit, maskable) and MSI-X
dumps=$src/../shared/pci-dumps
img=intel-10c9-82576-sriov-nic
for f in "$dumps/$img.lspci-x4.txt" "$dumps/$img.lspci-vvv.txt"; do
	[ -f "$f" ] || { echo "run.sh: FAIL: $f is missing (the test image)" >&2; exit 1; }
done

tmo=${PTDM_XEN_TIMEOUT:-480}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(now)

xen=$("$here/fetch.sh") || { echo "run.sh: FAIL: cannot fetch Xen" >&2; exit 1; }
mods=$("$src/tests/vm/kernel.sh" 6.1 xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc) ||
	{ echo "run.sh: FAIL: no kernel" >&2; exit 1; }
R=$xen/root
t1=$(now)

work=$(mktemp -d "${TMPDIR:-/tmp}/ptdm-xen.XXXXXX")
keep=${PTDM_XEN_KEEP:-}
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT

is_elf() { [ "$(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' ')" = 7f454c46 ]; }
# copy_libs ROOT FILE...: the shared libraries the files need, from the
# host (or the unpacked Xen packages), into ROOT
copy_libs() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		is_elf "$f" || continue
		LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu ldd "$f" 2>/dev/null |
			awk '/=> \// { print $3 } /^\t\/lib64\// { print $1 }'
	done | sort -u | while read -r lib; do
		case $lib in "$R"/*) dest=${lib#"$R"} ;; *) dest=$lib ;; esac
		[ -e "$root$dest" ] && continue
		mkdir -p "$root$(dirname "$dest")"
		cp -L "$lib" "$root$dest"
	done
}

# ---- the PVH guest's initramfs ---------------------------------------------
g=$work/guest
mkdir -p "$g"/{bin,usr/bin,proc,sys,dev,usr/share/misc}
cp "$(command -v busybox)" "$g/bin/busybox"
cp "$(command -v lspci)" "$(command -v setpci)" "$g/usr/bin/"
cp "$pciids" "$g/usr/share/misc/"
copy_libs "$g" "$g/usr/bin/lspci" "$g/usr/bin/setpci"
cp "$here/guest-init" "$g/init"
chmod 755 "$g/init"
(cd "$g" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/guest.cpio.gz" ||
	{ echo "run.sh: FAIL: guest initramfs" >&2; exit 1; }

# ---- dom0's initramfs ------------------------------------------------------
d=$work/dom0
mkdir -p "$d"/{bin,sbin,proc,sys,dev,tmp,run,boot,images,lib/modules,lib64} \
	"$d"/{var/run,var/lib/xen,var/lib/xenstored,var/log/xen,etc/xen,usr/share/seabios,usr/share/misc}
# the Xen userland, without headers, static libraries, docs, python and
# the hypervisor itself (./boot only: usr/lib/xen-4.17/boot has hvmloader)
(cd "$R" && tar cf - --exclude=./usr/include --exclude='*.a' \
	--exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./boot \
	--exclude=./usr/lib/xen-4.17/lib/python .) | (cd "$d" && tar xf -) ||
	{ echo "run.sh: FAIL: copying the Xen userland" >&2; exit 1; }
[ -f "$d/usr/lib/xen-4.17/boot/hvmloader" ] ||
	{ echo "run.sh: FAIL: no hvmloader in $R" >&2; exit 1; }
cp "$(command -v busybox)" "$d/bin/busybox"
cp "$mods"/*.ko "$mods/load-order" "$d/lib/modules/"
cp "$seabios" "$d/usr/share/seabios/"
cp "$pciids" "$d/usr/share/misc/"
cp "$ptdm" "$d/bin/ptdm"
cp "$fakedm" "$d/bin/fakedm"
cp "$dumps/$img.lspci-x4.txt" "$d/images/nic.lspci-x4.txt"
cp "$dumps/$img.lspci-vvv.txt" "$d/images/nic.lspci-vvv.txt"
echo "SPEC=/images/nic.lspci-x4.txt,sizes=/images/nic.lspci-vvv.txt" >"$d/etc/ptdm-test.conf"
cp "$here/hvm.cfg" "$here/pvh.cfg" "$d/etc/xen/"
cp "$mods/vmlinuz" "$d/boot/guest-vmlinuz"
cp "$work/guest.cpio.gz" "$d/boot/guest.cpio.gz"
cp "$here/dom0-init" "$d/init"
chmod 755 "$d/init"
mapfile -t elves < <(find "$d/usr" "$d/bin/ptdm" "$d/bin/fakedm" -type f \( -perm -u+x -o -name '*.so*' \))
copy_libs "$d" "${elves[@]}"
# xl dlopens libgcc_s for pthread_cancel; ldd does not list it
cp -L "$libgcc" "$d/lib/x86_64-linux-gnu/"
(cd "$d" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/dom0.cpio.gz" ||
	{ echo "run.sh: FAIL: dom0 initramfs" >&2; exit 1; }

# ---- what hvmloader must find (hvm-bars.py): ptdm's guest view of the image
spec="$dumps/$img.lspci-x4.txt,sizes=$dumps/$img.lspci-vvv.txt"
"$ptdm" inspect "$spec" --json >"$work/inspect.json" ||
	{ echo "run.sh: FAIL: ptdm inspect --json of the image" >&2; exit 1; }
t2=$(now)

# ---- boot (-initrd splits at commas: the scenario list goes as a+b) ------------------------------------------------------------------
echo "xen: Xen $(sed -n 's/^xen-hypervisor-4.17-amd64=//p' "$xen/versions"), dom0 and guest kernel $(cat "$mods/kver"), scenario $scenario"
timeout -k 10 "$tmo" qemu-system-x86_64 -accel tcg -machine q35 -cpu max,-smap \
	-m 1G -smp 2 -nographic -no-reboot -nodefaults -display none -serial stdio \
	-kernel "$xen/xen.elf" \
	-append "dom0_mem=512M,max:512M bootscrub=0 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all" \
	-initrd "$mods/vmlinuz console=hvc0 earlyprintk=xen panic=-1 loglevel=4 ${PTDM_XEN_KARGS:-} ptdm.xen=${scenario//,/+},$work/dom0.cpio.gz" \
	</dev/null >"$work/serial.raw" 2>"$work/qemu.err"
qrc=$?
t3=$(now)
tr -d '\r' <"$work/serial.raw" >"$work/serial.log"

# ---- verdict ---------------------------------------------------------------
passed=0 failed=0
pass() { echo "PASS $1${2:+: $2}"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
log=$work/serial.log

if [ "$qrc" = 0 ]; then
	pass qemu "Xen rebooted the machine when dom0 was done"
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	fail qemu "timeout after $tmo s (PTDM_XEN_TIMEOUT)"
else
	fail qemu "QEMU exit status $qrc: $(head -c 500 "$work/qemu.err")"
fi
if grep -q '^XEN-SUMMARY-END' "$log"; then
	while read -r tag verdict rest; do
		if [ "$verdict" = PASS ]; then pass "$rest"; else fail "$rest"; fi
	done < <(sed -n '/^XEN-SUMMARY-BEGIN/,/^XEN-SUMMARY-END/p' "$log" |
		grep -E '^XEN-CHECK: (PASS|FAIL) ')
else
	fail dom0 "dom0 never finished its checks (no XEN-SUMMARY-END)"
fi
want() { case ",$scenario," in ,all, | *,"$1",*) return 0 ;; esac; return 1; }
if want hvm; then
	while read -r verdict rest; do
		if [ "$verdict" = PASS ]; then pass "$rest"; else fail "$rest"; fi
	done < <(python3 "$here/hvm-bars.py" "$work/inspect.json" "$log" ||
		echo "FAIL hvm-bars: hvm-bars.py failed")
	found=$(grep -o '^(d[0-9]*) Found [0-9]* PCI devices' "$log" | head -1)
	case "$found" in
	*"Found 1 PCI devices") pass hvm-seabios-found "SeaBIOS: ${found#* }" ;;
	*) fail hvm-seabios-found "SeaBIOS: '${found:-no Found ... PCI devices line}' (want 1: ptdm's device)" ;;
	esac
fi

# dom0's timeline (uptime of dom0, which starts about 1 s into the boot)
grep -E '^DOM0: T\+[0-9.]+s (dom0|HVM: xl create|HVM: domain|PVH: xl create|PVH: unpaused|PVH: guest armed|PVH: ptdm stderr)' "$log" |
	sed 's/^DOM0: /xen: dom0 /'
echo "xen: times: fetch $(secs "$t0" "$t1") s, initramfs $(secs "$t1" "$t2") s," \
	"boot + tests $(secs "$t2" "$t3") s, total $(secs "$t0" "$t3") s"
if [ "$failed" != 0 ]; then
	keep=1
	echo "---- last 150 lines of the serial log ($log) ----"
	tail -n 150 "$log"
	[ -s "$work/qemu.err" ] && sed 's/^/qemu: /' "$work/qemu.err"
	echo "---- (work directory kept: $work)"
fi
echo "RESULT: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
