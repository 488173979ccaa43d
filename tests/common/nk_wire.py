# SPDX-License-Identifier: MIT
# The wire format of include/numakeep/protocol.hpp as the Python host tests
# speak it to a private numakeepd: the numbers, the layouts they pack, frame
# headers, a Hello, reading a frame. The only place the Python tests spell
# them: the unit test wire-python-matches-header (wire_matches_header.py)
# fails when this file and protocol.hpp disagree.
import enum
import struct

MAGIC = 0x504B4D4E  # kMagic
VERSION = 3  # kProtocolVersion
NODEMASK = 128  # sizeof(Nodemask): kMaxNodes / 8


class MsgType(enum.IntEnum):
    """protocol.hpp's MsgType, name for name."""
    Hello = 1
    RebindDone = 2
    RangeEntry = 3
    ThreadEntry = 4
    RecordsEnd = 5
    ExecHandoff = 6
    ExecHandoffCancel = 7
    PlacementDone = 8
    SetApplied = 9
    Welcome = 20
    Rebind = 21
    DumpRecords = 22
    ExecHandoffStored = 23
    ExecHandoffDeliver = 24
    SetRequest = 25
    QueryList = 40
    QueryShow = 41
    QueryStatus = 42
    SetPolicy = 43
    ProcEntry = 60
    ListEnd = 61
    ShowRange = 62
    ShowThread = 63
    ShowEnd = 64
    StatusReply = 65
    SetOutcome = 66
    SetEnd = 67
    Error = 90


# Hello flags (kHello*).
HELLO_KERNEL_ASSIST = 1 << 0
HELLO_SEMANTICS_FROM_ENV = 1 << 1
HELLO_KERNEL_ASSIST_FROM_ENV = 1 << 2
HELLO_EXEC_HANDOFF = 1 << 3

# The fixed fields of each struct the tests pack or unpack, little-endian;
# LAYOUTS says how many Nodemasks follow them.
HEADER_FMT = "<IHHII"  # FrameHeader: magic, version, type, payload_size, seq
# Hello: pid, flags, generation_applied, start_time (0: unchecked),
# semantics, reserved[3], ranges, threads, reserved2; then mems.
HELLO_FMT = "<iIQQB3xIII"
# Rebind: generation, flags, placement_rate_mib; then mems.
REBIND_FMT = "<QII"
# ExecHandoff: generation, mode, flags, home_node, issued_mode,
# issued_flags, handoff_flags; then requested, mems_at_request,
# issued_nodes, mems_at_exec.
EXEC_HANDOFF_FMT = "<QHHiHHI"
QUERY_SHOW_FMT = "<iI"  # QueryShow: pid, reserved
PROC_ENTRY_PID_FMT = "<i"  # ProcEntry's first field, its pid

# struct name in protocol.hpp: (format of its fixed fields, Nodemasks after).
LAYOUTS = {
    "FrameHeader": (HEADER_FMT, 0),
    "Hello": (HELLO_FMT, 1),
    "Rebind": (REBIND_FMT, 1),
    "ExecHandoff": (EXEC_HANDOFF_FMT, 4),
    "QueryShow": (QUERY_SHOW_FMT, 0),
}


def size_of(name):
    """Bytes of protocol.hpp's struct `name` as this file packs it."""
    fmt, masks = LAYOUTS[name]
    return struct.calcsize(fmt) + masks * NODEMASK


def frame(msg_type, payload=b"", version=VERSION, size=None, seq=1):
    """A frame: the 16-byte header (magic, version, type, payload size,
    seq) and the payload; `size` overrides the header's payload size."""
    n = len(payload) if size is None else size
    return struct.pack(HEADER_FMT, MAGIC, version, msg_type, n, seq) + payload


def mask(nodes):
    """A Nodemask holding `nodes`."""
    b = bytearray(NODEMASK)
    for n in nodes:
        b[n // 8] |= 1 << (n % 8)
    return bytes(b)


def hello_payload(pid, flags=0):
    """A Hello of `pid` whose mems are node 0."""
    return struct.pack(HELLO_FMT, pid, flags, 0, 0, 0, 0, 0, 0) + mask([0])


def recv_frame(s, timeout):
    """(type, payload) of the next frame, or None when the peer closed."""
    s.settimeout(timeout)
    head = b""
    while len(head) < 16:
        chunk = s.recv(16 - len(head))
        if not chunk:
            return None
        head += chunk
    _, _, msg_type, size, _ = struct.unpack(HEADER_FMT, head)
    body = b""
    while len(body) < size:
        chunk = s.recv(size - len(body))
        if not chunk:
            return None
        body += chunk
    return msg_type, body
