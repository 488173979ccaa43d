// SPDX-License-Identifier: MIT
// PLACEHOLDER bodies for rebind.hpp; replaced by the real rule.
#pragma once
namespace numakeep {
inline Rebound rebind_nodes(const Request& req, const Nodemask& m0, const Nodemask& m1, Semantics) {
    (void)m0;
    return {req.nodes & m1, req.home_node};
}
inline Rebound rebind_nodes_kernel(const Request&, const Rebound& current, const Nodemask&,
                                   const Nodemask&) {
    return current;
}
}  // namespace numakeep
