// SPDX-License-Identifier: MIT
// What the kernel is given, decided in one place: for a recorded request,
// the mems it is to follow and the runtime's settings (semantics, kernel
// assistance), plan_issue() says the mode, flags, nodes and home node to
// pass (mbind over a range, set_mempolicy for a thread, the task policy an
// exec leaves), or that nothing is to be issued. The runtime and the daemon
// only carry the plan out.
//
// The zero window (DESIGN.md, "Zero window"): a set-mode request the kernel
// remaps by itself (bind, interleave, weighted interleave), made without
// mode flags under intent, is issued as (mode | MPOL_F_RELATIVE_NODES, the
// request's positions inside M0). The kernel then computes the intent at
// the instant of every cpuset.mems write, with no window and no message.
// Which policies are held in that form is read back from the kernel, not
// remembered (held_form()): the records stay what the program asked for.
//
// Pure, constexpr, allocation-free: the preload runs it with its lock held
// and in its rebind signal handler.
#pragma once

#include <cstdint>

#include "numakeep/node_mapping.hpp"
#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep {

// The runtime's settings the plan depends on.
struct IssueSettings {
    Semantics semantics = Semantics::Intent;
    bool kernel_assist = false;
};

// What to pass to the kernel; `needed` false: nothing to issue.
struct IssuePlan {
    bool needed = false;
    Mode mode = Mode::Default;
    std::uint16_t flags = 0;  // the request's, | MPOL_F_RELATIVE_NODES in the assisted form
    Nodemask nodes;           // absolute nodes, or the relative mask in the assisted form
    int home_node = -1;       // set_mempolicy_home_node() after an mbind; -1: none
    // mbind's and set_mempolicy's mode argument.
    constexpr int mode_arg() const { return static_cast<int>(mode) | flags; }
    // Plans never carry a request's own RELATIVE flag (rule_reissues()),
    // so the flag marks the zero window's form.
    constexpr bool assisted() const { return needed && (flags & kFlagRelativeNodes); }
    friend constexpr bool operator==(const IssuePlan&, const IssuePlan&) = default;
};

// --- Who the kernel can keep at the intent by itself ----------------------

// The mode and flags of a request the zero window's form works for: a mode
// the kernel remaps, no STATIC/RELATIVE flag of its own, under intent.
// Preferred modes never qualify (the kernel does not remap them, relative
// or not).
constexpr bool kernel_assistable_mode(Mode mode, std::uint16_t flags, Semantics s) {
    return s == Semantics::Intent && kernel_remaps(mode) && !(flags & kOwnMappingFlags);
}
constexpr bool kernel_assistable(const Request& req, Semantics s) {
    return kernel_assistable_mode(req.mode, req.flags, s) && !req.nodes.empty();
}

// The relative mask to issue for a kernel_assistable() request made under
// m0: every bit set when U ⊇ M0 (relative(all, M) == M: "the whole
// cpuset"), else the positions of U∩M0 inside M0, since
// remap(U∩M0, M0→M) == onto(fold(ord_M0(U∩M0), |M|), M) ==
// mpol_relative_nodemask(ord_M0(U∩M0), M) for every non-empty M. Empty when
// U∩M0 is empty (the kernel would refuse it: issue the plain request).
constexpr Nodemask assisted_relative_mask(const Request& req, const Nodemask& m0) {
    if (m0.subset_of(req.nodes) && !m0.empty()) return Nodemask::all();
    return positions_in(req.nodes & m0, m0);
}

// --- The plan -------------------------------------------------------------

// What to issue for `rec` so that it follows `mems`: nothing under
// `kernel` semantics (the kernel's own rule is the point) or for a request
// the rule does not re-issue (rule_reissues()); else the zero window's form
// when assistance is on and the request qualifies (its relative mask does
// not depend on `mems`), else rule(request, M0, mems). The home node is
// always the rule's: the kernel never remaps it.
constexpr IssuePlan plan_issue(const Recorded& rec, const Nodemask& mems, IssueSettings set) {
    const Request& req = rec.request;
    if (set.semantics == Semantics::Kernel || !rule_reissues(req)) return {};
    const Rebound rb = rebind_nodes(req, rec.mems_at_request, mems, set.semantics);
    IssuePlan out{true, req.mode, req.flags, rb.nodes, rb.home_node};
    if (set.kernel_assist && kernel_assistable(req, set.semantics)) {
        const Nodemask rel = assisted_relative_mask(req, rec.mems_at_request);
        if (!rel.empty()) {
            out.flags = static_cast<std::uint16_t>(req.flags | kFlagRelativeNodes);
            out.nodes = rel;
        }
    }
    return out;
}

// At the request itself the program's own call is issued first, unchanged
// (what it returns is what the program sees); this is what follows it once
// it succeeded: the zero window's form, or nothing. Both place pages alike
// at that instant (relative(ord_M0(U∩M0), M0) == U∩M0).
constexpr IssuePlan plan_after_request(const Recorded& rec, IssueSettings set) {
    const IssuePlan p = plan_issue(rec, rec.mems_at_request, set);
    return p.assisted() ? p : IssuePlan{};
}

// An exec keeps the calling thread's task policy, and the new image's
// runtime learns it as a request of its own: what the exec is to leave in
// the kernel for `rec` under `mems` is the rule's result in the program's
// own form, never the assisted one (it would reach the new image as a
// RELATIVE request of the program's).
constexpr IssuePlan plan_before_exec(const Recorded& rec, const Nodemask& mems, Semantics s) {
    return plan_issue(rec, mems, IssueSettings{s, false});
}

// --- Reading the zero window's form back ----------------------------------

// Whether the kernel's `kernel_mode` (mode | flags, as get_mempolicy
// answers) is the assisted form of `req`.
constexpr bool kernel_mode_is_assisted(const Request& req, int kernel_mode) {
    return kernel_assistable_mode(req.mode, req.flags, Semantics::Intent) &&
           kernel_mode == (static_cast<int>(req.mode) | req.flags | kFlagRelativeNodes);
}
// Whether the kernel holds a policy of `req`'s mode, in the program's form
// or the assisted one (anything else was set by a call we did not see).
constexpr bool kernel_mode_is_request(const Request& req, int kernel_mode) {
    return kernel_mode == (static_cast<int>(req.mode) | req.flags) ||
           kernel_mode_is_assisted(req, kernel_mode);
}

// Whether the relative mask the kernel reads back (pol->w, cut by
// copy_nodes_to_user() to BITS_TO_LONGS(nr_node_ids) words, the rest
// zeroed) is `expected`. An all-bits mask ("the whole cpuset") reads back
// as whole words of ones followed by zeros.
constexpr bool relative_mask_matches(const Nodemask& readback, const Nodemask& expected) {
    if (expected != Nodemask::all()) return readback == expected;
    const auto& w = readback.words();
    unsigned ones = 0;
    while (ones < kWords && w[ones] == ~std::uint64_t{0}) ++ones;
    if (ones == 0) return false;
    for (unsigned i = ones; i < kWords; ++i)
        if (w[i] != 0) return false;
    return true;
}

// The nodes in force for a policy of `mode` the kernel holds with
// MPOL_F_RELATIVE_NODES and the user mask `relative` under `mems`
// (mpol_set_nodemask() / mpol_rebind_nodemask(): relative(w, mems), the
// mems when that is empty): what get_mempolicy would have answered had the
// program's own call been issued and kept to its intent.
constexpr Nodemask assisted_nodes_in_force(Mode mode, const Nodemask& relative,
                                           const Nodemask& mems) {
    KernelPolicy pol;
    if (!kernel_create(Request{mode, kFlagRelativeNodes, relative, -1}, mems, pol)) return {};
    return pol.nodes;
}

// The program's own form of an assisted plan under `mems` (the plan itself
// when it is not assisted): what to issue where the kernel refuses the
// assisted form, or before an exec, whose new image must not inherit it.
constexpr IssuePlan without_assist(const IssuePlan& plan, const Nodemask& mems) {
    if (!plan.assisted()) return plan;
    IssuePlan out = plan;
    out.flags = static_cast<std::uint16_t>(plan.flags & ~kFlagRelativeNodes);
    out.nodes = assisted_nodes_in_force(plan.mode, plan.nodes, mems);
    return out;
}

// What the kernel holds for a recorded policy whose readback was
// (kernel_mode, kernel_nodes): Assisted when it is the assisted form with
// the expected relative mask, Plain when it is the request's own mode,
// Other otherwise (foreign: never clobber).
enum class Held { Plain, Assisted, Other };
constexpr Held held_form(const Recorded& rec, int kernel_mode, const Nodemask& kernel_nodes) {
    const Request& req = rec.request;
    if (kernel_mode == (static_cast<int>(req.mode) | req.flags)) return Held::Plain;
    if (kernel_mode_is_assisted(req, kernel_mode) &&
        relative_mask_matches(kernel_nodes, assisted_relative_mask(req, rec.mems_at_request)))
        return Held::Assisted;
    return Held::Other;
}

// For an assisted readback, the program's own form under `mems` (its mode
// and the nodes in force): what get_mempolicy and records dumps present,
// and what an exec leaves. Not needed for any other readback.
constexpr IssuePlan assisted_as_plain(const Recorded& rec, int kernel_mode,
                                      const Nodemask& kernel_nodes, const Nodemask& mems) {
    if (held_form(rec, kernel_mode, kernel_nodes) != Held::Assisted) return {};
    const Request& req = rec.request;
    const IssuePlan assisted{true, req.mode,
                             static_cast<std::uint16_t>(req.flags | kFlagRelativeNodes),
                             assisted_relative_mask(req, rec.mems_at_request), -1};
    return without_assist(assisted, mems);
}

}  // namespace numakeep
