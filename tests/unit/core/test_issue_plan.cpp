// SPDX-License-Identifier: MIT
// plan_issue() (include/numakeep/issue_plan.hpp): what the runtime gives
// the kernel for a recorded request, for ranges, task policies and the
// exec handoff alike, and how the zero window's form is read back. The
// kernel model of rebind.hpp is the reference: an assisted policy rebound
// by the kernel presents exactly rule(request, M0, M) under intent.
#include <doctest/doctest.h>

#include <vector>

#include "numakeep/issue_plan.hpp"
#include "numakeep/nodelist.hpp"

using namespace numakeep;

namespace {
constexpr int kRel = kFlagRelativeNodes;
constexpr IssueSettings kIntent{Semantics::Intent, false};
constexpr IssueSettings kAssist{Semantics::Intent, true};

Nodemask L(const char* text) {
    auto r = parse_kernel_nodelist(text);
    REQUIRE(r.ok);
    return r.nodes;
}

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

TEST_CASE("what is kept, and what the rule re-issues") {
    for (Mode m : {Mode::Default, Mode::Local}) {
        CHECK_FALSE(worth_recording(Request{m, 0, {}, -1}));
        CHECK_FALSE(rule_reissues(Request{m, 0, {}, -1}));
    }
    CHECK_FALSE(worth_recording(Request{Mode::Preferred, 0, {}, -1}));  // mpol_new(): local
    CHECK(worth_recording(Request{Mode::Preferred, 0, L("1"), -1}));
    CHECK(rule_reissues(Request{Mode::Interleave, kFlagNumaBalancing, L("0-1"), -1}));
    const Request own{Mode::Bind, kFlagStaticNodes, L("0-1"), -1};
    CHECK(worth_recording(own));  // recorded (its range is tracked)...
    CHECK_FALSE(rule_reissues(own));  // ...but the kernel keeps it right
}

TEST_CASE("nothing to issue: DEFAULT/LOCAL, flags of the request's own, kernel semantics") {
    const Nodemask m0 = L("0-3"), m1 = L("0-1");
    CHECK_FALSE(plan_issue(rec_of(Mode::Default, {}, m0), m1, kIntent).needed);
    CHECK_FALSE(plan_issue(rec_of(Mode::Local, {}, m0), m1, kIntent).needed);
    CHECK_FALSE(plan_issue(rec_of(Mode::Preferred, {}, m0), m1, kIntent).needed);
    // The kernel keeps STATIC/RELATIVE requests by itself, preferred ones too.
    CHECK_FALSE(plan_issue(rec_of(Mode::Bind, L("0-1"), L("2-5"), kRel), L("6-7"), kIntent).needed);
    CHECK_FALSE(
        plan_issue(rec_of(Mode::Preferred, L("3"), m0, kFlagStaticNodes), L("3-5"), kIntent).needed);
    CHECK_FALSE(plan_issue(rec_of(Mode::Preferred, L("1"), m0, kRel), L("4-7"), kAssist).needed);
    const Recorded il = rec_of(Mode::Interleave, L("0-3"), m0);
    CHECK_FALSE(plan_issue(il, m1, IssueSettings{Semantics::Kernel, false}).needed);
    CHECK_FALSE(plan_issue(il, m1, IssueSettings{Semantics::Kernel, true}).needed);
}

TEST_CASE("interleave follows the rule from the request, not from what was applied") {
    const Recorded il = rec_of(Mode::Interleave, L("0-3"), L("0-3"));
    IssuePlan p = plan_issue(il, L("0-1"), kIntent);
    CHECK(p == IssuePlan{true, Mode::Interleave, 0, L("0-1"), -1});
    CHECK(p.mode_arg() == 3);
    p = plan_issue(il, L("0-3"), kIntent);
    CHECK(p.nodes == L("0-3"));  // back to all four, where the kernel left 0-1
    CHECK_FALSE(p.assisted());
    // static and relative semantics: the same function, their rule.
    CHECK(plan_issue(il, L("2-3"), IssueSettings{Semantics::Static, false}).nodes == L("2-3"));
    CHECK(plan_issue(il, L("4-5"), IssueSettings{Semantics::Static, false}).nodes == L("4-5"));
    CHECK(plan_issue(il, L("4-5"), IssueSettings{Semantics::Relative, false}).nodes == L("4-5"));
}

TEST_CASE("preferred: always the rule's one node, by position") {
    const Recorded pref = rec_of(Mode::Preferred, L("3"), L("0-3"));
    CHECK(plan_issue(pref, L("0-3"), kIntent).nodes == L("3"));
    CHECK(plan_issue(pref, L("0-1"), kIntent).nodes == L("1"));
    // position 3 of 0-3 folded onto two nodes: the second.
    CHECK(plan_issue(pref, L("1-2"), kIntent).nodes == L("2"));
    // Never assisted: the kernel does not remap preferred modes.
    CHECK_FALSE(plan_issue(pref, L("1-2"), kAssist).assisted());
    // preferred_many made with more nodes than the mems: the rule's answer
    // is the whole request once the mems allow it.
    const Recorded many = rec_of(Mode::PreferredMany, L("0-1"), L("0"));
    CHECK(plan_issue(many, L("0-1"), kIntent).nodes == L("0-1"));
}

TEST_CASE("the home node is the rule's in both forms") {
    Recorded b = rec_of(Mode::Bind, L("0-3"), L("0-3"));
    b.request.home_node = 3;
    CHECK(plan_issue(b, L("4-5"), kIntent).home_node == 5);
    const IssuePlan a = plan_issue(b, L("4-5"), kAssist);
    CHECK(a.assisted());
    CHECK(a.nodes == Nodemask::all());
    CHECK(a.home_node == 5);
}

TEST_CASE("the assisted form: the relative mask, whatever the mems") {
    const Recorded il = rec_of(Mode::Interleave, L("0-3"), L("0-3"));
    for (const char* m : {"1", "0-1", "4-7", "0-3"}) {
        const IssuePlan p = plan_issue(il, L(m), kAssist);
        CHECK(p == IssuePlan{true, Mode::Interleave, kFlagRelativeNodes, Nodemask::all(), -1});
        CHECK(p.assisted());
    }
    // A part of M0 is its positions; without_assist() gives back the nodes
    // the kernel computes from them.
    const Recorded part = rec_of(Mode::Bind, L("1,3"), L("0-3"));
    const IssuePlan p = plan_issue(part, L("4-7"), kAssist);
    CHECK(p.nodes == L("1,3"));
    const IssuePlan plain = without_assist(p, L("4-7"));
    CHECK(plain == IssuePlan{true, Mode::Bind, 0, L("5,7"), -1});
    CHECK(plain == plan_issue(part, L("4-7"), kIntent));
    CHECK(without_assist(plain, L("0-1")) == plain);  // a plain plan stays
    // After the program's own call: the assisted form, or nothing.
    CHECK(plan_after_request(part, kAssist) == plan_issue(part, L("0-3"), kAssist));
    CHECK_FALSE(plan_after_request(part, kIntent).needed);
}

TEST_CASE("the exec handoff leaves the rule's nodes in the program's own form") {
    const Recorded il = rec_of(Mode::Interleave, L("0-3"), L("0-3"));
    const IssuePlan p = plan_before_exec(il, L("0-1"), Semantics::Intent);
    CHECK(p == IssuePlan{true, Mode::Interleave, 0, L("0-1"), -1});
    CHECK_FALSE(plan_before_exec(il, L("0-1"), Semantics::Kernel).needed);
}

TEST_CASE("the kernel holds the request: its own form or the assisted one") {
    const Request il{Mode::Interleave, 0, L("0-3"), -1};
    CHECK(kernel_mode_is_request(il, 3));
    CHECK(kernel_mode_is_request(il, 3 | kRel));
    CHECK_FALSE(kernel_mode_is_request(il, 2));
    CHECK_FALSE(kernel_mode_is_request(il, 3 | kFlagStaticNodes));
    const Request pref{Mode::Preferred, 0, L("3"), -1};
    CHECK_FALSE(kernel_mode_is_request(pref, 1 | kRel));
}

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
                IssuePlan issued = plan_after_request(rec, kAssist);
                if (!issued.needed) {
                    CHECK((u & m0).empty());  // only a mask the kernel would refuse
                    continue;
                }
                KernelPolicy pol;
                REQUIRE(kernel_create(Request{mode, issued.flags, issued.nodes, -1}, m0, pol));
                for (const Nodemask& m : subsets()) {
                    kernel_rebind(pol, m);
                    Rebound back = kernel_readback(pol, 4);  // nr_node_ids 4: word 0 only
                    const IssuePlan plain = assisted_as_plain(
                        rec, static_cast<int>(mode) | back.flags, back.nodes, m);
                    REQUIRE(plain.needed);
                    CHECK(plain.mode_arg() == static_cast<int>(mode));
                    CHECK(plain.nodes == rebind_nodes(rec.request, m0, m, Semantics::Intent).nodes);
                    CHECK(plain.nodes == pol.nodes);
                    // The plan for the rebind under m is the same form again.
                    CHECK(plan_issue(rec, m, kAssist).nodes == issued.nodes);
                }
            }
}

TEST_CASE("only set modes the kernel remaps, without flags, under intent, are assisted") {
    Nodemask m0 = Nodemask::range(0, 3);
    CHECK(plan_after_request(rec_of(Mode::Bind, Nodemask{1}, m0), kAssist).assisted());
    for (Mode mode : {Mode::Preferred, Mode::PreferredMany, Mode::Default, Mode::Local}) {
        Recorded r = rec_of(mode, Nodemask{1}, m0);
        CHECK_FALSE(plan_after_request(r, kAssist).needed);
        CHECK_FALSE(plan_issue(r, m0, kAssist).assisted());
    }
    for (Semantics s : {Semantics::Static, Semantics::Relative, Semantics::Kernel}) {
        Recorded r = rec_of(Mode::Interleave, Nodemask{1}, m0);
        CHECK_FALSE(plan_after_request(r, IssueSettings{s, true}).needed);
    }
    Recorded st = rec_of(Mode::Interleave, Nodemask{1}, m0, kFlagStaticNodes);
    CHECK_FALSE(plan_after_request(st, kAssist).needed);
    // Nodes all outside M0: the program's own call failed; nothing to assist.
    Recorded out = rec_of(Mode::Interleave, Nodemask{5}, m0);
    CHECK_FALSE(plan_after_request(out, kAssist).needed);
    // Assistance off: nothing follows the program's own call.
    CHECK_FALSE(plan_after_request(rec_of(Mode::Bind, Nodemask{1}, m0), IssueSettings{}).needed);
}
