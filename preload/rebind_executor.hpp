// SPDX-License-Identifier: MIT
// Carries out one "your mems are now M (generation G)": check that the
// kernel still holds what we recorded (drop what it does not, never
// clobber), issue the rule's result as few coalesced mbind calls, set home
// nodes again, and have every thread with a task policy re-issue its own.
#pragma once

#include "numakeep/issue_plan.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/protocol.hpp"
#include "record_keeper.hpp"

namespace numakeep::preload {

// plan_issue() of a record under mems m1 with the runtime's settings
// (noting an assisted form: assist_ever_used()).
IssuePlan plan_rebind_of(const Recorded& rec, const Nodemask& m1);

// Issues a planned range policy over [start, start+len) with the raw mbind
// system call (`flags`: MPOL_MF_*); errno untouched, returns 0 or -errno.
// The home node is not set: a caller that has one sets it after.
long issue_range_policy(std::uint64_t start, std::uint64_t len, const IssuePlan& plan,
                        unsigned flags = 0);

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
