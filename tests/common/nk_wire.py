# SPDX-License-Identifier: MIT
# The wire format of include/numakeep/protocol.hpp as the Python host tests
# speak it to a private numakeepd: frame headers, a Hello, reading a frame.
import struct

MAGIC = 0x504B4D4E
VERSION = 3  # kProtocolVersion
NODEMASK = 128


def frame(msg_type, payload=b"", version=VERSION, size=None, seq=1):
    """A frame: the 16-byte header (magic, version, type, payload size,
    seq) and the payload; `size` overrides the header's payload size."""
    n = len(payload) if size is None else size
    return struct.pack("<IHHII", MAGIC, version, msg_type, n, seq) + payload


def hello_payload(pid):
    # Hello: pid, flags, generation_applied, start_time (0: unchecked),
    # semantics, reserved[3], ranges, threads, reserved2, mems.
    mems = bytearray(NODEMASK)
    mems[0] = 1
    return struct.pack("<iIQQB3xIII", pid, 0, 0, 0, 0, 0, 0, 0) + bytes(mems)


def recv_frame(s, timeout):
    """(type, payload) of the next frame, or None when the peer closed."""
    s.settimeout(timeout)
    head = b""
    while len(head) < 16:
        chunk = s.recv(16 - len(head))
        if not chunk:
            return None
        head += chunk
    _, _, msg_type, size, _ = struct.unpack("<IHHII", head)
    body = b""
    while len(body) < size:
        chunk = s.recv(size - len(body))
        if not chunk:
            return None
        body += chunk
    return msg_type, body
