#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# wire-python-matches-header: the numbers the Python tests speak
# (tests/common/nk_wire.py) against the C++ header that defines them
# (include/numakeep/protocol.hpp): every MsgType name and value, kMagic,
# kProtocolVersion, the kHello* flags, sizeof(Nodemask), and the size of
# each struct nk_wire.py packs. A message added or renumbered in the header
# fails here until nk_wire.py follows it.
#
#   wire_matches_header.py SOURCE_ROOT
import os
import re
import sys

root = sys.argv[1]
sys.path.insert(0, os.path.join(root, "tests", "common"))
import nk_wire  # noqa: E402

failures = []


def expect(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def read(rel):
    with open(os.path.join(root, rel)) as f:
        # Comments out, so that a value quoted in one is never taken.
        return re.sub(r"//[^\n]*", "", f.read())


def constant(text, name):
    m = re.search(r"\b" + name + r"\s*=\s*(0[xX][0-9a-fA-F]+|\d+)", text)
    if not m:
        sys.exit(f"wire_matches_header: no {name} in the header")
    return int(m.group(1), 0)


protocol = read("include/numakeep/protocol.hpp")
nodemask = read("include/numakeep/nodemask.hpp")

nodemask_bytes = constant(nodemask, "kMaxNodes") // 8
expect(nk_wire.NODEMASK == nodemask_bytes,
       f"NODEMASK {nk_wire.NODEMASK} is sizeof(Nodemask) {nodemask_bytes}")
expect(nk_wire.MAGIC == constant(protocol, "kMagic"), f"MAGIC {nk_wire.MAGIC:#x} is kMagic")
expect(nk_wire.VERSION == constant(protocol, "kProtocolVersion"),
       f"VERSION {nk_wire.VERSION} is kProtocolVersion")

block = re.search(r"enum class MsgType\s*:\s*[\w:]+\s*\{(.*?)\};", protocol, re.S)
header_types = {name: int(value) for name, value in
                re.findall(r"(\w+)\s*=\s*(\d+)\s*,", block.group(1))}
python_types = {m.name: int(m.value) for m in nk_wire.MsgType}
for name in sorted(set(header_types) | set(python_types)):
    expect(header_types.get(name) == python_types.get(name),
           f"MsgType.{name}: header {header_types.get(name)}, nk_wire {python_types.get(name)}")

for name, shift in re.findall(r"\b(kHello\w+)\s*=\s*1U?\s*<<\s*(\d+)", protocol):
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name[1:]).upper()
    expect(getattr(nk_wire, snake, None) == 1 << int(shift),
           f"{snake} is {name} (1 << {shift})")

# sizeof(Name) == EXPR for each struct nk_wire.py packs; EXPR may use
# sizeof(Nodemask) and the header's std::size_t constants.
sizes = {"Nodemask": nodemask_bytes}
lengths = {k: int(v) for k, v in
           re.findall(r"constexpr\s+std::size_t\s+(k\w+)\s*=\s*(\d+)\s*;", protocol)}
asserted = dict(re.findall(r"static_assert\(sizeof\((\w+)\)\s*==\s*([^;]+)\);", protocol))
for name in sorted(nk_wire.LAYOUTS):
    expr = asserted.get(name)
    if expr is None:
        expect(False, f"{name}: protocol.hpp pins no size for it")
        continue
    expr = re.sub(r"sizeof\((\w+)\)", lambda m: str(sizes[m.group(1)]), expr)
    expr = re.sub(r"\bk\w+\b", lambda m: str(lengths[m.group(0)]), expr)
    if not re.fullmatch(r"[\d\s+*()]+", expr):
        sys.exit(f"wire_matches_header: cannot evaluate the size of {name}: {expr}")
    want = eval(expr)  # digits, +, * and parentheses only (checked above)
    expect(nk_wire.size_of(name) == want,
           f"{name}: {nk_wire.size_of(name)} bytes in nk_wire, {want} in protocol.hpp")

sys.exit(1 if failures else 0)
