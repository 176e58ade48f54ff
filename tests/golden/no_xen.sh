#!/bin/sh
# no_xen.sh PTDM IMAGE - a ptdm built without Xen (-Dxen=disabled or no
# libxen-dev) answers --xen-domid with a sentence and a failing exit code.
out=$("$1" serve "$2" --xen-domid 1 2>&1)
rc=$?
if [ "$rc" != 0 ] && echo "$out" | grep -q "built without Xen"; then
	echo "PASS serve --xen-domid says ptdm was built without Xen"
	exit 0
fi
echo "FAIL serve --xen-domid: exit $rc: $out"
exit 1
