#!/bin/sh
# vm case fault-sigkill-rebind: numakeepd killed with SIGKILL mid-rebind,
# 20 rounds, programs under the real libnumakeep.so (tests/vm/faults/faults_vm.cpp).
NK_AGENT=preload exec nk-faults-vm sigkill-rebind "${NK_FAULT_AGENTS:-20}" "${NK_FAULT_ROUNDS:-20}"
