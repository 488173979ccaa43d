// SPDX-License-Identifier: MIT
#include "rebind_executor.hpp"

#include <sys/syscall.h>
#include <time.h>

#include <vector>

#include "kernel_assist.hpp"
#include "numakeep/issue_plan.hpp"
#include "numakeep/mpol.hpp"
#include "raw_syscall.hpp"
#include "record_ops.hpp"
#include "runtime.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {
namespace {

constexpr int kThreadTimeoutMs = 500;

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// The ranges found kernel-assisted, in address order (the store's).
class AssistedRanges {
  public:
    void add(std::uint64_t s, std::uint64_t e) {
        if (!spans_.empty() && spans_.back().second == s)
            spans_.back().second = e;
        else
            spans_.emplace_back(s, e);
    }
    // Whether [s, e) lies inside one run of assisted ranges.
    bool covers(std::uint64_t s, std::uint64_t e) const {
        std::size_t lo = 0, hi = spans_.size();
        while (lo < hi) {  // first span ending after s
            std::size_t mid = lo + (hi - lo) / 2;
            if (spans_[mid].second <= s)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < spans_.size() && spans_[lo].first <= s && spans_[lo].second >= e;
    }

  private:
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spans_;
};

void count_error(proto::RebindDone& done, int err) {
    ++done.errors;
    if (!done.first_errno) done.first_errno = err;
}

// set_mempolicy_home_node() over [s, e) when the plan has a home node.
void set_home_node(proto::RebindDone& done, std::uint64_t s, std::uint64_t e,
                   const IssuePlan& plan) {
    if (plan.home_node < 0) return;
    long h = raw(SYS_set_mempolicy_home_node, s, e - s, plan.home_node, 0);
    if (h < 0) count_error(done, static_cast<int>(-h));
}

// Brings every range record to the rule's nodes under msg.mems (takes
// the record lock): an application's mbind and a rebind of the same range
// never interleave.
void rebind_ranges(const proto::Rebind& msg, proto::RebindDone& done) {
    const bool move = (msg.flags & proto::kRebindMovePages) != 0;
    RecordLock lock;
    RangeStore& store = ranges();
    const Semantics sem = config().semantics;

    // 1. Never clobber: a range whose first or last page no longer carries
    // the recorded mode (unmapped, re-mapped, changed by a call we did not
    // see) is forgotten, not re-bound. A one-page range has one page to ask
    // about (the common case of many small ranges: a third of the syscalls).
    // get_mempolicy(MPOL_F_ADDR) is the cheap way to ask: one VMA lookup a
    // call, where reading /proc/self/numa_maps walks every VMA's page
    // tables (show_numa_map()).
    // A kernel-assisted range (held as mode | MPOL_F_RELATIVE_NODES with
    // its relative mask) is noted: the kernel already keeps its intent.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> stale;
    AssistedRanges assisted;
    store.for_each([&](const RangeStore::Range& r) {
        int mode, err;
        Nodemask nodes;
        bool ok = kernel_holds(r.start, r.rec->request, mode, nodes, err);
        Held first = ok ? held_form(*r.rec, mode, nodes) : Held::Other;
        const bool one_page = r.end - r.start == kPageSize;
        ok = ok && first != Held::Other &&
             (one_page || kernel_holds(r.end - kPageSize, r.rec->request, mode, nodes, err));
        Held last = !ok ? Held::Other : one_page ? first : held_form(*r.rec, mode, nodes);
        if (!ok || last == Held::Other)
            stale.emplace_back(r.start, r.end);
        else if (first == Held::Assisted && last == Held::Assisted)
            assisted.add(r.start, r.end);
    });
    for (auto& [s, e] : stale) store.punch(s, e);
    done.ranges_dropped = static_cast<std::uint32_t>(stale.size());

    // 2. The rule, as few mbind calls as the store can coalesce.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> failed;
    if (sem != Semantics::Kernel) {
        store.plan_rebind(msg.mems, issue_settings(), [&](std::uint64_t s, std::uint64_t e,
                                                          const IssuePlan& p) {
            if (p.assisted()) note_assist_used();
            // The assisted form: checked, not re-issued, when the kernel
            // already holds it all along [s, e); else issued, converting
            // the range.
            if (p.assisted() && !move && assisted.covers(s, e)) {
                ++done.ranges_checked;
                // The kernel never remaps a home node: set the rule's.
                set_home_node(done, s, e, p);
                return;
            }
            const unsigned flags = move ? mpol::kMfMove : 0U;
            long r = issue_range_policy(s, e - s, p, flags);
            // The kernel refused the assisted form: issue the nodes it
            // stands for, plainly.
            if (r < 0 && r != -EFAULT && p.assisted())
                r = issue_range_policy(s, e - s, without_assist(p, msg.mems), flags);
            if (r < 0) {
                count_error(done, static_cast<int>(-r));
                // EFAULT: part of the range went away behind our back.
                if (r == -EFAULT) failed.emplace_back(s, e);
                return;
            }
            ++done.ranges_rebound;
            // A re-issued mbind drops the home node (mbind_range() installs
            // a fresh policy): set it again.
            set_home_node(done, s, e, p);
        });
    } else {
        done.ranges_checked = static_cast<std::uint32_t>(store.size());
    }
    for (auto& [s, e] : failed) store.punch(s, e);
    if (!stale.empty() || !failed.empty()) refresh_tracked();

}

}  // namespace

long issue_range_policy(std::uint64_t start, std::uint64_t len, const IssuePlan& plan,
                        unsigned flags) {
    return raw(SYS_mbind, start, len, plan.mode_arg(), plan.nodes.kernel_data(),
               Nodemask::kKernelMaxnode, flags);
}

IssuePlan plan_rebind_of(const Recorded& rec, const Nodemask& mems) {
    const IssuePlan plan = plan_issue(rec, mems, issue_settings());
    if (plan.assisted()) note_assist_used();
    return plan;
}

bool kernel_holds(std::uint64_t addr, const Request& req, int& kernel_mode, Nodemask& kernel_nodes,
                  int& err) {
    kernel_mode = 0;
    kernel_nodes.clear();
    long r = raw(SYS_get_mempolicy, &kernel_mode, kernel_nodes.kernel_data(),
                 Nodemask::kKernelMaxnode, addr, mpol::kGetAddr);
    err = r < 0 ? static_cast<int>(-r) : 0;
    if (r < 0) return false;
    return kernel_mode_is_request(req, kernel_mode);
}

proto::RebindDone execute_rebind(const proto::Rebind& msg) {
    proto::RebindDone done;
    done.generation = msg.generation;
    std::uint64_t t0 = now_ns();
    RuntimeState& st = state();

    // 0. Task policies: every thread re-issues its own, in its signal
    // handler. The round starts first so the threads do that while this
    // thread works through the ranges (with many processes on few CPUs a
    // signalled thread may wait long to be scheduled: it should not wait
    // after the ranges, nor be timed out while they were being done).
    // Planned under the lock, signalled and collected without it: no call
    // of the program waits on a round (a signal wakes its thread, which may
    // then run before this one on a loaded CPU; a thread may be slow to
    // answer).
    ThreadRound threads;
    {
        RecordLock lock;
        for (ThreadRecord* tr = st.threads; tr; tr = tr->next) {
            if (!tr->has_policy) continue;
            plan_thread(*tr, plan_rebind_of(tr->rec, msg.mems));
        }
        threads = prepare_thread_round(true);
        // What the threads are being rebound to, set before the lock is
        // given back: a request the program makes from now on is made
        // under the new mems (its M0), and a thread created from now on
        // brings itself up to date from these (thread_trampoline). A
        // thread's set_mempolicy made now replaces the plan above (the
        // handler carries out a plan only for the request it was made for).
        st.generation_applied = msg.generation;
        st.mems_applied = msg.mems;
        st.mems_applied_known = true;
        refresh_request_mems(&msg.mems);
    }
    send_thread_round(threads);

    // 1, 2: the ranges (record lock held).
    rebind_ranges(msg, done);

    // 3. The threads' answers (their round started before the ranges).
    ThreadRoundResult tres = finish_thread_round(threads, kThreadTimeoutMs);
    done.threads_rebound = tres.rebound + tres.kept;  // kept: the kernel keeps them
    done.errors += tres.errors;
    if (!done.first_errno) done.first_errno = tres.first_errno;
    if (tres.errors)
        report_failure(Failure::ThreadRebind, "a thread did not re-issue its policy",
                       tres.first_errno);
    if (done.errors) report_failure(Failure::Rebind, "a rebind call failed", done.first_errno);

    done.duration_ns = now_ns() - t0;
    return done;
}

void rebind_own_thread(ThreadRecord& tr) {
    RuntimeState& st = state();
    if (!st.mems_applied_known || !tr.has_policy) return;
    const IssuePlan plan = plan_rebind_of(tr.rec, st.mems_applied);
    if (plan.needed) issue_task_policy(plan);
}

}  // namespace numakeep::preload
