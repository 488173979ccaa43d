// SPDX-License-Identifier: MIT
// libnuma's own calls reach mbind/set_mempolicy through its PLT:
// numa_alloc_interleaved, numa_tonode_memory and numa_set_interleave_mask
// are recorded like direct calls.
#include <numa.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    if (numa_available() < 0) {
        std::printf("SKIP: no NUMA support\n");
        return 77;
    }
    constexpr std::size_t len = 8 * 4096;
    void* inter = numa_alloc_interleaved(len);
    h.check(inter != nullptr, "numa_alloc_interleaved");
    void* onnode = numa_alloc(len);
    h.check(onnode != nullptr, "numa_alloc");
    numa_tonode_memory(onnode, len, 0);
    numa_set_interleave_mask(numa_all_nodes_ptr);
    if (h.preloaded()) {
        std::vector<PolicyEntry> ranges, threads;
        if (h.records(ranges, threads)) {
            const PolicyEntry* e = find_range(ranges, inter);
            h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Interleave) &&
                        e->end == reinterpret_cast<std::uint64_t>(inter) + len,
                    "numa_alloc_interleaved recorded as interleave");
            e = find_range(ranges, onnode);
            h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Bind) &&
                        e->requested == Nodemask{0},
                    "numa_tonode_memory recorded as bind 0");
            const PolicyEntry* t = find_thread(threads, gettid_raw());
            h.check(t && t->mode == static_cast<std::uint16_t>(Mode::Interleave) &&
                        mems_allowed().subset_of(t->requested),
                    "numa_set_interleave_mask recorded as the thread's interleave");
        }
    }
    numa_set_localalloc();
    if (h.preloaded()) {
        std::vector<PolicyEntry> ranges, threads;
        if (h.records(ranges, threads))
            h.check(!find_thread(threads, gettid_raw()), "numa_set_localalloc forgets it");
    }
    numa_free(inter, len);
    numa_free(onnode, len);
    if (h.preloaded()) {
        std::vector<PolicyEntry> ranges, threads;
        if (h.records(ranges, threads)) h.check(ranges.empty(), "numa_free forgets the ranges");
    }
    return h.finish();
}
