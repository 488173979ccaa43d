// SPDX-License-Identifier: MIT
// numakeepd's periodic reconcile against the files themselves: what no
// inotify event showed (memory hotplug, a lost event, a move seen late).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "numakeepd.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

namespace {

constexpr unsigned kMembershipEvery = 5;

}  // namespace

void Numakeepd::reconcile() {
    // Membership: a process no longer listed in its cgroup moved. With the
    // watcher running a move already shows as an event on the destination's
    // cgroup.procs, so this backup runs every kMembershipEvery-th round only:
    // the kernel builds cgroup.procs by walking every task of the cgroup,
    // which dominated the idle cost with 1,000 processes in one cgroup.
    std::vector<std::pair<std::string, std::vector<int>>> cgroups;
    bool membership = !watcher_ || reconcile_round_++ % kMembershipEvery == 0;
    for (const auto& [cg, plan] : orchestrator_.cgroups())
        if (membership)
            cgroups.emplace_back(cg, std::vector<int>(plan.members.begin(), plan.members.end()));
    for (const auto& [cg, members] : cgroups) {
        auto listed = cgroupfs_.procs(cg);
        if (listed) std::sort(listed->begin(), listed->end());
        for (int pid : members)
            if (!listed || !std::binary_search(listed->begin(), listed->end(), pid))
                check_moved(pid);
    }
    // Mems: what no file event showed (memory hotplug, a lost event).
    cgroups.clear();
    for (const auto& [cg, plan] : orchestrator_.cgroups())
        cgroups.emplace_back(cg, std::vector<int>(plan.members.begin(), plan.members.end()));
    for (const auto& [cg, members] : cgroups) {
        const CgroupPlan* plan = orchestrator_.cgroup(cg);
        if (!plan || members.empty()) continue;
        Nodemask old = plan->mems;
        Nodemask mems = mems_of(cg, members.front());
        if (mems != old) {
            // cpuset.mems.effective changes before the kernel walks the
            // tasks (update_nodemasks_hier, then update_tasks_nodemask, which
            // rebinds each mm): a write still in progress is left to its
            // inotify event, or to the next reconcile, until every member's
            // Mems_allowed shows it; a command sent earlier would be
            // clobbered by the kernel's own rebind.
            bool settled = true;
            for (int pid : members) {
                auto allowed = proc_mems_allowed(pid);
                if (allowed && *allowed != mems) settled = false;
            }
            if (!settled) {
                spdlog::debug(
                    "reconcile: cgroup {} mems {} -> {} still being applied by the "
                    "kernel",
                    cg, old.to_string(), mems.to_string());
                continue;
            }
        }
        if (orchestrator_.cgroup_changed(cg, mems))
            spdlog::info("reconcile: cgroup {} mems {} -> {} without a file event", cg,
                         old.to_string(), mems.to_string());
        // Cross-check one member against its own ground truth.
        auto allowed = proc_mems_allowed(members.front());
        if (allowed && *allowed != mems)
            spdlog::debug("reconcile: pid {} has Mems_allowed {} but cgroup {} has {}",
                          members.front(), allowed->to_string(), cg, mems.to_string());
    }
    pump();
    update_status();
}

}  // namespace numakeep::daemon
