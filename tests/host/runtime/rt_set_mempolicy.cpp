// SPDX-License-Identifier: MIT
// set_mempolicy through libnuma's wrapper: the calling thread's request is
// recorded; MPOL_DEFAULT forgets it.
#include <numaif.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    h.check(set_mempolicy(MPOL_INTERLEAVE, &node0, 64) == 0, "set_mempolicy interleave 0");
    std::vector<PolicyEntry> ranges, threads;
    if (h.preloaded() && h.records(ranges, threads)) {
        const PolicyEntry* e = find_thread(threads, gettid_raw());
        h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Interleave) &&
                    e->requested == Nodemask{0} && e->mems_at_request == mems_allowed(),
                "the main thread's interleave request is recorded with its M0");
        h.check(e && e->kernel_ok &&
                    e->kernel_mode == static_cast<std::uint16_t>(Mode::Interleave) &&
                    e->kernel_now == Nodemask{0},
                "the thread read back what the kernel holds (signal round)");
        h.check(h.hello().threads == 1, "Hello counted one thread policy");
    }
    h.check(set_mempolicy(MPOL_PREFERRED, &node0, 2) == 0, "set_mempolicy preferred 0");
    if (h.preloaded() && h.records(ranges, threads)) {
        const PolicyEntry* e = find_thread(threads, gettid_raw());
        h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Preferred),
                "the latest request replaces the first");
    }
    h.check(set_mempolicy(MPOL_DEFAULT, nullptr, 0) == 0, "set_mempolicy default");
    if (h.preloaded() && h.records(ranges, threads))
        h.check(threads.empty(), "MPOL_DEFAULT leaves nothing to keep");
    return h.finish();
}
