#!/bin/sh
# vm case fault-emfile-rebind: numakeepd out of file descriptors (prlimit + a flood
# of connections) keeps serving the programs and queries it has, and
# recovers (tests/vm/faults/faults_vm.cpp).
NK_AGENT=preload exec nk-faults-vm emfile
