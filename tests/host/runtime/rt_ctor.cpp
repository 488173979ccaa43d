// SPDX-License-Identifier: MIT
// Calls made from another library's constructor, before ours has run, work
// and are recorded.
#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

extern "C" {
extern void* rt_ctor_range;
extern long rt_ctor_mbind_result;
extern long rt_ctor_set_result;
}

int main(int argc, char** argv) {
    Harness h(argc, argv);
    h.check(rt_ctor_mbind_result == 0, "mbind from a constructor succeeded");
    h.check(rt_ctor_set_result == 0, "set_mempolicy from a constructor succeeded");
    if (!h.preloaded()) return h.finish();
    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    const PolicyEntry* e = find_range(ranges, rt_ctor_range);
    h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Interleave), "the range is recorded");
    const PolicyEntry* t = find_thread(threads, gettid_raw());
    h.check(t && t->mode == static_cast<std::uint16_t>(Mode::Preferred),
            "the task policy is recorded for the main thread");
    return h.finish();
}
