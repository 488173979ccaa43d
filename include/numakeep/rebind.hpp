// SPDX-License-Identifier: MIT
// The rebind rule (DESIGN.md, "The rebind rule"): one pure function that
// turns a remembered request into the nodes to issue under new mems.
//
// DRAFT API: the bodies below are placeholders until the kernel-exact
// mapping (bitmap_remap & co.) lands; the signatures are the contract.
#pragma once

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"

namespace numakeep {

// What to issue: the nodes and the home node (-1: none).
struct Rebound {
    Nodemask nodes;
    int home_node = -1;
    friend bool operator==(const Rebound&, const Rebound&) = default;
};

// rule(request, M0, M1) for Semantics Intent, Static and Relative.
// Requests that carry MPOL_F_STATIC_NODES / MPOL_F_RELATIVE_NODES keep the
// kernel's meaning whatever `s` says. DEFAULT and LOCAL give empty nodes.
// For Semantics::Kernel use rebind_nodes_kernel (it needs history).
Rebound rebind_nodes(const Request& req, const Nodemask& m0, const Nodemask& m1, Semantics s);

// The kernel's own lossy rule (mpol_rebind_nodemask / mpol_rebind_preferred):
// interleave, bind and weighted interleave remap the *current* nodes from
// the previous mems to the new ones; preferred modes stay as they are.
Rebound rebind_nodes_kernel(const Request& req, const Rebound& current, const Nodemask& mprev,
                            const Nodemask& m1);

}  // namespace numakeep

#include "numakeep/rebind_impl.hpp"
