#!/usr/bin/env python3
"""mistakes.py PTDM DUMPS_DIR - what `ptdm serve` says to the mistakes a
user makes (issue #14 §3): a socket path a live server holds is refused and
the first server keeps it; a stale socket file is replaced; --fd and
--mpqemu-fd on a closed fd or a non-socket fail with a clear error; SIGHUP
neither kills ptdm nor leaves its socket behind; SIGINT and SIGTERM remove
every socket.  Prints PASS/FAIL and "N passed, N failed".
"""
import os, signal, socket, subprocess, sys, tempfile, time

PTDM, DUMPS = sys.argv[1], sys.argv[2]
nvme = os.path.join(DUMPS, "samsung-a826-pm174x-nvme.lspci-x4.txt")
tmp = tempfile.mkdtemp()
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print("PASS" if ok else "FAIL", name, "" if ok else detail)


def serve(*args):
    p = subprocess.Popen([PTDM, "serve"] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p


def ready(p):
    return p.stdout.readline().strip() == "ptdm: ready"


def answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        hdr = bytes([1, 0, 1, 0, 16 + 4 + 3, 0, 0, 0]) + bytes(8)
        s.sendall(hdr + bytes(4) + b"{}\0")
        return len(s.recv(16)) == 16
    except OSError:
        return False
    finally:
        s.close()


sock = os.path.join(tmp, "a.sock")
first = serve(nvme, "--vfio-user", sock)
check("first server ready", ready(first))
second = serve(nvme, "--vfio-user", sock)
out, err = second.communicate(timeout=10)
check("a second server on a live socket is refused", second.returncode != 0
      and "listening there already" in err, err)
check("the first server still owns its socket", answers(sock))

first.send_signal(signal.SIGHUP)
time.sleep(0.3)
check("SIGHUP: still running", first.poll() is None)
check("SIGHUP: still serving", answers(sock))
first.send_signal(signal.SIGINT)
check("SIGINT: clean exit", first.wait(10) == 0)
check("SIGHUP: said so", "SIGHUP ignored" in first.stderr.read())
check("SIGINT: socket removed", not os.path.exists(sock))

# a stale socket file (nobody listening) is replaced
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sock)
s.close()
p = serve(nvme, "--vfio-user", sock)
check("a stale socket is replaced", ready(p) and answers(sock))
p.terminate()
check("SIGTERM: clean exit", p.wait(10) == 0 and not os.path.exists(sock))

for opt in ("--fd", "--mpqemu-fd"):
    p = serve(nvme, opt, "57")  # not open in the child
    out, err = p.communicate(timeout=10)
    check(opt + " on a closed fd: an error, non-zero exit",
          p.returncode != 0 and "not open" in err, (p.returncode, err))
    with open(nvme) as f:
        p = subprocess.Popen([PTDM, "serve", nvme, opt, str(f.fileno())],
                             pass_fds=[f.fileno()], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=10)
    check(opt + " on a file: an error, non-zero exit",
          p.returncode != 0 and "not a socket" in err, (p.returncode, err))

# the functions of a slot need one socket each, and a slot that has none
p = serve("0000:00:1f.*", "--fd", "0")
out, err = p.communicate(timeout=10)
check("BB:DD.* with --fd: refused, one socket each is needed",
      p.returncode != 0 and "one socket each" in err, err)
p = serve("00fe:1f:1f.*", "--vfio-user", os.path.join(tmp, "s{fn}.sock"))
out, err = p.communicate(timeout=10)
check("BB:DD.* of an empty slot: refused with a message",
      p.returncode != 0 and "00fe:1f:1f" in err and
      not any(n.startswith("s") for n in os.listdir(tmp)), err)

# a failing second device: the first one's socket is removed on the way out
a, b = os.path.join(tmp, "x.sock"), os.path.join(tmp, "y.sock")
p = serve(nvme, "--vfio-user", a, "/no/such/image", "--vfio-user", b)
out, err = p.communicate(timeout=10)
check("a bad device: non-zero exit, every socket removed",
      p.returncode != 0 and not os.path.exists(a) and not os.path.exists(b),
      err)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
