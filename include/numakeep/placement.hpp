// SPDX-License-Identifier: MIT
// Placement (DESIGN.md, "Placement: the pages already held"): which node a
// page a program already holds should be on, given its intent and the mems
// of now. The mover (preload/page_mover.cpp) asks the kernel where each
// page is (move_pages with no nodes), asks this file where it should be,
// and moves only the pages whose answers differ.
//
// Interleave answers what the kernel itself would pick for a fault at that
// address, so that pages moved now and pages faulted later agree:
//  - the interleave index of a unit of 2^order pages at addr in a mapping
//    is vm_pgoff >> order, plus (addr - vm_start) >> (PAGE_SHIFT + order)
//    (interleave_nid() in 6.1, get_vma_policy() since 6.7). For a private
//    anonymous mapping vm_pgoff is vm_start >> PAGE_SHIFT as mmap() made it
//    (do_mmap(): "pgoff = addr >> PAGE_SHIFT"), and vma splits keep that
//    (__split_vma() adds the pages cut off), so for order 0 the index is
//    simply addr >> PAGE_SHIFT; an order-9 unit (a THP) depends on where
//    its vma starts;
//  - interleave takes the index modulo the number of nodes and picks that
//    set node (offset_il_node() in 6.1, which first truncates the index to
//    unsigned int; interleave_nid() since 6.7, which does not);
//  - weighted interleave (6.9+) walks the nodes, each taking as many
//    indices as its weight (weighted_interleave_nid(): a weight of 0, or
//    no table, counts as 1).
// Bind and preferred_many move only what lies outside their nodes (the
// kernel would never have placed a page there); what must move is spread
// over their nodes by the same index, so a large range does not pile onto
// one node. Preferred brings every page back to its one node.
//
// Pure, constexpr, allocation-free like the rest of the core: the mover
// runs it in libnumakeep.so's agent thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep::placement {

inline constexpr unsigned kPageShift = 12;
inline constexpr std::uint64_t kPageSize = std::uint64_t{1} << kPageShift;
// A PMD-mapped transparent huge page on x86-64: 2^9 pages.
inline constexpr unsigned kThpOrder = 9;

// How the kernel reduces an interleave index: offset_il_node() (before
// 6.7) casts it to unsigned int first; interleave_nid() since 6.7 keeps
// all of pgoff_t. Only interleave over a node count that is not a power of
// two can tell them apart.
enum class IndexWidth : std::uint8_t { Bits32, Bits64 };

constexpr IndexWidth index_width_for_kernel(unsigned major, unsigned minor) {
    return major > 6 || (major == 6 && minor >= 7) ? IndexWidth::Bits64 : IndexWidth::Bits32;
}

// The same from a kernel release as uname(2) gives it ("6.1.0-18-amd64"):
// its leading "major.minor" (a number missing reads as 0).
constexpr IndexWidth index_width_for_release(std::string_view release) {
    std::size_t at = 0;
    auto number = [&] {
        unsigned n = 0;
        for (; at < release.size() && release[at] >= '0' && release[at] <= '9'; ++at)
            n = n * 10 + static_cast<unsigned>(release[at] - '0');
        return n;
    };
    const unsigned major = number();
    unsigned minor = 0;
    if (at < release.size() && release[at] == '.') {
        ++at;
        minor = number();
    }
    return index_width_for_kernel(major, minor);
}

// The kernel's interleave index of the unit of 2^order pages holding addr,
// in a mapping that starts at vm_start with page offset vm_pgoff.
constexpr std::uint64_t interleave_index(std::uint64_t vm_pgoff, std::uint64_t vm_start,
                                         std::uint64_t addr, unsigned order = 0) {
    return (vm_pgoff >> order) + ((addr - vm_start) >> (kPageShift + order));
}

// vm_pgoff of a private anonymous mapping that mremap() never moved.
constexpr std::uint64_t anonymous_pgoff(std::uint64_t vm_start) {
    return vm_start >> kPageShift;
}

// The node interleave over `nodes` gives index ilx; -1 for no nodes.
constexpr int interleave_node(const Nodemask& nodes, std::uint64_t ilx,
                              IndexWidth width = IndexWidth::Bits64) {
    const unsigned n = nodes.count();
    if (n == 0) return -1;
    const std::uint64_t i = width == IndexWidth::Bits32 ? static_cast<std::uint32_t>(ilx) : ilx;
    return nodes.nth(static_cast<unsigned>(i % n));
}

// Weighted interleave's node for index ilx; weights[node] as in
// /sys/kernel/mm/mempolicy/weighted_interleave/nodeN, nullptr for none.
constexpr int weighted_interleave_node(const Nodemask& nodes, const std::uint8_t* weights,
                                       std::uint64_t ilx) {
    auto weight = [&](int node) -> std::uint64_t {
        const std::uint8_t w = weights ? weights[node] : 1;
        return w ? w : 1;
    };
    std::uint64_t total = 0;
    for (int n = nodes.first(); n >= 0; n = nodes.next(static_cast<unsigned>(n) + 1))
        total += weight(n);
    if (total == 0) return -1;
    std::uint64_t target = ilx % total;
    for (int n = nodes.first(); n >= 0; n = nodes.next(static_cast<unsigned>(n) + 1)) {
        if (target < weight(n)) return n;
        target -= weight(n);
    }
    return -1;  // unreachable: target < total
}

// What the pages under one policy should do now.
struct Intent {
    Mode mode = Mode::Default;
    Nodemask nodes;                          // where memory goes now (effective_nodes())
    const std::uint8_t* weights = nullptr;   // weighted interleave; nullptr: all 1
    IndexWidth width = IndexWidth::Bits64;
};

// The intent of a remembered request under mems m_now, or false when its
// pages have nowhere to go (default, local, no nodes) or the nodes in force
// depend on history (`kernel` semantics: the kernel's own rule is the point,
// and moving pages by a guess of it would fight it).
constexpr bool intent_of(const Recorded& rec, const Nodemask& m_now, Semantics s, Intent& out) {
    const Request& req = rec.request;
    if (req.mode == Mode::Default || req.mode == Mode::Local) return false;
    const bool own = (req.flags & (kFlagStaticNodes | kFlagRelativeNodes)) != 0;
    if (s == Semantics::Kernel && !own) return false;
    out.mode = req.mode;
    out.nodes = effective_nodes(req, rec.mems_at_request, m_now, s) & m_now;
    return !out.nodes.empty();
}

// The node the unit of interleave index ilx, now on node `current`, should
// be moved to; -1 to leave it where it is (already right, not present, or
// no intent).
constexpr int target_node(const Intent& in, std::uint64_t ilx, int current) {
    if (current < 0 || in.nodes.empty()) return -1;
    int want = -1;
    switch (in.mode) {
        case Mode::Interleave: want = interleave_node(in.nodes, ilx, in.width); break;
        case Mode::WeightedInterleave:
            want = weighted_interleave_node(in.nodes, in.weights, ilx);
            break;
        case Mode::Preferred: want = in.nodes.first(); break;
        case Mode::Bind:
        case Mode::PreferredMany:
            if (in.nodes.test(static_cast<unsigned>(current))) return -1;
            want = interleave_node(in.nodes, ilx, IndexWidth::Bits64);
            break;
        case Mode::Default:
        case Mode::Local: return -1;
    }
    return want == current ? -1 : want;
}

// Where the unit at addr should go, in a mapping [vm_start, ...) with page
// offset vm_pgoff: target_node() of its interleave index.
constexpr int target_node_at(const Intent& in, std::uint64_t vm_pgoff, std::uint64_t vm_start,
                             std::uint64_t addr, unsigned order, int current) {
    return target_node(in, interleave_index(vm_pgoff, vm_start, addr, order), current);
}

// How many of a set of units already sit where the intent wants them: the
// figure `numakeep show` reports per range.
struct Tally {
    std::uint64_t placed = 0;    // on the node the intent gives
    std::uint64_t to_move = 0;   // present elsewhere
    std::uint64_t absent = 0;    // not present (never touched, swapped)
    constexpr void add(int current, int target) {
        if (current < 0)
            ++absent;
        else if (target < 0)
            ++placed;
        else
            ++to_move;
    }
};

}  // namespace numakeep::placement
