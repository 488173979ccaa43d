// SPDX-License-Identifier: MIT
// The rebind rule as tables: every mode x flag x semantics, the two tables
// of DESIGN.md reproduced exactly, empty results, single-node cpusets and
// nodes beyond 64.
#include <doctest/doctest.h>

#include <string>

#include "numakeep/nodelist.hpp"
#include "numakeep/rebind.hpp"

using namespace numakeep;

namespace {

Nodemask L(const char* text) {
    auto r = parse_kernel_nodelist(text);
    REQUIRE(r.ok);
    return r.nodes;
}
std::string S(const Nodemask& m) {
    return m.to_string();
}

Request req(Mode mode, const char* nodes, int home = -1, std::uint16_t flags = 0) {
    return Request{mode, flags, L(nodes), home};
}

constexpr Semantics kAllSemantics[] = {Semantics::Intent, Semantics::Static, Semantics::Relative,
                                       Semantics::Kernel};
constexpr std::uint16_t kAllFlags[] = {0, kFlagStaticNodes, kFlagRelativeNodes, kFlagNumaBalancing};

}  // namespace

TEST_CASE("every mode x flag x semantics, positions unlike ids") {
    // M0 = 1-4, M1 = 2,5,700: a node's position in M0 is not its id, and M1
    // is smaller, so intent, static and relative all answer differently.
    const Nodemask m0 = L("1-4"), m1 = L("2,5,700");
    struct Row {
        Mode mode;
        const char* nodes;
        int home;
        // expected nodes and home under intent, static, relative, kernel
        const char* nodes_by[4];
        int home_by[4];
    };
    const Row rows[] = {
        {Mode::Default, "", -1, {"", "", "", ""}, {-1, -1, -1, -1}},
        {Mode::Local, "", -1, {"", "", "", ""}, {-1, -1, -1, -1}},
        // PREFERRED 2: position 1 in M0 -> 5; static keeps 2; relative: bit 2 -> 700.
        {Mode::Preferred, "2", -1, {"5", "2", "700", "2"}, {-1, -1, -1, -1}},
        {Mode::Preferred, "", -1, {"", "", "", ""}, {-1, -1, -1, -1}},  // = LOCAL
        // Sets 2-3 (positions 1-2 in M0): intent 5,700; static 2; relative
        // fold(2-3, 3) = 0,2 -> 2,700. Home 3 (position 2) -> 700.
        {Mode::Bind, "2-3", 3, {"5,700", "2", "2,700", "2-3"}, {700, 3, 700, 3}},
        {Mode::Interleave, "2-3", -1, {"5,700", "2", "2,700", "2-3"}, {-1, -1, -1, -1}},
        {Mode::PreferredMany, "2-3", 3, {"5,700", "2", "2,700", "2-3"}, {700, 3, 700, 3}},
        {Mode::WeightedInterleave, "2-3", -1, {"5,700", "2", "2,700", "2-3"}, {-1, -1, -1, -1}},
        // U ⊇ M0: "the whole cpuset" under intent; static 2,5; relative
        // fold(0-7, 3) = 0-2 -> all of M1.
        {Mode::Interleave, "0-7", -1, {"2,5,700", "2,5", "2,5,700", "0-7"}, {-1, -1, -1, -1}},
        {Mode::Bind, "1-4", 1, {"2,5,700", "2", "2,5,700", "1-4"}, {2, 1, 2, 1}},
    };
    int checked = 0;
    for (const Row& row : rows) {
        for (std::uint16_t flags : kAllFlags) {
            for (unsigned si = 0; si < 4; ++si) {
                const Semantics s = kAllSemantics[si];
                const Request r = req(row.mode, row.nodes, row.home, flags);
                CAPTURE(to_string(row.mode));
                CAPTURE(row.nodes);
                CAPTURE(flags);
                CAPTURE(to_string(s));
                const Rebound got = rebind_nodes(r, m0, m1, s);
                CHECK(got.flags == flags);  // NUMA_BALANCING and the rest carried through
                if ((flags & kOwnMappingFlags) && !has_no_nodes(r)) {
                    // The kernel's meaning, whatever the semantics: issued verbatim.
                    CHECK(S(got.nodes) == row.nodes);
                    CHECK(got.home_node == row.home);
                } else {
                    CHECK(S(got.nodes) == row.nodes_by[si]);
                    CHECK(got.home_node == row.home_by[si]);
                }
                ++checked;
            }
        }
    }
    CHECK(checked == 10 * 4 * 4);
}

TEST_CASE("flagged requests keep the kernel's meaning: what the kernel computes from them") {
    // Issued verbatim under M1, the kernel computes what the static and
    // relative semantics give for the same request without the flag.
    const Nodemask m0 = L("1-4"), m1 = L("2,5,700");
    for (Mode mode : {Mode::Bind, Mode::Interleave, Mode::PreferredMany, Mode::WeightedInterleave,
                      Mode::Preferred}) {
        const char* nodes = mode == Mode::Preferred ? "2" : "2-3";
        for (auto pair : {std::pair{kFlagStaticNodes, Semantics::Static},
                          std::pair{kFlagRelativeNodes, Semantics::Relative}}) {
            const std::uint16_t flag = pair.first;
            const Semantics s = pair.second;
            CAPTURE(to_string(mode));
            CAPTURE(flag);
            Rebound issue = rebind_nodes(req(mode, nodes, -1, flag), m0, m1, Semantics::Intent);
            KernelPolicy pol;
            REQUIRE(kernel_create(Request{mode, issue.flags, issue.nodes, -1}, m1, pol));
            CHECK(pol.nodes == rebind_nodes(req(mode, nodes), m0, m1, s).nodes);
        }
    }
}

TEST_CASE("DESIGN.md, second table: what intent gives for the measured sequence") {
    const Nodemask m0 = L("0-3");
    const Request interleave = req(Mode::Interleave, "0-3");
    const Request bind = req(Mode::Bind, "0-3");
    const Request preferred = req(Mode::Preferred, "3");
    const Request preferred_many = req(Mode::PreferredMany, "2-3");
    struct Row {
        const char* mems;
        const char *interleave, *bind, *preferred, *preferred_many;
    };
    const Row table[] = {
        {"0-1", "0-1", "0-1", "1", "0-1"}, {"0-3", "0-3", "0-3", "3", "2-3"},
        {"2-3", "2-3", "2-3", "3", "2-3"}, {"0-3", "0-3", "0-3", "3", "2-3"},
        {"1", "1", "1", "1", "1"},         {"0-3", "0-3", "0-3", "3", "2-3"},
    };
    for (const Row& row : table) {
        CAPTURE(row.mems);
        const Nodemask m = L(row.mems);
        CHECK(S(rebind_nodes(interleave, m0, m, Semantics::Intent).nodes) == row.interleave);
        CHECK(S(rebind_nodes(bind, m0, m, Semantics::Intent).nodes) == row.bind);
        CHECK(S(rebind_nodes(preferred, m0, m, Semantics::Intent).nodes) == row.preferred);
        CHECK(S(rebind_nodes(preferred_many, m0, m, Semantics::Intent).nodes) ==
              row.preferred_many);
    }
}

TEST_CASE("DESIGN.md, first table: the kernel's own rule, measured on 6.1") {
    const Nodemask m0 = L("0-3");
    const Request requests[] = {req(Mode::Interleave, "0-3"), req(Mode::Bind, "0-3"),
                                req(Mode::Preferred, "3"), req(Mode::PreferredMany, "2-3")};
    struct Row {
        const char* mems;
        const char* nodes[4];
    };
    const Row table[] = {
        {"0-1", {"0-1", "0-1", "3", "2-3"}}, {"0-3", {"0-1", "0-1", "3", "2-3"}},
        {"2-3", {"2-3", "2-3", "3", "2-3"}}, {"0-3", {"0-1", "0-1", "3", "2-3"}},
        {"1", {"1", "1", "3", "2-3"}},       {"0-3", {"0", "0", "3", "2-3"}},
    };
    for (unsigned c = 0; c < 4; ++c) {
        // Two ways: rebind_nodes_kernel step by step, and the model of
        // struct mempolicy (mpol_set_nodemask, mpol_rebind_policy).
        Rebound current{requests[c].nodes, -1, 0};
        KernelPolicy pol;
        REQUIRE(kernel_create(requests[c], m0, pol));
        Nodemask prev = m0;
        for (const Row& row : table) {
            CAPTURE(c);
            CAPTURE(row.mems);
            const Nodemask m = L(row.mems);
            current = rebind_nodes_kernel(requests[c], current, prev, m);
            prev = m;
            kernel_rebind(pol, m);
            CHECK(S(current.nodes) == row.nodes[c]);
            CHECK(S(pol.nodes) == row.nodes[c]);
            CHECK(kernel_readback(pol).nodes == current.nodes);
        }
    }
}

TEST_CASE("empty results") {
    const Nodemask m0 = L("0-3");
    // DEFAULT and LOCAL: nothing, under every semantics and any mems.
    for (Semantics s : kAllSemantics) {
        CHECK(rebind_nodes(req(Mode::Default, ""), m0, L("1"), s).nodes.empty());
        CHECK(rebind_nodes(req(Mode::Local, ""), m0, L("1"), s).nodes.empty());
    }
    // Static with nothing left: the whole new cpuset (mpol_rebind_nodemask's fallback).
    CHECK(S(rebind_nodes(req(Mode::Bind, "0-1"), m0, L("2-3"), Semantics::Static).nodes) == "2-3");
    CHECK(S(rebind_nodes(req(Mode::Preferred, "1"), m0, L("2-3"), Semantics::Static).nodes) == "2");
    // A request outside the mems it was made under (the kernel refuses
    // those): the whole new cpuset, never an empty mask.
    CHECK(S(rebind_nodes(req(Mode::Bind, "5"), m0, L("2-3"), Semantics::Intent).nodes) == "2-3");
    // No mems at all (no cpuset has that): nothing to issue.
    for (Semantics s : {Semantics::Intent, Semantics::Static, Semantics::Relative})
        CHECK(rebind_nodes(req(Mode::Bind, "0-1"), m0, Nodemask{}, s).nodes.empty());
    // The kernel's rule: an empty result becomes the new mems; a node that
    // was not in the previous mems stays where it is (bitmap_remap's identity).
    Rebound cur{L("3"), -1, 0};
    CHECK(S(rebind_nodes_kernel(req(Mode::Bind, "3"), cur, L("3"), L("3")).nodes) == "3");
    CHECK(S(rebind_nodes_kernel(req(Mode::Bind, "3"), cur, L("0-2"), L("5")).nodes) == "3");
    CHECK(S(rebind_nodes_kernel(req(Mode::Bind, "3"), Rebound{}, L("0-2"), L("5")).nodes) == "5");
}

TEST_CASE("single-node cpusets") {
    // Made under one node: the request is "the whole cpuset" however it grows.
    const Nodemask one = L("5");
    CHECK(S(rebind_nodes(req(Mode::Interleave, "5"), one, L("0-3"), Semantics::Intent).nodes) ==
          "0-3");
    CHECK(S(rebind_nodes(req(Mode::Preferred, "5"), one, L("0-3"), Semantics::Intent).nodes) ==
          "0");
    CHECK(S(rebind_nodes(req(Mode::Interleave, "5"), one, L("0-3"), Semantics::Static).nodes) ==
          "0-3");
    CHECK(S(rebind_nodes(req(Mode::Interleave, "5"), one, L("0-3"), Semantics::Relative).nodes) ==
          "1");
    // Squeezed onto one node: everything lands there, home node included.
    const Nodemask m0 = L("0-3"), to = L("700");
    for (Mode mode : {Mode::Bind, Mode::Interleave, Mode::PreferredMany, Mode::WeightedInterleave,
                      Mode::Preferred}) {
        for (Semantics s : {Semantics::Intent, Semantics::Static, Semantics::Relative}) {
            Rebound r = rebind_nodes(req(mode, "1", 1), m0, to, s);
            CHECK(S(r.nodes) == "700");
            if (s != Semantics::Static) CHECK(r.home_node == 700);
        }
    }
}

TEST_CASE("nodes beyond 64") {
    const Nodemask m0 = L("100,700,1023"), m1 = L("64-65");
    // Positions 1 and 2 of M0; folded onto two nodes: 65 and 64.
    CHECK(S(rebind_nodes(req(Mode::Bind, "700,1023"), m0, m1, Semantics::Intent).nodes) == "64-65");
    CHECK(S(rebind_nodes(req(Mode::Bind, "1023"), m0, m1, Semantics::Intent).nodes) == "64");
    CHECK(S(rebind_nodes(req(Mode::Preferred, "700"), m0, m1, Semantics::Intent).nodes) == "65");
    CHECK(rebind_nodes(req(Mode::Bind, "1023", 1023), m0, m1, Semantics::Intent).home_node == 64);
    CHECK(S(rebind_nodes(req(Mode::Bind, "700,1023"), m0, m1, Semantics::Static).nodes) ==
          "64-65");  // nothing left: all of M1
    CHECK(S(rebind_nodes(req(Mode::Bind, "700,1023"), m0, m1, Semantics::Relative).nodes) ==
          "64-65");
    CHECK(
        S(rebind_nodes(req(Mode::Bind, "100,700,1023"), m0, L("1023"), Semantics::Intent).nodes) ==
        "1023");
    // And back: the first position of M0 is 100 again.
    CHECK(S(rebind_nodes(req(Mode::Bind, "100"), m0, L("100,700,1023"), Semantics::Intent).nodes) ==
          "100");
}

TEST_CASE("the kernel's rule leaves preferred modes, flagged policies and home nodes alone") {
    const Nodemask m0 = L("0-3"), m1 = L("0-1");
    for (Mode mode : {Mode::Preferred, Mode::PreferredMany}) {
        Rebound cur{L("3"), 3, 0};
        CHECK(rebind_nodes_kernel(req(mode, "3"), cur, m0, m1) == cur);
    }
    Rebound cur{L("2-3"), 3, kFlagRelativeNodes};
    CHECK(rebind_nodes_kernel(req(Mode::Bind, "2-3", 3, kFlagRelativeNodes), cur, m0, m1) == cur);
    Rebound plain{L("2-3"), 3, 0};
    Rebound moved = rebind_nodes_kernel(req(Mode::Bind, "2-3", 3), plain, m0, m1);
    CHECK(S(moved.nodes) == "0-1");
    CHECK(moved.home_node == 3);
}

TEST_CASE("the kernel model: flags, union quirk and refusals (mm/mempolicy.c)") {
    KernelPolicy pol;
    // MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES together: EINVAL.
    CHECK_FALSE(kernel_create(req(Mode::Bind, "0", -1, kOwnMappingFlags), L("0-3"), pol));
    // Static outside the mems: nothing left, EINVAL at creation.
    CHECK_FALSE(kernel_create(req(Mode::Bind, "5", -1, kFlagStaticNodes), L("0-3"), pol));
    // NUMA balancing only with bind (6.1).
    CHECK_FALSE(kernel_create(req(Mode::Interleave, "0", -1, kFlagNumaBalancing), L("0-3"), pol));
    CHECK(kernel_create(req(Mode::Bind, "0", -1, kFlagNumaBalancing), L("0-3"), pol));
    // PREFERRED with no nodes is LOCAL; with a flag it is EINVAL.
    CHECK(kernel_create(req(Mode::Preferred, ""), L("0-3"), pol));
    CHECK(pol.mode == Mode::Local);
    CHECK_FALSE(kernel_create(req(Mode::Preferred, "", -1, kFlagStaticNodes), L("0-3"), pol));
    // Home nodes: bind and preferred_many only.
    CHECK_FALSE(kernel_create(req(Mode::Interleave, "0", 0), L("0-3"), pol));
    // Relative policies follow their user mask path-independently...
    REQUIRE(kernel_create(req(Mode::Interleave, "0-1", -1, kFlagRelativeNodes), L("2-5"), pol));
    CHECK(S(pol.nodes) == "2-3");
    kernel_rebind(pol, L("7"));
    CHECK(S(pol.nodes) == "7");
    kernel_rebind(pol, L("2-5"));
    CHECK(S(pol.nodes) == "2-3");
    CHECK(S(kernel_readback(pol).nodes) == "0-1");  // get_mempolicy: the user mask
    // ...but a flagged preferred policy is not remapped, and its rebind
    // overwrites the user mask it shares a union with: it reads back the mems.
    REQUIRE(kernel_create(req(Mode::Preferred, "1", -1, kFlagRelativeNodes), L("2-5"), pol));
    CHECK(S(pol.nodes) == "3");
    kernel_rebind(pol, L("6-7"));
    CHECK(S(pol.nodes) == "3");
    CHECK(S(kernel_readback(pol).nodes) == "6-7");
}

TEST_CASE("the kernel model: NUMA balancing stores the user's mask (measured in the 6.1 guest)") {
    // mpol_store_user_nodemask() counts MPOL_F_NUMA_BALANCING: pol->w holds
    // the user's mask, so the first rebind remaps from it, not from the mems.
    KernelPolicy pol;
    REQUIRE(kernel_create(req(Mode::Bind, "1,3", -1, kFlagNumaBalancing), L("0-3"), pol));
    CHECK(S(kernel_readback(pol).nodes) == "1,3");
    kernel_rebind(pol, L("0-1"));
    CHECK(S(pol.nodes) == "0-1");                   // from the mems 0-3 it would have been 1
    CHECK(S(kernel_readback(pol).nodes) == "0-1");  // and it reads back the mems
    kernel_rebind(pol, L("0-3"));
    CHECK(S(pol.nodes) == "0-1");
    CHECK(S(kernel_readback(pol).nodes) == "0-3");
    // rebind_nodes_kernel agrees when told where the kernel maps from.
    const Request r = req(Mode::Bind, "1,3", -1, kFlagNumaBalancing);
    CHECK(kernel_first_old_map(r, L("0-3")) == L("1,3"));
    CHECK(kernel_first_old_map(req(Mode::Bind, "1,3"), L("0-3")) == L("0-3"));
    Rebound cur = rebind_nodes_kernel(r, Rebound{L("1,3"), -1, r.flags}, L("1,3"), L("0-1"));
    CHECK(S(cur.nodes) == "0-1");
    CHECK(S(effective_nodes(r, L("0-3"), L("0-1"), Semantics::Kernel)) == "0-1");
}

TEST_CASE("the kernel model: get_mempolicy copies only nr_node_ids worth of words") {
    KernelPolicy pol;
    REQUIRE(kernel_create(Request{Mode::Interleave, kFlagRelativeNodes, Nodemask::all(), -1},
                          L("0-3"), pol));
    CHECK(S(pol.nodes) == "0-3");
    CHECK(kernel_readback(pol).nodes == Nodemask::all());
    CHECK(S(kernel_readback(pol, 4).nodes) == "0-63");  // as the 4-node guest reports it
    CHECK(S(kernel_readback(pol, 65).nodes) == "0-127");
}

TEST_CASE("the rule is constexpr") {
    constexpr Request r{Mode::Interleave, 0, Nodemask{0, 1, 2, 3}, -1};
    static_assert(rebind_nodes(r, Nodemask::range(0, 3), Nodemask{1}, Semantics::Intent).nodes ==
                  Nodemask{1});
    static_assert(
        rebind_nodes(r, Nodemask::range(0, 3), Nodemask::range(0, 3), Semantics::Intent).nodes ==
        Nodemask::range(0, 3));
}

TEST_CASE("effective_nodes: where memory goes, flagged requests included") {
    const Nodemask m0 = L("1-4"), m1 = L("2,5,700");
    // Unflagged: the rule's nodes.
    for (Semantics s : {Semantics::Intent, Semantics::Static, Semantics::Relative})
        CHECK(effective_nodes(req(Mode::Bind, "2-3"), m0, m1, s) ==
              rebind_nodes(req(Mode::Bind, "2-3"), m0, m1, s).nodes);
    // Flagged: what the kernel computes from the verbatim request, whatever s.
    for (Semantics s : kAllSemantics) {
        CHECK(S(effective_nodes(req(Mode::Bind, "2-3", -1, kFlagStaticNodes), m0, m1, s)) == "2");
        CHECK(S(effective_nodes(req(Mode::Bind, "4", -1, kFlagStaticNodes), m0, m1, s)) ==
              "2,5,700");  // nothing left: the kernel's rebind falls back to the mems
        CHECK(S(effective_nodes(req(Mode::Bind, "2-3", -1, kFlagRelativeNodes), m0, m1, s)) ==
              "2,700");
        CHECK(S(effective_nodes(req(Mode::Preferred, "2", -1, kFlagRelativeNodes), m0, m1, s)) ==
              "700");
        CHECK(effective_nodes(req(Mode::Local, ""), m0, m1, s).empty());
    }
    // Kernel semantics, straight from M0: positional remap of what it held.
    CHECK(S(effective_nodes(req(Mode::Bind, "0-3"), L("0-3"), L("0-1"), Semantics::Kernel)) ==
          "0-1");
    CHECK(S(effective_nodes(req(Mode::Preferred, "3"), L("0-3"), L("0-1"), Semantics::Kernel)) ==
          "3");
    CHECK(S(effective_nodes(req(Mode::Interleave, "0-7"), L("0-3"), L("2-3"), Semantics::Kernel)) ==
          "2-3");
}
