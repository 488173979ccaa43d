// SPDX-License-Identifier: MIT
#include "fork_handlers.hpp"

#include <pthread.h>

#include "agent.hpp"
#include "record_keeper.hpp"
#include "reentrancy_guard.hpp"

namespace numakeep::preload {
namespace {

// Whether prepare took the lock: not when the forking thread holds it
// already (a signal handler that forks while this thread was inside one of
// our calls); taking it again would deadlock.
thread_local bool t_fork_locked __attribute__((tls_model("initial-exec"))) = false;

void prepare() {
    RuntimeState& st = state();
    t_fork_locked = false;
    // Nothing was ever recorded or locked: nothing to protect, and nothing
    // written (the common case: programs that never ask for a policy).
    if (!st.active.load(std::memory_order_seq_cst)) return;
    if (RecordMutex::held_by_me()) return;
    st.lock.lock();
    t_fork_locked = true;
}

void parent() {
    if (!t_fork_locked) return;
    state().lock.unlock();
    t_fork_locked = false;
}

void child() {
    RuntimeState& st = state();
    if (!st.active.load(std::memory_order_relaxed)) return;
    ReentrancyGuard guard;
    ErrnoKeeper keep_errno;
    // prepare found the runtime idle but another thread started using it
    // before the fork: whatever it was doing may be half done.
    if (!t_fork_locked && !RecordMutex::held_by_me()) records_restart_in_child();
    // Reset, not unlocked: whoever took it (prepare, or a thread of the
    // parent's) has no say in this process.
    st.lock.reset_in_child();
    t_fork_locked = false;
    keep_only_own_thread_record();
    agent_after_fork_child();
}

}  // namespace

void install_fork_handlers() {
    pthread_atfork(prepare, parent, child);
}

}  // namespace numakeep::preload
