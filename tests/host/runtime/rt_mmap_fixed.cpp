// SPDX-License-Identifier: MIT
// mmap/mmap64 with MAP_FIXED over a recorded range: the new mapping has
// the default policy, so those pages' records are forgotten.
#include <numaif.h>
#include <sys/mman.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

extern "C" void* mmap64(void*, size_t, int, int, int, off64_t);

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    constexpr std::size_t P = 4096;
    char* a = map_pages(6);
    h.check(mbind(a, 6 * P, MPOL_INTERLEAVE, &node0, 2, 0) == 0, "mbind 6 pages");
    h.check(mmap(a + P, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                 0) == a + P,
            "mmap MAP_FIXED over pages 1-2");
    h.check(mmap64(a + 4 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                a + 4 * P,
            "mmap64 MAP_FIXED over page 4");
    errno = 0;
    h.check(mmap(nullptr, P, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED && errno == EBADF,
            "mmap of a bad fd: MAP_FAILED EBADF");
    if (!h.preloaded()) return h.finish();
    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    h.check(ranges.size() == 3, "three pieces left (%zu)", ranges.size());
    const PolicyEntry* p0 = find_range(ranges, a);
    const PolicyEntry* p3 = find_range(ranges, a + 3 * P);
    const PolicyEntry* p5 = find_range(ranges, a + 5 * P);
    h.check(p0 && p0->end == reinterpret_cast<std::uint64_t>(a + P), "page 0 kept");
    h.check(p3 && p3->end == reinterpret_cast<std::uint64_t>(a + 4 * P), "page 3 kept");
    h.check(p5 && p5->end == reinterpret_cast<std::uint64_t>(a + 6 * P), "page 5 kept");
    return h.finish();
}
