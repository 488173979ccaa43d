// SPDX-License-Identifier: MIT
// The placement planner (include/numakeep/placement.hpp) against a simple
// model: the kernel's interleave as a list of nodes a fault walks through
// (each node once, or weight times for weighted interleave), indexed by the
// unit's offset in its mapping. Ranges that begin at an offset, THP units,
// the 32-bit index of kernels before 6.7, and the issue's own example
// (64 MiB interleaved over 0-3, mems 0-1 and back) as pages per node.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "numakeep/placement.hpp"

using namespace numakeep;
using namespace numakeep::placement;

namespace {

// The model: the nodes an interleave walks, in order, each repeated by its
// weight; a unit of index i lands on entry i mod length.
std::vector<int> walk(const Nodemask& nodes, const std::uint8_t* weights = nullptr) {
    std::vector<int> out;
    for (unsigned n = 0; n < kMaxNodes; ++n) {
        if (!nodes.test(n)) continue;
        unsigned w = weights ? weights[n] : 1;
        for (unsigned k = 0; k < (w ? w : 1); ++k) out.push_back(static_cast<int>(n));
    }
    return out;
}
int model_node(const std::vector<int>& w, std::uint64_t index) {
    return w[index % w.size()];
}

Intent intent(Mode mode, Nodemask nodes, IndexWidth width = IndexWidth::Bits64) {
    Intent in;
    in.mode = mode;
    in.nodes = nodes;
    in.width = width;
    return in;
}

constexpr std::uint64_t kMiB = 1024 * 1024;

}  // namespace

TEST_CASE("the interleave index counts as the kernel counts") {
    // An anonymous mapping: vm_pgoff is its start page, so order 0 is the
    // page number of the address.
    const std::uint64_t start = 0x7f12'3456'7000;
    for (std::uint64_t p = 0; p < 100; ++p)
        CHECK(interleave_index(anonymous_pgoff(start), start, start + p * kPageSize) ==
              (start >> kPageShift) + p);
    // A file mapping that begins at page 5 of its file.
    CHECK(interleave_index(5, 0x10000, 0x10000) == 5);
    CHECK(interleave_index(5, 0x10000, 0x10000 + 3 * kPageSize) == 8);
    // An order-9 unit: the vma's offset and the distance are shifted apart,
    // so a vma that does not begin on 2 MiB shifts the index of its THPs.
    const std::uint64_t vm = 0x7f00'0000'1000;  // one page past 2 MiB
    const std::uint64_t thp = 0x7f00'0020'0000;
    CHECK(interleave_index(anonymous_pgoff(vm), vm, thp, kThpOrder) ==
          (anonymous_pgoff(vm) >> 9) + 0);
    CHECK(interleave_index(anonymous_pgoff(vm), vm, thp, kThpOrder) != thp >> 21);
    const std::uint64_t aligned = 0x7f00'0000'0000;
    CHECK(interleave_index(anonymous_pgoff(aligned), aligned, thp, kThpOrder) == thp >> 21);
}

TEST_CASE("interleave: every unit to the model's node, wherever it lies now") {
    for (const Nodemask& nodes : {Nodemask{0, 1, 2, 3}, Nodemask{1, 3}, Nodemask{0, 2, 5},
                                  Nodemask{7}, Nodemask{2, 64, 700}}) {
        const auto w = walk(nodes);
        const Intent in = intent(Mode::Interleave, nodes);
        for (std::uint64_t i = 0; i < 50; ++i)
            for (int current : {0, 1, 2, 3, 64}) {
                int want = model_node(w, i);
                CHECK(target_node(in, i, current) == (want == current ? -1 : want));
            }
    }
}

TEST_CASE("a range that begins at an offset keeps the kernel's phase") {
    // mbind of [start+3 pages, ...) over 0-3: the page at start+3 pages has
    // index (start >> 12) + 3, not 0.
    const std::uint64_t vm = 0x7fff'0000'0000 + 5 * kPageSize;
    const Intent in = intent(Mode::Interleave, Nodemask{0, 1, 2, 3});
    const auto w = walk(in.nodes);
    for (std::uint64_t p = 3; p < 40; ++p) {
        std::uint64_t addr = vm + p * kPageSize;
        int want = model_node(w, (vm >> 12) + p);
        CHECK(target_node_at(in, anonymous_pgoff(vm), vm, addr, 0, 99) == want);
    }
}

TEST_CASE("a range at an offset of a file mapping counts from the file's page") {
    // mmap of a file at page 7, then mbind of its part from the 4th page:
    // the index is vm_pgoff plus the pages from the vma's start, not the
    // address and not the distance from the range's start.
    const std::uint64_t vm = 0x7f40'0000'3000;
    const std::uint64_t pgoff = 7;
    const Intent in = intent(Mode::Interleave, Nodemask{1, 2, 3});
    const auto w = walk(in.nodes);
    for (std::uint64_t p = 4; p < 60; ++p)
        CHECK(target_node_at(in, pgoff, vm, vm + p * kPageSize, 0, 99) == model_node(w, pgoff + p));
}

TEST_CASE("weighted interleave at an offset keeps the kernel's phase") {
    std::array<std::uint8_t, kMaxNodes> weights{};
    weights[0] = 4;
    weights[1] = 1;
    weights[2] = 2;
    weights[3] = 1;
    const Nodemask nodes{0, 1, 2, 3};
    const auto w = walk(nodes, weights.data());
    REQUIRE(w.size() == 8);
    Intent in = intent(Mode::WeightedInterleave, nodes);
    in.weights = weights.data();
    // An anonymous mapping that begins 5 pages past a multiple of 8: a
    // range mbind()-ed from its 3rd page starts mid-walk.
    const std::uint64_t vm = 0x7fff'0000'0000 + 5 * kPageSize;
    for (std::uint64_t p = 3; p < 70; ++p) {
        const int want = model_node(w, (vm >> kPageShift) + p);
        CHECK(target_node_at(in, anonymous_pgoff(vm), vm, vm + p * kPageSize, 0, 99) == want);
        // Already there: nothing to move.
        CHECK(target_node_at(in, anonymous_pgoff(vm), vm, vm + p * kPageSize, 0, want) == -1);
    }
    // Over the nodes the mems allow now (0-1): the weights of those only.
    in.nodes = Nodemask{0, 1};
    const auto w01 = walk(in.nodes, weights.data());
    REQUIRE(w01.size() == 5);
    for (std::uint64_t i = 0; i < 40; ++i) CHECK(target_node(in, i, 99) == model_node(w01, i));
    // THP units walk by their order-9 index.
    const std::uint64_t aligned = 0x7f00'0000'0000;
    for (std::uint64_t k = 0; k < 16; ++k) {
        const std::uint64_t thp = aligned + k * (kPageSize << kThpOrder);
        CHECK(target_node_at(in, anonymous_pgoff(aligned), aligned, thp, kThpOrder, 99) ==
              model_node(w01, (aligned >> (kPageShift + kThpOrder)) + k));
    }
}

TEST_CASE("kernels before 6.7 reduce the index as unsigned int") {
    const Nodemask three{0, 1, 2};
    const std::uint64_t ilx = (std::uint64_t{1} << 32) + 1;  // 2^32 mod 3 == 1
    CHECK(interleave_node(three, ilx, IndexWidth::Bits32) == 1);
    CHECK(interleave_node(three, ilx, IndexWidth::Bits64) == 2);
    // A power of two cannot tell them apart.
    CHECK(interleave_node(Nodemask{0, 1, 2, 3}, ilx, IndexWidth::Bits32) ==
          interleave_node(Nodemask{0, 1, 2, 3}, ilx, IndexWidth::Bits64));
    CHECK(index_width_for_kernel(6, 1) == IndexWidth::Bits32);
    CHECK(index_width_for_kernel(6, 7) == IndexWidth::Bits64);
    CHECK(index_width_for_kernel(6, 12) == IndexWidth::Bits64);
    CHECK(index_width_for_release("6.1.0-18-amd64") == IndexWidth::Bits32);
    CHECK(index_width_for_release("6.12.5") == IndexWidth::Bits64);
    CHECK(index_width_for_release("7.0") == IndexWidth::Bits64);
    CHECK(index_width_for_release("odd") == IndexWidth::Bits32);
    CHECK(index_width_for_kernel(7, 0) == IndexWidth::Bits64);
}

TEST_CASE("weighted interleave: each node takes as many indices as its weight") {
    std::array<std::uint8_t, kMaxNodes> weights{};
    weights[0] = 3;
    weights[1] = 1;
    weights[2] = 0;  // unset: counts as 1
    weights[3] = 2;
    const Nodemask nodes{0, 1, 2, 3};
    const auto w = walk(nodes, weights.data());
    REQUIRE(w.size() == 7);
    Intent in = intent(Mode::WeightedInterleave, nodes);
    in.weights = weights.data();
    for (std::uint64_t i = 0; i < 100; ++i) {
        CHECK(weighted_interleave_node(nodes, weights.data(), i) == model_node(w, i));
        CHECK(target_node(in, i, 9) == model_node(w, i));
    }
    // No table: plain interleave.
    for (std::uint64_t i = 0; i < 20; ++i)
        CHECK(weighted_interleave_node(nodes, nullptr, i) == interleave_node(nodes, i));
}

TEST_CASE("bind and preferred_many move only what lies outside their nodes") {
    for (Mode mode : {Mode::Bind, Mode::PreferredMany}) {
        const Intent in = intent(mode, Nodemask{2, 3});
        for (std::uint64_t i = 0; i < 16; ++i) {
            CHECK(target_node(in, i, 2) == -1);
            CHECK(target_node(in, i, 3) == -1);
            // What must move is spread over the nodes by the index.
            CHECK(target_node(in, i, 0) == (i % 2 ? 3 : 2));
            CHECK(target_node(in, i, 1) == (i % 2 ? 3 : 2));
        }
    }
}

TEST_CASE("preferred brings every page back to its node") {
    const Intent in = intent(Mode::Preferred, Nodemask{3});
    for (std::uint64_t i = 0; i < 8; ++i) {
        CHECK(target_node(in, i, 3) == -1);
        CHECK(target_node(in, i, 0) == 3);
        CHECK(target_node(in, i, 1) == 3);
    }
}

TEST_CASE("pages not present, default and local stay") {
    CHECK(target_node(intent(Mode::Interleave, Nodemask{0, 1}), 1, -14) == -1);  // -EFAULT
    CHECK(target_node(intent(Mode::Default, Nodemask{0, 1}), 1, 0) == -1);
    CHECK(target_node(intent(Mode::Local, Nodemask{0, 1}), 1, 0) == -1);
    CHECK(target_node(intent(Mode::Interleave, Nodemask{}), 1, 0) == -1);
}

TEST_CASE("intent_of: the nodes in force under the mems of now") {
    const Nodemask all{0, 1, 2, 3}, half{0, 1};
    const Recorded il{Request{Mode::Interleave, 0, all, -1}, all};
    Intent in;
    REQUIRE(intent_of(il, half, Semantics::Intent, in));
    CHECK(in.mode == Mode::Interleave);
    CHECK(in.nodes == half);
    REQUIRE(intent_of(il, all, Semantics::Intent, in));
    CHECK(in.nodes == all);
    // preferred 3 under 0-1 maps by position to 1, and back to 3.
    const Recorded pref{Request{Mode::Preferred, 0, Nodemask{3}, -1}, all};
    REQUIRE(intent_of(pref, half, Semantics::Intent, in));
    CHECK(in.nodes == Nodemask{1});
    REQUIRE(intent_of(pref, all, Semantics::Intent, in));
    CHECK(in.nodes == Nodemask{3});
    // `kernel` semantics: history decides; nothing is moved by a guess.
    CHECK_FALSE(intent_of(il, all, Semantics::Kernel, in));
    // ... but a request with flags of its own keeps the kernel's meaning.
    const Recorded st{Request{Mode::Interleave, kFlagStaticNodes, Nodemask{2, 3}, -1}, all};
    REQUIRE(intent_of(st, all, Semantics::Kernel, in));
    CHECK(in.nodes == Nodemask{2, 3});
    // Nothing to place.
    CHECK_FALSE(intent_of(Recorded{Request{Mode::Default, 0, {}, -1}, all}, all,
                          Semantics::Intent, in));
    CHECK_FALSE(intent_of(Recorded{Request{Mode::Local, 0, {}, -1}, all}, all,
                          Semantics::Intent, in));
}

TEST_CASE("64 MiB interleaved over 0-3, mems 0-1 then 0-3: back on all four, a quarter each") {
    const std::uint64_t start = 0x7f00'1234'0000;
    const std::uint64_t pages = 64 * kMiB / kPageSize;
    const Recorded rec{Request{Mode::Interleave, 0, Nodemask{0, 1, 2, 3}, -1},
                       Nodemask{0, 1, 2, 3}};
    // Where cgroup v2 left them after 0-1: 0,2 -> 0 and 1,3 -> 1 by position
    // (cpuset_migrate_mm() remaps old mems onto new).
    std::vector<int> where(pages);
    for (std::uint64_t p = 0; p < pages; ++p)
        where[p] = static_cast<int>(((start >> 12) + p) % 4 % 2);
    Intent in;
    REQUIRE(intent_of(rec, Nodemask{0, 1, 2, 3}, Semantics::Intent, in));
    std::array<std::uint64_t, 4> per_node{};
    Tally before;
    for (std::uint64_t p = 0; p < pages; ++p) {
        const std::uint64_t addr = start + p * kPageSize;
        int t = target_node_at(in, anonymous_pgoff(start), start, addr, 0, where[p]);
        before.add(where[p], t);
        if (t >= 0) where[p] = t;
        ++per_node[static_cast<std::size_t>(where[p])];
        CHECK(target_node_at(in, anonymous_pgoff(start), start, addr, 0, where[p]) == -1);
    }
    CHECK(before.placed == pages / 2);
    CHECK(before.to_move == pages / 2);
    for (auto n : per_node) CHECK(n == pages / 4);
}

TEST_CASE("THP units: one target per 2 MiB, from the order-9 index") {
    const std::uint64_t vm = 0x7f00'0000'0000;
    const Intent in = intent(Mode::Interleave, Nodemask{0, 1, 2, 3});
    const auto w = walk(in.nodes);
    for (std::uint64_t u = 0; u < 16; ++u) {
        const std::uint64_t addr = vm + u * 2 * kMiB;
        CHECK(target_node_at(in, anonymous_pgoff(vm), vm, addr, kThpOrder, 99) ==
              model_node(w, (vm >> 21) + u));
    }
}

TEST_CASE("the planner is constexpr") {
    constexpr Intent in{Mode::Interleave, Nodemask{0, 1, 2, 3}, nullptr, IndexWidth::Bits64};
    static_assert(target_node(in, 5, 0) == 1);
    static_assert(target_node(in, 4, 0) == -1);
    static_assert(interleave_index(anonymous_pgoff(0x200000), 0x200000, 0x400000, 9) == 2);
    CHECK(true);
}
