#!/bin/sh
# vm case fault-sigkill-rebind-full (suite vm-long, run by hand before a
# release): the full scale, 100 programs under libnumakeep.so, numakeepd
# SIGKILLed mid-rebind 20 times.
NK_AGENT=preload exec nk-faults-vm sigkill-rebind 100 20
