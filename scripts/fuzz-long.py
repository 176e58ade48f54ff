#!/usr/bin/env python3
"""fuzz-long.py - run one libFuzzer target until it has used N CPU-seconds.

The machine is shared, so wall time says little: the target runs in chunks
(-max_total_time), each chunk's user+system time is read from rusage, and
chunks repeat until the sum reaches the budget.  New inputs go to a work
corpus; at the end they are merged (-merge=1, so only inputs that add
coverage) into the seed corpus in the tree.  After each chunk a line goes to
DIR/progress, so a run cut short still says how far it got.  Prints one
summary line:

    TARGET cpu=S execs=N cov=C ft=F found=K

usage: fuzz-long.py BIN SEED_CORPUS CPU_SECONDS [--work DIR] [--nice N]
A crash stops the run; the reproducer is left in --work (crash-*) and the
exit status is 1.
"""
import argparse
import os
import re
import resource
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("seed")
ap.add_argument("cpu", type=float)
ap.add_argument("--work", default=None)
ap.add_argument("--nice", type=int, default=19)
ap.add_argument("--chunk", type=int, default=600, help="wall seconds a chunk")
a = ap.parse_args()

name = os.path.basename(a.bin)
work = a.work or f"/tmp/fuzz-long-{name}"
corpus = os.path.join(work, "corpus")
os.makedirs(corpus, exist_ok=True)
log = open(os.path.join(work, "log"), "a")

used = execs = 0.0
cov = ft = "?"
status = 0
while used < a.cpu:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    left = a.cpu - used
    cmd = ["nice", "-n", str(a.nice), a.bin, corpus, a.seed,
           f"-max_total_time={int(min(a.chunk, max(left, 10)))}",
           "-rss_limit_mb=2048", "-timeout=25", "-max_len=16384",
           "-print_final_stats=1", "-error_exitcode=1",
           f"-artifact_prefix={work}/"]
    p = subprocess.run(cmd, cwd=work, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, errors="replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    log.write(p.stderr[-20000:])
    log.flush()
    m = re.search(r"stat::number_of_executed_units:\s+(\d+)", p.stderr)
    if m:
        execs += int(m.group(1))
    for m in re.finditer(r"cov: (\d+) ft: (\d+)", p.stderr):
        cov, ft = m.group(1), m.group(2)
    with open(os.path.join(work, "progress"), "a") as f:
        f.write(f"cpu={used:.0f} execs={int(execs)} cov={cov} ft={ft}\n")
    if p.returncode != 0:
        status = 1
        print(f"{name}: stopped with status {p.returncode}; see {work}/log",
              file=sys.stderr)
        break

before = len(os.listdir(a.seed))
subprocess.run(["nice", "-n", str(a.nice), a.bin, "-merge=1", a.seed, corpus,
                "-rss_limit_mb=2048", "-timeout=25", "-max_len=16384"],
               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
added = len(os.listdir(a.seed)) - before
print(f"{name} cpu={used:.0f} execs={int(execs)} cov={cov} ft={ft} "
      f"merged={added} status={status}")
sys.exit(status)
