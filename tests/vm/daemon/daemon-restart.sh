#!/bin/sh
# vm case daemon-restart: see tests/vm/daemon/daemon_vm.cpp.
exec nk-daemon-vm daemon-restart
