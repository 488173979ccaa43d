#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# numakeepd out of file descriptors, against a private daemon.
#
#   emfile_test.py NUMAKEEPD
#
# The daemon runs on a socket in a fresh temporary directory with
# cgroup_root an empty directory beside it (no cgroup is written). A CLI
# connection and a registered agent connection are opened first; then the
# daemon's RLIMIT_NOFILE is lowered with prlimit(2) and connections flood
# in:
#   headroom   soft limit = open descriptors + 40: connections are accepted
#              until the last quarter of the limit (server.cpp in_headroom),
#              the rest are closed at once;
#   exhausted  soft limit below the descriptors already open: every accept
#              fails with EMFILE and the reserve descriptor sheds it.
# In both the existing connections are served on time (QueryStatus,
# QueryList naming the agent), the refusal is logged once, the daemon does
# not spin (CPU time over one second of pending flood), and once the
# limit is restored and the flood closed, a new connection is served and
# the descriptor table is back to where it was.
import os
import resource
import shutil
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common"))
from nk_daemon import PrivateDaemon  # noqa: E402
from nk_check import check, failed  # noqa: E402
from nk_wire import PROC_ENTRY_PID_FMT, MsgType, frame, hello_payload, recv_frame  # noqa: E402

NUMAKEEPD = sys.argv[1]
ON_TIME_S = 0.5
FLOOD = 200


def closed_within(s, timeout):
    s.settimeout(timeout)
    try:
        return not s.recv(4096)
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_daemon(tmp):
    return PrivateDaemon(NUMAKEEPD, tmp, "max_connections_per_uid = 100000\n")


def served(well, agent_pid, what):
    """QueryStatus and QueryList on the existing CLI connection, on time."""
    t0 = time.monotonic()
    well.sendall(frame(MsgType.QueryStatus))
    f = recv_frame(well, ON_TIME_S)
    ok = f is not None and f[0] == MsgType.StatusReply
    well.sendall(frame(MsgType.QueryList))
    pids = []
    while ok:
        f = recv_frame(well, ON_TIME_S)
        if f is None or f[0] == MsgType.ListEnd:
            break
        if f[0] == MsgType.ProcEntry:
            pids.append(struct.unpack_from(PROC_ENTRY_PID_FMT, f[1])[0])
    dt = time.monotonic() - t0
    check(ok and agent_pid in pids and dt <= 2 * ON_TIME_S,
          f"{what}: the existing CLI connection is served (status, list names the agent; "
          f"{dt * 1000:.1f} ms)")


def flood_phase(d, well, agent, soft, what):
    hard = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (soft, hard))
    flood = []
    for _ in range(FLOOD):
        try:
            flood.append(d.connect())
        except OSError:
            break
    time.sleep(0.3)
    refused = sum(closed_within(s, 0.05) for s in flood)
    check(refused > 0, f"{what}: flood of {len(flood)} connections, {refused} refused "
          f"(soft limit {soft})")
    # Connections still queued must not make the loop spin.
    more = [d.connect() for _ in range(20)]
    cpu0 = cpu_seconds(d.proc.pid)
    time.sleep(1.0)
    cpu = cpu_seconds(d.proc.pid) - cpu0
    check(cpu < 0.2, f"{what}: the daemon does not spin while out of descriptors "
          f"({cpu:.2f} s CPU in 1 s)")
    served(well, os.getpid(), what)
    check(not closed_within(agent, 0.05), f"{what}: the registered agent's connection is kept")
    for s in flood + more:
        s.close()
    return refused


def main():
    if not hasattr(resource, "prlimit"):
        print("no prlimit")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="numakeep-emfile-")
    d = start_daemon(tmp)
    try:
        well = d.connect()
        agent = d.connect()
        agent.sendall(frame(MsgType.Hello, hello_payload(os.getpid())))
        f = recv_frame(agent, 2)
        check(f is not None and f[0] == MsgType.Welcome, "a well-behaved agent is welcomed")
        served(well, os.getpid(), "before")
        limit = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)
        fds_before = d.fds()
        n = len(fds_before)

        refused = flood_phase(d, well, agent, n + 40, "headroom")
        refused += flood_phase(d, well, agent, n - 2, "exhausted")
        lines = d.log().count("out of file descriptors")
        check(lines == 1, f"the refusals are logged once ({lines} lines for {refused})")

        resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, limit)
        time.sleep(0.3)
        again = d.connect()
        again.sendall(frame(MsgType.QueryStatus))
        f = recv_frame(again, 2)
        check(f is not None and f[0] == MsgType.StatusReply,
              "recovered: a new connection is served once descriptors are free")
        again.close()
        served(well, os.getpid(), "after")
        check(d.proc.poll() is None, "the daemon is still running")
        time.sleep(0.3)
        fds_after = d.fds()
        check(fds_after == fds_before, f"descriptor table back to {len(fds_before)} "
              f"({len(fds_after)} now)")
        well.close()
        agent.close()
    finally:
        d.stop()
        if failed():
            print("---- numakeepd log ----\n" + d.log())
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed() else 0)


main()
