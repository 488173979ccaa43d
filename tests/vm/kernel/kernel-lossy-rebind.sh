#!/bin/sh
# The kernel's lossy rebind of flag-less policies, as DESIGN.md records it.
exec kernel-lossy-rebind
