#!/usr/bin/env python3
"""hvm-bars.py INSPECT_JSON SERIAL_LOG - the HVM scenario's firmware checks
(tests/xen/run.sh).  Prints one "PASS name: detail" / "FAIL name: detail"
line per check:

  hvm-hvmloader-bars   hvmloader's "(dN) pci dev 03:0 bar RR size S: ADDR"
                       lines name exactly the BARs and sizes of ptdm's guest
                       view (`ptdm inspect SPEC --json`, guest_size);
  hvm-bars-programmed  the addresses hvmloader wrote are what ptdm's guest
                       view held when it ended (dom0 prints ptdm's
                       --dump-guest as "hvm-guest-view| 10: ..." lines).
"""
import json
import re
import sys


def main():
    inspect, log = json.load(open(sys.argv[1])), open(sys.argv[2], errors="replace").read()

    want = {}
    for b in inspect["bars"]:
        want[0x30 if b["index"] == 6 else 0x10 + 4 * b["index"]] = b["guest_size"]
    lines = re.findall(r"^\(d\d+\) pci dev 03:0 bar ([0-9a-f]+) size ([0-9a-f]+): ([0-9a-f]+)$",
                       log, re.M)
    got, wrote = {}, {}
    for reg, size, val in lines:
        reg = int(reg, 16)
        if reg in got:  # hvmloader sizes each BAR once
            got[reg] = -1
        else:
            got[reg] = int(size, 16)
        wrote[reg] = int(val, 16) & 0xffffffff
    show = lambda d: " ".join("%02x:%#x" % kv for kv in sorted(d.items())) or "none"
    if got == want:
        print("PASS hvm-hvmloader-bars: hvmloader sized BAR %s, as ptdm inspect --json says" % show(got))
    else:
        print("FAIL hvm-hvmloader-bars: hvmloader sized %s; ptdm inspect --json: %s" % (show(got), show(want)))

    cfg = []
    for rest in re.findall(r"^hvm-guest-view\| [0-9a-f]0: (.*)$", log, re.M):
        cfg += [int(x, 16) for x in rest.split()]
    if not wrote or len(cfg) != 256:
        print("FAIL hvm-bars-programmed: %d BAR lines from hvmloader, %d bytes of ptdm's guest view"
              % (len(wrote), len(cfg)))
        return
    bad = []
    for reg, val in sorted(wrote.items()):
        have = int.from_bytes(bytes(cfg[reg:reg + 4]), "little")
        if have != val:
            bad.append("%02x: hvmloader wrote %08x, ptdm holds %08x" % (reg, val, have))
    if bad:
        print("FAIL hvm-bars-programmed: " + "; ".join(bad))
    else:
        print("PASS hvm-bars-programmed: ptdm's guest view at exit holds hvmloader's addresses "
              + " ".join("%02x=%08x" % kv for kv in sorted(wrote.items())))


main()
