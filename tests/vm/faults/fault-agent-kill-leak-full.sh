#!/bin/sh
# vm case fault-agent-kill-leak-full (suite vm-long, run by hand before a
# release): the full scale, 1,000 programs killed mid-rebind; numakeepd's
# fds, RSS and watches flat.
NK_AGENT=preload exec nk-faults-vm agent-kill-leak 1000
