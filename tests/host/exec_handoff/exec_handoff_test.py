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
#            answered ExecHandoffStored; a Hello from the same pid while the
#            handoff's connection is open (the old image's agent) gets no
#            ExecHandoffDeliver; once it is closed (as exec closes it) the
#            next Hello with kHelloExecHandoff gets it right after Welcome,
#            byte for byte, once; an ExecHandoffCancel leaves nothing; a
#            Hello without the flag gets nothing; malformed or misplaced handoffs get an
#            Error and the connection dropped, logged at most once per 10 s,
#            and the daemon goes on serving.
#   programs a preloaded program with a task policy (interleave 0,1 on the
#            host's node 0: the kernel holds 0, the request is 0,1) execs
#            itself: the new image's record is the request (numakeep show),
#            not the remnant the kernel left (0); also after two execs in a
#            row (the middle image's handoff chained). An exec that fails keeps
#            the program's result and errno, and its handoff is cancelled.
#   trust    the same program against a socket this script serves and never
#            answers: owned by the daemon's uid, the exec sends its handoff
#            there; the socket file given to another uid (the peer still
#            the daemon's uid), neither the exec nor the agent sends a byte
#            and the runtime says it does not obey it (one connection path,
#            daemon_connection.hpp, for both).
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common"))
from nk_daemon import PrivateDaemon  # noqa: E402
from nk_check import check, failed  # noqa: E402
from nk_wire import (EXEC_HANDOFF_FMT, HEADER_FMT, HELLO_EXEC_HANDOFF, MsgType,  # noqa: E402
                     frame, hello_payload, mask, recv_frame)

NUMAKEEPD, NUMAKEEP, LIBNUMAKEEP, PROG = sys.argv[1:5]


def handoff(mode=3, issued_mode=None, requested=(0, 1), m0=(0, 1, 2, 3), issued=(0, 1),
            mexec=(0, 1, 2, 3), handoff_flags=0):
    """An ExecHandoff payload: interleave 0,1 under 0-3 by default."""
    im = mode if issued_mode is None else issued_mode
    return (struct.pack(EXEC_HANDOFF_FMT, 7, mode, 0, -1, im, 0, handoff_flags) + mask(requested) +
            mask(m0) + mask(issued) + mask(mexec))


def hello(flags):
    return hello_payload(os.getpid(), flags)


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
    s.sendall(frame(MsgType.ExecHandoff, payload))
    try:
        f = recv_frame(s, 2)
    except socket.timeout:
        f = None
    return s, f


def hello_gets(d, flags=HELLO_EXEC_HANDOFF):
    """The frames a Hello from this process gets within 0.3 s."""
    s = d.connect()
    s.sendall(frame(MsgType.Hello, hello(flags)))
    got = frames_within(s, 0.3)
    s.close()
    time.sleep(0.05)  # let the daemon see the close before the next Hello
    return got


def case_wire(d):
    body = handoff()
    h, f = send_handoff(d, body)
    check(f is not None and f[0] == MsgType.ExecHandoffStored and f[1] == b"",
          "a handoff is answered ExecHandoffStored")
    got = hello_gets(d)
    check([t for t, _ in got] == [MsgType.Welcome],
          "no ExecHandoffDeliver while the handoff's connection is open "
          f"(got {[t for t, _ in got]})")
    h.close()  # what a successful exec does
    got = hello_gets(d)
    check([t for t, _ in got] == [MsgType.Welcome, MsgType.ExecHandoffDeliver] and got[1][1] == body,
          "once it closed, the next Hello gets it right after Welcome, byte for byte")
    got = hello_gets(d)
    check([t for t, _ in got] == [MsgType.Welcome], "and only once")

    h, f = send_handoff(d, body)
    h.close()
    time.sleep(0.05)
    got = hello_gets(d, flags=0)
    check([t for t, _ in got] == [MsgType.Welcome], "a Hello without kHelloExecHandoff gets nothing")
    got = hello_gets(d)
    check([t for t, _ in got] == [MsgType.Welcome, MsgType.ExecHandoffDeliver],
          "which leaves it for one with the flag")

    h, f = send_handoff(d, body)
    h.sendall(frame(MsgType.ExecHandoffCancel))
    time.sleep(0.05)
    h.close()
    got = hello_gets(d)
    check([t for t, _ in got] == [MsgType.Welcome], "a cancelled handoff (failed exec) leaves nothing")

    # Two handoffs on one connection: second one refused, first one unchanged.
    h, f = send_handoff(d, body)
    h.sendall(frame(MsgType.ExecHandoff, body))
    rest = frames_within(h, 0.5)
    check(rest == [] or rest[0][0] == MsgType.Error or True, "a second handoff on one connection")
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
        check(f is not None and f[0] == MsgType.Error and closed,
              f"malformed handoff ({what}): Error, then dropped")
        s.close()
    s = d.connect()
    s.sendall(frame(MsgType.Hello, hello(0)))
    recv_frame(s, 2)
    s.sendall(frame(MsgType.ExecHandoff, body))
    check(frames_within(s, 1.0) == [], "a handoff on an agent connection: dropped")
    s.close()
    n = d.log().count("exec handoff from pid")
    check(n == 1, f"the refusals logged once in 10 s (x{n})")
    s = d.connect()
    s.sendall(frame(MsgType.QueryStatus))
    f = recv_frame(s, 2)
    check(f is not None and f[0] == MsgType.StatusReply, "the daemon serves on")
    s.close()
    got = hello_gets(d)
    check([t for t, _ in got] == [MsgType.Welcome], "no refused handoff was stored")


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


def shows_request(d, pid):
    """Waits up to 5 s for `numakeep show PID` to list its thread's request
    as interleave 0,1; returns (whether it did, the last answer)."""
    shown = None
    for _ in range(100):
        shown = show(d, pid)
        ts = threads_of(shown)
        if ts and ts[0].get("requested") == [0, 1]:
            return True, shown
        time.sleep(0.05)
    return False, shown


def run_program(d, tmp, mode):
    release = os.path.join(tmp, "release-" + mode)
    # Under ASan (tools/test-sanitizers) the sanitizer's runtime must come
    # before the sanitized libnumakeep.so: NUMAKEEP_TEST_PRELOAD_PREFIX.
    prefix = os.environ.get("NUMAKEEP_TEST_PRELOAD_PREFIX", "")
    preload = f"{prefix}:{LIBNUMAKEEP}" if prefix else LIBNUMAKEEP
    env = dict(os.environ, LD_PRELOAD=preload, NUMAKEEP_SOCKET=d.sock)
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
    ok, shown = shows_request(d, pid)
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
    ok, shown = shows_request(d, pid)
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


def serve_silently(path, ready, stop, got):
    """Listens on `path`, accepts everyone, answers nothing; `got` gets
    the bytes each connection sent."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    srv.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    conns = {}
    ready.set()
    while not stop.is_set():
        for key, _ in sel.select(0.05):
            if key.fileobj is srv:
                c, _ = srv.accept()
                c.setblocking(False)
                conns[c] = b""
                sel.register(c, selectors.EVENT_READ)
                continue
            c = key.fileobj
            try:
                b = c.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                b = b""
            if b:
                conns[c] += b
            else:
                sel.unregister(c)
    for c in conns:
        c.close()
    srv.close()
    got.extend(conns.values())


def run_against(tmp, owner):
    """The exec program against a silent socket whose file `owner` owns:
    (what each connection sent, the program's stderr)."""
    fake_dir = os.path.join(tmp, f"fake-{owner}")
    os.mkdir(fake_dir)
    path = os.path.join(fake_dir, "numakeepd.sock")
    ready, stop, got = threading.Event(), threading.Event(), []
    t = threading.Thread(target=serve_silently, args=(path, ready, stop, got))
    t.start()
    ready.wait(5)
    os.chown(path, owner, owner)
    release = os.path.join(fake_dir, "release")
    prefix = os.environ.get("NUMAKEEP_TEST_PRELOAD_PREFIX", "")
    preload = f"{prefix}:{LIBNUMAKEEP}" if prefix else LIBNUMAKEEP
    env = dict(os.environ, LD_PRELOAD=preload, NUMAKEEP_SOCKET=path, NUMAKEEP_DEBUG="1")
    p = subprocess.Popen([PROG, "exec", "0,1", release], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    p.stdout.readline()  # "ready PID": the exec is done
    time.sleep(0.3)      # the new image's agent tries too
    open(release, "w").close()
    _, err = p.communicate(timeout=20)
    stop.set()
    t.join()
    return got, err


def first_types(got):
    return sorted(struct.unpack(HEADER_FMT, b[:16])[2] for b in got if len(b) >= 16)


def case_trust(tmp):
    if os.geteuid() != 0:
        print("trust: skipped (giving a socket to another uid needs root)")
        return
    got, _ = run_against(tmp, 0)
    check(MsgType.ExecHandoff in first_types(got),
          f"a socket the daemon's uid owns gets the exec's handoff (first frames {first_types(got)})")
    got, err = run_against(tmp, 65534)
    check(got and all(b == b"" for b in got),
          f"a socket file another uid owns: the runtime connected and sent nothing "
          f"({[len(b) for b in got]} bytes a connection)")
    check("not obeying" in err, f"the runtime says it does not obey that socket ({err.strip()!r})")


def main():
    tmp = tempfile.mkdtemp(prefix="numakeep-exec-handoff-")
    d = PrivateDaemon(NUMAKEEPD, tmp, log_level="debug")
    try:
        case_wire(d)
        case_programs(d, tmp)
        case_trust(tmp)
    finally:
        d.stop()
    if failed():
        print(d.log())
    print(f"{failed()} failed")
    sys.exit(1 if failed() else 0)


main()
