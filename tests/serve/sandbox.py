#!/usr/bin/env python3
"""sandbox.py PTDM DUMPS_DIR - `ptdm serve` locks itself down after setup
(src/cli/sandbox.c, docs/security.md "The sandbox").

Against the real binary, as root (skipped otherwise: dropping a user needs
one to drop):
  - with --user nobody: /proc/PID/status shows Seccomp: 2, NoNewPrivs: 1,
    every uid and gid nobody's, nobody's groups only, no capability in any set, and a client is
    still served; SIGTERM still removes the sockets;
  - with a control socket (hot-add): only CAP_IPC_LOCK is kept (and
    CAP_SYS_ADMIN in a build with Xen), and a
    device hot-added after the sandbox is served;
  - a forbidden syscall made from inside the serving loop (the test-only
    trigger PTDM_TEST_FORBIDDEN_SYSCALL=execve) kills the process, which
    names the syscall; a forbidden ioctl (=ioctl) is refused with EPERM
    and the loop goes on serving;
  - --sandbox=off warns, has no filter, and the same execve is not stopped
    (so the kill above is the filter's doing, not the trigger's);
  - the file system (Landlock, src/cli/sandbox_fs.c), when the kernel has
    it (its own answer, not ptdm's): a static server's loop cannot open
    /etc/hostname even read-only (the one open the filter lets through)
    but can open /dev/null, writes its dumps in their own directory; with
    a control socket it reads any file but creates files only in the
    control socket's directory (device-save elsewhere is refused with
    nothing written) and on ABI 4+ cannot connect over TCP; --sandbox=off
    opens /etc/hostname and reaches the TCP stack;
  - --user with no such user is an error, not a silent root server.
Prints PASS/FAIL lines and "N passed, N failed"; exits non-zero on any
failure.
"""
import ctypes, json, os, platform, pwd, signal, socket, struct, subprocess, sys, tempfile, time

PTDM, DUMPS = sys.argv[1], sys.argv[2]
HDR = struct.Struct("<HHIII")
NVME = os.path.join(DUMPS, "samsung-a826-pm174x-nvme.lspci-x4.txt")
CAP_IPC_LOCK = 1 << 14
CAP_SYS_ADMIN = 1 << 21
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print("PASS" if ok else "FAIL", name, "" if ok else detail)


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def cfg_read(path, off=0):
    """VERSION, then a 4-byte config read: the value, or None."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        js = b'{"capabilities":{"max_msg_fds":8}}\0'
        for mid, cmd, payload in ((1, 1, struct.pack("<HH", 0, 0) + js),
                                  (2, 9, struct.pack("<QII", off, 7, 4))):
            s.sendall(HDR.pack(mid, cmd, 16 + len(payload), 0, 0) + payload)
            h = b""
            while len(h) < 16:
                c = s.recv(16 - len(h))
                if not c:
                    return None
                h += c
            _, _, size, _, err = HDR.unpack(h)
            p = b""
            while len(p) < size - 16:
                c = s.recv(size - 16 - len(p))
                if not c:
                    return None
                p += c
            if err:
                return None
        return struct.unpack("<I", p[16:20])[0]
    except OSError:
        return None
    finally:
        s.close()


class Serve:
    def __init__(self, args, env=None):
        self.log = tempfile.TemporaryFile(mode="w+")
        e = dict(os.environ)
        e.pop("PTDM_TEST_FORBIDDEN_SYSCALL", None)
        e.update(env or {})
        self.p = subprocess.Popen([PTDM, "serve"] + args, stdout=subprocess.PIPE,
                                  stderr=self.log, env=e)
        self.ready = self.p.stdout.readline().strip() == b"ptdm: ready"

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def wait(self, t=5):
        try:
            return self.p.wait(t)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.wait()


def ctl_cmd(path, name, **args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    f = s.makefile("rb")
    f.readline()  # greeting
    s.sendall(json.dumps({"execute": name, "arguments": args}).encode())
    r = json.loads(f.readline())
    s.close()
    return r


if os.environ.get("PTDM_HAVE_SECCOMP", "1") != "1":
    print("SKIP: built without libseccomp (-Dseccomp): no filter to test")
    sys.exit(77)
if os.geteuid() != 0:
    print("SKIP: not root (the sandbox drops a user: run as root)")
    sys.exit(77)

nobody = pwd.getpwnam("nobody")
tmp = tempfile.mkdtemp()
os.chown(tmp, nobody.pw_uid, nobody.pw_gid)  # the user removes its sockets
os.chmod(tmp, 0o755)
rootdir = tempfile.mkdtemp()  # root without capabilities writes only its own

# ---- --user nobody: status, still served, clean exit ------------------------
a = os.path.join(tmp, "a.sock")
s = Serve([NVME, "--vfio-user", a, "--user", "nobody"])
check("serves with --user nobody", s.ready, s.stderr())
st = status(s.p.pid)
check("Seccomp: 2 (a filter)", st.get("Seccomp") == "2", st.get("Seccomp"))
check("NoNewPrivs: 1", st.get("NoNewPrivs") == "1", st.get("NoNewPrivs"))
want = "\t".join([str(nobody.pw_uid)] * 4)
check("every uid is nobody's", st.get("Uid") == want, st.get("Uid"))
check("every gid is nobody's", st.get("Gid").split() == [str(nobody.pw_gid)] * 4,
      st.get("Gid"))
groups = sorted(os.getgrouplist("nobody", nobody.pw_gid))
check("the user's own groups, none of root's",
      sorted(int(g) for g in st.get("Groups", "").split()) == groups,
      (st.get("Groups"), groups))
caps = {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                    "CapAmb")}
check("no capability in any set (an image device, no hot-add)",
      not any(caps.values()), caps)
check("a client is served in the sandbox", cfg_read(a) == 0xa826144d,
      "%r %s" % (cfg_read(a), s.stderr()))
check("SIGTERM: clean exit", s.stop() == 0, s.stderr())
check("SIGTERM: socket removed by the dropped user", not os.path.exists(a))

# ---- a dump at exit of a device pci.ids does not name ------------------------
# (libpci then reads its ID cache, finding home through getpwuid: NSS opens
# sockets - forbidden in the loop unless done before the filter)
unknown = os.path.join(rootdir, "unknown.lspci-x4.txt")
with open(NVME) as f, open(unknown, "w") as out:
    for line in f:
        if line.startswith("00: 4d 14 26 a8"):
            line = "00: 34 12 e8 11" + line[len("00: 4d 14 26 a8"):]
        out.write(line)
dumpdir = tempfile.mkdtemp()  # a directory of its own: the dump's rule
dump = os.path.join(dumpdir, "unknown.dump")
u = os.path.join(rootdir, "u.sock")
spec = unknown + ",sizes=" + NVME.replace("lspci-x4", "lspci-vvv")
s = Serve([spec, "--vfio-user", u, "--dump-guest", dump])  # no --user: its
# getpwnam would have warmed NSS up already
check("serves a device pci.ids does not name", s.ready, s.stderr())
rc = s.stop()
check("its dump is written at exit inside the sandbox",
      rc == 0 and os.path.exists(dump) and "1234 Device 11e8" in open(dump).read(),
      "%r %s" % (rc, s.stderr()))

# ---- a control socket: CAP_IPC_LOCK kept, hot-add works ----------------------
ctl = os.path.join(rootdir, "ctl.sock")
hot = os.path.join(rootdir, "hot.sock")
s = Serve(["--control", ctl])
check("serves a control socket", s.ready, s.stderr())
st = status(s.p.pid)
check("with hot-add: Seccomp 2, NoNewPrivs 1",
      st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "1", st)
# VFIO pins guest RAM; a Xen build may hot-add a Xen device (ptdm-xen-dm),
# whose sysfs config reads need CAP_SYS_ADMIN past 64 bytes
want = CAP_IPC_LOCK | (CAP_SYS_ADMIN if os.environ.get("PTDM_HAVE_XEN") == "1"
                       else 0)
check("with hot-add: CAP_IPC_LOCK (and CAP_SYS_ADMIN with Xen) only",
      int(st["CapEff"], 16) == want and int(st["CapPrm"], 16) == want and
      int(st["CapBnd"], 16) == want,
      (st["CapEff"], st["CapPrm"], st["CapBnd"], hex(want)))
r = ctl_cmd(ctl, "device-add", spec=NVME, id="hot", **{"vfio-user": hot})
check("device-add after the sandbox", r.get("return", {}).get("id") == "hot",
      "%r %s" % (r, s.stderr()))
check("the hot-added device is served", cfg_read(hot) == 0xa826144d,
      s.stderr())
check("quit", ctl_cmd(ctl, "quit").get("return") == {} and s.wait() == 0,
      s.stderr())

# ---- a forbidden syscall from inside the loop --------------------------------
b = os.path.join(tmp, "b.sock")
s = Serve([NVME, "--vfio-user", b], {"PTDM_TEST_FORBIDDEN_SYSCALL": "execve"})
rc = s.wait()
check("forbidden execve from the loop: killed (status 159)", rc == 159,
      "%r %s" % (rc, s.stderr()))
check("the kill names the syscall", "forbidden syscall execve" in s.stderr(),
      s.stderr())
if os.path.exists(b):
    os.unlink(b)

s = Serve([NVME, "--vfio-user", b], {"PTDM_TEST_FORBIDDEN_SYSCALL": "ioctl"})
time.sleep(0.5)
check("forbidden ioctl from the loop: refused with EPERM",
      "refused ioctl request 0x5411" in s.stderr() and
      "TIOCOUTQ) from the loop: Operation not permitted" in s.stderr(),
      s.stderr())
check("after a refused ioctl the loop still serves",
      s.p.poll() is None and cfg_read(b) == 0xa826144d, s.stderr())
check("refused ioctl: clean exit", s.stop() == 0, s.stderr())

# ---- --sandbox=off: loud, unfiltered ------------------------------------------
s = Serve([NVME, "--vfio-user", b, "--sandbox=off"],
          {"PTDM_TEST_FORBIDDEN_SYSCALL": "execve"})
check("--sandbox=off serves", s.ready, s.stderr())
time.sleep(0.5)
st = status(s.p.pid) if s.p.poll() is None else {}
check("--sandbox=off warns", "WARNING: --sandbox=off" in s.stderr(), s.stderr())
check("--sandbox=off: no filter (Seccomp: 0)", st.get("Seccomp") == "0", st)
check("--sandbox=off: the same execve is not stopped (it fails ENOENT)",
      "execve from the loop: No such file or directory" in s.stderr() and
      s.p.poll() is None, s.stderr())
check("--sandbox=off: clean exit", s.stop() == 0, s.stderr())

# ---- the file system: Landlock -------------------------------------------------
def kernel_landlock_abi():
    """The kernel's own answer: landlock_create_ruleset(NULL, 0, VERSION)."""
    nr = {"x86_64": 444, "aarch64": 444}.get(platform.machine())
    if nr is None:
        return 0
    v = ctypes.CDLL(None, use_errno=True).syscall(nr, None, 0, 1)
    return v if v > 0 else 0


def trigger(args, what):
    s = Serve(args, {"PTDM_TEST_FORBIDDEN_SYSCALL": what, "PTDM_LOG": "info"})
    for _ in range(50):
        if "from the loop:" in s.stderr() or s.p.poll() is not None:
            break
        time.sleep(0.1)
    return s


abi = kernel_landlock_abi()
if not abi:
    print("SKIP the Landlock checks: this kernel has no Landlock")
else:
    c = os.path.join(rootdir, "c.sock")
    s = trigger([NVME, "--vfio-user", c], "open:/etc/hostname")
    check("the log line names Landlock and the kernel's ABI",
          "files by Landlock ABI %d" % abi in s.stderr(), s.stderr())
    check("static server: the loop cannot read /etc/hostname",
          "open(/etc/hostname) from the loop: Permission denied" in s.stderr(),
          s.stderr())
    check("static server: still serving after the refusal",
          s.p.poll() is None and cfg_read(c) == 0xa826144d, s.stderr())
    check("static server: clean exit, socket removed",
          s.stop() == 0 and not os.path.exists(c), s.stderr())
    s = trigger([NVME, "--vfio-user", c], "open:/dev/null")
    check("static server: /dev/null opens (the reserve fd)",
          "open(/dev/null) from the loop: allowed" in s.stderr(), s.stderr())
    s.stop()
    s = trigger([NVME, "--vfio-user", c, "--sandbox=off"], "open:/etc/hostname")
    check("--sandbox=off: the loop reads /etc/hostname",
          "open(/etc/hostname) from the loop: allowed" in s.stderr(), s.stderr())
    s.stop()

    other = tempfile.mkdtemp()
    ctl = os.path.join(rootdir, "ctl2.sock")
    s = trigger(["--control", ctl], "create:" + os.path.join(other, "x"))
    check("control socket: no file created outside its directory",
          "from the loop: Permission denied" in s.stderr() and
          not os.path.exists(os.path.join(other, "x")), s.stderr())
    r = ctl_cmd(ctl, "device-add", spec=NVME, id="e",
                **{"vfio-user": os.path.join(other, "e.sock")})
    check("control socket: no socket made outside its directory",
          "error" in r and "control socket's directory" in r["error"]["desc"]
          and not os.path.exists(os.path.join(other, "e.sock")),
          r)
    r = ctl_cmd(ctl, "device-add", spec=NVME, id="d",
                **{"vfio-user": os.path.join(rootdir, "d.sock")})
    check("control socket: an image anywhere is read (device-add)",
          r.get("return", {}).get("id") == "d", "%r %s" % (r, s.stderr()))
    bad = os.path.join(other, "d.state")
    r = ctl_cmd(ctl, "device-save", id="d", file=bad)
    check("control socket: device-save outside its directory refused, "
          "nothing written",
          "error" in r and "Permission denied" in r["error"].get("desc", "")
          and not os.path.exists(bad), r)
    good = os.path.join(rootdir, "d.state")
    r = ctl_cmd(ctl, "device-save", id="d", file=good)
    check("control socket: device-save in its directory",
          "return" in r and os.path.getsize(good) > 0, r)
    check("control socket: quit", ctl_cmd(ctl, "quit").get("return") == {}
          and s.wait() == 0, s.stderr())
    if abi >= 4:
        s = trigger(["--control", ctl], "tcp")
        check("control socket: no TCP connect (Landlock ABI 4+)",
              "TCP connect from the loop: Permission denied" in s.stderr(),
              s.stderr())
        s.stop()
        s = trigger(["--control", ctl, "--sandbox=off"], "tcp")
        check("--sandbox=off: the same TCP connect reaches the stack",
              "TCP connect from the loop: Connection refused" in s.stderr(),
              s.stderr())
        s.stop()
    s = trigger(["--control", ctl], "create:" + os.path.join(rootdir, "y"))
    check("control socket: files are created in its directory",
          "from the loop: allowed" in s.stderr() and
          os.path.exists(os.path.join(rootdir, "y")), s.stderr())
    s.stop()

# ---- usage ---------------------------------------------------------------------
s = Serve([NVME, "--vfio-user", b, "--user", "no-such-user-ptdm"])
rc = s.wait()
check("--user with no such user: an error", not s.ready and rc not in (0, None),
      "%r %s" % (rc, s.stderr()))
s = Serve([NVME, "--vfio-user", b, "--sandbox=maybe"])
check("--sandbox=maybe: a usage error", s.wait() == 2, s.stderr())

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
