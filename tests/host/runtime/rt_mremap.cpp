// SPDX-License-Identifier: MIT
// Every form of mremap moves, trims or copies the records the way the
// kernel moves, trims or copies the vmas' policies (mm/mremap.c). Records
// are read back after each case, with what the kernel holds there.
#include <numaif.h>
#include <sys/mman.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {
constexpr std::size_t P = 4096;
unsigned long g_node0 = 1;

bool bind(char* p, std::size_t pages) {
    return mbind(p, pages * P, MPOL_BIND, &g_node0, 2, 0) == 0;
}

// Records, when preloaded; empty otherwise.
std::vector<PolicyEntry> dump(Harness& h) {
    std::vector<PolicyEntry> ranges, threads;
    if (h.preloaded()) h.records(ranges, threads);
    return ranges;
}

bool kernel_bind(const std::vector<PolicyEntry>& v, const void* at) {
    const PolicyEntry* e = covering(v, at);
    return e && e->kernel_ok && e->kernel_mode == static_cast<std::uint16_t>(Mode::Bind);
}
}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    const bool pre = h.preloaded();

    char* shrink = map_pages(4);
    h.check(bind(shrink, 4), "shrink: mbind 4 pages");
    h.check(mremap(shrink, 4 * P, 2 * P, 0) == shrink, "shrink: mremap in place to 2 pages");
    if (pre) {
        auto r = dump(h);
        h.check(covered(r, shrink, 2 * P) && !any_record_in(r, shrink + 2 * P, 2 * P),
                "shrink: record trimmed to 2 pages");
    }

    char* grow = map_pages(8);
    h.check(munmap(grow + 4 * P, 4 * P) == 0, "grow: free the 4 pages after the range");
    h.check(bind(grow, 4), "grow: mbind 4 pages");
    h.check(mremap(grow, 4 * P, 6 * P, 0) == grow, "grow: mremap in place to 6 pages");
    if (pre) {
        auto r = dump(h);
        h.check(covered(r, grow, 6 * P) && kernel_bind(r, grow + 5 * P),
                "grow: record extended to 6 pages, as the vma's policy was");
    }

    char* mv = map_pages(8);  // pages 4-7 stay a separate vma: growth must move
    h.check(bind(mv, 4), "maymove: mbind the first 4 pages");
    char* moved = static_cast<char*>(mremap(mv, 4 * P, 12 * P, MREMAP_MAYMOVE));
    h.check(moved != MAP_FAILED && moved != mv, "maymove: mremap moved the range");
    if (pre) {
        auto r = dump(h);
        h.check(!any_record_in(r, mv, 4 * P), "maymove: nothing left at the old address");
        h.check(covered(r, moved, 12 * P) && kernel_bind(r, moved + 11 * P),
                "maymove: record at the new address, growth included, kernel agrees");
    }

    char* fx = map_pages(4);
    char* fx_target = map_pages(4);
    h.check(bind(fx, 4), "fixed: mbind 4 pages");
    h.check(mremap(fx, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, fx_target) == fx_target,
            "fixed: mremap onto a chosen address");
    if (pre) {
        auto r = dump(h);
        h.check(!any_record_in(r, fx, 4 * P), "fixed: nothing left at the old address");
        h.check(covered(r, fx_target, 4 * P) && kernel_bind(r, fx_target),
                "fixed: record at the target");
    }

    char* du = map_pages(4);
    h.check(bind(du, 4), "dontunmap: mbind 4 pages");
    char* du_new = static_cast<char*>(mremap(du, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
#if defined(__SANITIZE_ADDRESS__)
    // Under AddressSanitizer the kernel refuses MREMAP_DONTUNMAP here even
    // without the preload (seen on Debian 12's gcc 12): not ours to test.
    const bool dontunmap_works = du_new != MAP_FAILED;
    if (!dontunmap_works) std::printf("note: MREMAP_DONTUNMAP refused under ASan; skipped\n");
#else
    const bool dontunmap_works = true;
    h.check(du_new != MAP_FAILED, "dontunmap: mremap MREMAP_DONTUNMAP");
#endif
    if (pre && dontunmap_works) {
        auto r = dump(h);
        h.check(covered(r, du, 4 * P) && kernel_bind(r, du),
                "dontunmap: the old range keeps its record (its vma keeps the policy)");
        h.check(covered(r, du_new, 4 * P) && kernel_bind(r, du_new),
                "dontunmap: the new range carries a copy");
    }

    errno = 0;
    h.check(mremap(shrink, P, P, 0x80) == MAP_FAILED && errno == EINVAL,
            "mremap with a bad flag: MAP_FAILED EINVAL");
    if (pre) {
        auto r = dump(h);
        for (auto& e : r)
            h.check(e.kernel_ok && e.kernel_mode == static_cast<std::uint16_t>(Mode::Bind),
                    "range %#llx-%#llx: the kernel holds bind there",
                    static_cast<unsigned long long>(e.start),
                    static_cast<unsigned long long>(e.end));
    }
    return h.finish();
}
