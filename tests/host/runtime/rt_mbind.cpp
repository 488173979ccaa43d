// SPDX-License-Identifier: MIT
// mbind through libnuma's wrapper: every set mode is recorded with its
// request, M0 and the range; MPOL_DEFAULT over part of a range splits it.
#include <numaif.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    const Nodemask mems = mems_allowed();
    unsigned long node0 = 1;
    const std::size_t len = 4 * 4096;
    char* bind = map_pages(4);
    char* inter = map_pages(4);
    char* pref = map_pages(4);
    char* many = map_pages(4);
    char* split = map_pages(4);
    h.check(mbind(bind, len, MPOL_BIND, &node0, 2, 0) == 0, "mbind bind");
    h.check(mbind(inter, len, MPOL_INTERLEAVE, &node0, 64, 0) == 0, "mbind interleave");
    h.check(mbind(pref, len, MPOL_PREFERRED, &node0, 2, 0) == 0, "mbind preferred");
    h.check(mbind(many, len, MPOL_PREFERRED_MANY, &node0, 2, 0) == 0, "mbind preferred_many");
    h.check(mbind(split, len, MPOL_BIND, &node0, 2, 0) == 0, "mbind bind (to split)");
    h.check(mbind(split + 4096, 4096, MPOL_DEFAULT, nullptr, 0, 0) == 0,
            "mbind default over one page in the middle");
    if (!h.preloaded()) return h.finish();

    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    struct Want {
        const char* name;
        char* at;
        Mode mode;
    } wants[] = {{"bind", bind, Mode::Bind},
                 {"interleave", inter, Mode::Interleave},
                 {"preferred", pref, Mode::Preferred},
                 {"preferred_many", many, Mode::PreferredMany}};
    for (auto& w : wants) {
        const PolicyEntry* e = find_range(ranges, w.at);
        h.check(e && e->end == reinterpret_cast<std::uint64_t>(w.at) + len &&
                    e->mode == static_cast<std::uint16_t>(w.mode) && e->flags == 0,
                "%s: recorded over the whole range with its mode", w.name);
        if (!e) continue;
        h.check(e->requested == Nodemask{0}, "%s: request nodes 0", w.name);
        h.check(e->mems_at_request == mems, "%s: M0 is the task's mems", w.name);
        h.check(e->kernel_ok && e->kernel_mode == static_cast<std::uint16_t>(w.mode) &&
                    e->kernel_now == Nodemask{0},
                "%s: the kernel holds it", w.name);
        h.check(e->rule_now == Nodemask{0}, "%s: rule under the mems of now is node 0", w.name);
    }
    const PolicyEntry* head = find_range(ranges, split);
    const PolicyEntry* tail = find_range(ranges, split + 2 * 4096);
    h.check(head && head->end == reinterpret_cast<std::uint64_t>(split + 4096),
            "split: first page keeps its record");
    h.check(!find_range(ranges, split + 4096), "split: MPOL_DEFAULT page has no record");
    h.check(tail && tail->end == reinterpret_cast<std::uint64_t>(split + len),
            "split: last two pages keep their record");
    h.check(threads.empty(), "no task policy recorded");
    return h.finish();
}
