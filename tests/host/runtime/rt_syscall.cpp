// SPDX-License-Identifier: MIT
// syscall(SYS_mbind ...) and friends, as hwloc, QEMU and LTP call them: the
// same records as through libnuma; other numbers pass through untouched.
#include <numaif.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    char* a = map_pages(8);
    char* b = map_pages(4);
    char* target = map_pages(4);
    h.check(syscall(SYS_mbind, a, 8 * 4096UL, MPOL_BIND, &node0, 2UL, 0U) == 0,
            "syscall(SYS_mbind) bind");
    h.check(syscall(SYS_mbind, b, 4 * 4096UL, MPOL_INTERLEAVE, &node0, 2UL, 0U) == 0,
            "syscall(SYS_mbind) interleave");
    h.check(syscall(SYS_set_mempolicy, MPOL_BIND, &node0, 2UL) == 0, "syscall(SYS_set_mempolicy)");
    h.check(syscall(SYS_munmap, a + 6 * 4096, 2 * 4096UL) == 0, "syscall(SYS_munmap) of the tail");
    void* fixed = reinterpret_cast<void*>(syscall(SYS_mmap, a, 4096UL, PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0L));
    h.check(fixed == a, "syscall(SYS_mmap, MAP_FIXED) over the first page");
    void* moved = reinterpret_cast<void*>(
        syscall(SYS_mremap, b, 4 * 4096UL, 4 * 4096UL, MREMAP_MAYMOVE | MREMAP_FIXED, target));
    h.check(moved == target, "syscall(SYS_mremap, MAYMOVE|FIXED)");
    h.check(syscall(SYS_getpid) == getpid(), "syscall(SYS_getpid) passes through");
    errno = 0;
    h.check(syscall(SYS_mbind, a, 4096UL, 99, &node0, 2UL, 0U) == -1 && errno == EINVAL,
            "syscall(SYS_mbind) with a bad mode: -1 EINVAL");
    if (!h.preloaded()) return h.finish();
    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    const PolicyEntry* e = find_range(ranges, a + 4096);
    h.check(e && e->end == reinterpret_cast<std::uint64_t>(a + 6 * 4096) &&
                e->mode == static_cast<std::uint16_t>(Mode::Bind),
            "bind record is pages 1-5 (MAP_FIXED page and unmapped tail gone)");
    h.check(!any_record_in(ranges, a, 4096), "no record on the MAP_FIXED page");
    h.check(!any_record_in(ranges, b, 4 * 4096), "no record left at the mremap source");
    const PolicyEntry* m = find_range(ranges, target);
    h.check(m && m->mode == static_cast<std::uint16_t>(Mode::Interleave) &&
                m->end == reinterpret_cast<std::uint64_t>(target) + 4 * 4096,
            "the interleave record moved with mremap");
    const PolicyEntry* t = find_thread(threads, gettid_raw());
    h.check(t && t->mode == static_cast<std::uint16_t>(Mode::Bind), "task policy recorded");
    return h.finish();
}
