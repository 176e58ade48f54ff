#!/usr/bin/env python3
# xendm-proxy.py PTDM-XEN-DM [PTDM] - ptdm-xen-dm's QMP handling without Xen: the
# wrapper is started as libxl starts it, with a stand-in QEMU and a
# stand-in ptdm (both this script, in another role) that record what they
# are sent.  Checks: QEMU's greeting and every other command pass through
# (an fd passed with add-fd arrives at QEMU); device_add of
# xen-pci-passthrough goes to ptdm's control socket as device-add with the
# spec BDF@SLOT,permissive=N, the domain and xen-toolstack-assigns, its
# slot chosen as QEMU would (lowest free one) when libxl gives none;
# refusals as QEMU words them (duplicate id, slot in use, bad hostaddr,
# unknown property); query-pci is QEMU's answer plus ptdm's devices;
# device_del goes to ptdm and is answered with DEVICE_DELETED; bytes that
# are not JSON or an object over 64 KiB close only that connection;
# SIGHUP reaches QEMU, ptdm's devices are removed, ptdm is told to quit and
# the wrapper exits with QEMU's status; with dm_restrict's fd=N the wrapper
# listens on the fd libxl passes and QEMU gets a path.
import array
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time


def qmp_lines(f):
    for line in f:
        line = line.strip()
        if line:
            yield json.loads(line)


def serve(path, greet, handle):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    ls.bind(path)
    ls.listen(8)
    def one(c):
        c.sendall((json.dumps(greet) + "\r\n").encode())
        buf, fds = b"", []
        while True:
            msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_SPACE(16))
            for lvl, typ, data in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds += array.array("i", data[:len(data) - len(data) % 4]).tolist()
            if not msg:
                break
            buf += msg
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    # all of one command's output in one write, as QEMU
                    # does for "stop" (its reply and the STOP event)
                    c.sendall(b"".join((json.dumps(out) + "\r\n").encode()
                                       for out in handle(json.loads(line), fds)))
                    fds = []
        c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def fake_qemu(argv):
    # the role libxl's device model plays: QMP on the libxl-cmd chardev
    rec = open(os.environ["XENDM_TEST_REC"] + ".qemu", "a", buffering=1)
    path = None
    for i, a in enumerate(argv):
        if a == "-chardev" and "id=libxl-cmd" in argv[i + 1]:
            path = [kv[5:] for kv in argv[i + 1].split(",") if kv.startswith("path=")][0]
    rec.write(json.dumps({"argv": argv}) + "\n")
    if "-incoming" in argv:  # restore: what QEMU reads of the record
        fd = int(argv[argv.index("-incoming") + 1][3:])
        os.lseek(fd, 0, 0)
        rec.write(json.dumps({"incoming": os.read(fd, 1 << 20).decode("latin1")}) + "\n")
    signal.signal(signal.SIGHUP, lambda *a: (rec.write('{"signal":"HUP"}\n'), os._exit(7)))
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    devs = [{"bus": 0, "slot": s, "function": 0, "qdev_id": ""} for s in (0, 1, 2)]

    state = {"caps": False}

    def handle(req, fds):
        rec.write(json.dumps({"req": req, "fds": len(fds)}) + "\n")
        if req["execute"] == "qmp_capabilities":
            state["caps"] = True
        elif not state["caps"]:  # QEMU's capabilities negotiation mode
            return [{"error": {"class": "CommandNotFound",
                               "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"},
                     "id": req.get("id")}]
        r = {}
        if req["execute"] == "query-pci":
            r = [{"bus": 0, "devices": devs}]
        if req["execute"] == "add-fd":
            r = {"fd": 99 if fds else -1, "fdset-id": 0}
            if fds:
                state["savefd"] = fds[0]
        if req["execute"] == "xen-save-devices-state":
            if req["arguments"]["filename"] != "/dev/fdset/0" or "savefd" not in state:
                return [{"error": {"class": "GenericError", "desc": "no fdset"}, "id": req.get("id")}]
            os.write(state["savefd"], QEMU_RECORD)
        out = {"return": r}
        if "id" in req:
            out["id"] = req["id"]
        if req["execute"] == "stop":
            return [out, {"timestamp": {"seconds": 1, "microseconds": 2},
                          "event": "STOP"}]
        return [out]
    serve(path, {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": ""},
                         "capabilities": []}}, handle)


QEMU_RECORD = b"QEVM\x00\x00\x00\x03" + bytes(range(256)) * 3 + b"\x1f"  # ... QEMU_VM_EOF


def fake_ptdm(argv):
    rec = open(os.environ["XENDM_TEST_REC"] + ".ptdm", "a", buffering=1)
    path = argv[argv.index("--control") + 1]
    rec.write(json.dumps({"argv": argv}) + "\n")

    def handle(req, fds):
        rec.write(json.dumps(req) + "\n")
        if req["execute"] == "quit":
            rec.write('{"quit": true}\n')
            os._exit(0)
        if req["execute"] == "device-add" and req["arguments"]["spec"].startswith("0000:00:1f.7"):
            return [{"error": {"class": "GenericError", "desc": "no such device"}}]
        if req["execute"] == "device-add" and "state" in req["arguments"]:
            st = open(req["arguments"]["state"], "rb").read()
            rec.write(json.dumps({"state-of": req["arguments"]["id"], "state": st.decode("latin1")}) + "\n")
            if st.startswith(b"BAD"):
                return [{"error": {"class": "GenericError", "desc": "state X: the state of another device"}}]
        if req["execute"] == "device-save":
            with open(req["arguments"]["file"], "wb") as f:
                f.write(b"PTDMDEV1 state of " + req["arguments"]["id"].encode() + b"\x00" * 5)
            return [{"return": {"bytes": 1}}]
        return [{"return": {"id": req["arguments"].get("id", "x"), "where": "w"}
                 if req["execute"] == "device-add" else {}}]
    serve(path, {"QMP": {"version": {"ptdm": "0.1.0"}, "capabilities": []}}, handle)


if len(sys.argv) > 1 and sys.argv[1] == "--role-qemu":
    fake_qemu(sys.argv[2:])
if len(sys.argv) > 1 and sys.argv[1] == "--role-ptdm":
    fake_ptdm(sys.argv[2:])

wrapper = sys.argv[1]
fails = 0


def check(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what)
    fails += 0 if ok else 1


tmp = tempfile.mkdtemp(prefix="xendm-")
me = os.path.abspath(__file__)
for role in ("qemu", "ptdm"):
    with open(os.path.join(tmp, role), "w") as f:
        f.write("#!/bin/sh\nexec %s %s --role-%s \"$@\"\n" % (sys.executable, me, role))
    os.chmod(os.path.join(tmp, role), 0o755)
env = dict(os.environ, PTDM_XEN_DM_QEMU=os.path.join(tmp, "qemu"),
           PTDM_XEN_DM_PTDM=os.path.join(tmp, "ptdm"), PTDM_XEN_DM_RUNDIR=tmp,
           XENDM_TEST_REC=os.path.join(tmp, "rec"))
mon = os.path.join(tmp, "qmp-libxl-5")
args = [wrapper, "-xen-domid", "5", "-no-shutdown",
        "-chardev", "socket,id=libxl-cmd,path=%s,server=on,wait=off" % mon,
        "-mon", "chardev=libxl-cmd,mode=control", "-nodefaults", "-machine", "xenfv"]
wp = subprocess.Popen(args, env=env, stderr=open(os.path.join(tmp, "stderr"), "w"))
for _ in range(200):
    if os.path.exists(os.path.join(tmp, "ptdm-dm-qmp-5")):
        break
    time.sleep(0.05)


class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(mon)
        self.f = self.s.makefile("rb")
        self.greeting = json.loads(self.f.readline())

    def cmd(self, ex, args=None, fds=None, cid=None):
        o = {"execute": ex}
        if args is not None:
            o["arguments"] = args
        if cid is not None:
            o["id"] = cid
        data = json.dumps(o).encode()
        if fds:
            self.s.sendmsg([data[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            self.s.sendall(data[1:] + b"\r\n")
        else:
            self.s.sendall(data + b"\r\n")
        return json.loads(self.f.readline())

    def line(self):
        return json.loads(self.f.readline())


c = Client()
check(c.greeting.get("QMP", {}).get("version", {}).get("qemu", {}).get("minor") == 2,
      "QEMU's greeting reaches libxl through the wrapper")
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_03.0",
                         "hostaddr": "0000:00:03.0", "addr": "4.0"}, cid=0)
check(r.get("error", {}).get("class") == "CommandNotFound" and r.get("id") == 0,
      "device_add before qmp_capabilities: QEMU's refusal (%s)" % r)
check(c.cmd("qmp_capabilities", cid=1) == {"return": {}, "id": 1}, "qmp_capabilities passes through")
r = c.cmd("stop", cid=10)
ev = c.line()
check(r == {"return": {}, "id": 10} and ev.get("event") == "STOP",
      "QEMU's reply and its STOP event in one write both reach libxl (%s, %s)" % (r, ev))
check(c.cmd("cont", cid=11) == {"return": {}, "id": 11}, "cont passes through after it")
qargv = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".qemu")][0]["argv"]
check("socket,id=libxl-cmd,path=%s/ptdm-dm-qmp-5,server=on,wait=off" % tmp in qargv and
      "-xen-domid" in qargv and "xenfv" in qargv,
      "QEMU got libxl's arguments with the monitor moved to the wrapper's private socket")
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_03.0",
                         "hostaddr": "0000:00:03.0", "addr": "4.0", "permissive": True}, cid=2)
check(r == {"return": {}, "id": 2}, "device_add xen-pci-passthrough answered {} (%s)" % r)
preq = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".ptdm")]
add = [p for p in preq if p.get("execute") == "device-add"]
check(len(add) == 1 and add[0]["arguments"] == {"spec": "0000:00:03.0@4,permissive=1", "id": "pci-pt-00_03.0",
                                                 "xen-domid": 5, "xen-toolstack-assigns": True},
      "ptdm got device-add spec 0000:00:03.0@4,permissive=1, domain 5, the toolstack assigning (%s)"
      % (add[0]["arguments"] if add else None))
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_03.0",
                         "hostaddr": "0000:00:03.0", "addr": "5.0"}, cid=3)
check(r.get("error", {}).get("desc") == "Duplicate device ID 'pci-pt-00_03.0'", "a duplicate id: %s" % r)
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_05.0",
                         "hostaddr": "0000:00:05.0", "addr": "2.0"}, cid=4)
check("in use" in r.get("error", {}).get("desc", ""), "a slot QEMU uses is refused: %s" % r)
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_05.0",
                         "hostaddr": "0000:00:05.0"}, cid=5)
add = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".ptdm")]
add = [p for p in add if p.get("execute") == "device-add"]
check(r == {"return": {}, "id": 5} and add[-1]["arguments"]["spec"] == "0000:00:05.0@3,permissive=0",
      "no addr: the lowest free slot, 3 (%s)" % add[-1]["arguments"]["spec"])
for bad, why in ((dict(hostaddr="0000:00:05.0; rm"), "bad hostaddr"), (dict(hostaddr="0:0:5.0"), "short hostaddr"),
                 (dict(hostaddr="0000:00:06.0", romfile="x"), "unknown property"),
                 (dict(hostaddr="0000:00:06.0", addr="zz"), "bad addr"),
                 (dict(hostaddr="0000:00:06.0", permissive="yes"), "permissive not a boolean"),
                 (dict(hostaddr="0000:00:06.0", id="pci\n\x1b[2J"), "an id with control characters"),
                 (dict(hostaddr="0000:00:06.0", id="9pci"), "an id not starting with a letter"),
                 (dict(hostaddr="0000:00:06.0", id="p" * 32), "an id of 32 characters")):
    a = dict(driver="xen-pci-passthrough", id="pci-pt-bad")
    a.update(bad)
    r = c.cmd("device_add", a, cid=6)
    check("error" in r and r.get("id") == 6, "refused: %s (%s)" % (why, r["error"]["desc"] if "error" in r else r))
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_07.1",
                         "hostaddr": "0000:00:07.1", "addr": "4.1"}, cid=14)
add = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".ptdm")]
add = [p for p in add if p.get("execute") == "device-add"]
check(r == {"return": {}, "id": 14} and add[-1]["arguments"].get("xen-function") == 1 and
      add[-1]["arguments"]["spec"] == "0000:00:07.1@4,permissive=0",
      "addr 4.1 (a function of BB:DD.*): ptdm gets the slot and xen-function 1")
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_08.1",
                         "hostaddr": "0000:00:08.1", "addr": "4.1"}, cid=15)
check("function 1 not available" in r.get("error", {}).get("desc", ""), "the same function twice: %s" % r)
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_1f.7",
                         "hostaddr": "0000:00:1f.7", "addr": "6"}, cid=7)
check(r.get("error", {}).get("desc") == "ptdm: no such device", "ptdm's refusal reaches libxl: %s" % r)
r = c.cmd("query-pci", cid=8)
devs = r["return"][0]["devices"]
check(sorted(d["slot"] for d in devs) == [0, 1, 2, 3, 4, 4] and
      {d["qdev_id"]: (d["slot"], d["function"]) for d in devs if d["qdev_id"]} ==
      {"pci-pt-00_03.0": (4, 0), "pci-pt-00_05.0": (3, 0), "pci-pt-00_07.1": (4, 1)}
      and r["id"] == 8, "query-pci: QEMU's devices plus ptdm's, at their slots and functions")
r = c.cmd("device_del", {"id": "pci-pt-00_03.0"}, cid=9)
ev = c.line()
check(r == {"return": {}, "id": 9} and ev.get("event") == "DEVICE_DELETED" and
      ev["data"]["device"] == "pci-pt-00_03.0", "device_del: {} and DEVICE_DELETED")
dels = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".ptdm")]
check({"execute": "device-del", "arguments": {"id": "pci-pt-00_03.0"}} in dels, "device_del went to ptdm as device-del")
r = c.cmd("query-pci", cid=10)
check(sorted(d["slot"] for d in r["return"][0]["devices"]) == [0, 1, 2, 3, 4], "query-pci no longer has it")
r = c.cmd("device_del", {"id": "usb0"}, cid=11)
qreq = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".qemu")]
check(r == {"return": {}, "id": 11} and any(q.get("req", {}).get("arguments") == {"id": "usb0"} for q in qreq),
      "device_del of a device ptdm does not serve goes to QEMU")
rd, wr = os.pipe()
r = c.cmd("add-fd", {"opaque": "x"}, fds=[wr], cid=12)
check(r == {"return": {"fd": 99, "fdset-id": 0}, "id": 12}, "add-fd: the fd libxl passes reaches QEMU")
os.close(rd)
os.close(wr)
# hostile bytes: only that connection goes
h = Client()
h.s.sendall(b"{\"execute\": 'x'}\r\n")
r = h.line()
check("error" in r and h.f.readline() == b"", "bytes that are not strict JSON: an error, then the connection closes")
h = Client()
try:
    h.s.sendall(b"{\"execute\": \"x\", \"arguments\": {\"a\": \"" + b"A" * (70 << 10) + b"\"}}")
except OSError:
    pass
r = h.f.readline()
check(b"too large" in r or r == b"", "a 70 KiB object closes that connection")
check(c.cmd("query-status", cid=13) == {"return": {}, "id": 13}, "the first connection still works")
os.kill(wp.pid, signal.SIGHUP)
try:
    rc = wp.wait(timeout=20)
except subprocess.TimeoutExpired:
    wp.kill()
    rc = None
qrec = open(env["XENDM_TEST_REC"] + ".qemu").read()
prec = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".ptdm")]
check(rc == 7 and '"HUP"' in qrec, "SIGHUP reached QEMU and the wrapper exits with its status (%s)" % rc)
check({"execute": "device-del", "arguments": {"id": "pci-pt-00_05.0"}} in prec and
      {"execute": "device-del", "arguments": {"id": "pci-pt-00_07.1"}} in prec and {"quit": True} in prec,
      "at the end ptdm's last devices are removed and ptdm quits")
check(len([p for p in prec if "argv" in p]) == 1, "one ptdm for the domain")
# dm_restrict: libxl binds and listens itself and passes fd=N
mon = os.path.join(tmp, "qmp-libxl-6")
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(mon)
ls.listen(4)
args = [wrapper, "-xen-domid", "6", "-chardev", "socket,id=libxl-cmd,fd=%d,server=on,wait=off" % ls.fileno(),
        "-mon", "chardev=libxl-cmd,mode=control", "-S"]
wp = subprocess.Popen(args, env=env, pass_fds=[ls.fileno()], stderr=open(os.path.join(tmp, "stderr6"), "w"))
ls.close()
for _ in range(200):
    if os.path.exists(os.path.join(tmp, "ptdm-dm-qmp-6")):
        break
    time.sleep(0.05)
c = Client()
check(c.greeting.get("QMP") is not None and c.cmd("qmp_capabilities") == {"return": {}} and
      c.cmd("query-status", cid=1) == {"return": {}, "id": 1},
      "dm_restrict: the wrapper serves libxl on the listening fd it was given")
qargv = [json.loads(line) for line in open(env["XENDM_TEST_REC"] + ".qemu") if '"argv"' in line][-1]["argv"]
check("socket,id=libxl-cmd,path=%s/ptdm-dm-qmp-6,server=on,wait=off" % tmp in qargv and "-S" in qargv,
      "dm_restrict: QEMU gets a path instead of the fd, and -S")
os.kill(wp.pid, signal.SIGTERM)
try:
    rc = wp.wait(timeout=20)
except subprocess.TimeoutExpired:
    wp.kill()
    rc = None
check(rc == 0, "SIGTERM: QEMU stopped, the wrapper exits 0 (%s)" % rc)
# -- xl save / xl restore of a domain with an image device (-ptdm-image) --
def fnv(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h


def section(devs):
    body = b"PTDMXDM1" + struct.pack("<II", len(devs), 0)
    for i, (did, slot, blob) in enumerate(devs):
        body += did.encode().ljust(32, b"\0") + struct.pack("<IIQ", slot, 0, len(blob)) + blob
        body += b"\0" * ((8 - len(blob) % 8) % 8)
    return body + struct.pack("<QQ", len(body), fnv(body)) + b"PTDMXEND"


def start(domid, extra, pass_fds=()):
    mon = os.path.join(tmp, "qmp-libxl-%d" % domid)
    for f in (".qemu", ".ptdm"):
        open(env["XENDM_TEST_REC"] + f, "w").close()
    a = [wrapper, "-xen-domid", str(domid), "-chardev",
         "socket,id=libxl-cmd,path=%s,server=on,wait=off" % mon,
         "-mon", "chardev=libxl-cmd,mode=control", "-machine", "xenfv"] + extra
    err = os.path.join(tmp, "stderr%d" % domid)
    p = subprocess.Popen(a, env=env, pass_fds=pass_fds, stderr=open(err, "w"))
    for _ in range(200):
        if os.path.exists(os.path.join(tmp, "ptdm-dm-qmp-%d" % domid)) or p.poll() is not None:
            break
        time.sleep(0.05)
    return p, mon, err


def recs(role):
    return [json.loads(line) for line in open(env["XENDM_TEST_REC"] + "." + role)]


def stop(p):
    os.kill(p.pid, signal.SIGTERM)
    try:
        return p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        return None


IMGARGS = ["-ptdm-image", "/images/dev.lspci-x4.txt@5"]
wp, mon, _ = start(7, IMGARGS)
pr = recs("ptdm")
qa = [q for q in recs("qemu") if "argv" in q]
check([p.get("arguments") for p in pr if p.get("execute") == "device-add"] ==
      [{"spec": "/images/dev.lspci-x4.txt,vslot=5", "id": "ptdm-img-05", "xen-domid": 7}],
      "-ptdm-image: ptdm serves the image at slot 5 from the start")
check(len(qa) == 1 and "-ptdm-image" not in qa[0]["argv"] and "/images/dev.lspci-x4.txt@5" not in qa[0]["argv"],
      "-ptdm-image is not among QEMU's arguments")
c = Client()
c.cmd("qmp_capabilities")
r = c.cmd("device_add", {"driver": "xen-pci-passthrough", "id": "pci-pt-00_05.0",
                         "hostaddr": "0000:00:05.0", "addr": "5.0"}, cid=1)
check("in use" in r.get("error", {}).get("desc", ""), "a passthrough device_add at the image's slot is refused")
savefile = os.path.join(tmp, "qemu-save.7")
fd = os.open(savefile, os.O_WRONLY | os.O_CREAT, 0o600)
r = c.cmd("add-fd", fds=[fd], cid=2)
os.close(fd)
check(r.get("return", {}).get("fdset-id") == 0, "add-fd of the save file passes through")
r = c.cmd("xen-save-devices-state", {"live": False, "filename": "/dev/fdset/0"}, cid=3)
rec = open(savefile, "rb").read()
want = QEMU_RECORD + section([("ptdm-img-05", 5, b"PTDMDEV1 state of ptdm-img-05" + b"\0" * 5)])
check(r == {"return": {}, "id": 3} and rec == want,
      "xen-save-devices-state: QEMU's record, then ptdm's section with the image's state (%d bytes)" % len(rec))
r = c.cmd("xen-save-devices-state", {"live": False, "filename": "/dev/fdset/4"}, cid=4)
check("ptdm: cannot add" in r.get("error", {}).get("desc", ""),
      "a save into an fdset libxl did not pass is refused, not saved without ptdm's state")
check(stop(wp) == 0, "the saving wrapper ends")


def restore(domid, record, imgs=IMGARGS):
    path = os.path.join(tmp, "qemu-resume.%d" % domid)
    with open(path, "wb") as f:
        f.write(record)
    fd = os.open(path, os.O_RDONLY)
    p, mon, err = start(domid, imgs + ["-incoming", "fd:%d" % fd], pass_fds=[fd])
    os.close(fd)
    return p, err


wp, err = restore(8, rec)
q = recs("qemu")
inc = [x["incoming"] for x in q if "incoming" in x]
st = [x for x in recs("ptdm") if "state-of" in x]
check(inc == [QEMU_RECORD.decode("latin1")], "restore: QEMU reads exactly its own record, ptdm's section split off")
check(len(st) == 1 and st[0]["state-of"] == "ptdm-img-05" and
      st[0]["state"] == ("PTDMDEV1 state of ptdm-img-05" + "\0" * 5),
      "restore: ptdm's device-add of the image loads the saved state")
check(not [f for f in os.listdir(tmp) if f.startswith("ptdm-dm-state-")], "no state file left behind")
check(stop(wp) == 0, "the restored wrapper ends")
wp, err = restore(9, QEMU_RECORD)
inc = [x["incoming"] for x in recs("qemu") if "incoming" in x]
check(inc == [QEMU_RECORD.decode("latin1")] and not [x for x in recs("ptdm") if "state-of" in x] and
      "no ptdm section" in open(err).read(),
      "a stock record (no ptdm section) restores: QEMU gets it whole, the image starts from power-on")
stop(wp)
bad_cases = [
    ("a byte of the state flipped", rec[:len(QEMU_RECORD) + 70] + bytes([rec[len(QEMU_RECORD) + 70] ^ 1]) +
     rec[len(QEMU_RECORD) + 71:], "checksum"),
    ("truncated (its footer gone)", rec[:-30], "truncated"),
    ("truncated inside (footer kept)", rec[:len(QEMU_RECORD)] + rec[len(QEMU_RECORD) + 8:], "restore refused"),
    ("another device's", QEMU_RECORD + section([("ptdm-img-06", 6, b"x" * 9)]), "ptdm-img-06"),
    ("without this domain's image", QEMU_RECORD + section([]), "no state for ptdm-img-05"),
    ("a state ptdm refuses", QEMU_RECORD + section([("ptdm-img-05", 5, b"BAD state")]), "another device"),
]
for what, record, word in bad_cases:
    wp, err = restore(10, record)
    try:
        rc = wp.wait(timeout=20)
    except subprocess.TimeoutExpired:
        stop(wp)
        rc = None
    e = open(err).read()
    q = recs("qemu")
    added = [x for x in recs("ptdm") if x.get("execute") == "device-add"]
    check(rc == 1 and "restore refused" in e and word in e and not q and
          (not added or {"quit": True} in recs("ptdm")) and
          not [f for f in os.listdir(tmp) if f.startswith("ptdm-dm-state-")],
          "restore from a record %s: refused with a message, QEMU never started, ptdm gone (%s)"
          % (what, e.strip().splitlines()[-1] if e.strip() else rc))
wp, err = restore(11, rec, imgs=[])
rc = wp.wait(timeout=20)
check(rc == 1 and "ptdm-img-05" in open(err).read(), "a record with ptdm state restored without its -ptdm-image: refused")
for bad in ("images/x@5", "/x", "/x@2", "/x@20", "/x@zz"):
    p, _, err = start(12, ["-ptdm-image", bad])
    rc = p.wait(timeout=20)
    check(rc == 2 and "-ptdm-image" in open(err).read(), "-ptdm-image %s refused" % bad)
# the real ptdm's control socket: the arguments the wrapper uses are checked
if len(sys.argv) > 2:
    ctl = os.path.join(tmp, "real.ctl")
    pp = subprocess.Popen([sys.argv[2], "serve", "--control", ctl], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(ctl):
            break
        time.sleep(0.05)
    cs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cs.settimeout(10)
    cs.connect(ctl)
    cf = cs.makefile("rb")
    cf.readline()
    for val, what in ((9, "9"), (-1, "-1"), ("1", "a string"), (1.5, "1.5")):
        cs.sendall((json.dumps({"execute": "device-add", "arguments": {
            "spec": "0000:00:07.1@4", "xen-domid": 5, "xen-toolstack-assigns": True,
            "xen-function": val}}) + "\n").encode())
        r = json.loads(cf.readline())
        check("xen-function" in r.get("error", {}).get("desc", ""),
              "ptdm refuses xen-function %s: %s" % (what, r.get("error", {}).get("desc")))
    pp.terminate()
    pp.wait(timeout=10)
errs = open(os.path.join(tmp, "stderr")).read() + open(os.path.join(tmp, "stderr6")).read()
check("runtime error" not in errs and "Sanitizer" not in errs, "no sanitizer report (in an ASAN/UBSAN build)")
if fails:
    print(errs)
print("RESULT: %d failed" % fails)
sys.exit(1 if fails else 0)
