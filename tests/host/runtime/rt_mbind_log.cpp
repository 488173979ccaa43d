// SPDX-License-Identifier: MIT
// The runtime notes mbind calls in a small write-behind log and files them
// in the record store when anything reads it (record_keeper.cpp): more
// calls than the log holds, a call over the same range as the last one
// (which replaces its note), MPOL_DEFAULT over a noted range, and munmap,
// mremap and MAP_FIXED over ranges only noted so far must all leave the
// records exactly as filing each call at once would.
#include <numaif.h>
#include <sys/mman.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {
constexpr int kPages = 40;  // more than the log's 16 notes
}

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    char* a = map_pages(kPages);
    auto page = [&](int i) { return a + static_cast<std::size_t>(i) * 4096; };
    bool all = true;
    // Alternate modes so neighbouring records never merge.
    for (int i = 0; i < kPages; ++i)
        all &= mbind(page(i), 4096, i % 2 ? MPOL_PREFERRED : MPOL_BIND, &node0, 2, 0) == 0;
    h.check(all, "mbind %d pages one by one", kPages);
    // The same range twice in a row: the second note replaces the first.
    h.check(mbind(page(4), 4096, MPOL_INTERLEAVE, &node0, 2, 0) == 0 &&
                mbind(page(4), 4096, MPOL_PREFERRED, &node0, 2, 0) == 0,
            "page 4: interleave, then preferred");
    // A noted request, then MPOL_DEFAULT over the same range: nothing kept.
    h.check(mbind(page(7), 4096, MPOL_INTERLEAVE, &node0, 2, 0) == 0 &&
                mbind(page(7), 4096, MPOL_DEFAULT, nullptr, 0, 0) == 0,
            "page 7: interleave, then default");
    // A noted request, then munmap before anything read the records.
    h.check(
        mbind(page(10), 4096, MPOL_INTERLEAVE, &node0, 2, 0) == 0 && munmap(page(10), 4096) == 0,
        "page 10: interleave, then munmap");
    // A noted request, then MAP_FIXED over it.
    h.check(mbind(page(12), 4096, MPOL_INTERLEAVE, &node0, 2, 0) == 0 &&
                mmap(page(12), 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == page(12),
            "page 12: interleave, then mmap MAP_FIXED");
    // A noted request on a mapping of its own, then mremap moves it.
    char* b = map_pages(2);
    h.check(mbind(b, 2 * 4096, MPOL_INTERLEAVE, &node0, 2, 0) == 0, "b: interleave 2 pages");
    char* moved = static_cast<char*>(mremap(b, 2 * 4096, 4 * 4096, MREMAP_MAYMOVE));
    h.check(moved != MAP_FAILED, "b: mremap to 4 pages");
    if (!h.preloaded()) return h.finish();

    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    int wrong = 0;
    for (int i = 0; i < kPages; ++i) {
        const PolicyEntry* e = covering(ranges, page(i));
        int want = i == 4 ? MPOL_PREFERRED : i % 2 ? MPOL_PREFERRED : MPOL_BIND;
        if (i == 7 || i == 10 || i == 12) {
            if (e) ++wrong, std::printf("  page %d: a record is left (mode %u)\n", i, e->mode);
        } else if (!e || e->mode != want) {
            ++wrong;
            std::printf("  page %d: %s (want mode %d)\n", i, e ? "other mode" : "no record", want);
        }
    }
    h.check(wrong == 0, "every page's record is its last request (%d wrong)", wrong);
    const PolicyEntry* m = covering(ranges, moved);
    h.check(
        moved != MAP_FAILED && m && m->mode == MPOL_INTERLEAVE && covered(ranges, moved, 4 * 4096),
        "the moved range keeps its request over all 4 pages");
    h.check(moved == b || !any_record_in(ranges, b, 2 * 4096), "nothing left where b was");
    return h.finish();
}
