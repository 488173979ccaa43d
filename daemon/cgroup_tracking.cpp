// SPDX-License-Identifier: MIT
// Where numakeepd's processes live and what their cgroups allow: the
// watcher's events (a process moved, a cpuset.mems written, a cgroup
// removed) turned into new mems and generations for the orchestrator.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "numakeepd.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

Nodemask Numakeepd::mems_of(const std::string& cgroup, pid_t member) {
    if (auto m = cgroupfs_.effective_mems(cgroup)) return *m;
    // No cpuset controller here (or no cgroup v2): the task's own view.
    if (auto m = proc_mems_allowed(member)) return *m;
    return Nodemask{};
}

void Numakeepd::check_moved(pid_t pid) {
    const ProcessPlan* plan = orchestrator_.process(pid);
    Process* p = registry_.find(pid);
    if (!plan || !p) return;
    auto now = proc_cgroup(pid);
    if (!now || *now == plan->cgroup) return;
    Nodemask mems = mems_of(*now, pid);
    spdlog::info("pid {} ({}) moved from cgroup {} to {} (mems {})", pid, p->comm, plan->cgroup,
                 *now, mems.to_string());
    p->cgroup = *now;
    orchestrator_.move_process(pid, *now, mems);
}

void Numakeepd::on_cgroup_changes(const CgroupWatcher::Changes& ch) {
    // Moves first, so that a process moved and then its new cgroup written
    // is retargeted once with the latest mems.
    for (const auto& cg : ch.procs) {
        if (cg == "/" && ch.mems.count("/")) {
            // Overflow: look at every registered process.
            for (const auto& [pid, p] : registry_.all()) check_moved(pid);
            continue;
        }
        auto pids = cgroupfs_.procs(cg);
        if (!pids) continue;
        for (int pid : *pids) {
            const ProcessPlan* plan = orchestrator_.process(pid);
            if (plan && plan->cgroup != cg) check_moved(pid);
        }
    }
    for (const auto& cg : ch.removed) {
        std::vector<int> members;
        if (const CgroupPlan* plan = orchestrator_.cgroup(cg))
            members.assign(plan->members.begin(), plan->members.end());
        for (int pid : members) check_moved(pid);
    }
    for (const auto& cg : ch.removed) unanswered_writes_.erase(cg);
    if (!ch.mems.empty()) {
        // Writes not yet answered by a rebind, per cgroup written. A write
        // raises its IN_CLOSE_WRITE once, but its IN_MODIFYs may be read and
        // answered in an earlier batch: a rebind made before the close
        // arrives leaves a credit of one (-1). Two unanswered writes and the
        // mems read back unchanged mean the kernel went through mems this
        // daemon never read (0-3 -> 2-3 -> 0-3 between two reads), and
        // update_nodemask() rebound every policy lossily through them. Such
        // writes come close together: a count older than kUnseenWindowMs is
        // forgotten, so a write of the mems in force stays a no-op.
        const std::int64_t now = monotonic_ms();
        for (auto& [written, w] : unanswered_writes_)
            if (now - w.at_ms > kUnseenWindowMs) w.count = 0;
        for (const auto& [written, n] : ch.mems_closes) {
            UnansweredWrites& w = unanswered_writes_[written];
            w.count = std::min(w.count + n, 2);
            w.at_ms = now;
        }
        std::vector<std::string> affected;
        for (const auto& [cg, plan] : orchestrator_.cgroups())
            for (const auto& written : ch.mems)
                if (cgroup_within(cg, written)) {
                    affected.push_back(cg);
                    break;
                }
        std::set<std::string> answered;  // written cgroups a rebind answered
        for (const auto& cg : affected) {
            bool unseen = false;
            for (const auto& written : ch.mems)
                if (cgroup_within(cg, written) && unanswered_writes_[written].count >= 2)
                    unseen = true;
            const CgroupPlan* plan = orchestrator_.cgroup(cg);
            Nodemask mems = mems_of(cg, *plan->members.begin());
            Nodemask old = plan->mems;
            std::size_t n = plan->members.size();
            std::uint64_t gen = orchestrator_.cgroup_changed(cg, mems, unseen);
            if (gen == 0) {
                // Another event of a write already answered, or the same
                // mems written again: no policy moved.
                spdlog::debug("cgroup {} mems {} unchanged: no rebind", cg, mems.to_string());
                continue;
            }
            for (const auto& written : ch.mems)
                if (cgroup_within(cg, written)) answered.insert(written);
            spdlog::info("cgroup {} mems {} -> {} (generation {}{}): {} process{} to rebind", cg,
                         old.to_string(), mems.to_string(), gen,
                         old == mems ? ", through mems never read" : "", n, n == 1 ? "" : "es");
        }
        for (const auto& written : answered) {
            UnansweredWrites& w = unanswered_writes_[written];
            w.count = w.count > 0 ? 0 : -1;
            w.at_ms = now;
        }
    }
    counters_.mems_writes += ch.mems_writes;
    pending_event_ms_ = ch.first_event_ms;
    pump();
}

}  // namespace numakeep::daemon
