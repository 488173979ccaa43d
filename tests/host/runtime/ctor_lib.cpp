// SPDX-License-Identifier: MIT
// A library whose constructor asks for policies: it runs before
// libnumakeep.so's own constructor (the program depends on it, the preload
// is initialised after the program's dependencies), so the runtime must
// initialise itself from inside the first interposed call.
#include <numaif.h>
#include <sys/mman.h>

extern "C" {
__attribute__((visibility("default"))) void* rt_ctor_range = nullptr;
__attribute__((visibility("default"))) long rt_ctor_mbind_result = -2;
__attribute__((visibility("default"))) long rt_ctor_set_result = -2;
}

__attribute__((constructor)) static void ask_early() {
    unsigned long node0 = 1;
    rt_ctor_range =
        mmap(nullptr, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rt_ctor_mbind_result = mbind(rt_ctor_range, 4 * 4096, MPOL_INTERLEAVE, &node0, 2, 0);
    rt_ctor_set_result = set_mempolicy(MPOL_PREFERRED, &node0, 2);
}
