// SPDX-License-Identifier: MIT
// `numakeep set` inside the process: the daemon's SetRequest is carried out
// by the agent as the program's own call would be. The policy is issued
// exactly as asked (the kernel's answer, EINVAL for nodes outside the
// cpuset, is the outcome) and recorded as a request made under the mems of
// that moment, with its origin (who asked, when): it then follows cpuset
// changes like any other request, and the program's next mbind or
// set_mempolicy replaces it as it replaces its own.
//
// --task reaches every thread of the process, also those that never set a
// policy (the agent makes their records, each thread claims its own in the
// rebind signal's handler: thread_rebind.hpp); --ranges every recorded
// range, or the pieces of them inside --range (the store splits records).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "numakeep/nodemask.hpp"
#include "numakeep/protocol.hpp"

namespace numakeep::preload {

// Who installed a request (Recorded::origin names it).
struct SetOrigin {
    std::uint32_t id = 0;
    std::int32_t pid = 0;
    std::uint32_t uid = 0;
    std::int64_t unix_ms = 0;
};

// The origin `id` (lock held); false when it is 0 (the program) or too old
// to be remembered (the runtime keeps the latest few).
bool find_set_origin(std::uint32_t id, SetOrigin& out);

// One SetRequest carried out: what is answered, and whether its pages are
// still to move (--move, and something was set) for the mems it was
// recorded under.
struct SetResult {
    proto::SetApplied applied;
    bool move = false;
    Nodemask mems;
    std::uint32_t rate_mib = 0;
    std::uint64_t started_ns = 0;
};

// Sets the policy one SetRequest asks for (takes the record lock; the
// agent thread). The pages are moved by move_set_pages().
SetResult execute_set(const proto::SetRequest& req);

// The --move of a set: respreads the pages for `s.mems` and notes it in
// `s.applied`. False when `should_stop` (a frame from the daemon) or the
// kernel (the mems changed again) ended it first: the agent serves the
// frame and calls it again; pages already in place cost one query.
bool move_set_pages(SetResult& s, bool (*should_stop)());

}  // namespace numakeep::preload
