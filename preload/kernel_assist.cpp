// SPDX-License-Identifier: MIT
#include "kernel_assist.hpp"

#include <sys/syscall.h>

#include <atomic>

#include "raw_syscall.hpp"
#include "rebind_executor.hpp"
#include "record_keeper.hpp"
#include "record_ops.hpp"
#include "reentrancy_guard.hpp"
#include "runtime.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {
namespace {

// Set once the first assisted form reached the kernel; never cleared (a
// fork's child inherits the policies and the flag).
std::atomic<bool> g_used{false};
// The calling thread's policy was issued plain for an exec (lock held).
bool g_exec_unassisted = false;

// The kernel's policy at addr (MPOL_F_ADDR) or the calling thread's: mode
// | flags and nodes as get_mempolicy answers. False on error.
bool read_kernel(const void* addr, bool by_addr, int& mode, Nodemask& nodes) {
    mode = 0;
    nodes.clear();
    return raw(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, addr,
               by_addr ? mpol::kGetAddr : 0UL) == 0;
}

}  // namespace

bool assist_ever_used() {
    return g_used.load(std::memory_order_relaxed);
}

void note_assist_used() {
    g_used.store(true, std::memory_order_relaxed);
}

bool assist_prepare_on(int mode_arg) {
    Request req;
    if (!mode_from_call(mode_arg, req) ||
        !kernel_assistable_mode(req.mode, req.flags, config().semantics))
        return false;
    refresh_request_mems();
    return true;
}

void assist_range(std::uint64_t start, std::uint64_t len) {
    const Recorded* rec = ranges().lookup(start);
    if (!rec) return;
    const IssuePlan plan = plan_after_request(*rec, issue_settings());
    if (!plan.needed) return;
    note_assist_used();
    long r = issue_range_policy(start, len, plan);
    // Refused (a kernel without MPOL_F_RELATIVE_NODES for this mode): the
    // program's own policy stays, and the daemon's re-issue keeps it.
    if (r < 0) report_failure(Failure::Assist, "the kernel refused an assisted mbind", -r);
}

void assist_convert_ranges() {
    if (!config().kernel_assist) return;
    ranges().for_each([&](const RangeStore::Range& r) {
        const IssuePlan plan = plan_after_request(*r.rec, issue_settings());
        if (!plan.needed) return;
        int mode;
        Nodemask nodes;
        auto plain_at = [&](std::uint64_t addr) {
            return read_kernel(reinterpret_cast<const void*>(addr), true, mode, nodes) &&
                   held_form(*r.rec, mode, nodes) == Held::Plain;
        };
        // Only what the kernel holds as recorded: never clobber.
        if (!plain_at(r.start) || !plain_at(r.end - kPageSize)) return;
        note_assist_used();
        issue_range_policy(r.start, r.end - r.start, plan);
    });
}

void assist_own_thread() {
    if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) assist_thread(tr->rec);
}

void assist_thread(const Recorded& rec) {
    const IssuePlan plan = plan_after_request(rec, issue_settings());
    if (!plan.needed) return;
    note_assist_used();
    long r = issue_task_policy(plan);
    if (r < 0) report_failure(Failure::Assist, "the kernel refused an assisted set_mempolicy", -r);
}

void assist_translate_get_mempolicy(long result, int* mode, unsigned long* nodemask,
                                    unsigned long maxnode, void* addr, unsigned long flags) {
    if (result != 0 || !assist_ever_used() || ReentrancyGuard::active()) return;
    // MPOL_F_MEMS_ALLOWED answers the mems, whatever the policy.
    if (flags & mpol::kGetMemsAllowed) return;
    const bool node_query = flags & mpol::kGetNode;  // *mode holds a node, not a mode
    const bool by_addr = flags & mpol::kGetAddr;
    if (!nodemask && (node_query || !mode)) return;
    // The common case costs nothing more: the kernel's mode says it is not
    // a relative policy.
    if (!node_query && mode && !(*mode & kFlagRelativeNodes)) return;
    ErrnoKeeper keep;
    ReentrancyGuard guard;
    int kmode;
    Nodemask knodes;
    if (!read_kernel(addr, by_addr, kmode, knodes) || !(kmode & kFlagRelativeNodes)) return;
    IssuePlan plain;
    {
        RecordLock lock;
        const Recorded* rec = nullptr;
        if (by_addr) {
            rec = ranges().lookup(reinterpret_cast<std::uint64_t>(addr));
        } else if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) {
            rec = &tr->rec;
        }
        if (!rec) return;
        plain = assisted_as_plain(*rec, kmode, knodes, current_mems());
        if (!plain.needed) return;
    }
    if (!node_query && mode) *mode = plain.mode_arg();
    write_user_nodes(nodemask, maxnode, plain.nodes);
}

void assist_before_exec() {
    g_exec_unassisted = false;
    ThreadRecord* tr = t_thread_record;
    if (!assist_ever_used() || !tr || !tr->has_policy) return;
    int kmode;
    Nodemask knodes;
    if (!read_kernel(nullptr, false, kmode, knodes)) return;
    const IssuePlan plain = assisted_as_plain(tr->rec, kmode, knodes, current_mems());
    if (plain.needed && issue_task_policy(plain) == 0) g_exec_unassisted = true;
}

void assist_after_failed_exec() {
    if (!g_exec_unassisted) return;
    g_exec_unassisted = false;
    if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) assist_thread(tr->rec);
}

}  // namespace numakeep::preload
