#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Hostile clients and isolation against a private numakeepd.
#
#   hostile_test.py NUMAKEEPD NUMAKEEP LIBNUMAKEEP CASE
#
# The daemon runs on a socket in a fresh temporary directory with
# cgroup_root an empty directory beside it: no cgroup is ever written.
# Short limits come from its config file (message_timeout_ms, the per-uid
# cap). Cases:
#   clients    oversize, half-sent then silent, garbage, wrong version,
#              descriptors passed (SCM_RIGHTS), a flood above the per-uid
#              cap. Each offender is dropped within its timeout and logged
#              once; a well-behaved client beside them is served on time;
#              the daemon holds no more descriptors at the end than before.
#   isolation  an unprivileged user's `numakeep ps`/`show` see only its own
#              processes; a runtime does not obey a socket owned by
#              another uid (a fake daemon run as nobody sending Rebind);
#              the socket and its directory have the least permissions.
#   startup    the socket's directory read-only, full (no inode left), or
#              not writable by the caller: numakeepd exits 1 at start with
#              one line naming the path and the reason. The read-only and
#              full tmpfs are mounted in a private mount namespace
#              (unshare -m), so the host's mounts are never touched.
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common"))
from nk_daemon import PrivateDaemon  # noqa: E402
from nk_check import check, failed  # noqa: E402
from nk_wire import (HEADER_FMT, MAGIC, QUERY_SHOW_FMT, REBIND_FMT, VERSION, MsgType,  # noqa: E402
                     frame, hello_payload, mask, recv_frame)

NUMAKEEPD, NUMAKEEP, LIBNUMAKEEP, CASE = sys.argv[1:5]
MESSAGE_TIMEOUT_MS = 300
PER_UID_CAP = 12
ON_TIME_S = 0.5  # a well-behaved client's answer must come within this


def closed_within(s, timeout):
    """True when the peer closes the connection within `timeout` seconds
    (everything it sends before is read and ignored)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


def start_daemon(tmp):
    """Short message timeout and per-uid cap, so offenders are dropped fast."""
    return PrivateDaemon(NUMAKEEPD, tmp, f"message_timeout_ms = {MESSAGE_TIMEOUT_MS}\n"
                         f"max_connections_per_uid = {PER_UID_CAP}\n")


def status_on_time(d, well, what):
    """The well-behaved client's QueryStatus is answered within ON_TIME_S."""
    t0 = time.monotonic()
    well.sendall(frame(MsgType.QueryStatus))
    try:
        f = recv_frame(well, ON_TIME_S)
    except socket.timeout:
        f = None
    dt = time.monotonic() - t0
    check(f is not None and f[0] == MsgType.StatusReply and dt <= ON_TIME_S,
          f"well-behaved client served during {what} ({dt * 1000:.1f} ms)")


def logged_once(d, text, what):
    n = d.log().count(text)
    check(n == 1, f"{what}: logged once ('{text}' x{n})")


def case_clients():
    tmp = tempfile.mkdtemp(prefix="numakeep-hostile-")
    d = start_daemon(tmp)
    try:
        fds_before = d.fds()
        well = d.connect()
        status_on_time(d, well, "nothing")
        agent = d.connect()  # a well-behaved agent, welcomed
        agent.sendall(frame(MsgType.Hello, hello_payload(os.getpid())))
        f = recv_frame(agent, 2)
        check(f is not None and f[0] == MsgType.Welcome, "a well-behaved agent is welcomed")
        tried = dropped = 0

        # 1. Oversize: a header announcing 1 GiB, then a burst of bytes.
        tried += 1
        s = d.connect()
        s.sendall(frame(MsgType.QueryStatus, size=1 << 30))
        try:
            s.sendall(b"\0" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
        ok = closed_within(s, 1.0)
        dropped += ok
        check(ok, "oversize message (payload_size 1 GiB) dropped at once")
        logged_once(d, "payload size does not match its type, type 42", "oversize")
        status_on_time(d, well, "an oversize message")

        # 2. Half a frame, then silence.
        tried += 1
        s = d.connect()
        t0 = time.monotonic()
        s.sendall(frame(MsgType.QueryShow, struct.pack(QUERY_SHOW_FMT, 1, 0))[:10])
        status_on_time(d, well, "a half-sent frame")
        ok = closed_within(s, 3.0)
        dt = time.monotonic() - t0
        dropped += ok
        check(ok and dt >= MESSAGE_TIMEOUT_MS / 1000 * 0.9,
              f"half-sent frame dropped after the {MESSAGE_TIMEOUT_MS} ms timeout ({dt * 1000:.0f} ms)")
        logged_once(d, f"half-sent frame for more than {MESSAGE_TIMEOUT_MS} ms", "half-sent frame")

        # 3. Garbage.
        tried += 1
        s = d.connect()
        s.sendall(os.urandom(4096).replace(struct.pack("<I", MAGIC), b"xxxx"))
        ok = closed_within(s, 1.0)
        dropped += ok
        check(ok, "garbage dropped at once")
        logged_once(d, "malformed frame (bad magic", "garbage")
        status_on_time(d, well, "garbage")

        # 4. A wrong protocol version.
        tried += 1
        s = d.connect()
        s.sendall(frame(MsgType.QueryStatus, version=VERSION + 1))
        ok = closed_within(s, 1.0)
        dropped += ok
        check(ok, "wrong protocol version dropped at once")
        logged_once(d, f"unsupported protocol version, type 42, version {VERSION + 1}",
                    "wrong version")
        status_on_time(d, well, "a wrong protocol version")

        # 5. Descriptors passed where none are expected, with a valid frame.
        tried += 1
        marker = os.path.join(tmp, "passed-descriptor-marker")
        with open(marker, "w") as mf:
            s = d.connect()
            s.sendmsg([frame(MsgType.QueryStatus)],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", mf.fileno()))])
        ok = closed_within(s, 1.0)
        dropped += ok
        check(ok, "descriptor passed with SCM_RIGHTS: dropped")
        logged_once(d, "passed file descriptors", "SCM_RIGHTS")
        check(marker not in d.fds(), "the passed descriptor is not kept open in the daemon")
        status_on_time(d, well, "a passed descriptor")

        # 6. A flood of connections above the per-uid cap (well and agent hold two).
        tried += 1
        flood = [d.connect() for _ in range(3 * PER_UID_CAP)]
        refused = sum(closed_within(s, 0.2) for s in flood)
        expect = 3 * PER_UID_CAP - (PER_UID_CAP - 2)
        dropped += refused == expect
        check(refused == expect, f"flood of {len(flood)}: {refused} refused (cap {PER_UID_CAP}, "
              f"{expect} expected)")
        logged_once(d, "refused: limit reached", "flood")
        status_on_time(d, well, "a flood at the per-uid cap")
        for s in flood:
            s.close()
        time.sleep(0.3)
        again = d.connect()
        again.sendall(frame(MsgType.QueryStatus))
        f = recv_frame(again, 2)
        check(f is not None and f[0] == MsgType.StatusReply, "served again once the flood is gone")
        again.close()

        check(d.proc.poll() is None, "the daemon is still running")
        well.close()
        agent.close()
        time.sleep(0.5)
        fds_after = d.fds()
        check(fds_after == fds_before, f"no descriptor leaked ({len(fds_before)} before, "
              f"{len(fds_after)} after)")
        print(f"hostile cases tried: {tried}, dropped as required: {dropped}")
    finally:
        d.stop()
        if failed():
            print("---- numakeepd log ----\n" + open(d.log_path).read())
        shutil.rmtree(tmp, ignore_errors=True)


def as_nobody(args, **kw):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + args,
                          capture_output=True, text=True, timeout=30, **kw)


def case_isolation():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("not root or no setpriv: isolation needs both")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="numakeep-isolation-")
    os.chmod(tmp, 0o755)
    d = start_daemon(tmp)
    workers = []
    try:
        # Permissions the daemon gives what it creates.
        st_dir = os.stat(os.path.dirname(d.sock))
        st_sock = os.stat(d.sock)
        check(st_dir.st_uid == 0 and (st_dir.st_mode & 0o7777) == 0o755,
              f"socket directory root-owned 0755 ({oct(st_dir.st_mode & 0o7777)})")
        check(st_sock.st_uid == 0 and (st_sock.st_mode & 0o7777) == 0o666,
              f"socket root-owned 0666, every user may connect, none may replace it "
              f"({oct(st_sock.st_mode & 0o7777)})")

        # Copies every user can execute (the build tree may not be reachable).
        cli = os.path.join(tmp, "numakeep")
        lib = os.path.join(tmp, "libnumakeep.so")
        shutil.copy(NUMAKEEP, cli)
        shutil.copy(LIBNUMAKEEP, lib)
        os.chmod(cli, 0o755)
        os.chmod(lib, 0o755)
        env = dict(os.environ, NUMAKEEP_SOCKET=d.sock, NUMAKEEP_PRELOAD=lib)
        # A sanitizer build (tools/test-sanitizers): `run` preloads the
        # sanitized runtime into `sleep`, which needs the sanitizer's runtime
        # ahead of it; run appends libnumakeep.so after LD_PRELOAD's own.
        prefix = os.environ.get("NUMAKEEP_TEST_PRELOAD_PREFIX", "")
        if prefix:
            env["LD_PRELOAD"] = prefix
        root_w = subprocess.Popen([cli, "run", "--interleave=all", "--", "sleep", "30"], env=env)
        nobody_w = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     cli, "run", "--interleave=all", "--", "sleep", "30"], env=env)
        workers += [root_w, nobody_w]
        want = {root_w.pid, nobody_w.pid}
        listed = set()
        for _ in range(200):
            r = subprocess.run([cli, "ps", "--json"], env=env, capture_output=True, text=True)
            listed = {p["pid"] for p in json.loads(r.stdout or "{}").get("processes", [])}
            if want <= listed:
                break
            time.sleep(0.05)
        check(want <= listed, f"root's ps lists both users' processes ({sorted(listed)})")
        r = as_nobody([cli, "ps", "--json"], env=env)
        seen = [p["pid"] for p in json.loads(r.stdout or "{}").get("processes", [])]
        check(r.returncode == 0 and seen == [nobody_w.pid],
              f"nobody's ps lists only nobody's process ({seen})")
        r = as_nobody([cli, "show", str(root_w.pid)], env=env)
        check(r.returncode == 4 and "another user" in r.stderr,
              f"nobody's show of root's process: permission denied (exit {r.returncode})")
        r = as_nobody([cli, "show", str(nobody_w.pid), "--json"], env=env)
        check(r.returncode == 0 and json.loads(r.stdout or "{}").get("threads"),
              f"nobody's show of its own process works (exit {r.returncode})")

        # A socket at the configured path owned by nobody: the runtime must
        # not obey it. The fake daemon (run as nobody) sends Rebind on accept.
        fake_dir = os.path.join(tmp, "fake")
        os.mkdir(fake_dir)
        os.chown(fake_dir, 65534, 65534)
        fake_sock = os.path.join(fake_dir, "numakeepd.sock")
        report = os.path.join(fake_dir, "report")
        fake_src = (
            "import socket, struct, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            f"s.bind({fake_sock!r}); s.listen(4); s.settimeout(8)\n"
            "got = b''\n"
            "try:\n"
            "    c, _ = s.accept()\n"
            f"    mems = {mask([0])!r}\n"
            f"    body = struct.pack({REBIND_FMT!r}, 99, 0, 0) + mems\n"
            f"    c.sendall(struct.pack({HEADER_FMT!r}, {MAGIC}, {VERSION}, {int(MsgType.Rebind)},"
            " len(body), 1) + body)\n"
            "    c.settimeout(3)\n"
            "    while True:\n"
            "        b = c.recv(4096)\n"
            "        if not b: break\n"
            "        got += b\n"
            "except Exception:\n"
            "    pass\n"
            f"open({report!r}, 'w').write(str(len(got)))\n")
        fake = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 sys.executable, "-c", fake_src])
        for _ in range(300):
            if os.path.exists(fake_sock):
                break
            time.sleep(0.01)
        check(os.stat(fake_sock).st_uid == 65534, "fake daemon's socket is owned by nobody")
        r = subprocess.run([cli, "run", "--interleave=all", "--", "sleep", "2"],
                           env=dict(env, NUMAKEEP_SOCKET=fake_sock, NUMAKEEP_DEBUG="1"),
                           capture_output=True, text=True, timeout=30)
        fake.wait(timeout=20)
        got = int(open(report).read() or "0") if os.path.exists(report) else -1
        check(r.returncode == 0, f"the program under a hostile socket ran normally (exit {r.returncode})")
        check("not obeying" in r.stderr, f"the runtime says it does not obey the socket ({r.stderr.strip()!r})")
        check(got == 0, f"the runtime sent nothing to the fake daemon (no Hello, no RebindDone: {got} bytes)")
    finally:
        for w in workers:
            w.kill()
            w.wait()
        d.stop()
        if failed():
            print("---- numakeepd log ----\n" + open(d.log_path).read())
        shutil.rmtree(tmp, ignore_errors=True)


def start_error(cmd, what, expect):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 1 and len(lines) == 1 and expect in lines[0],
          f"{what}: exit {r.returncode}, {lines!r}")


def case_startup():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        print("not root, or no unshare/setpriv")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="numakeep-startup-")
    os.chmod(tmp, 0o755)
    try:
        args = f"{NUMAKEEPD} --config {tmp}/absent.conf --socket {tmp}/mnt/run/numakeepd.sock"
        os.mkdir(os.path.join(tmp, "mnt"))
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if probe.returncode != 0:
            print("unshare -m refused here: read-only and full cases not checked")
        else:
            start_error(["unshare", "-m", "sh", "-c",
                         f"mount -t tmpfs -o ro,size=64k tmpfs {tmp}/mnt && exec {args}"],
                        "read-only /run", f"mkdir {tmp}/mnt/run: Read-only file system")
            start_error(["unshare", "-m", "sh", "-c",
                         f"mount -t tmpfs -o size=64k,nr_inodes=2 tmpfs {tmp}/mnt && "
                         f"mkdir {tmp}/mnt/run && exec {args}"],
                        "full /run", "No space left on device")
        start_error(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + args.split(),
                    "socket directory not writable", f"mkdir {tmp}/mnt/run: Permission denied")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


{"clients": case_clients, "isolation": case_isolation, "startup": case_startup}[CASE]()
sys.exit(1 if failed() else 0)
