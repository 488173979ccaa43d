// SPDX-License-Identifier: MIT
// The exec handoff (protocol.hpp, ExecHandoff) as pure code: what the
// runtime sends before an exec, what the daemon accepts, and when the new
// image takes it.
//
// Why it exists: a task policy survives exec, and the new image's runtime
// learns it in its constructor as a request made under the mems of then.
// The runtime's exec calls leave rule(R, M0, M_exec) in the kernel; if
// cpuset.mems changes between the exec and that constructor, the kernel
// remaps the policy first (lossily, mpol_rebind_nodemask), and the new
// image would record the remap as its request: R would be gone. The handoff carries R
// and M0 to the new image through the daemon, where the program cannot see
// it (an environment variable would change what the program sees).
#pragma once

#include <cstdint>
#include <optional>

#include "numakeep/policy.hpp"
#include "numakeep/protocol.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep {

// The frame the runtime sends before an exec for the calling thread's
// record `rec`, with what the kernel holds right before the exec
// (get_mempolicy's mode, flags in the high bits, and nodes) and the mems
// of then.
inline proto::ExecHandoff make_exec_handoff(const Recorded& rec, int kernel_mode,
                                            const Nodemask& kernel_nodes,
                                            const Nodemask& mems_at_exec,
                                            std::uint64_t generation) {
    proto::ExecHandoff h;
    h.generation = generation;
    h.mode = static_cast<std::uint16_t>(rec.request.mode);
    h.flags = rec.request.flags;
    h.home_node = rec.request.home_node;
    h.issued_mode =
        static_cast<std::uint16_t>(static_cast<unsigned>(kernel_mode) & ~kModeFlagsMask);
    h.issued_flags =
        static_cast<std::uint16_t>(static_cast<unsigned>(kernel_mode) & kModeFlagsMask);
    h.requested = rec.request.nodes;
    h.mems_at_request = rec.mems_at_request;
    h.issued_nodes = kernel_nodes;
    h.mems_at_exec = mems_at_exec;
    return h;
}

// The record the new image takes from a handoff.
inline Recorded recorded_of(const proto::ExecHandoff& h) {
    Recorded r;
    r.request.mode = static_cast<Mode>(h.mode);
    r.request.flags = h.flags;
    r.request.nodes = h.requested;
    r.request.home_node = h.home_node;
    r.mems_at_request = h.mems_at_request;
    return r;
}

// Why a handoff is not one to keep, or nullptr when it is. Only requests
// the rule re-issues qualify (rule_reissues(): nodes to follow, no
// MPOL_F_STATIC_NODES / RELATIVE_NODES, which the kernel keeps right by
// itself), and the exec left the request's own mode and flags in the
// kernel (the exec calls issue plan_before_exec(): the rule's nodes in the
// program's form).
inline const char* exec_handoff_problem(const proto::ExecHandoff& h) {
    if (h.mode >= kModeCount) return "not a mode";
    if (h.flags & ~kModeFlagsMask) return "unknown mode flags";
    if (!rule_reissues(recorded_of(h).request))
        return "not a request the rule re-issues (no nodes to follow, or static or relative "
               "nodes, which the kernel keeps itself)";
    if (h.issued_mode != h.mode || h.issued_flags != h.flags)
        return "the policy left for the exec is not the request's mode";
    if (h.home_node < -1 || h.home_node >= static_cast<std::int32_t>(kMaxNodes))
        return "home node out of range";
    if (h.handoff_flags & ~proto::kExecHandoffFromStartup) return "unknown handoff flags";
    if (h.requested.empty() || h.issued_nodes.empty()) return "no nodes";
    if (h.mode == static_cast<std::uint16_t>(Mode::Preferred) &&
        (h.requested.count() != 1 || h.issued_nodes.count() != 1))
        return "preferred with other than one node";
    if (h.mems_at_request.empty() || h.mems_at_exec.empty()) return "empty mems";
    if (!h.requested.intersects(h.mems_at_request))
        return "the request has no node in its mems";  // the kernel refuses those
    return nullptr;
}

// Whether the new image takes the handoff: the policy it found at start-up
// (get_mempolicy's mode with its flags) is of the mode and flags the exec
// left. The caller also checks that the record learned from it is still
// untouched (no set_mempolicy since).
inline bool exec_handoff_matches(const proto::ExecHandoff& h, int startup_kernel_mode) {
    return exec_handoff_problem(h) == nullptr &&
           static_cast<unsigned>(startup_kernel_mode) ==
               (static_cast<unsigned>(h.issued_mode) | h.issued_flags);
}

// An image that execs again before it took its own exec's handoff (`prev`,
// still pending: `bash -c prog` execs prog at once, so do env, nice and
// most wrappers) hands over `next`, whose request is only what it learned
// at start-up (kExecHandoffFromStartup). When that was learned from the
// policy `prev`'s exec left (same mode and flags), the request is still
// prev's: the chain carries R and M0 on, with what the latest exec left.
// nullopt when `next` does not continue `prev`.
inline std::optional<proto::ExecHandoff> chain_exec_handoff(const proto::ExecHandoff& prev,
                                                            const proto::ExecHandoff& next) {
    if (!(next.handoff_flags & proto::kExecHandoffFromStartup)) return std::nullopt;
    if (exec_handoff_problem(prev) || exec_handoff_problem(next)) return std::nullopt;
    if (next.mode != prev.issued_mode || next.flags != prev.issued_flags) return std::nullopt;
    proto::ExecHandoff out = next;
    out.mode = prev.mode;
    out.flags = prev.flags;
    out.home_node = prev.home_node;
    out.requested = prev.requested;
    out.mems_at_request = prev.mems_at_request;
    out.handoff_flags = 0;
    if (exec_handoff_problem(out)) return std::nullopt;  // the issued mode must stay R's
    return out;
}

}  // namespace numakeep
