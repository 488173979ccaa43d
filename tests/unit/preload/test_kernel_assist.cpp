// SPDX-License-Identifier: MIT
// The pure half of kernel assistance (preload/kernel_assist.hpp): which
// readback is the assisted form, what it presents to the program, and how
// an answer is written into a caller's get_mempolicy buffer. Checked
// against the kernel model of include/numakeep/rebind.hpp: for every
// request, M0 and later mems, the assisted policy rebound by the kernel
// presents exactly rule(request, M0, M) under intent.
#include <doctest/doctest.h>

#include <vector>

#include "kernel_assist.hpp"

using namespace numakeep;
using namespace numakeep::preload;

namespace {
constexpr int kRel = kFlagRelativeNodes;

Recorded rec_of(Mode mode, Nodemask nodes, Nodemask m0, std::uint16_t flags = 0) {
    return Recorded{Request{mode, flags, nodes, -1}, m0};
}

// Every non-empty subset of nodes 0-3.
std::vector<Nodemask> subsets() {
    std::vector<Nodemask> v;
    for (unsigned bits = 1; bits < 16; ++bits) {
        Nodemask m;
        for (unsigned n = 0; n < 4; ++n)
            if (bits & (1U << n)) m.set(n);
        v.push_back(m);
    }
    return v;
}
}  // namespace

TEST_CASE("relative_mask_matches: exact masks, and the whole cpuset read back cut to words") {
    CHECK(relative_mask_matches(Nodemask{0, 2}, Nodemask{0, 2}));
    CHECK_FALSE(relative_mask_matches(Nodemask{0}, Nodemask{0, 2}));
    Nodemask word0 = Nodemask::range(0, 63);
    CHECK(relative_mask_matches(word0, Nodemask::all()));
    CHECK(relative_mask_matches(Nodemask::range(0, 127), Nodemask::all()));
    CHECK(relative_mask_matches(Nodemask::all(), Nodemask::all()));
    CHECK_FALSE(relative_mask_matches(Nodemask::range(0, 62), Nodemask::all()));
    CHECK_FALSE(relative_mask_matches(Nodemask{}, Nodemask::all()));
    Nodemask gap = word0;
    gap.set(200);
    CHECK_FALSE(relative_mask_matches(gap, Nodemask::all()));
}

TEST_CASE("held_form tells the program's own form, the assisted one and a foreign one") {
    Recorded r = rec_of(Mode::Interleave, Nodemask{1, 2}, Nodemask::range(0, 3));
    CHECK(held_form(r, 3, Nodemask{1, 2}) == Held::Plain);
    CHECK(held_form(r, 3 | kRel, Nodemask{1, 2}) == Held::Assisted);  // positions 1,2 of 0-3
    CHECK(held_form(r, 3 | kRel, Nodemask{0}) == Held::Other);        // another mask
    CHECK(held_form(r, 2, Nodemask{1, 2}) == Held::Other);            // another mode
    CHECK(held_form(r, 3 | kFlagStaticNodes, Nodemask{1, 2}) == Held::Other);
    // The program's own RELATIVE request is its own form, never "assisted".
    Recorded own = rec_of(Mode::Interleave, Nodemask{0, 1}, Nodemask::range(0, 3), kRel);
    CHECK(held_form(own, 3 | kRel, Nodemask{0, 1}) == Held::Plain);
    // Preferred modes are never assisted.
    Recorded pref = rec_of(Mode::Preferred, Nodemask{3}, Nodemask::range(0, 3));
    CHECK(held_form(pref, 1 | kRel, Nodemask{3}) == Held::Other);
    // "The whole cpuset": every bit, read back as word 0.
    Recorded whole = rec_of(Mode::Bind, Nodemask::range(0, 7), Nodemask::range(0, 3));
    CHECK(held_form(whole, 2 | kRel, Nodemask::range(0, 63)) == Held::Assisted);
}

TEST_CASE("an assisted policy, rebound by the kernel, presents rule(request, M0, M) under intent") {
    for (Mode mode : {Mode::Interleave, Mode::Bind, Mode::WeightedInterleave})
        for (const Nodemask& m0 : subsets())
            for (const Nodemask& u : subsets()) {
                Recorded rec = rec_of(mode, u, m0);
                Rebound issued = assisted_issue(rec, Semantics::Intent);
                if (!is_assisted_form(issued, rec.request)) {
                    CHECK((u & m0).empty());  // only a mask the kernel would refuse
                    continue;
                }
                KernelPolicy pol;
                REQUIRE(kernel_create(Request{mode, issued.flags, issued.nodes, -1}, m0, pol));
                for (const Nodemask& m : subsets()) {
                    kernel_rebind(pol, m);
                    Rebound back = kernel_readback(pol, 4);  // nr_node_ids 4: word 0 only
                    int kmode = static_cast<int>(mode) | back.flags;
                    Nodemask knodes = back.nodes;
                    REQUIRE(present_assisted(rec, kmode, knodes, m));
                    CHECK(kmode == static_cast<int>(mode));
                    CHECK(knodes == rebind_nodes(rec.request, m0, m, Semantics::Intent).nodes);
                    CHECK(knodes == pol.nodes);
                }
            }
}

TEST_CASE("only set modes the kernel remaps, without flags, under intent, are assisted") {
    Nodemask m0 = Nodemask::range(0, 3);
    CHECK(is_assisted_form(assisted_issue(rec_of(Mode::Bind, Nodemask{1}, m0), Semantics::Intent),
                           Request{Mode::Bind, 0, Nodemask{1}, -1}));
    for (Mode mode : {Mode::Preferred, Mode::PreferredMany, Mode::Default, Mode::Local}) {
        Recorded r = rec_of(mode, Nodemask{1}, m0);
        CHECK_FALSE(is_assisted_form(assisted_issue(r, Semantics::Intent), r.request));
    }
    for (Semantics s : {Semantics::Static, Semantics::Relative, Semantics::Kernel}) {
        Recorded r = rec_of(Mode::Interleave, Nodemask{1}, m0);
        CHECK_FALSE(is_assisted_form(assisted_issue(r, s), r.request));
    }
    Recorded st = rec_of(Mode::Interleave, Nodemask{1}, m0, kFlagStaticNodes);
    CHECK_FALSE(is_assisted_form(assisted_issue(st, Semantics::Intent), st.request));
    // Nodes all outside M0: the program's own call failed; nothing to assist.
    Recorded out = rec_of(Mode::Interleave, Nodemask{5}, m0);
    CHECK_FALSE(is_assisted_form(assisted_issue(out, Semantics::Intent), out.request));
}

TEST_CASE("write_user_nodes writes the words the kernel wrote, no more") {
    unsigned long buf[20];
    for (auto& w : buf) w = 0xaaUL;
    Nodemask n{1, 3, 64};
    write_user_nodes(buf, 65, n);  // ALIGN(64, 64) bits: one word
    CHECK(buf[0] == 0b1010UL);
    CHECK(buf[1] == 0xaaUL);
    write_user_nodes(buf, 66, n);  // 65 bits: two words
    CHECK(buf[1] == 1UL);
    CHECK(buf[2] == 0xaaUL);
    write_user_nodes(buf, 1025, Nodemask{2});
    CHECK(buf[0] == 0b100UL);
    CHECK(buf[15] == 0UL);
    CHECK(buf[16] == 0xaaUL);
    write_user_nodes(buf, 1, Nodemask{0});  // maxnode 1: nothing
    CHECK(buf[0] == 0b100UL);
    write_user_nodes(nullptr, 1025, Nodemask{0});  // no buffer: nothing
}
