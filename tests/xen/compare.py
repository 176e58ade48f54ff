#!/usr/bin/env python3
# compare.py LOG PTDM_DOMID XENPT_DOMID EDU_BDF NIC_BDF - the side-by-side
# table of tests/xen/run.sh's real scenario: what the same guest (guestbios)
# saw of edu (slot 3) and e1000e (slot 4) served by ptdm (through
# ptdm-xen-dm) and by QEMU's stock xen-pci-passthrough, and the ioreqs each
# device cost until guestbios was done.  Prints a markdown table (it goes
# into docs/xen.md as it is) and every config dword that differs; exits 1
# when a dump is incomplete or the two runs do not see the same devices.
import json
import re
import sys

log_path, dp, dx, edu, nic = sys.argv[1:6]
log = open(log_path, errors="replace").read()

CAPS = {0x01: "PM", 0x05: "MSI", 0x10: "PCIe", 0x11: "MSI-X", 0x09: "vendor"}


def dump(dom):
    cfg = {3: {}, 4: {}}
    for s, r, v in re.findall(r"-LOG: \(d%s\) guestbios: cfg ([0-9a-f]{2}) ([0-9a-f]{2}) "
                              r"([0-9a-f]{8})$" % dom, log, re.M):
        if int(s, 16) in cfg:
            cfg[int(s, 16)][int(r, 16)] = int(v, 16)
    out = {}
    for s, dw in cfg.items():
        if len(dw) != 64:
            return None
        b = bytearray()
        for r in range(0, 256, 4):
            b += dw[r].to_bytes(4, "little")
        out[s] = bytes(b)
    return out


def w16(b, o):
    return int.from_bytes(b[o:o + 2], "little")


def w32(b, o):
    return int.from_bytes(b[o:o + 4], "little")


def caps(b):
    out, seen = [], set()
    if not w16(b, 6) & 0x10:
        return out
    p = b[0x34] & 0xfc
    while p and p not in seen and len(out) < 48:
        seen.add(p)
        out.append((p, b[p]))
        p = b[p + 1] & 0xfc
    return out


def rows(b):
    r = {}
    r["vendor:device"] = "%04x:%04x" % (w16(b, 0), w16(b, 2))
    r["command / status"] = "%04x / %04x" % (w16(b, 4), w16(b, 6))
    r["class, revision"] = "%06x, %02x" % (w32(b, 8) >> 8, b[8])
    r["header type, BIST, latency, cache line"] = "%02x %02x %02x %02x" % (b[0xe], b[0xf], b[0xd], b[0xc])
    r["subsystem"] = "%04x:%04x" % (w16(b, 0x2c), w16(b, 0x2e))
    for i in range(6):
        r["BAR%d" % i] = "%08x" % w32(b, 0x10 + 4 * i)
    r["ROM"] = "%08x" % w32(b, 0x30)
    r["interrupt line / pin"] = "%02x / %02x" % (b[0x3c], b[0x3d])
    cl = caps(b)
    r["capabilities"] = " ".join("%02x:%s" % (p, CAPS.get(i, "%02x" % i)) for p, i in cl) or "none"
    for p, i in cl:
        if i == 0x01:
            r["PM control/status"] = "%04x" % w16(b, p + 4)
        if i == 0x10:
            r["PCIe device control / status"] = "%04x / %04x" % (w16(b, p + 8), w16(b, p + 10))
        if i == 0x05:
            r["MSI control"] = "%04x" % w16(b, p + 2)
        if i == 0x11:
            r["MSI-X control, table, PBA"] = "%04x, %08x, %08x" % (w16(b, p + 2), w32(b, p + 4), w32(b, p + 8))
    return r


def ptdm_counts():
    out = {}
    for ln in re.findall(r"XENTEST: REAL-QUERY: (.*)$", log, re.M):
        try:
            o = json.loads(ln)
        except ValueError:
            continue
        for d in o.get("return", []) if isinstance(o, dict) else []:
            c = d.get("counters", {})
            out[d.get("device")] = (c.get("messages", 0), c.get("bar-reads", 0) + c.get("bar-writes", 0),
                                    c.get("cfg-reads", 0) + c.get("cfg-writes", 0))
    return out


def xenpt_counts(dom):
    cfgn = {int(s, 16): int(n) for s, n in re.findall(r"XENTEST: XENPT: ioreqs sbdf=(0x[0-9a-f]+) config=(\d+)", log)}
    bars = {3: [], 4: []}
    for s, bar, size, addr in re.findall(r"-LOG: \(d%s\) pci dev (0[34]):0 bar ([0-9a-f]+) size ([0-9a-f]+): ([0-9a-f]+)"
                                         % dom, log):
        a, n = int(addr, 16), int(size, 16)
        if not a & 1:
            bars[int(s)].append((a & ~0xf, n))
    mmio = {3: 0, 4: 0}
    for n, a in re.findall(r"XENTEST: XENPT-MMIO: +(\d+) (0x[0-9a-f]+)", log):
        for s, bl in bars.items():
            if any(b <= int(a, 16) < b + sz for b, sz in bl):
                mmio[s] += int(n)
    return {3: (cfgn.get(0x18, 0), mmio[3]), 4: (cfgn.get(0x20, 0), mmio[4])}


p, x = dump(dp), dump(dx)
if not p or not x:
    print("compare: guestbios's config dump is incomplete (ptdm domain %s: %s, xen_pt domain %s: %s)"
          % (dp, "ok" if p else "missing", dx, "ok" if x else "missing"))
    sys.exit(1)
pc, xc = ptdm_counts(), xenpt_counts(dx)
names = {3: ("edu", edu), 4: ("e1000e", nic)}
print("| what the guest sees | edu: ptdm | edu: xen_pt | e1000e: ptdm | e1000e: xen_pt |")
print("|---|---|---|---|---|")
rp = {s: rows(p[s]) for s in (3, 4)}
rx = {s: rows(x[s]) for s in (3, 4)}
keys = []
for s in (3, 4):
    for k in list(rp[s]) + list(rx[s]):
        if k not in keys:
            keys.append(k)
for k in keys:
    cells = []
    for s in (3, 4):
        a, b = rp[s].get(k, "-"), rx[s].get(k, "-")
        cells += ["**%s**" % a if a != b else a, "**%s**" % b if a != b else b]
    print("| %s | %s |" % (k, " | ".join(cells)))
print("| extended config space (0x100-0xfff) | not reachable | not reachable | not reachable | not reachable |")
cells = []
for s in (3, 4):
    m, bar, cfgs = pc.get(names[s][1], (0, 0, 0))
    cells += ["%d ioreqs: %d config, %d BAR" % (m, m - bar, bar),
              "%d ioreqs: %d config, %d BAR" % (xc[s][0] + xc[s][1], xc[s][0], xc[s][1])]
print("| ioreqs until guestbios is done | %s |" % " | ".join(cells))
print()
same = True
for s in (3, 4):
    diff = ["%02x: %08x / %08x" % (r, w32(p[s], r), w32(x[s], r)) for r in range(0, 256, 4)
            if w32(p[s], r) != w32(x[s], r)]
    print("%s (slot %d): %d of 64 config dwords differ (ptdm / xen_pt)%s" % (
        names[s][0], s, len(diff), ": " + "; ".join(diff) if diff else ""))
    same = same and w32(p[s], 0) == w32(x[s], 0) and w32(p[s], 0) != 0xffffffff
sys.exit(0 if same else 1)
