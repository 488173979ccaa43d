// SPDX-License-Identifier: MIT
// munmap of parts of a recorded range: head, middle and tail are forgotten,
// the rest stays.
#include <numaif.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    char* a = map_pages(8);
    h.check(mbind(a, 8 * 4096, MPOL_BIND, &node0, 2, 0) == 0, "mbind 8 pages");
    h.check(munmap(a, 4096) == 0, "munmap the head page");
    h.check(munmap(a + 3 * 4096, 2 * 4096) == 0, "munmap two middle pages");
    h.check(munmap(a + 7 * 4096, 100) == 0, "munmap the tail page (length not page aligned)");
    char* untracked = map_pages(2);
    h.check(munmap(untracked, 2 * 4096) == 0, "munmap of untracked memory");
    errno = 0;
    h.check(munmap(a + 1, 4096) == -1 && errno == EINVAL, "unaligned munmap: -1 EINVAL");
    if (!h.preloaded()) return h.finish();
    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    const PolicyEntry* p1 = find_range(ranges, a + 4096);
    const PolicyEntry* p2 = find_range(ranges, a + 5 * 4096);
    h.check(ranges.size() == 2, "two pieces left (%zu)", ranges.size());
    h.check(p1 && p1->end == reinterpret_cast<std::uint64_t>(a + 3 * 4096), "pages 1-2 kept");
    h.check(p2 && p2->end == reinterpret_cast<std::uint64_t>(a + 7 * 4096), "pages 5-6 kept");
    return h.finish();
}
