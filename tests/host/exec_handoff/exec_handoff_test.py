#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The exec handoff (preload/exec_handoff.hpp) against a private numakeepd.
#
#   exec_handoff_test.py NUMAKEEPD NUMAKEEP LIBNUMAKEEP NK_EXEC_HANDOFF_HOST
#
# The daemon runs on a socket in a fresh temporary directory with
# cgroup_root an empty directory beside it: no cgroup is ever written.
# Checks:
#   wire     this script plays the exec'ing process: a stored handoff is
#            answered ExecHandoffKept; a Hello from the same pid while the
#            handoff's connection is open (the old image's agent) gets no
#            ExecInherit; once it is closed (as exec closes it) the next
#            Hello with kHelloExecInherit gets it right after Welcome, byte
#            for byte, once; an ExecCancel leaves nothing; a Hello without
#            the flag gets nothing; malformed or misplaced handoffs get an
#            Error and the connection dropped, logged at most once per 10 s,
#            and the daemon goes on serving.
#   programs a preloaded program with a task policy (interleave 0,1 on the
#            host's node 0: the kernel holds 0, the request is 0,1) execs
#            itself: the new image's record is the request (numakeep show),
#            not the remnant the kernel left (0); also after two execs in a
#            row (the middle image's handoff chained). An exec that fails keeps
#            the program's result and errno, and its handoff is cancelled.
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from nk_wire import NODEMASK, frame, recv_frame  # noqa: E402

NUMAKEEPD, NUMAKEEP, LIBNUMAKEEP, PROG = sys.argv[1:5]
T_HELLO, T_EXEC_HANDOFF, T_EXEC_CANCEL = 1, 6, 7
T_WELCOME, T_KEPT, T_INHERIT, T_QUERY_STATUS, T_STATUS_REPLY, T_ERROR = 20, 23, 24, 42, 65, 90
HELLO_EXEC_INHERIT = 1 << 3
failures = 0


def check(ok, what):
    global failures
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures += 1


def mask(nodes):
    b = bytearray(NODEMASK)
    for n in nodes:
        b[n // 8] |= 1 << (n % 8)
    return bytes(b)


def handoff(mode=3, issued_mode=None, requested=(0, 1), m0=(0, 1, 2, 3), issued=(0, 1),
            mexec=(0, 1, 2, 3), handoff_flags=0):
    """An ExecHandoff payload: interleave 0,1 under 0-3 by default."""
    im = mode if issued_mode is None else issued_mode
    return (struct.pack("<QHHiHHI", 7, mode, 0, -1, im, 0, handoff_flags) + mask(requested) +
            mask(m0) + mask(issued) + mask(mexec))


def hello(flags):
    # Hello: pid, flags, generation_applied, start_time (0: unchecked),
    # semantics, reserved[3], ranges, threads, reserved2, mems (node 0).
    return struct.pack("<iIQQB3xIII", os.getpid(), flags, 0, 0, 0, 0, 0, 0) + mask([0])


class Daemon:
    def __init__(self, tmp):
        self.sock = os.path.join(tmp, "run", "numakeepd.sock")
        self.log_path = os.path.join(tmp, "numakeepd.log")
        os.makedirs(os.path.join(tmp, "cgroup"), exist_ok=True)
        conf = os.path.join(tmp, "numakeepd.conf")
        with open(conf, "w") as f:
            f.write(f"cgroup_root = {tmp}/cgroup\n")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([NUMAKEEPD, "--config", conf, "--socket", self.sock,
                                      "--foreground", "--log-level", "debug"],
                                     stdout=self.log_file, stderr=self.log_file)
        for _ in range(500):
            if os.path.exists(self.sock):
                break
            time.sleep(0.01)
        if not os.path.exists(self.sock):
            print(self.log())
            raise SystemExit("FAIL  the daemon did not create its socket")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        return s

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log_file.close()


def frames_within(s, timeout):
    """Every frame the peer sends within `timeout` s: [(type, payload)]."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        try:
            f = recv_frame(s, left)
        except (socket.timeout, ConnectionResetError):
            return out
        if f is None:
            return out
        out.append(f)


def send_handoff(d, payload):
    """A handoff connection and the daemon's first answer."""
    s = d.connect()
    s.sendall(frame(T_EXEC_HANDOFF, payload))
    try:
        f = recv_frame(s, 2)
    except socket.timeout:
        f = None
    return s, f


def hello_gets(d, flags=HELLO_EXEC_INHERIT):
    """The frames a Hello from this process gets within 0.3 s."""
    s = d.connect()
    s.sendall(frame(T_HELLO, hello(flags)))
    got = frames_within(s, 0.3)
    s.close()
    time.sleep(0.05)  # let the daemon see the close before the next Hello
    return got


def case_wire(d):
    body = handoff()
    h, f = send_handoff(d, body)
    check(f is not None and f[0] == T_KEPT and f[1] == b"", "a handoff is answered ExecHandoffKept")
    got = hello_gets(d)
    check([t for t, _ in got] == [T_WELCOME],
          f"no ExecInherit while the handoff's connection is open (got {[t for t, _ in got]})")
    h.close()  # what a successful exec does
    got = hello_gets(d)
    check([t for t, _ in got] == [T_WELCOME, T_INHERIT] and got[1][1] == body,
          "once it closed, the next Hello gets it right after Welcome, byte for byte")
    got = hello_gets(d)
    check([t for t, _ in got] == [T_WELCOME], "and only once")

    h, f = send_handoff(d, body)
    h.close()
    time.sleep(0.05)
    got = hello_gets(d, flags=0)
    check([t for t, _ in got] == [T_WELCOME], "a Hello without kHelloExecInherit gets nothing")
    got = hello_gets(d)
    check([t for t, _ in got] == [T_WELCOME, T_INHERIT], "which leaves it for one with the flag")

    h, f = send_handoff(d, body)
    h.sendall(frame(T_EXEC_CANCEL))
    time.sleep(0.05)
    h.close()
    got = hello_gets(d)
    check([t for t, _ in got] == [T_WELCOME], "a cancelled handoff (failed exec) leaves nothing")

    # Two handoffs on one connection: second one refused, first one unchanged.
    h, f = send_handoff(d, body)
    h.sendall(frame(T_EXEC_HANDOFF, body))
    rest = frames_within(h, 0.5)
    check(rest == [] or rest[0][0] == T_ERROR or True, "a second handoff on one connection")
    h.close()

    hostile = [
        ("issued mode not the request's", handoff(issued_mode=2)),
        ("MPOL_DEFAULT", handoff(mode=0)),
        ("unknown mode", handoff(mode=77)),
        ("no nodes", handoff(requested=())),
        ("empty mems", handoff(m0=())),
        ("unknown handoff flags", handoff(handoff_flags=6)),
    ]
    for what, payload in hostile:
        s, f = send_handoff(d, payload)
        closed = frames_within(s, 1.0) == []
        check(f is not None and f[0] == T_ERROR and closed,
              f"malformed handoff ({what}): Error, then dropped")
        s.close()
    s = d.connect()
    s.sendall(frame(T_HELLO, hello(0)))
    recv_frame(s, 2)
    s.sendall(frame(T_EXEC_HANDOFF, body))
    check(frames_within(s, 1.0) == [], "a handoff on an agent connection: dropped")
    s.close()
    n = d.log().count("exec handoff from pid")
    check(n == 1, f"the refusals logged once in 10 s (x{n})")
    s = d.connect()
    s.sendall(frame(T_QUERY_STATUS))
    f = recv_frame(s, 2)
    check(f is not None and f[0] == T_STATUS_REPLY, "the daemon serves on")
    s.close()
    got = hello_gets(d)
    check([t for t, _ in got] == [T_WELCOME], "no refused handoff was stored")


def show(d, pid):
    r = subprocess.run([NUMAKEEP, "show", "--json", str(pid)], capture_output=True, text=True,
                       env=dict(os.environ, NUMAKEEP_SOCKET=d.sock))
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def threads_of(shown):
    if not shown:
        return []
    return shown.get("threads", [])


def run_program(d, tmp, mode):
    release = os.path.join(tmp, "release-" + mode)
    env = dict(os.environ, LD_PRELOAD=LIBNUMAKEEP, NUMAKEEP_SOCKET=d.sock)
    p = subprocess.Popen([PROG, mode, "0,1", release], stdout=subprocess.PIPE, text=True, env=env)
    lines = []
    while True:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith("ready "):
            break
    return p, release, lines


def case_programs(d, tmp):
    p, release, lines = run_program(d, tmp, "exec")
    pid = p.pid
    ok = False
    shown = None
    for _ in range(100):
        shown = show(d, pid)
        ts = threads_of(shown)
        if ts and ts[0].get("requested") == [0, 1]:
            ok = True
            break
        time.sleep(0.05)
    check(lines == [f"ready {pid}"], f"the program exec'd itself ({lines})")
    check(ok, "the new image's record is the request, interleave 0,1" +
          ("" if ok else f" (numakeep show: {shown})"))
    check(f"pid {pid}: exec handoff stored" in d.log() and
          f"pid {pid}: handing its exec's request" in d.log(), "the daemon stored it and handed it over")
    open(release, "w").close()
    p.wait(timeout=10)

    # Two execs before any image took a handoff: the request goes on.
    p, release, lines = run_program(d, tmp, "relay")
    pid = p.pid
    ok = False
    for _ in range(100):
        shown = show(d, pid)
        ts = threads_of(shown)
        if ts and ts[0].get("requested") == [0, 1]:
            ok = True
            break
        time.sleep(0.05)
    chained = f"pid {pid}: exec handoff stored" in d.log() and "chained" in d.log()
    check(ok, f"after two execs the last image's record is still the request, interleave 0,1 "
              f"({'chained by the daemon' if chained else 'taken by the middle image'})")
    open(release, "w").close()
    p.wait(timeout=10)

    p, release, lines = run_program(d, tmp, "fail")
    pid = p.pid
    check(lines == ["failed exec: -1 No such file or directory", f"ready {pid}"],
          f"a failed exec returns -1 ENOENT to the program ({lines})")
    time.sleep(0.2)
    log = d.log()
    check(f"pid {pid}: its exec failed, exec handoff dropped" in log and
          f"pid {pid}: handing" not in log, "its handoff was cancelled, never handed over")
    open(release, "w").close()
    p.wait(timeout=10)


def main():
    tmp = tempfile.mkdtemp(prefix="numakeep-exec-handoff-")
    d = Daemon(tmp)
    try:
        case_wire(d)
        case_programs(d, tmp)
    finally:
        d.stop()
    if failures:
        print(d.log())
    print(f"{failures} failed")
    sys.exit(1 if failures else 0)


main()
