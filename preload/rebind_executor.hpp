// SPDX-License-Identifier: MIT
// Carries out one "your mems are now M (generation G)": check that the
// kernel still holds what we recorded (drop what it does not, never
// clobber), issue the rule's result as few coalesced mbind calls, set home
// nodes again, and have every thread with a task policy re-issue its own.
#pragma once

#include "numakeep/policy.hpp"
#include "numakeep/protocol.hpp"
#include "record_keeper.hpp"

namespace numakeep::preload {

// What to re-issue for a remembered request under mems m1, or false when
// nothing is to be issued: requests with MPOL_F_STATIC_NODES or
// MPOL_F_RELATIVE_NODES (the kernel keeps them right itself) and `kernel`
// semantics (the kernel's own rule is the point).
bool planned_request(const Recorded& rec, const Nodemask& m1, Semantics s, Request& out);

// Takes the record lock for the whole rebind.
proto::RebindDone execute_rebind(const proto::Rebind& msg);

// Brings the calling thread's task policy to the mems the agent last
// applied (record lock held): a thread born during a rebind.
void rebind_own_thread(ThreadRecord& tr);

// True when the kernel still holds, at `addr`, a policy of the recorded
// request's mode and flags (get_mempolicy MPOL_F_ADDR); fills what it holds.
bool kernel_holds(std::uint64_t addr, const Request& req, int& kernel_mode, Nodemask& kernel_nodes,
                  int& err);

}  // namespace numakeep::preload
