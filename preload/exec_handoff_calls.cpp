// SPDX-License-Identifier: MIT
#include "exec_handoff_calls.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <cerrno>

#include "exec_handoff.hpp"
#include "kernel_assist.hpp"
#include "raw_syscall.hpp"
#include "real_calls.hpp"
#include "rebind_executor.hpp"
#include "record_keeper.hpp"
#include "reentrancy_guard.hpp"
#include "runtime.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {
namespace {

int run_exec(int (*exec_call)(void*), void* ctx);

struct ExecCall {
    int dirfd;
    const char* path;
    char* const* argv;
    char* const* envp;
    int flags;
};

int call_execve(void* p) {
    auto* c = static_cast<ExecCall*>(p);
    return real::execve(c->path, c->argv, c->envp);
}
int call_execvpe(void* p) {
    auto* c = static_cast<ExecCall*>(p);
    return real::execvpe(c->path, c->argv, c->envp);
}
int call_fexecve(void* p) {
    auto* c = static_cast<ExecCall*>(p);
    return real::fexecve(c->dirfd, c->argv, c->envp);
}
int call_execveat(void* p) {
    auto* c = static_cast<ExecCall*>(p);
    return real::execveat(c->dirfd, c->path, c->argv, c->envp, c->flags);
}

// The task policy is all an exec keeps of our records (the new image's
// runtime learns it at start-up as a request made under the mems of then).
// When the mems moved since the last rebind a daemon drove here (a fork
// child that execs before its own agent has registered, or a round that
// lost the race with this exec for the lock), the kernel alone has remapped
// it, lossily (mpol_rebind_nodemask): issue what the rule says for the mems
// of now, as the round would have, so the new image starts from that.
// Record lock held.
void catch_up_task_policy() {
    RuntimeState& st = state();
    if (!st.mems_applied_known) return;  // no daemon ever drove us: the kernel's
    ThreadRecord* tr = own_thread_record(false);
    if (!tr || !tr->has_policy) return;
    const Nodemask now = current_mems();
    if (now.empty() || now == st.mems_applied) return;
    const IssuePlan plan = plan_before_exec(tr->rec, now, config().semantics);
    if (plan.needed) issue_task_policy(plan);
}

int run_exec(int (*exec_call)(void*), void* ctx) {
    // Inside the runtime (an exec from a signal handler that interrupted
    // one of our calls, which may hold the lock), or before any record
    // exists (no round was ever run): nothing to guard.
    if (ReentrancyGuard::active() || !state().active.load(std::memory_order_acquire))
        return exec_call(ctx);
    ReentrancyGuard guard;
    RecordLock lock;
    // The program's mask goes to the new image as it is: never block the
    // signal here, since a successful exec cannot come back to unblock it
    // (the new image would keep it blocked, every later round would time
    // out on it). With the lock held no round is in flight and none can
    // start, and a rebind signal sent while the thread left it unblocked
    // was delivered before the thread got here (on its way back to user
    // mode). So one can be pending only where the program blocks it, left
    // by a round that timed out: take it, rather than carry it into the
    // new image, whose default action for it terminates.
    const int sig = rebind_signal();
    sigset_t blocked;
    if (sig && pthread_sigmask(SIG_BLOCK, nullptr, &blocked) == 0 &&
        sigismember(&blocked, sig) == 1) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, sig);
        const timespec zero{};
        int saved = errno;
        while (sigtimedwait(&only, nullptr, &zero) == sig) {
        }
        errno = saved;
    }
    catch_up_task_policy();
    assist_before_exec();  // the new image inherits the program's own form
    // The request itself goes to the new image through the daemon, in case
    // the mems change before its runtime learns the policy (exec_handoff.hpp).
    const int handoff = exec_handoff_begin();
    int r = exec_call(ctx);
    exec_handoff_cancel(handoff);  // keeps errno: exec's
    assist_after_failed_exec();    // raw calls only: errno is exec's
    return r;
}

}  // namespace

int on_execve(const char* path, char* const argv[], char* const envp[]) {
    ExecCall c{-1, path, argv, envp, 0};
    return run_exec(call_execve, &c);
}
int on_execvpe(const char* file, char* const argv[], char* const envp[]) {
    ExecCall c{-1, file, argv, envp, 0};
    return run_exec(call_execvpe, &c);
}
int on_fexecve(int fd, char* const argv[], char* const envp[]) {
    ExecCall c{fd, nullptr, argv, envp, 0};
    return run_exec(call_fexecve, &c);
}
int on_execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
    ExecCall c{dirfd, path, argv, envp, flags};
    return run_exec(call_execveat, &c);
}

}  // namespace numakeep::preload
