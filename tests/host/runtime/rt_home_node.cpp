// SPDX-License-Identifier: MIT
// set_mempolicy_home_node (through syscall(), as every caller does today):
// the home node joins the range's record, and a rebind sets it again.
#include <numaif.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    char* a = map_pages(4);
    char* b = map_pages(4);
    h.check(mbind(a, 4 * 4096, MPOL_BIND, &node0, 2, 0) == 0, "mbind bind");
    h.check(mbind(b, 4 * 4096, MPOL_INTERLEAVE, &node0, 2, 0) == 0, "mbind interleave");
    long r = syscall(SYS_set_mempolicy_home_node, a + 4096, 2 * 4096UL, 0UL, 0UL);
    h.check(r == 0, "set_mempolicy_home_node on the middle of the bind range");
    if (!h.preloaded()) return h.finish();
    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    const PolicyEntry* head = find_range(ranges, a);
    const PolicyEntry* mid = find_range(ranges, a + 4096);
    const PolicyEntry* tail = find_range(ranges, a + 3 * 4096);
    h.check(head && head->home_node == -1 && head->end == reinterpret_cast<std::uint64_t>(a + 4096),
            "first page: no home node");
    h.check(mid && mid->home_node == 0 && mid->end == reinterpret_cast<std::uint64_t>(a + 3 * 4096),
            "middle pages: home node 0");
    h.check(tail && tail->home_node == -1, "last page: no home node");
    proto::RebindDone done{};
    h.check(
        h.daemon().rebind(1, mems_allowed(), done) && done.errors == 0 && done.ranges_rebound >= 2,
        "a rebind re-issues the ranges and their home node without error (%u rebound, "
        "%u errors, errno %d)",
        done.ranges_rebound, done.errors, done.first_errno);
    return h.finish();
}
