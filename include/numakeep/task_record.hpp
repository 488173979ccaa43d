// SPDX-License-Identifier: MIT
// The per-thread task policy record: what a thread asked set_mempolicy()
// for, under which mems, what was last issued for it and at which daemon
// generation; and the one function that says what the thread must re-issue
// when the mems change, by the same rule as the ranges (rebind.hpp).
//
// A task policy can only be set by the thread itself, so the preload keeps
// one TaskRecord per thread (thread-local) and, on a rebind, each thread
// applies task_reissue() at its next safe point. Pure, constexpr, no
// allocation.
#pragma once

#include <cstdint>

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep {

struct TaskRecord {
    bool active = false;           // false: the thread never set a policy (or set DEFAULT)
    Recorded recorded;             // the request and the mems it was made under (M0)
    Rebound applied;               // what was last passed to the kernel for it
    Nodemask applied_mems;         // the mems it was last passed under
    std::uint64_t generation = 0;  // the daemon's generation of applied_mems (0: before any)
    friend constexpr bool operator==(const TaskRecord&, const TaskRecord&) = default;
};

// The record after the thread's own set_mempolicy(req) under `mems`, issued
// as `issued` (see issue_at_request()). A DEFAULT request clears it: there
// is nothing to follow.
constexpr TaskRecord record_task_request(const Request& req, const Rebound& issued,
                                         const Nodemask& mems, std::uint64_t generation) {
    TaskRecord rec;
    if (req.mode == Mode::Default) return rec;
    rec.active = true;
    rec.recorded = Recorded{req, mems};
    rec.applied = issued;
    rec.applied_mems = mems;
    rec.generation = generation;
    return rec;
}

struct TaskReissue {
    bool needed = false;  // a set_mempolicy() call is due
    Rebound issue;        // what to pass (meaningful when needed)
};

// What the thread must re-issue now that the mems are `m1` (generation
// `generation`): the rule (rebind_nodes) against the mems of the request,
// never against what was last applied, so the result depends only on the
// request and m1. A policy issued in the zero window's assisted form keeps
// that form: the kernel already follows it. Nothing is due for an inactive
// record, an old generation, or when the kernel's own rebind already left
// the policy where the rule wants it (reissue_needed).
constexpr TaskReissue task_reissue(const TaskRecord& rec, const Nodemask& m1,
                                   std::uint64_t generation, Semantics s) {
    TaskReissue out;
    if (!rec.active || generation <= rec.generation) return out;
    const Request& req = rec.recorded.request;
    if (s == Semantics::Kernel) {
        out.issue = rebind_nodes_kernel(req, rec.applied, rec.applied_mems, m1);
        return out;  // the kernel has done it already
    }
    Rebound desired = rebind_nodes(req, rec.recorded.mems_at_request, m1, s);
    const bool assisted = (rec.applied.flags & kFlagRelativeNodes) && !has_own_mapping(req);
    if (assisted) {
        desired.nodes = rec.applied.nodes;
        desired.flags = rec.applied.flags;
    }
    out.needed = reissue_needed(req, s, rec.applied, rec.applied_mems, desired, m1);
    out.issue = desired;
    return out;
}

// Records that `issued` was passed under `mems` at `generation` (call it
// after the set_mempolicy() succeeded, or when none was needed, so that the
// generation moves on).
constexpr void mark_applied(TaskRecord& rec, const Rebound& issued, const Nodemask& mems,
                            std::uint64_t generation) {
    rec.applied = issued;
    rec.applied_mems = mems;
    rec.generation = generation;
}

}  // namespace numakeep
