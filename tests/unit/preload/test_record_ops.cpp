// SPDX-License-Identifier: MIT
// The runtime's pure record logic (preload/record_ops.hpp), without
// LD_PRELOAD: what a successful call asks to remember and how the records
// follow munmap, mmap, mremap and set_mempolicy_home_node.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "record_ops.hpp"

using namespace numakeep;
using namespace numakeep::preload;

namespace {
constexpr std::uint64_t P = kPageSize;
constexpr std::uint64_t A = 0x10000000;

Recorded bind(Nodemask nodes) {
    return Recorded{Request{Mode::Bind, 0, nodes, -1}, Nodemask{0, 1, 2, 3}};
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> spans(const RangeStore& s) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> v;
    s.for_each([&](const RangeStore::Range& r) { v.emplace_back(r.start, r.end); });
    return v;
}
}  // namespace

TEST_CASE("request_from_call decodes mode, flags and the kernel's maxnode-1 bits") {
    unsigned long mask[17] = {};
    mask[0] = 0b1011;
    mask[16] = 1;  // bit 1024: beyond MAX_NUMNODES, never read
    Request r;
    REQUIRE(request_from_call(2, mask, 1025, r));
    CHECK(r.mode == Mode::Bind);
    CHECK(r.nodes == Nodemask{0, 1, 3});
    REQUIRE(request_from_call(3 | kFlagStaticNodes, mask, 3, r));  // maxnode 3: bits 0-1
    CHECK(r.mode == Mode::Interleave);
    CHECK(r.flags == kFlagStaticNodes);
    CHECK(r.nodes == Nodemask{0, 1});
    CHECK_FALSE(request_from_call(0, mask, 1025, r));       // default: nothing to keep
    CHECK_FALSE(request_from_call(4, mask, 1025, r));       // local
    CHECK_FALSE(request_from_call(1, nullptr, 0, r));       // preferred, empty: local
    CHECK_FALSE(request_from_call(99, mask, 1025, r));      // not a mode
    CHECK(nodes_from_user(mask, 65) == Nodemask{0, 1, 3});  // exactly one word
    CHECK(nodes_from_user(mask, 1) == Nodemask{});
    // Decoded in place: every field is written, whatever `r` held before.
    r.home_node = 5;
    REQUIRE(request_from_call(2, mask, 2000, r));  // maxnode > 1025: 1024 bits
    CHECK(r.home_node == -1);
    CHECK(r.flags == 0);
    CHECK(r.nodes == Nodemask{0, 1, 3});
    REQUIRE(request_from_call(2, mask, 66, r));  // one word and one bit
    CHECK(r.nodes == Nodemask{0, 1, 3});
    mask[1] = 0b11;
    REQUIRE(request_from_call(2, mask, 66, r));
    CHECK(r.nodes == Nodemask{0, 1, 3, 64});
}

TEST_CASE("munmap, mmap and mbind(DEFAULT) forget; mbind replaces") {
    RangeStore s;
    apply_mbind(s, A, 8 * P, true, bind(Nodemask{0}));
    apply_munmap(s, A + 2 * P, P + 1);  // length rounds up to 2 pages
    CHECK(spans(s) == decltype(spans(s)){{A, A + 2 * P}, {A + 4 * P, A + 8 * P}});
    apply_mmap(s, A + 7 * P, P);
    apply_mbind(s, A, P, false, bind(Nodemask{}));
    CHECK(spans(s) == decltype(spans(s)){{A + P, A + 2 * P}, {A + 4 * P, A + 7 * P}});
}

TEST_CASE("mremap forms follow the kernel's vmas") {
    RangeStore s;
    apply_mbind(s, A, 4 * P, true, bind(Nodemask{1}));
    SUBCASE("grow in place: the growth carries the last page's record") {
        CHECK(apply_mremap(s, A, 4 * P, 6 * P, 0, A));
        CHECK(spans(s) == decltype(spans(s)){{A, A + 6 * P}});
    }
    SUBCASE("move with growth") {
        CHECK(apply_mremap(s, A, 4 * P, 5 * P, kMremapMaymove, A + 100 * P));
        CHECK(spans(s) == decltype(spans(s)){{A + 100 * P, A + 105 * P}});
    }
    SUBCASE("DONTUNMAP keeps the old range") {
        CHECK(apply_mremap(s, A, 4 * P, 4 * P, kMremapMaymove | kMremapDontunmap, A + 100 * P));
        CHECK(spans(s) == decltype(spans(s)){{A, A + 4 * P}, {A + 100 * P, A + 104 * P}});
    }
    SUBCASE("shrink") {
        CHECK(apply_mremap(s, A, 4 * P, P, 0, A));
        CHECK(spans(s) == decltype(spans(s)){{A, A + P}});
    }
}

TEST_CASE("home node joins only BIND and PREFERRED_MANY pieces of its span") {
    RangeStore s;
    apply_mbind(s, A, 4 * P, true, bind(Nodemask{0}));
    Recorded inter{Request{Mode::Interleave, 0, Nodemask{0}, -1}, Nodemask{0}};
    apply_mbind(s, A + 4 * P, 2 * P, true, inter);
    apply_home_node(s, A + P, 5 * P, 0);
    CHECK(s.lookup(A)->request.home_node == -1);
    CHECK(s.lookup(A + P)->request.home_node == 0);
    CHECK(s.lookup(A + 3 * P)->request.home_node == 0);
    CHECK(s.lookup(A + 4 * P)->request.home_node == -1);
}

TEST_CASE("home node: a range partly inside the span, gaps, and ranges already at that home") {
    RangeStore s;
    apply_mbind(s, A, 4 * P, true, bind(Nodemask{0}));
    apply_mbind(s, A + 6 * P, 2 * P, true, bind(Nodemask{1}));
    apply_home_node(s, A + 2 * P, 5 * P, 1);  // [A+2P, A+7P)
    CHECK(s.lookup(A + P)->request.home_node == -1);
    CHECK(s.lookup(A + 2 * P)->request.home_node == 1);
    CHECK(s.lookup(A + 3 * P)->request.home_node == 1);
    CHECK(s.lookup(A + 4 * P) == nullptr);
    CHECK(s.lookup(A + 6 * P)->request.home_node == 1);
    CHECK(s.lookup(A + 7 * P)->request.home_node == -1);
    apply_home_node(s, A, 8 * P, 1);
    CHECK(s.lookup(A)->request.home_node == 1);
    CHECK(s.check() == nullptr);
    CHECK(spans(s) == decltype(spans(s)){{A, A + 4 * P}, {A + 6 * P, A + 8 * P}});  // merged
}

TEST_CASE("alternating requests over one range: re-interned without growing, counts right") {
    RangeStore s;
    Recorded b = bind(Nodemask{0}), p = bind(Nodemask{1});
    p.request.mode = Mode::Preferred;
    Recorded others[40];
    for (int i = 0; i < 40; ++i) others[i] = bind(Nodemask{static_cast<unsigned>(i + 2)});
    apply_mbind(s, A, P, true, b);
    apply_mbind(s, A, P, true, p);
    std::size_t heap = s.heap_bytes();
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(apply_mbind(s, A, P, true, i & 1 ? b : p));
        CHECK(s.requests() == 1);
    }
    CHECK(s.heap_bytes() == heap);
    // Many distinct requests then: idle ones are reused, the live ones kept.
    for (int i = 0; i < 40; ++i) REQUIRE(apply_mbind(s, A + (i + 1) * P, P, true, others[i]));
    CHECK(s.requests() == 41);
    for (int i = 0; i < 40; ++i) CHECK(*s.lookup(A + (i + 1) * P) == others[i]);
    for (int i = 0; i < 40; ++i) apply_munmap(s, A + (i + 1) * P, P);
    CHECK(s.requests() == 1);
    for (int i = 0; i < 40; ++i)
        REQUIRE(apply_mbind(s, A + (i + 1) * P, P, true,
                            bind(Nodemask{static_cast<unsigned>(i + 100)})));
    CHECK(s.requests() == 41);
    CHECK(s.lookup(A) != nullptr);
    for (int i = 0; i < 40; ++i)
        CHECK(s.lookup(A + (i + 1) * P)->request.nodes == Nodemask{static_cast<unsigned>(i + 100)});
    CHECK(s.check() == nullptr);
    std::uint64_t lo = 0, hi = 0;
    REQUIRE(s.bounds(lo, hi));
    CHECK(lo == A);
    CHECK(hi == A + 41 * P);
    s.clear();
    CHECK_FALSE(s.bounds(lo, hi));
}
