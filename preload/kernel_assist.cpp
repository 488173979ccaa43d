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

namespace numakeep::preload {
namespace {

// Set once the first assisted form reached the kernel; never cleared (a
// fork's child inherits the policies and the flag).
std::atomic<bool> g_used{false};
// The calling thread's policy was issued plain for an exec (lock held).
bool g_exec_unassisted = false;

int mode_arg(const Request& req, std::uint16_t flags) {
    return static_cast<int>(req.mode) | flags;
}

// The kernel's policy at addr (MPOL_F_ADDR) or the calling thread's: mode
// | flags and nodes as get_mempolicy answers. False on error.
bool read_kernel(const void* addr, bool by_addr, int& mode, Nodemask& nodes) {
    mode = 0;
    nodes.clear();
    return raw(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, addr,
               by_addr ? kGetAddr : 0UL) == 0;
}

}  // namespace

bool assist_ever_used() {
    return g_used.load(std::memory_order_relaxed);
}

bool assist_wanted(const Request& req) {
    const Config& c = config();
    return c.kernel_assist && kernel_assistable(req, c.semantics);
}

bool assist_prepare_on(int mode_arg) {
    const Config& c = config();
    if (!c.kernel_assist || c.semantics != Semantics::Intent) return false;
    const auto raw_mode = static_cast<unsigned>(mode_arg);
    if (raw_mode & kModeFlagsMask) return false;
    if (raw_mode >= kModeCount || !kernel_remaps(static_cast<Mode>(raw_mode))) return false;
    refresh_request_mems();
    return true;
}

void assist_range(std::uint64_t start, std::uint64_t len) {
    const Recorded* rec = ranges().lookup(start);
    if (!rec || !assist_wanted(rec->request)) return;
    Rebound f = assisted_issue(*rec, config().semantics);
    if (!is_assisted_form(f, rec->request)) return;
    g_used.store(true, std::memory_order_relaxed);
    long r = raw(SYS_mbind, start, len, mode_arg(rec->request, f.flags), f.nodes.kernel_data(),
                 Nodemask::kKernelMaxnode, 0U);
    // Refused (a kernel without MPOL_F_RELATIVE_NODES for this mode): the
    // program's own policy stays, and the daemon's re-issue keeps it.
    if (r < 0) report_failure(Failure::Assist, "the kernel refused an assisted mbind", -r);
}

void assist_convert_ranges() {
    if (!config().kernel_assist) return;
    ranges().for_each([&](const RangeStore::Range& r) {
        if (!assist_wanted(r.rec->request)) return;
        int mode;
        Nodemask nodes;
        auto plain_at = [&](std::uint64_t addr) {
            return read_kernel(reinterpret_cast<const void*>(addr), true, mode, nodes) &&
                   held_form(*r.rec, mode, nodes) == Held::Plain;
        };
        // Only what the kernel holds as recorded: never clobber.
        if (!plain_at(r.start) || !plain_at(r.end - kPageSize)) return;
        Rebound f = assisted_issue(*r.rec, config().semantics);
        if (!is_assisted_form(f, r.rec->request)) return;
        g_used.store(true, std::memory_order_relaxed);
        raw(SYS_mbind, r.start, r.end - r.start, mode_arg(r.rec->request, f.flags),
            f.nodes.kernel_data(), Nodemask::kKernelMaxnode, 0U);
    });
}

void assist_own_thread() {
    if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) assist_thread(tr->rec);
}

void assist_thread(const Recorded& rec) {
    Rebound f = assisted_issue(rec, config().semantics);
    if (!is_assisted_form(f, rec.request)) return;
    g_used.store(true, std::memory_order_relaxed);
    long r = raw(SYS_set_mempolicy, mode_arg(rec.request, f.flags), f.nodes.kernel_data(),
                 Nodemask::kKernelMaxnode);
    if (r < 0) report_failure(Failure::Assist, "the kernel refused an assisted set_mempolicy", -r);
}

void assist_translate_get_mempolicy(long result, int* mode, unsigned long* nodemask,
                                    unsigned long maxnode, void* addr, unsigned long flags) {
    if (result != 0 || !assist_ever_used() || ReentrancyGuard::active()) return;
    // MPOL_F_MEMS_ALLOWED answers the mems, whatever the policy.
    if (flags & kGetMemsAllowed) return;
    const bool node_query = flags & kGetNode;  // *mode holds a node, not a mode
    const bool by_addr = flags & kGetAddr;
    if (!nodemask && (node_query || !mode)) return;
    // The common case costs nothing more: the kernel's mode says it is not
    // a relative policy.
    if (!node_query && mode && !(*mode & kFlagRelativeNodes)) return;
    ErrnoKeeper keep;
    ReentrancyGuard guard;
    int kmode;
    Nodemask knodes;
    if (!read_kernel(addr, by_addr, kmode, knodes) || !(kmode & kFlagRelativeNodes)) return;
    Nodemask in_force;
    {
        RecordLock lock;
        const Recorded* rec = nullptr;
        if (by_addr) {
            rec = ranges().lookup(reinterpret_cast<std::uint64_t>(addr));
        } else if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) {
            rec = &tr->rec;
        }
        if (!rec || !present_assisted(*rec, kmode, knodes, current_mems())) return;
        in_force = knodes;
    }
    if (!node_query && mode) *mode = kmode;
    write_user_nodes(nodemask, maxnode, in_force);
}

void assist_before_exec() {
    g_exec_unassisted = false;
    ThreadRecord* tr = t_thread_record;
    if (!assist_ever_used() || !tr || !tr->has_policy) return;
    int kmode;
    Nodemask knodes;
    if (!read_kernel(nullptr, false, kmode, knodes)) return;
    if (!present_assisted(tr->rec, kmode, knodes, current_mems())) return;
    if (raw(SYS_set_mempolicy, kmode, knodes.kernel_data(), Nodemask::kKernelMaxnode) == 0)
        g_exec_unassisted = true;
}

void assist_after_failed_exec() {
    if (!g_exec_unassisted) return;
    g_exec_unassisted = false;
    if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) assist_thread(tr->rec);
}

bool planned_issue(const Recorded& rec, const Nodemask& m1, Semantics s, Request& out) {
    if (!planned_request(rec, m1, s, out)) return false;
    if (!config().kernel_assist || !kernel_assistable(rec.request, s)) return true;
    Rebound f = assisted_issue(rec, s);
    if (!is_assisted_form(f, rec.request)) return true;
    g_used.store(true, std::memory_order_relaxed);
    out.flags = f.flags;
    out.nodes = f.nodes;  // the relative mask; the home node stays the rule's
    return true;
}

}  // namespace numakeep::preload
