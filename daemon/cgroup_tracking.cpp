// SPDX-License-Identifier: MIT
// Where numakeepd's processes live and what their cgroups allow: the
// watcher's events (a process moved, a cpuset.mems written, a cgroup
// removed) turned into new mems and generations for the orchestrator.
#include <spdlog/spdlog.h>

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
    if (!ch.mems.empty()) {
        std::vector<std::string> affected;
        for (const auto& [cg, plan] : orchestrator_.cgroups())
            for (const auto& written : ch.mems)
                if (cgroup_within(cg, written)) {
                    affected.push_back(cg);
                    break;
                }
        for (const auto& cg : affected) {
            const CgroupPlan* plan = orchestrator_.cgroup(cg);
            Nodemask mems = mems_of(cg, *plan->members.begin());
            Nodemask old = plan->mems;
            std::size_t n = plan->members.size();
            std::uint64_t gen = orchestrator_.cgroup_changed(cg, mems);
            if (gen == 0) {
                // Another event of a write already answered, or the same
                // mems written again: no policy moved.
                spdlog::debug("cgroup {} mems {} unchanged: no rebind", cg, mems.to_string());
                continue;
            }
            spdlog::info("cgroup {} mems {} -> {} (generation {}): {} process{} to rebind", cg,
                         old.to_string(), mems.to_string(), gen, n, n == 1 ? "" : "es");
        }
    }
    counters_.mems_writes += ch.mems_writes;
    pending_event_ms_ = ch.first_event_ms;
    pump();
}

}  // namespace numakeep::daemon
