// SPDX-License-Identifier: MIT
#include "rebind_orchestrator.hpp"

#include <algorithm>

namespace numakeep::daemon {

RebindOrchestrator::RebindOrchestrator(std::uint64_t first_generation,
                                       std::uint32_t max_concurrency, std::uint32_t timeout_ms)
    : generation_(first_generation),
      max_concurrency_(std::max<std::uint32_t>(1, max_concurrency)),
      timeout_ms_(timeout_ms) {}

void RebindOrchestrator::set_limits(std::uint32_t max_concurrency, std::uint32_t timeout_ms) {
    max_concurrency_ = std::max<std::uint32_t>(1, max_concurrency);
    timeout_ms_ = timeout_ms;
}

CgroupPlan& RebindOrchestrator::cgroup_entry(const std::string& path, const Nodemask& mems) {
    auto [it, inserted] = cgroups_.try_emplace(path);
    if (inserted) {
        it->second.mems = mems;
        it->second.generation = ++generation_;
    }
    return it->second;
}

void RebindOrchestrator::leave_cgroup(int pid, const std::string& path) {
    auto it = cgroups_.find(path);
    if (it == cgroups_.end()) return;
    it->second.members.erase(pid);
    if (it->second.members.empty()) cgroups_.erase(it);
}

void RebindOrchestrator::retarget(int pid, ProcessPlan& p, std::uint64_t generation,
                                  const Nodemask& mems) {
    p.target_generation = generation;
    p.target_mems = mems;
    if (!p.current() && !p.queued) {
        p.queued = true;
        queue_.push_back(pid);
    }
}

void RebindOrchestrator::release_slot(ProcessPlan& p) {
    if (p.in_flight) {
        p.in_flight = false;
        --in_flight_;
    }
}

void RebindOrchestrator::add_process(int pid, const std::string& cgroup,
                                     const Nodemask& cgroup_mems, std::uint64_t applied_generation,
                                     const Nodemask& applied_mems, bool has_records) {
    remove_process(pid);
    CgroupPlan& cg = cgroup_entry(cgroup, cgroup_mems);
    cg.members.insert(pid);
    ProcessPlan& p = processes_[pid];
    p.cgroup = cgroup;
    p.applied_mems = applied_mems;
    bool current = applied_generation == cg.generation || (!has_records && applied_mems == cg.mems);
    p.applied_generation = current ? cg.generation : 0;
    retarget(pid, p, cg.generation, cg.mems);
}

void RebindOrchestrator::remove_process(int pid) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return;
    release_slot(it->second);
    leave_cgroup(pid, it->second.cgroup);
    processes_.erase(it);
    // A stale entry in queue_ is skipped by due().
}

std::uint64_t RebindOrchestrator::cgroup_changed(const std::string& cgroup, const Nodemask& mems,
                                                 bool unseen) {
    auto it = cgroups_.find(cgroup);
    if (it == cgroups_.end()) return 0;
    CgroupPlan& cg = it->second;
    if (cg.mems == mems && !unseen) return 0;
    cg.mems = mems;
    cg.generation = ++generation_;
    for (int pid : cg.members) retarget(pid, processes_.at(pid), cg.generation, mems);
    return cg.generation;
}

void RebindOrchestrator::move_process(int pid, const std::string& cgroup, const Nodemask& mems) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return;
    ProcessPlan& p = it->second;
    if (p.cgroup != cgroup) {
        leave_cgroup(pid, p.cgroup);
        CgroupPlan& cg = cgroup_entry(cgroup, mems);
        cg.members.insert(pid);
        p.cgroup = cgroup;
    }
    // The kernel rebound the process on attach (cpuset_attach): re-issue
    // even when the mems are equal.
    retarget(pid, p, ++generation_, mems);
}

DoneOutcome RebindOrchestrator::on_done(int pid, std::uint64_t generation, Millis now) {
    DoneOutcome out;
    auto it = processes_.find(pid);
    if (it == processes_.end()) return out;
    ProcessPlan& p = it->second;
    auto sent = std::find_if(p.outstanding.begin(), p.outstanding.end(),
                             [&](const auto& o) { return o.generation == generation; });
    if (sent == p.outstanding.end()) return out;
    out.accepted = true;
    out.old_mems = p.applied_mems;
    out.new_mems = sent->mems;
    out.round_trip_ms = now - sent->sent_at;
    p.applied_generation = generation;
    p.applied_mems = sent->mems;
    p.outstanding.erase(p.outstanding.begin(), sent + 1);
    if (p.outstanding.empty()) {
        release_slot(p);
        p.late = false;
    }
    out.current = p.current();
    if (!out.current && !p.queued && p.outstanding.empty()) {
        // Answered an old command after its target moved on, and the newer
        // one was never sent (the process was late): send it now.
        p.queued = true;
        queue_.push_back(pid);
    }
    return out;
}

DueWork RebindOrchestrator::due(Millis now) {
    DueWork work;
    for (auto& [pid, p] : processes_) {
        if (p.in_flight && now >= p.deadline) {
            release_slot(p);
            p.late = true;
            ++timeouts_;
            work.timed_out.push_back(pid);
        }
    }
    std::deque<int> deferred;
    while (!queue_.empty()) {
        int pid = queue_.front();
        auto it = processes_.find(pid);
        if (it == processes_.end() || !it->second.queued) {
            queue_.pop_front();
            continue;
        }
        ProcessPlan& p = it->second;
        if (p.current() || p.sent_generation == p.target_generation) {
            // Already answered, or the command is already in its socket.
            p.queued = false;
            queue_.pop_front();
            continue;
        }
        if (!p.in_flight && in_flight_ >= max_concurrency_) break;
        queue_.pop_front();
        p.queued = false;
        if (!p.in_flight) {
            p.in_flight = true;
            ++in_flight_;
        }
        p.late = false;
        p.sent_generation = p.target_generation;
        p.deadline = now + timeout_ms_;
        p.outstanding.push_back({p.target_generation, p.target_mems, now});
        work.send.push_back({pid, p.target_generation, p.target_mems});
    }
    return work;
}

std::optional<Millis> RebindOrchestrator::next_deadline() const {
    std::optional<Millis> next;
    for (const auto& [pid, p] : processes_)
        if (p.in_flight && (!next || p.deadline < *next)) next = p.deadline;
    return next;
}

const ProcessPlan* RebindOrchestrator::process(int pid) const {
    auto it = processes_.find(pid);
    return it == processes_.end() ? nullptr : &it->second;
}

const CgroupPlan* RebindOrchestrator::cgroup(const std::string& path) const {
    auto it = cgroups_.find(path);
    return it == cgroups_.end() ? nullptr : &it->second;
}

}  // namespace numakeep::daemon
