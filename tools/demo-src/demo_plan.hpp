// SPDX-License-Identifier: MIT
// What the demo does, as data: the policies the workload holds, the
// cpuset.mems sequence, and what the rule says each policy must be at each
// step (DESIGN.md, "The problem, measured": the sequence and the kernel's
// table; the rule's table under `intent` semantics).
#pragma once

#include <array>
#include <cstddef>

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"

namespace numakeep::demo {

inline constexpr std::size_t kPolicyCount = 5;
inline constexpr std::size_t kTaskPolicy = 4;   // index of the set_mempolicy column
inline constexpr std::size_t kInterleaved = 0;  // the range the page split faults

// The interleaved range is 64 MiB so that the page split can fault a fresh
// 64 MiB in it; the others are the 1 MiB ranges of DESIGN.md.
inline constexpr std::size_t kInterleavedBytes = std::size_t{64} << 20;
inline constexpr std::size_t kRangeBytes = std::size_t{1} << 20;

struct PolicySpec {
    const char* title;
    Mode mode;
    Nodemask request;
};
inline const std::array<PolicySpec, kPolicyCount> kPolicies = {{
    {"interleave 0-3", Mode::Interleave, Nodemask::range(0, 3)},
    {"bind 0-3", Mode::Bind, Nodemask::range(0, 3)},
    {"preferred 3", Mode::Preferred, Nodemask{3}},
    {"preferred_many 2-3", Mode::PreferredMany, Nodemask::range(2, 3)},
    {"task interleave 0-3", Mode::Interleave, Nodemask::range(0, 3)},
}};

struct Step {
    Nodemask mems;
    std::array<Nodemask, kPolicyCount> rule;    // what numakeep must give
    std::array<Nodemask, kPolicyCount> kernel;  // what the kernel alone gives
};

namespace detail {
inline Nodemask r(unsigned a, unsigned b) {
    return Nodemask::range(a, b);
}
inline Nodemask n(unsigned a) {
    return Nodemask{a};
}
}  // namespace detail

// Step 0 is the start (requests made under mems 0-3); steps 1..6 write
// cpuset.mems. The task policy follows the interleave range in both tables.
inline const std::array<Step, 7> kSteps = [] {
    using detail::n;
    using detail::r;
    return std::array<Step, 7>{{
        {r(0, 3),
         {{r(0, 3), r(0, 3), n(3), r(2, 3), r(0, 3)}},
         {{r(0, 3), r(0, 3), n(3), r(2, 3), r(0, 3)}}},
        {r(0, 1),
         {{r(0, 1), r(0, 1), n(1), r(0, 1), r(0, 1)}},
         {{r(0, 1), r(0, 1), n(3), r(2, 3), r(0, 1)}}},
        {r(0, 3),
         {{r(0, 3), r(0, 3), n(3), r(2, 3), r(0, 3)}},
         {{r(0, 1), r(0, 1), n(3), r(2, 3), r(0, 1)}}},
        {r(2, 3),
         {{r(2, 3), r(2, 3), n(3), r(2, 3), r(2, 3)}},
         {{r(2, 3), r(2, 3), n(3), r(2, 3), r(2, 3)}}},
        {r(0, 3),
         {{r(0, 3), r(0, 3), n(3), r(2, 3), r(0, 3)}},
         {{r(0, 1), r(0, 1), n(3), r(2, 3), r(0, 1)}}},
        {n(1), {{n(1), n(1), n(1), n(1), n(1)}}, {{n(1), n(1), n(3), r(2, 3), n(1)}}},
        {r(0, 3),
         {{r(0, 3), r(0, 3), n(3), r(2, 3), r(0, 3)}},
         {{n(0), n(0), n(3), r(2, 3), n(0)}}},
    }};
}();

// The page split runs right after this step: mems went 0-3 -> 0-1 -> 0-3.
inline constexpr std::size_t kShrinkAndGrowStep = 2;

}  // namespace numakeep::demo
