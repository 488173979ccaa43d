#!/bin/sh
# vm case stopped-process: see tests/vm/daemon/daemon_vm.cpp.
exec nk-daemon-vm stopped-process
