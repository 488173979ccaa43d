// SPDX-License-Identifier: MIT
// The rebind rule (DESIGN.md, "The rebind rule"): one pure function that
// turns a remembered request into what to issue under new mems, the
// kernel's own rule next to it for comparison, and a model of the kernel's
// policy to check both against. What the runtime issues when (the zero
// window's form included) is decided from this rule in issue_plan.hpp.
//
// Pure, constexpr, allocation-free: the preload runs it with its lock held.
//
// What a Rebound means: the nodes, mode flags and home node to pass to the
// kernel (mbind / set_mempolicy, then set_mempolicy_home_node), which is
// also what get_mempolicy reads back afterwards (do_get_mempolicy returns
// the nodes as passed for a policy with MPOL_F_STATIC_NODES /
// MPOL_F_RELATIVE_NODES and the policy's nodes otherwise). For a request
// without those flags the nodes are absolute: where memory goes. A request
// that carries one of them keeps the kernel's meaning whatever the
// semantics: it is returned verbatim and the kernel computes its nodes
// (kernel_create() shows which).
#pragma once

#include <cstdint>

#include "numakeep/node_mapping.hpp"
#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"

namespace numakeep {

// What to issue: the nodes, the home node (-1: none) and the mode flags
// (the request's own: MPOL_F_NUMA_BALANCING is carried through).
struct Rebound {
    Nodemask nodes;
    int home_node = -1;
    std::uint16_t flags = 0;
    friend constexpr bool operator==(const Rebound&, const Rebound&) = default;
};

inline constexpr std::uint16_t kOwnMappingFlags = kFlagStaticNodes | kFlagRelativeNodes;

// Modes whose nodes are a set (bind, interleave, preferred_many,
// weighted_interleave); PREFERRED has one node; DEFAULT and LOCAL none.
constexpr bool is_set_mode(Mode m) {
    return m == Mode::Bind || m == Mode::Interleave || m == Mode::PreferredMany ||
           m == Mode::WeightedInterleave;
}
// Modes the kernel remaps on a cpuset change (mpol_ops[].rebind ==
// mpol_rebind_nodemask); preferred and preferred_many only record the new
// mems (mpol_rebind_preferred, 6.1 and mainline).
constexpr bool kernel_remaps(Mode m) {
    return m == Mode::Bind || m == Mode::Interleave || m == Mode::WeightedInterleave;
}
// A request that names no nodes to follow: DEFAULT, LOCAL, and PREFERRED
// with no nodes (mpol_new() turns that into MPOL_LOCAL).
constexpr bool has_no_nodes(const Request& r) {
    return r.mode == Mode::Default || r.mode == Mode::Local ||
           (r.mode == Mode::Preferred && r.nodes.empty());
}
constexpr bool has_own_mapping(const Request& r) {
    return (r.flags & kOwnMappingFlags) != 0;
}

// Whether numakeep keeps a request at all: DEFAULT, LOCAL and PREFERRED
// with no nodes follow the cpuset by themselves (mpol_new() turns an empty
// PREFERRED into local allocation), so there is nothing to remember.
constexpr bool worth_recording(const Request& r) {
    return !has_no_nodes(r);
}
// Whether the rule re-issues a kept request when the mems change: not one
// with MPOL_F_STATIC_NODES / MPOL_F_RELATIVE_NODES, which the kernel keeps
// by itself from the nodes as passed (mpol_rebind_nodemask()).
constexpr bool rule_reissues(const Request& r) {
    return worth_recording(r) && !has_own_mapping(r);
}

namespace rebind_detail {

constexpr Nodemask single(int node) {
    Nodemask m;
    if (node >= 0) m.set(static_cast<unsigned>(node));
    return m;
}
// The one node a PREFERRED request stands for: the first of its nodes the
// mems allowed when it was made (mpol_new_preferred() takes first_node() of
// nodes & mems), or its first node when none was allowed.
constexpr int preferred_node(const Request& r, const Nodemask& m0) {
    Nodemask allowed = r.nodes & m0;
    return allowed.empty() ? r.nodes.first() : allowed.first();
}
// The kernel's fallback in mpol_rebind_nodemask(): an empty result becomes
// the new mems.
constexpr Nodemask or_all(const Nodemask& nodes, const Nodemask& mems) {
    return nodes.empty() ? mems : nodes;
}

}  // namespace rebind_detail

// rule(request, M0, M1) for Semantics Intent, Static and Relative:
//   intent   set modes: M1 when U ⊇ M0 ("the whole cpuset"), else
//            remap(U∩M0, M0→M1); PREFERRED's node and the home node map by
//            position (bitremap). Path-independent.
//   static   U∩M1, or M1 when that is empty (PREFERRED: its first node);
//            the home node stays.
//   relative relative(U, M1) (PREFERRED: its first node); the home node
//            maps by position.
// An empty set result becomes M1, as the kernel's rebind does. An empty M1
// (no cpuset has one) gives empty nodes. For Semantics::Kernel this is the
// identity: use rebind_nodes_kernel(), which needs history.
constexpr Rebound rebind_nodes(const Request& req, const Nodemask& m0, const Nodemask& m1,
                               Semantics s) {
    using namespace rebind_detail;
    Rebound out{Nodemask{}, -1, req.flags};
    if (has_no_nodes(req)) return out;
    if (has_own_mapping(req) || s == Semantics::Kernel) {
        out.nodes = req.nodes;
        out.home_node = req.home_node;
        return out;
    }
    if (m1.empty()) return out;
    const Nodemask& u = req.nodes;
    switch (s) {
        case Semantics::Intent:
            if (req.mode == Mode::Preferred) {
                out.nodes = single(bitremap(preferred_node(req, m0), m0, m1));
            } else {
                out.nodes = m0.subset_of(u) ? m1 : or_all(remap(u & m0, m0, m1), m1);
            }
            out.home_node = bitremap(req.home_node, m0, m1);
            break;
        case Semantics::Static:
            out.nodes = or_all(u & m1, m1);
            if (req.mode == Mode::Preferred) out.nodes = single(out.nodes.first());
            out.home_node = req.home_node;
            break;
        case Semantics::Relative:
            out.nodes = or_all(relative_nodemask(u, m1), m1);
            if (req.mode == Mode::Preferred) out.nodes = single(out.nodes.first());
            out.home_node = bitremap(req.home_node, m0, m1);
            break;
        case Semantics::Kernel:
            break;  // handled above
    }
    return out;
}

// The kernel's own lossy rule (mpol_rebind_nodemask / mpol_rebind_preferred,
// 6.1 and mainline) applied once, from the mems `mprev` the kernel last saw
// (kernel_first_old_map() for the first rebind) to `m1`: interleave, bind and weighted interleave
// remap the *current* nodes positionally (an empty result becomes m1); preferred modes, DEFAULT and
// LOCAL stay as they are; the home node is never touched. A request with STATIC/RELATIVE flags
// reads back verbatim (the kernel keeps the nodes as passed and computes from them).
constexpr Rebound rebind_nodes_kernel(const Request& req, const Rebound& current,
                                      const Nodemask& mprev, const Nodemask& m1) {
    if (has_no_nodes(req) || has_own_mapping(req) || !kernel_remaps(req.mode)) return current;
    if (mprev == m1) return current;  // mpol_rebind_policy(): nothing changed
    Rebound out = current;
    out.nodes = rebind_detail::or_all(remap(current.nodes, mprev, m1), m1);
    return out;
}

// What the kernel remaps from on the first rebind of a request made under
// m0: m0, except for bind|MPOL_F_NUMA_BALANCING, whose pol->w holds the
// user's mask until then (see KernelPolicy::w).
constexpr Nodemask kernel_first_old_map(const Request& req, const Nodemask& m0) {
    return (req.flags & kFlagNumaBalancing) && !has_own_mapping(req) ? req.nodes : m0;
}

// Where memory goes under the rule: the nodes the kernel's policy holds
// once rule(request, M0, M_now) is in force, flagged requests included (a
// Rebound gives those verbatim; this gives the nodes the kernel computes
// from them: U∩M or M for STATIC, relative(U, M) for RELATIVE, the first
// node for PREFERRED). For display and checks (`numakeep show`, records
// dumps, guest tests). Semantics::Kernel needs history: this gives the
// kernel's rule as if the mems had gone straight from M0 to M_now.
constexpr Nodemask effective_nodes(const Request& req, const Nodemask& m0, const Nodemask& m_now,
                                   Semantics s) {
    if (has_no_nodes(req)) return {};
    Request plain = req;
    plain.flags = static_cast<std::uint16_t>(req.flags & ~kOwnMappingFlags);
    if (req.flags & kFlagStaticNodes)
        return rebind_nodes(plain, m0, m_now, Semantics::Static).nodes;
    if (req.flags & kFlagRelativeNodes)
        return rebind_nodes(plain, m0, m_now, Semantics::Relative).nodes;
    if (s != Semantics::Kernel) return rebind_nodes(req, m0, m_now, s).nodes;
    Nodemask at_request = req.nodes & m0;
    if (req.mode == Mode::Preferred) at_request = rebind_detail::single(at_request.first());
    return rebind_nodes_kernel(req, Rebound{at_request, req.home_node, req.flags},
                               kernel_first_old_map(req, m0), m_now)
        .nodes;
}

// --- The kernel's struct mempolicy, as far as rebinding goes --------------
//
// A model of mm/mempolicy.c for tests and for reading the zero window's
// policies back (issue_plan.hpp): mpol_new() + mpol_set_nodemask() create, mpol_rebind_policy()
// rebinds, do_get_mempolicy() reads back.
struct KernelPolicy {
    Mode mode = Mode::Default;  // Default: no policy (pol == NULL)
    std::uint16_t flags = 0;
    Nodemask nodes;  // pol->nodes: where memory goes
    // pol->w: a union in the kernel. user_nodemask for a policy with any
    // of MPOL_MODE_FLAGS (mpol_store_user_nodemask(): STATIC, RELATIVE and,
    // since 5.12, NUMA_BALANCING too), cpuset_mems_allowed otherwise. Two
    // consequences, both measured in the 6.1 guest:
    //  - mpol_rebind_preferred() writes cpuset_mems_allowed whatever the
    //    flags, so a flagged preferred policy reads back the mems afterwards;
    //  - bind|NUMA_BALANCING goes down mpol_rebind_nodemask()'s plain path,
    //    which remaps from w: from the user's mask on the first rebind (not
    //    from the mems then), from the mems ever after, and get_mempolicy
    //    reads back the user's mask, then the mems.
    Nodemask w;
    int home_node = -1;
    friend constexpr bool operator==(const KernelPolicy&, const KernelPolicy&) = default;
};

// mpol_new() + mpol_set_nodemask() + set_mempolicy_home_node() for the
// request `issued` under `mems` (cpuset_current_mems_allowed ∩ N_MEMORY).
// Returns false where the kernel answers EINVAL (6.1 rules:
// sanitize_mpol_flags(), mpol_new(), the create ops).
constexpr bool kernel_create(const Request& issued, const Nodemask& mems, KernelPolicy& pol) {
    pol = KernelPolicy{};
    const std::uint16_t f = issued.flags;
    if ((f & kFlagStaticNodes) && (f & kFlagRelativeNodes)) return false;
    if ((f & kFlagNumaBalancing) && issued.mode != Mode::Bind) return false;
    Mode mode = issued.mode;
    switch (mode) {
        case Mode::Default:
            return issued.nodes.empty();
        case Mode::Preferred:
            if (issued.nodes.empty()) {
                if (f & kOwnMappingFlags) return false;
                mode = Mode::Local;
            }
            break;
        case Mode::Local:
            if (!issued.nodes.empty() || (f & kOwnMappingFlags)) return false;
            break;
        default:
            if (issued.nodes.empty()) return false;
    }
    pol.mode = mode;
    pol.flags = f;
    if (mode == Mode::Local) return true;
    Nodemask computed =
        (f & kFlagRelativeNodes) ? relative_nodemask(issued.nodes, mems) : issued.nodes & mems;
    pol.w = (f & kModeFlagsMask) ? issued.nodes : mems;
    if (computed.empty()) return false;
    pol.nodes = mode == Mode::Preferred ? rebind_detail::single(computed.first()) : computed;
    if (issued.home_node >= 0) {
        // set_mempolicy_home_node(): bind and preferred_many only (6.1).
        if (mode != Mode::Bind && mode != Mode::PreferredMany) return false;
        pol.home_node = issued.home_node;
    }
    return true;
}

// mpol_rebind_policy(pol, mems): what a cpuset.mems write does to a policy.
constexpr void kernel_rebind(KernelPolicy& pol, const Nodemask& mems) {
    if (pol.mode == Mode::Default || pol.mode == Mode::Local) return;
    const bool stores_user_mask = (pol.flags & kModeFlagsMask) != 0;
    if (!stores_user_mask && pol.w == mems) return;
    if (!kernel_remaps(pol.mode)) {  // mpol_rebind_preferred()
        pol.w = mems;
        return;
    }
    Nodemask tmp;  // mpol_rebind_nodemask()
    if (pol.flags & kFlagStaticNodes) {
        tmp = pol.w & mems;
    } else if (pol.flags & kFlagRelativeNodes) {
        tmp = relative_nodemask(pol.w, mems);
    } else {
        tmp = remap(pol.nodes, pol.w, mems);
        pol.w = mems;
    }
    pol.nodes = rebind_detail::or_all(tmp, mems);
}

// do_get_mempolicy(): the mode flags and nodes a caller reads back. The
// kernel copies only BITS_TO_LONGS(nr_node_ids) words of the mask
// (copy_nodes_to_user(), the rest zeroed), so an all-bits relative mask
// reads back as 0-63 on a machine with up to 64 nodes: pass nr_node_ids to
// see exactly that.
constexpr Rebound kernel_readback(const KernelPolicy& pol, unsigned nr_node_ids = kMaxNodes) {
    Rebound r;
    r.flags = pol.flags;
    r.home_node = pol.home_node;  // not reported by get_mempolicy; kept for comparison
    if (pol.flags & kModeFlagsMask)
        r.nodes = pol.w;
    else if (pol.mode != Mode::Default && pol.mode != Mode::Local)
        r.nodes = pol.nodes;
    const unsigned words = (nr_node_ids + kWordBits - 1) / kWordBits;
    for (unsigned i = words; i < kWords; ++i) r.nodes.words()[i] = 0;
    return r;
}

}  // namespace numakeep
