// SPDX-License-Identifier: MIT
// The per-thread task record: what a thread re-issues, and when it need not.
#include <doctest/doctest.h>

#include "numakeep/nodelist.hpp"
#include "numakeep/task_record.hpp"

using namespace numakeep;

namespace {

Nodemask L(const char* text) {
    auto r = parse_kernel_nodelist(text);
    REQUIRE(r.ok);
    return r.nodes;
}

TaskRecord recorded(const Request& req, const Nodemask& m0, bool assist = false) {
    return record_task_request(req, issue_at_request(req, m0, Semantics::Intent, assist), m0, 1);
}

}  // namespace

TEST_CASE("a thread that never set a policy, or set DEFAULT, has nothing to re-issue") {
    TaskRecord none;
    CHECK_FALSE(task_reissue(none, L("0-1"), 2, Semantics::Intent).needed);
    TaskRecord def = recorded(Request{Mode::Default, 0, {}, -1}, L("0-3"));
    CHECK_FALSE(def.active);
    CHECK_FALSE(task_reissue(def, L("0-1"), 2, Semantics::Intent).needed);
    TaskRecord local = recorded(Request{Mode::Local, 0, {}, -1}, L("0-3"));
    CHECK(local.active);
    CHECK_FALSE(task_reissue(local, L("0-1"), 2, Semantics::Intent).needed);
}

TEST_CASE("interleave follows the rule from the request, not from what was applied") {
    const Request il{Mode::Interleave, 0, L("0-3"), -1};
    TaskRecord rec = recorded(il, L("0-3"));
    TaskReissue r = task_reissue(rec, L("0-1"), 2, Semantics::Intent);
    CHECK(r.needed);
    CHECK(r.issue == Rebound{L("0-1"), -1, 0});
    mark_applied(rec, r.issue, L("0-1"), 2);
    r = task_reissue(rec, L("0-3"), 3, Semantics::Intent);
    CHECK(r.needed);
    CHECK(r.issue.nodes == L("0-3"));  // back to all four, where the kernel left 0-1
    mark_applied(rec, r.issue, L("0-3"), 3);
    CHECK(rec.generation == 3);
    CHECK(rec.recorded.mems_at_request == L("0-3"));
}

TEST_CASE("generations: an old or repeated notice does nothing") {
    TaskRecord rec = recorded(Request{Mode::Bind, 0, L("0-3"), -1}, L("0-3"));
    rec.generation = 5;
    CHECK_FALSE(task_reissue(rec, L("0-1"), 5, Semantics::Intent).needed);
    CHECK_FALSE(task_reissue(rec, L("0-1"), 4, Semantics::Intent).needed);
    CHECK(task_reissue(rec, L("0-1"), 6, Semantics::Intent).needed);
}

TEST_CASE("preferred: re-issued only when the kernel's node is no longer the rule's") {
    const Request pref{Mode::Preferred, 0, L("3"), -1};
    TaskRecord rec = recorded(pref, L("0-3"));
    // 0-3 -> 0-3: nothing changes.
    CHECK_FALSE(task_reissue(rec, L("0-3"), 2, Semantics::Intent).needed);
    // 0-3 -> 0-1: the kernel keeps 3 (mpol_rebind_preferred), the rule wants 1.
    TaskReissue r = task_reissue(rec, L("0-1"), 2, Semantics::Intent);
    CHECK(r.needed);
    CHECK(r.issue.nodes == L("1"));
    mark_applied(rec, r.issue, L("0-1"), 2);
    // -> 1-2: the rule wants position 3 of 0-3 folded onto two nodes: 2.
    r = task_reissue(rec, L("1-2"), 3, Semantics::Intent);
    CHECK(r.needed);
    CHECK(r.issue.nodes == L("2"));
    // preferred_many made with more nodes than the mems: applied as passed,
    // the kernel holds the allowed part; the rule's answer is the same.
    const Request many{Mode::PreferredMany, 0, L("0-1"), -1};
    TaskRecord m = recorded(many, L("0"));
    CHECK(task_reissue(m, L("0-1"), 2, Semantics::Intent).needed);  // kernel: 0, rule: 0-1
    CHECK(task_reissue(m, L("0-1"), 2, Semantics::Intent).issue.nodes == L("0-1"));
}

TEST_CASE("flagged requests: set modes are the kernel's to follow, preferred is re-issued") {
    TaskRecord bind = recorded(Request{Mode::Bind, kFlagRelativeNodes, L("0-1"), -1}, L("2-5"));
    CHECK_FALSE(task_reissue(bind, L("6-7"), 2, Semantics::Intent).needed);
    TaskRecord pref = recorded(Request{Mode::Preferred, kFlagStaticNodes, L("3"), -1}, L("0-3"));
    CHECK_FALSE(task_reissue(pref, L("2-3"), 2, Semantics::Intent).needed);  // still on 3
    TaskReissue r = task_reissue(pref, L("3-5"), 2, Semantics::Intent);
    CHECK_FALSE(r.needed);  // first(3 & 3-5) is still 3
    TaskRecord rel = recorded(Request{Mode::Preferred, kFlagRelativeNodes, L("1"), -1}, L("0-3"));
    r = task_reissue(rel, L("4-7"), 2, Semantics::Intent);
    CHECK(r.needed);  // the kernel stays on 1, relative position 1 of 4-7 is 5
    CHECK(r.issue == Rebound{L("1"), -1, kFlagRelativeNodes});  // verbatim: the kernel computes
}

TEST_CASE("the zero window's assisted form is kept, never re-issued for its nodes") {
    const Request il{Mode::Interleave, 0, L("0-3"), -1};
    TaskRecord rec = recorded(il, L("0-3"), true);
    CHECK(rec.applied == Rebound{Nodemask::all(), -1, kFlagRelativeNodes});
    TaskReissue r = task_reissue(rec, L("1"), 2, Semantics::Intent);
    CHECK_FALSE(r.needed);
    CHECK(r.issue.flags == kFlagRelativeNodes);
    CHECK(r.issue.nodes == Nodemask::all());
}

TEST_CASE("kernel semantics never re-issue; static and relative do") {
    const Request il{Mode::Interleave, 0, L("0-3"), -1};
    TaskRecord rec = recorded(il, L("0-3"));
    TaskReissue k = task_reissue(rec, L("0-1"), 2, Semantics::Kernel);
    CHECK_FALSE(k.needed);
    CHECK(k.issue.nodes == L("0-1"));  // what the kernel holds now, for the record
    CHECK(task_reissue(rec, L("2-3"), 2, Semantics::Static).issue.nodes == L("2-3"));
    CHECK(task_reissue(rec, L("4-5"), 2, Semantics::Static).issue.nodes == L("4-5"));
    CHECK(task_reissue(rec, L("4-5"), 2, Semantics::Relative).issue.nodes == L("4-5"));
}
