// SPDX-License-Identifier: MIT
// plan_rebind: the fewest mbind calls that re-issue every range's request
// under new mems (adjacent ranges with the same result in one call).
#include <doctest/doctest.h>

#include <vector>

#include "numakeep/range_store.hpp"
#include "recorded.hpp"

using namespace numakeep;
using numakeep::test::recorded;

namespace {

constexpr std::uint64_t P = RangeStore::kPageSize;
constexpr std::uint64_t B = 0x600000000000ULL;

struct Call {
    std::uint64_t start, end;  // in pages from B
    IssuePlan req;
};

std::vector<Call> plan(const RangeStore& s, const Nodemask& m1, IssueSettings set = {}) {
    std::vector<Call> calls;
    s.plan_rebind(m1, set, [&](std::uint64_t a, std::uint64_t e, const IssuePlan& r) {
        calls.push_back(Call{(a - B) / P, (e - B) / P, r});
    });
    return calls;
}

IssuePlan expected(const Recorded& rec, const Nodemask& m1, IssueSettings set = {}) {
    return plan_issue(rec, m1, set);
}

const Nodemask kAll = Nodemask::range(0, 3);
const Nodemask kLow = Nodemask{0, 1};
// Interleave over the whole cpuset, asked under two different cpusets:
// different records, the same result under any new mems.
const Recorded kWholeA = recorded(Mode::Interleave, kAll, kAll);
const Recorded kWholeB = recorded(Mode::Interleave, kLow, kLow);
const Recorded kBindTwo = recorded(Mode::Bind, Nodemask{2}, kAll);

}  // namespace

TEST_CASE("an empty store plans nothing") {
    RangeStore s;
    CHECK(plan(s, kLow).empty());
}

TEST_CASE("adjacent ranges whose requests give the same result: one call") {
    RangeStore s;
    REQUIRE(s.set(B, B + 4 * P, kWholeA));
    REQUIRE(s.set(B + 4 * P, B + 8 * P, kWholeB));
    REQUIRE(s.size() == 2);  // different records, kept apart
    for (const Nodemask& m1 : {kLow, kAll, Nodemask{3}}) {
        REQUIRE(expected(kWholeA, m1) == expected(kWholeB, m1));
        auto calls = plan(s, m1);
        REQUIRE(calls.size() == 1);
        CHECK(calls[0].start == 0);
        CHECK(calls[0].end == 8);
        CHECK(calls[0].req == expected(kWholeA, m1));
    }
}

TEST_CASE("a gap, or a different result, starts a new call") {
    RangeStore s;
    REQUIRE(s.set(B, B + 4 * P, kWholeA));
    REQUIRE(s.set(B + 6 * P, B + 8 * P, kWholeB));  // a hole at pages 4-5
    REQUIRE(s.set(B + 8 * P, B + 9 * P, kBindTwo));
    REQUIRE_FALSE(expected(kBindTwo, kLow) == expected(kWholeA, kLow));
    auto calls = plan(s, kLow);
    REQUIRE(calls.size() == 3);
    CHECK((calls[0].start == 0 && calls[0].end == 4));
    CHECK((calls[1].start == 6 && calls[1].end == 8));
    CHECK((calls[2].start == 8 && calls[2].end == 9));
    CHECK(calls[2].req == expected(kBindTwo, kLow));
}

TEST_CASE("ranges recorded with MPOL_DEFAULT or MPOL_LOCAL need no call") {
    RangeStore s;
    REQUIRE(s.set(B, B + 2 * P, kWholeA));
    REQUIRE(s.set(B + 2 * P, B + 3 * P, recorded(Mode::Local, {}, kAll)));
    REQUIRE(s.set(B + 3 * P, B + 5 * P, kWholeA));
    REQUIRE(s.set(B + 5 * P, B + 6 * P, recorded(Mode::Default, {}, kAll)));
    auto calls = plan(s, kLow);
    REQUIRE(calls.size() == 2);  // not one: the local range lies between
    CHECK((calls[0].start == 0 && calls[0].end == 2));
    CHECK((calls[1].start == 3 && calls[1].end == 5));
}

TEST_CASE("the home node is carried through the rule") {
    RangeStore s;
    Recorded homed = recorded(Mode::Bind, kAll, kAll, 3);
    REQUIRE(s.set(B, B + P, homed));
    auto calls = plan(s, kLow);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].req == expected(homed, kLow));
    CHECK(calls[0].req.home_node == expected(homed, kLow).home_node);
}

TEST_CASE("every semantics goes through the same planner") {
    RangeStore s;
    REQUIRE(s.set(B, B + P, kBindTwo));
    for (Semantics sem : {Semantics::Intent, Semantics::Static, Semantics::Relative}) {
        auto calls = plan(s, kLow, IssueSettings{sem, false});
        REQUIRE(calls.size() == 1);
        CHECK(calls[0].req == expected(kBindTwo, kLow, IssueSettings{sem, false}));
    }
    // `kernel` semantics: the kernel's own rule is the point, nothing to issue.
    CHECK(plan(s, kLow, IssueSettings{Semantics::Kernel, false}).empty());
}

TEST_CASE("requests with flags of their own are the kernel's: no call") {
    RangeStore s;
    REQUIRE(s.set(B, B + P, kWholeA));
    Recorded own = recorded(Mode::Interleave, kLow, kAll);
    own.request.flags = kFlagStaticNodes;
    REQUIRE(s.set(B + P, B + 2 * P, own));
    REQUIRE(s.set(B + 2 * P, B + 3 * P, kWholeA));
    auto calls = plan(s, kLow);
    REQUIRE(calls.size() == 2);
    CHECK((calls[0].start == 0 && calls[0].end == 1));
    CHECK((calls[1].start == 2 && calls[1].end == 3));
}

TEST_CASE("with kernel assistance, the assisted form, coalesced by its relative mask") {
    RangeStore s;
    REQUIRE(s.set(B, B + 4 * P, kWholeA));
    REQUIRE(s.set(B + 4 * P, B + 8 * P, kWholeB));
    REQUIRE(s.set(B + 8 * P, B + 9 * P, kBindTwo));
    const IssueSettings assist{Semantics::Intent, true};
    auto calls = plan(s, Nodemask{3}, assist);
    REQUIRE(calls.size() == 2);
    CHECK((calls[0].start == 0 && calls[0].end == 8));  // both "the whole cpuset"
    CHECK(calls[0].req.assisted());
    CHECK(calls[0].req.nodes == Nodemask::all());
    CHECK(calls[1].req == expected(kBindTwo, Nodemask{3}, assist));
    CHECK(calls[1].req.nodes == Nodemask{2});  // position 2 of 0-3
}

TEST_CASE("plan_rebind_with: any rule, called once per run of one record") {
    RangeStore s;
    for (std::uint64_t i = 0; i < 100; ++i)
        REQUIRE(s.set(B + i * P, B + (i + 1) * P, i % 2 ? kWholeA : kWholeB));
    REQUIRE(s.size() == 100);
    int rule_calls = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;  // in pages from B
    s.plan_rebind_with(
        [&](const Recorded& r) {
            ++rule_calls;
            return r.request;
        },
        [&](std::uint64_t a, std::uint64_t e, const Request&) {
            calls.emplace_back((a - B) / P, (e - B) / P);
        });
    CHECK(rule_calls == 100);
    CHECK(calls.size() == 100);  // the requests differ in what they asked
    // A rule that makes them equal gives a single call.
    calls.clear();
    s.plan_rebind_with(
        [](const Recorded&) {
            Request out;
            out.mode = Mode::Bind;
            out.nodes = Nodemask{1};
            return out;
        },
        [&](std::uint64_t a, std::uint64_t e, const Request&) {
            calls.emplace_back((a - B) / P, (e - B) / P);
        });
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].second == 100);
}
