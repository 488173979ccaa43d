#!/bin/sh
# vm case fault-agent-kill-leak: programs killed mid-rebind leave no
# descriptor or memory behind in numakeepd (tests/vm/faults/faults_vm.cpp).
NK_AGENT=preload exec nk-faults-vm agent-kill-leak "${NK_FAULT_KILLS:-100}"
