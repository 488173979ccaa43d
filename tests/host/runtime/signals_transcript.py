#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs rt-signals plain and under the preload and wants the same transcript
# (its "T: " lines): what the program sees of its signals must not depend on
# whether libnumakeep.so is loaded.
import subprocess
import sys


def transcript(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stdout.splitlines() if l.startswith("T: ")]
    return p.returncode, lines, p.stdout + p.stderr


def main():
    exe, lib = sys.argv[1], sys.argv[2]
    rc_plain, plain, out_plain = transcript([exe])
    rc_pre, pre, out_pre = transcript([exe, "--preload=" + lib])
    ok = rc_plain == 0 and rc_pre == 0 and plain == pre and plain
    if not ok:
        print(f"plain exit {rc_plain}, preloaded exit {rc_pre}")
        for i in range(max(len(plain), len(pre))):
            a = plain[i] if i < len(plain) else "<none>"
            b = pre[i] if i < len(pre) else "<none>"
            if a != b:
                print(f"- {a}\n+ {b}")
        print("--- plain output ---\n" + out_plain + "--- preloaded output ---\n" + out_pre)
        return 1
    print(f"PASS: {len(plain)} transcript lines identical plain and preloaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
