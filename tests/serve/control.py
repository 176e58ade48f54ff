#!/usr/bin/env python3
"""control.py PTDM DUMPS_DIR - the control socket of `ptdm serve --control`.

A server started with no device: a device is hot-added while another
device's client runs flat out, used from a client, a guest config write to
it that is dropped shows in its trace with the rule that dropped it, it is
removed (its client told to go, its socket gone, no fd left behind), and
malformed control requests get errors without harming the server.  Also
`ptdm ctl` itself.  Prints PASS/FAIL and "N passed, N failed".
"""
import json, os, socket, stat, struct, subprocess, sys, tempfile, threading, time

PTDM, DUMPS = sys.argv[1], sys.argv[2]
HDR = struct.Struct("<HHIII")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print("PASS" if ok else "FAIL", name, "" if ok else detail)


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(path)
        self.buf = b""
        self.greeting = self.next()

    def next(self):
        while b"\n" not in self.buf:
            c = self.s.recv(65536)
            if not c:
                raise ConnectionError("closed")
            self.buf += c
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.s.sendall(json.dumps({"execute": name, "arguments": args}).encode())
        while True:
            r = self.next()
            if "event" not in r:
                return r


class VfuClient:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(path)
        self.id = 0
        js = b'{"capabilities":{"max_msg_fds":8}}\0'
        self.rpc(1, struct.pack("<HH", 0, 0) + js)

    def rpc(self, cmd, payload):
        self.id = (self.id + 1) & 0xffff
        self.s.sendall(HDR.pack(self.id, cmd, 16 + len(payload), 0, 0) + payload)
        h = b""
        while len(h) < 16:
            c = self.s.recv(16 - len(h))
            if not c:
                raise ConnectionError("closed")
            h += c
        _, _, size, flags, err = HDR.unpack(h)
        p = b""
        while len(p) < size - 16:
            p += self.s.recv(size - 16 - len(p))
        return err, p

    def cfg(self, off, data=None):
        if data is None:
            err, p = self.rpc(9, struct.pack("<QII", off, 7, 4))
            return err, struct.unpack("<I", p[16:20])[0] if not err else None
        return self.rpc(10, struct.pack("<QII", off, 7, len(data)) + data)[0], None


tmp = tempfile.mkdtemp()
CTL = os.path.join(tmp, "ctl.sock")
nvme = os.path.join(DUMPS, "samsung-a826-pm174x-nvme.lspci-x4.txt")
gpu = os.path.join(DUMPS, "nvidia-24a0-ga104-rtx3070ti-laptop-gpu.lspci-x4.txt")
log = open(os.path.join(tmp, "serve.log"), "w+")
srv = subprocess.Popen([PTDM, "serve", "--control", CTL], stdout=subprocess.PIPE,
                       stderr=log)
check("serves with no device", srv.stdout.readline().strip() == b"ptdm: ready")
check("control socket is 0600", stat.S_IMODE(os.stat(CTL).st_mode) == 0o600)
ctl = Ctl(CTL)
check("greeting in the QMP style", "QMP" in ctl.greeting)
r = ctl.cmd("device-add", spec=gpu, id="busy", **{"vfio-user": os.path.join(tmp, "busy.sock")})
check("device-add", r.get("return", {}).get("id") == "busy", r)

# a client on "busy" runs flat out in a thread
stop = threading.Event()
busy_n = [0]


def flat_out():
    c = VfuClient(os.path.join(tmp, "busy.sock"))
    while not stop.is_set():
        c.cfg(0)
        busy_n[0] += 1
t = threading.Thread(target=flat_out)
t.start()
time.sleep(0.3)
fds_before = len(os.listdir("/proc/%d/fd" % srv.pid))
hot = os.path.join(tmp, "hot.sock")
r = ctl.cmd("device-add", spec=nvme, id="hot", **{"vfio-user": hot})
check("hot-add while another device is busy", r.get("return", {}).get("id") == "hot", r)
c = VfuClient(hot)
err, v = c.cfg(0)
check("the hot-added device is used from a client", err == 0 and v == 0xa826144d,
      "(%s %s)" % (err, v and hex(v)))

tr = Ctl(CTL)
r = tr.cmd("trace", id="hot", enable=True)
check("trace on", "return" in r, r)
err, _ = c.cfg(0x00, struct.pack("<I", 0x12345678))  # vendor/device: read-only
err2, v = c.cfg(0)
check("the read-only write is dropped", v == 0xa826144d)
tr.s.settimeout(3)
ev = None
try:
    while True:
        e = tr.next()
        if e.get("event") == "TRACE":
            ev = e["data"]["line"]
            break
except Exception as e:
    pass
check("the trace names the register, its values and the rule that dropped it",
      ev is not None and "vendor id" in ev and "0x144d -> 0x144d" in ev
      and "0x5678" in ev and "dropped" in ev and "read-only" in ev, ev)
tr.s.close()
print("  trace:", ev)

r = ctl.cmd("query-devices")
devs = {d["id"]: d for d in r.get("return", [])}
check("query-devices lists both", set(devs) == {"busy", "hot"}, r)
hotd = devs.get("hot", {})
check("query-devices: client connected, counters", hotd.get("client-connected") is True
      and hotd.get("counters", {}).get("messages", 0) >= 3
      and hotd.get("counters", {}).get("writes-dropped", 0) >= 1, hotd)

r = ctl.cmd("device-del", id="hot")
check("device-del", "return" in r, r)
try:
    gone = c.s.recv(16) == b""
except ConnectionResetError:
    gone = True
check("its client is told to go", gone)
check("its socket is removed", not os.path.exists(hot))
time.sleep(0.2)
fds_after = len(os.listdir("/proc/%d/fd" % srv.pid))
check("no fd left behind", fds_after == fds_before, "(%d -> %d)" % (fds_before, fds_after))
n0 = busy_n[0]
time.sleep(0.3)
check("the busy device kept serving throughout", busy_n[0] > n0 > 100, "(%d)" % n0)
stop.set()
t.join()

# hostile control clients
r = ctl.cmd("no-such-command")
check("unknown command", r.get("error", {}).get("class") == "CommandNotFound", r)
r = ctl.cmd("device-add", spec=nvme, **{"vfio-user": hot, "permisive": 1})
check("unknown argument refused", "error" in r and "permisive" in r["error"]["desc"], r)
r = ctl.cmd("device-add", spec="/no/such/file", **{"vfio-user": hot})
check("a bad spec is an error", "error" in r and not os.path.exists(hot), r)
r = ctl.cmd("device-del", id="nope")
check("device-del of nothing", "error" in r, r)
for bad, what in ((b"{'execute': 'quit'}", "single quotes"),
                  (b'{"execute": "quit",}', "a trailing comma"),
                  (b"not json at all", "garbage"),
                  (b'{"execute": "' + b"x" * (70 << 10) + b'"}', "70 KiB")):
    x = Ctl(CTL)
    x.s.sendall(bad)
    try:
        e = x.next()
        ok = "error" in e
        closed = x.s.recv(1) == b""
    except (ConnectionError, socket.timeout) as ex:
        ok = closed = False
    check("refused and closed: " + what, ok and closed)
# a request in pieces, slowly
x = Ctl(CTL)
for b in json.dumps({"execute": "query-devices", "id": 7}).encode():
    x.s.send(bytes([b]))
r = x.next()
check("a request sent byte by byte", r.get("id") == 7 and "return" in r, r)
# requests pipelined in one write (strict json-c alone refused the bytes
# after the first object: "not JSON", connection closed); a '}' in a string
x.s.sendall(b'{"execute":"query-devices","id":8}{"execute":"nope}","id":9}'
            b'\n{"execute":"query-devices","id":10}')
r8, r9, r10 = x.next(), x.next(), x.next()
check("three requests in one write, each answered",
      r8.get("id") == 8 and r9.get("id") == 9 and r10.get("id") == 10 and
      "return" in r8 and r9.get("error", {}).get("class") == "CommandNotFound",
      (r8, r9, r10))

# a device's state: device-save, device-add "state" (what ptdm-xen-dm uses
# for xl save / xl restore), device-dump; hostile states add nothing
r = ctl.cmd("device-add", spec=nvme, id="st", **{"vfio-user": os.path.join(tmp, "st.sock")})
check("device-add st", r.get("return", {}).get("id") == "st", r)
sc = VfuClient(os.path.join(tmp, "st.sock"))
sc.cfg(0x10, struct.pack("<I", 0xfe000000))   # BAR0 placed
sc.cfg(0x04, struct.pack("<I", 0x00000006))   # MEM + bus master
_, bar0 = sc.cfg(0x10)
S1, G1, G2, G3 = (os.path.join(tmp, n) for n in ("s1", "g1", "g2", "g3"))
r = ctl.cmd("device-save", id="st", file=S1)
check("device-save writes the state", r.get("return", {}).get("bytes", 0) > 0 and
      os.path.getsize(S1) == r["return"]["bytes"] and stat.S_IMODE(os.stat(S1).st_mode) == 0o600, r)
r = ctl.cmd("device-dump", id="st", guest=G1)
check("device-dump writes the guest view", "return" in r and os.path.getsize(G1) > 0, r)
r = ctl.cmd("device-add", spec=nvme, id="st2", state=S1, **{"vfio-user": os.path.join(tmp, "st2.sock")})
check("device-add with that state", r.get("return", {}).get("id") == "st2", r)
ctl.cmd("device-dump", id="st2", guest=G2)
r = ctl.cmd("device-add", spec=nvme, id="st3", **{"vfio-user": os.path.join(tmp, "st3.sock")})
ctl.cmd("device-dump", id="st3", guest=G3)
g1, g2, g3 = (open(f).read() for f in (G1, G2, G3))
check("the restored device's guest view equals the saved one (BAR0 %s), a fresh one's does not" %
      (bar0 and hex(bar0)), g1 == g2 and g1 != g3 and bar0 and bar0 & 0xfffff000 == 0xfe000000)
data = open(S1, "rb").read()
for what, bad, spec, word in (
        ("truncated", data[:-9], nvme, "malformed"),
        ("its magic mutated", b"X" + data[1:], nvme, "malformed"),
        ("empty", b"", nvme, "malformed"),
        ("of another model", data, gpu, "another model")):
    with open(os.path.join(tmp, "bad"), "wb") as f:
        f.write(bad)
    r = ctl.cmd("device-add", spec=spec, id="stbad", state=os.path.join(tmp, "bad"),
                **{"vfio-user": os.path.join(tmp, "stbad.sock")})
    q = ctl.cmd("query-devices")
    check("a state %s is refused (%s) and adds nothing" % (what, r.get("error", {}).get("desc")),
          word in r.get("error", {}).get("desc", "") and
          not any(d["id"] == "stbad" for d in q["return"]) and
          not os.path.exists(os.path.join(tmp, "stbad.sock")), r)
for args, what in (({"id": "nope", "file": S1}, "no such device"), ({"id": "st"}, "no file"),
                   ({"id": "st", "file": S1, "x": 1}, "an unknown argument")):
    r = ctl.cmd("device-save", **args)
    check("device-save refused: %s" % what, "error" in r, r)
r = ctl.cmd("device-add", spec=nvme, id="stbad", state=7, **{"vfio-user": os.path.join(tmp, "stbad.sock")})
check("device-add \"state\" that is not a string is refused", "error" in r, r)
r = ctl.cmd("device-dump", id="st")
check("device-dump with no file is refused", "error" in r, r)
r = ctl.cmd("device-add", spec=nvme, id="stbad", state=os.path.join(tmp, "missing"),
            **{"vfio-user": os.path.join(tmp, "stbad.sock")})
check("device-add with a missing state file is refused", "error" in r, r)
sc.s.close()
for i in ("st", "st2", "st3"):
    ctl.cmd("device-del", id=i)

# ptdm ctl, the command line
out = subprocess.run([PTDM, "ctl", CTL, "query-devices"], capture_output=True, text=True)
check("ptdm ctl query-devices", out.returncode == 0 and "busy" in out.stdout, out)
out = subprocess.run([PTDM, "ctl", CTL, "device-add", nvme, "--vfio-user", hot, "--id", "again"],
                     capture_output=True, text=True)
check("ptdm ctl device-add", out.returncode == 0 and out.stdout.strip() == "again", out)
out = subprocess.run([PTDM, "ctl", CTL, "--json", "device-del", "nope"], capture_output=True, text=True)
check("ptdm ctl: a refusal exits 1", out.returncode == 1 and '"error"' in out.stdout, out)
out = subprocess.run([PTDM, "ctl", CTL, "quit"], capture_output=True, text=True)
check("ptdm ctl quit", out.returncode == 0)
check("quit: the server exits 0", srv.wait(10) == 0)
check("quit: every socket removed", not os.path.exists(CTL) and not os.path.exists(hot)
      and not os.path.exists(os.path.join(tmp, "busy.sock")))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
