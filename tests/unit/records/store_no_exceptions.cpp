// SPDX-License-Identifier: MIT
// Built with -fno-exceptions -fno-rtti, as the preload is: every member of
// the record store is instantiated here. The store must not pull in
// iostream either (its static initialiser would run in every process the
// preload enters).
#include "store_no_exceptions.hpp"

#include "numakeep/range_store.hpp"

#ifdef _GLIBCXX_IOSTREAM
#error "the record store must not include <iostream>"
#endif

namespace numakeep::test {

int exercise_store_without_exceptions() {
    constexpr std::uint64_t P = RangeStore::kPageSize, B = 0x400000000ULL;
    RangeStore s;
    Recorded r;
    r.request.mode = Mode::Interleave;
    r.request.nodes = Nodemask{0, 1};
    r.mems_at_request = Nodemask{0, 1};
    int score = 0;
    score += s.reserve(16);
    score += s.set(B, B + 8 * P, r);
    score += s.punch(B + 2 * P, B + 3 * P);
    score += s.move(B, 8 * P, B + 100 * P, 10 * P);
    score += s.lookup(B + 101 * P) != nullptr;
    RangeStore::Range range{};
    score += s.lookup(B + 109 * P, range);
    s.for_each([&](const RangeStore::Range&) { ++score; });
    s.for_each_in(B, B + 200 * P, [&](const RangeStore::Range&) { ++score; });
    s.plan_rebind(Nodemask{0}, IssueSettings{Semantics::Intent, true},
                  [&](std::uint64_t, std::uint64_t, const IssuePlan&) { ++score; });
    s.plan_rebind_with([](const Recorded& rec) { return rec.request; },
                       [&](std::uint64_t, std::uint64_t, const Request&) { ++score; });
    score += s.check() == nullptr;
    score += static_cast<int>(s.size() + s.requests());
    s.clear();
    score += s.empty();
    return score;
}

}  // namespace numakeep::test
