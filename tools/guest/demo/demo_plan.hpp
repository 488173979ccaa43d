// SPDX-License-Identifier: MIT
// What the demo does, as data: the policies the workload holds, the
// cpuset.mems sequence, and what the rule (and the kernel alone) make of
// each policy at each step (DESIGN.md, "The problem, measured": the
// sequence and the kernel's table; the rule's table under `intent`
// semantics), on DESIGN.md's nodes 0-3 mapped onto the machine's nodes.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep::demo {

inline constexpr std::size_t kPolicyCount = 5;
inline constexpr std::size_t kTaskPolicy = 4;   // index of the set_mempolicy column
inline constexpr std::size_t kInterleaved = 0;  // the range the page split faults

// The interleaved range is 64 MiB so that the page split can fault a fresh
// 64 MiB in it; the others are the 1 MiB ranges of DESIGN.md.
inline constexpr std::size_t kInterleavedBytes = std::size_t{64} << 20;
inline constexpr std::size_t kRangeBytes = std::size_t{1} << 20;

struct PolicySpec {
    std::string title;
    Mode mode;
    Nodemask request;
};

struct Step {
    Nodemask mems;
    std::array<Nodemask, kPolicyCount> rule;    // what numakeep must give
    std::array<Nodemask, kPolicyCount> kernel;  // what the kernel alone gives
};

// The demo on a given machine: DESIGN.md's nodes 0-3 mapped onto the nodes
// it has. With four or more, node k is the k-th of them (a renaming: the
// kernel's remap is positional, so both tables read the same); with two or
// three, node k is the (k*n/4)-th, so the shrinks and the grows stay (on
// two nodes: 0-1 -> the first, 2-3 -> the second).
struct Plan {
    std::vector<unsigned> nodes;  // the machine's nodes the demo uses, ascending
    std::array<PolicySpec, kPolicyCount> policies;
    std::vector<Step> steps;  // step 0 is the start; steps 1.. write cpuset.mems
};

namespace detail {
inline Nodemask map_nodes(const Nodemask& design, const std::vector<unsigned>& nodes) {
    Nodemask out;
    const std::size_t n = nodes.size();
    for (unsigned k = 0; k < 4; ++k)
        if (design.test(k)) out.set(nodes[n >= 4 ? k : k * n / 4]);
    return out;
}
}  // namespace detail

// The plan over `available` (the driver's, or the workload's, Mems_allowed);
// nullopt when it has fewer than two nodes. Each step's row: the rule is
// rebind_nodes() under intent from the start's mems, the kernel's column
// rebind_nodes_kernel() applied write after write (DESIGN.md's tables; on
// nodes 0-3 exactly the numbers measured there).
inline std::optional<Plan> make_plan(const Nodemask& available) {
    Plan plan;
    for (unsigned node = 0; node < kMaxNodes; ++node)
        if (available.test(node)) plan.nodes.push_back(node);
    if (plan.nodes.size() < 2) return std::nullopt;
    if (plan.nodes.size() > 4) plan.nodes.resize(4);
    auto map = [&](const Nodemask& m) { return detail::map_nodes(m, plan.nodes); };
    const Nodemask all = map(Nodemask::range(0, 3));
    const Nodemask design_requests[kPolicyCount] = {Nodemask::range(0, 3), Nodemask::range(0, 3),
                                                    Nodemask{3}, Nodemask::range(2, 3),
                                                    Nodemask::range(0, 3)};
    const Mode modes[kPolicyCount] = {Mode::Interleave, Mode::Bind, Mode::Preferred,
                                      Mode::PreferredMany, Mode::Interleave};
    const char* names[kPolicyCount] = {"interleave", "bind", "preferred", "preferred_many",
                                       "task interleave"};
    for (std::size_t i = 0; i < kPolicyCount; ++i) {
        const Nodemask request = map(design_requests[i]);
        plan.policies[i] = {std::string(names[i]) + " " + request.to_string(), modes[i], request};
    }
    // DESIGN.md's sequence of cpuset.mems, after the start under 0-3.
    const Nodemask design_mems[] = {
        Nodemask::range(0, 3), Nodemask::range(0, 1), Nodemask::range(0, 3), Nodemask::range(2, 3),
        Nodemask::range(0, 3), Nodemask{1},           Nodemask::range(0, 3)};
    std::array<Rebound, kPolicyCount> kernel_now;
    std::array<Request, kPolicyCount> requests;
    Nodemask previous = all;
    for (const Nodemask& design : design_mems) {
        Step step{map(design), {}, {}};
        for (std::size_t i = 0; i < kPolicyCount; ++i) {
            const PolicySpec& spec = plan.policies[i];
            if (plan.steps.empty()) {
                requests[i] = Request{spec.mode, 0, spec.request, -1};
                Nodemask at_request = spec.request & all;
                if (spec.mode == Mode::Preferred)
                    at_request = Nodemask{static_cast<unsigned>(at_request.first())};
                kernel_now[i] = Rebound{at_request, -1, 0};
                previous = kernel_first_old_map(requests[i], all);
            } else {
                kernel_now[i] =
                    rebind_nodes_kernel(requests[i], kernel_now[i], previous, step.mems);
            }
            step.rule[i] = rebind_nodes(requests[i], all, step.mems, Semantics::Intent).nodes;
            step.kernel[i] = kernel_now[i].nodes;
        }
        previous = step.mems;
        plan.steps.push_back(step);
    }
    return plan;
}

// The plan of this process, set once at start-up (the driver's from its
// Mems_allowed, the workload's from its own, which are the plan's nodes).
inline std::optional<Plan>& plan_slot() {
    static std::optional<Plan> p;
    return p;
}
inline bool set_plan(const Nodemask& available) {
    plan_slot() = make_plan(available);
    return plan_slot().has_value();
}
inline const Plan& plan() {
    return *plan_slot();
}

// The page split runs right after this step: mems went 0-3 -> 0-1 -> 0-3.
inline constexpr std::size_t kShrinkAndGrowStep = 2;

}  // namespace numakeep::demo
