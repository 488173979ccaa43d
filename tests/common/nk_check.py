# SPDX-License-Identifier: MIT
# The Python host tests' verdicts: one line per check ("ok    WHAT" or
# "FAIL  WHAT"), and the count of failures so far for the exit status.
_failures = 0


def check(ok, what):
    global _failures
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        _failures += 1


def failed():
    """How many checks failed so far."""
    return _failures
