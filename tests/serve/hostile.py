#!/usr/bin/env python3
"""hostile.py PTDM DUMPS_DIR - one `ptdm serve` with three image devices; a
hostile client on one device must never stop the others.

Each case runs a hostile client against device A and then times a config
read round trip on device B (a fresh, well-behaved client): it must answer
within 2 s (on the old single blocking loop it never did).  Also: a client
that never reads its replies is dropped, a pipe is refused as an interrupt
eventfd, a second client is refused at once, and running out of fds costs a
log line, not a spinning CPU.  Prints PASS/FAIL lines and "N passed, N
failed"; exits non-zero on any failure.
"""
import array, json, os, select, socket, struct, subprocess, sys, tempfile, time

PTDM, DUMPS = sys.argv[1], sys.argv[2]
HDR = struct.Struct("<HHIII")
VERSION, SET_IRQS, REGION_READ, REGION_WRITE = 1, 8, 9, 10
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS", name)
    else:
        failed += 1
        print("FAIL", name, detail)


class Client:
    def __init__(self, path, timeout=2.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.id = 0

    def send(self, cmd, payload=b"", fds=None, flags=0):
        self.id += 1
        msg = HDR.pack(self.id, cmd, 16 + len(payload), flags, 0) + payload
        if fds:
            self.s.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                    array.array("i", fds))])
        else:
            self.s.sendall(msg)
        return self.id

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise ConnectionError("closed")
            b += c
        return b

    def reply(self):
        h = self.recv_exact(16)
        mid, cmd, size, flags, err = HDR.unpack(h)
        return mid, cmd, flags, err, self.recv_exact(size - 16)

    def version(self):
        js = b'{"capabilities":{"max_msg_fds":8}}\0'
        self.send(VERSION, struct.pack("<HH", 0, 0) + js)
        return self.reply()

    def cfg_read(self, off=0):
        self.send(REGION_READ, struct.pack("<QII", off, 7, 4))
        _, _, flags, err, p = self.reply()
        return err, p[16:20]

    def close(self):
        self.s.close()


def healthy(path):
    """A fresh client's VERSION + config read on another device, timed."""
    t0 = time.monotonic()
    try:
        c = Client(path)
        c.version()
        err, v = c.cfg_read()
        c.close()
        return err == 0 and len(v) == 4, time.monotonic() - t0
    except Exception as e:  # timeout or reset: the server is stuck
        return False, time.monotonic() - t0


tmp = tempfile.mkdtemp()
nvme = os.path.join(DUMPS, "samsung-a826-pm174x-nvme.lspci-x4.txt")
gpu = os.path.join(DUMPS, "nvidia-24a0-ga104-rtx3070ti-laptop-gpu.lspci-x4.txt")
nic = os.path.join(DUMPS, "intel-10c9-82576-sriov-nic.lspci-x4.txt")
A, B, C = (os.path.join(tmp, n + ".sock") for n in "abc")
log = open(os.path.join(tmp, "serve.log"), "w+")
srv = subprocess.Popen([PTDM, "serve", nvme, "--vfio-user", A, gpu,
                        "--vfio-user", B, nic, "--vfio-user", C],
                       stdout=subprocess.PIPE, stderr=log)
assert srv.stdout.readline().strip() == b"ptdm: ready"


def case(name, hostile):
    """Run hostile(); then device B must answer within 2 s."""
    held = hostile()
    ok, dt = healthy(B)
    check(name + ": another device answers", ok, "(%.2f s)" % dt)
    for c in held or []:
        try:
            c.close()
        except Exception:
            pass


def partial_header():
    c = Client(A)
    c.version()
    c.s.sendall(HDR.pack(9, REGION_READ, 32, 0, 0)[:10])
    return [c]


def header_and_4():
    c = Client(A)
    c.version()
    c.s.sendall(HDR.pack(9, REGION_READ, 32, 0, 0) + b"\0\0\0\0")
    return [c]


def slow_bytes():
    """One byte every 100 ms while B is used (threads keep it honest)."""
    import threading
    c = Client(A)
    c.version()
    msg = HDR.pack(9, REGION_READ, 32, 0, 0) + struct.pack("<QII", 0, 7, 4)
    stop = threading.Event()

    def drip():
        for b in msg:
            if stop.is_set():
                return
            c.s.sendall(bytes([b]))
            time.sleep(0.1)
    t = threading.Thread(target=drip)
    t.start()
    time.sleep(0.3)
    ok, dt = healthy(B)
    check("one byte every 100 ms: another device answers meanwhile", ok,
          "(%.2f s)" % dt)
    t.join()
    _, _, _, err, p = c.reply()  # the dripped request is whole: answered
    check("one byte every 100 ms: the slow request is answered", err == 0)
    stop.set()
    return [c]


case("10 of 16 header bytes, socket kept open", partial_header)
case("a header and 4 payload bytes, socket kept open", header_and_4)
case("slow client", slow_bytes)

# 278 requests for 1 MiB of BAR data, replies never read
c = Client(A, timeout=5)
c.version()
c.s.setblocking(False)
req = HDR.pack(0, REGION_READ, 32, 0, 0) + struct.pack("<QII", 0, 0, 1 << 15)
sent = 0
for i in range(278):
    try:
        c.s.send(HDR.pack(i, REGION_READ, 32, 0, 0) +
                 struct.pack("<QII", 0, 0, 1 << 15))
        sent += 1
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        break
ok, dt = healthy(B)
check("278 pipelined 1 MiB reads never read: another device answers", ok,
      "(%.2f s)" % dt)
# the server drops a client whose replies pile up (or it is still fine)
time.sleep(0.5)
c.s.setblocking(True)
c.s.settimeout(3)
got, closed = 0, False
try:
    while True:
        b = c.s.recv(1 << 20)
        if not b:
            closed = True
            break
        got += len(b)
except (socket.timeout, ConnectionResetError):
    closed = True
check("a client that never reads is dropped, the queue stays bounded",
      closed and got < (64 << 20), "(got %d bytes)" % got)
c.close()

# a pipe (full) handed over as an interrupt eventfd
r, w = os.pipe()
os.set_blocking(w, False)
try:
    while True:
        os.write(w, b"x" * 65536)
except BlockingIOError:
    pass
os.set_blocking(w, True)  # full, and a write to it blocks
c = Client(A)
c.version()
EVENTFD, TRIGGER, NONE = 1 << 2, 1 << 5, 1 << 0
payload = struct.pack("<IIIII", 20, EVENTFD | TRIGGER, 2, 0, 1)
c.send(SET_IRQS, payload, fds=[w])
_, _, flags, err, _ = c.reply()
check("a pipe is refused as an interrupt eventfd", err != 0, "(err %d)" % err)
c.send(SET_IRQS, struct.pack("<IIIII", 20, NONE | TRIGGER, 2, 0, 1))
try:
    c.reply()
except Exception:
    pass
ok, dt = healthy(B)
check("triggering it does not stall the server", ok, "(%.2f s)" % dt)
c.close()
os.close(r)
os.close(w)

# a second client on a device that has one: refused at once
c1 = Client(A)
c1.version()
c2 = Client(A)
t0 = time.monotonic()
try:
    closed = c2.s.recv(16) == b""
except (ConnectionResetError, socket.timeout):
    closed = False
check("a second client is refused at once", closed and
      time.monotonic() - t0 < 1.0, "(%.2f s)" % (time.monotonic() - t0))
err, _ = c1.cfg_read()
check("the first client is still served", err == 0)
c1.close()
c2.close()

# out of fds: connect until accept fails; the server must not spin
import resource
nfd = len(os.listdir("/proc/%d/fd" % srv.pid))
old = resource.prlimit(srv.pid, resource.RLIMIT_NOFILE)
resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (nfd + 1, old[1]))
conns = []
for p in (A, B, C) * 3:
    try:
        conns.append(Client(p, timeout=1))
    except OSError:
        pass


def cpu():
    f = open("/proc/%d/stat" % srv.pid).read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


c0 = cpu()
time.sleep(2)
used = cpu() - c0
check("out of fds: the loop does not spin", used < 0.5, "(%.2f s CPU in 2 s)"
      % used)
for x in conns:
    x.close()
resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, old)
time.sleep(0.3)
ok, dt = healthy(B)
check("after the fds come back, clients are served", ok, "(%.2f s)" % dt)
log.flush()
log.seek(0)
text = log.read()
check("out of fds: said in the log", "out of file descriptors" in text)
check("the second client: said in the log", "second client" in text)

srv.terminate()
check("SIGTERM: clean exit", srv.wait(10) == 0)
check("sockets removed", not any(os.path.exists(p) for p in (A, B, C)))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
