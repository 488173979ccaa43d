// SPDX-License-Identifier: MIT
// Which process must be told which mems, and when: the generation logic of
// numakeepd as pure code (no I/O, time passed in), so it is unit-tested.
//
// Generations are global and only grow: every change of a cgroup's mems and
// every move of a process into another cgroup takes the next one. A process
// is current when the generation it last applied equals its target. The
// kernel's own rebind is lossy and path-dependent (DESIGN.md), so a write
// that ends on the mems a process already applied (0-3 -> 0-1 -> 0-3) still
// gets a new generation: the kernel changed the policies on the way.
//
// A write that leaves a cgroup's mems as they were is not a change: the
// kernel's update_nodemask() returns at once when the nodes are equal, so
// no policy moved and nothing is to be re-issued. One write raises several
// file events (DESIGN.md, "Test bed" facts); only the first that finds new
// mems takes a generation, the others request no rebind.
//
// Rebind commands go out with bounded concurrency: at most max_concurrency
// processes have an unanswered command whose deadline has not passed. A
// process that misses its deadline (stopped, stuck) gives its slot back and
// stays pending; its command is already in its socket, so it is sent again
// only when its target moves on.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "numakeep/nodemask.hpp"

namespace numakeep::daemon {

using Millis = std::int64_t;  // a steady clock in milliseconds

struct RebindCommand {
    int pid = 0;
    std::uint64_t generation = 0;
    Nodemask mems;
    friend bool operator==(const RebindCommand&, const RebindCommand&) = default;
};

struct ProcessPlan {
    std::string cgroup;
    std::uint64_t target_generation = 0;
    Nodemask target_mems;
    std::uint64_t applied_generation = 0;
    Nodemask applied_mems;
    std::uint64_t sent_generation = 0;  // newest command sent, 0: none
    Millis deadline = 0;                // of the newest command while in flight
    bool in_flight = false;             // holds a concurrency slot
    bool late = false;                  // missed a deadline, still unanswered
    bool queued = false;
    struct Outstanding {
        std::uint64_t generation;
        Nodemask mems;
        Millis sent_at;
    };
    std::vector<Outstanding> outstanding;  // sent, unanswered, oldest first

    bool current() const { return applied_generation == target_generation; }
};

struct CgroupPlan {
    Nodemask mems;
    std::uint64_t generation = 0;
    std::set<int> members;
};

// What a RebindDone meant.
struct DoneOutcome {
    bool accepted = false;  // false: a generation never sent, or stale
    bool current = false;   // the process is now at its target
    Nodemask old_mems;      // applied before
    Nodemask new_mems;      // applied now
    Millis round_trip_ms = 0;
};

struct DueWork {
    std::vector<RebindCommand> send;
    std::vector<int> timed_out;  // missed their deadline just now
};

class RebindOrchestrator {
  public:
    // first_generation: generations start above it, so that a restarted
    // daemon (seeded from the clock) never reuses one an agent applied.
    RebindOrchestrator(std::uint64_t first_generation, std::uint32_t max_concurrency,
                       std::uint32_t timeout_ms);

    void set_limits(std::uint32_t max_concurrency, std::uint32_t timeout_ms);

    // A registered process (Hello). `applied_generation` and `applied_mems`
    // are what the agent says it applied last (inherited across fork);
    // `has_records` is false when it holds no range or thread record. It is
    // current at once when it applied this cgroup's generation, or holds
    // nothing and already has the cgroup's mems; otherwise it is queued.
    void add_process(int pid, const std::string& cgroup, const Nodemask& cgroup_mems,
                     std::uint64_t applied_generation, const Nodemask& applied_mems,
                     bool has_records);
    void remove_process(int pid);

    // The cgroup's mems were written, or the reconcile read them: when they
    // differ from the mems known, a new generation for it and a new target
    // for every member. Returns the generation, 0 when nothing changed.
    // `unseen` says the kernel went through mems that were never read (two
    // writes between two reads): its rebind was lossy, so equal mems get a
    // new generation too.
    std::uint64_t cgroup_changed(const std::string& cgroup, const Nodemask& mems,
                                 bool unseen = false);
    // The process now lives in another cgroup with `mems`.
    void move_process(int pid, const std::string& cgroup, const Nodemask& mems);

    DoneOutcome on_done(int pid, std::uint64_t generation, Millis now);

    // Expires deadlines and hands out the commands to send now.
    DueWork due(Millis now);
    // When due() should run next for a deadline or queued work; nullopt when
    // nothing waits.
    std::optional<Millis> next_deadline() const;

    const ProcessPlan* process(int pid) const;
    const CgroupPlan* cgroup(const std::string& path) const;
    const std::map<std::string, CgroupPlan>& cgroups() const { return cgroups_; }
    const std::map<int, ProcessPlan>& processes() const { return processes_; }
    std::uint64_t generation() const { return generation_; }
    std::size_t in_flight() const { return in_flight_; }
    std::uint64_t timeouts() const { return timeouts_; }

  private:
    CgroupPlan& cgroup_entry(const std::string& path, const Nodemask& mems);
    void leave_cgroup(int pid, const std::string& path);
    void retarget(int pid, ProcessPlan& p, std::uint64_t generation, const Nodemask& mems);
    void release_slot(ProcessPlan& p);

    std::uint64_t generation_;
    std::uint32_t max_concurrency_;
    std::uint32_t timeout_ms_;
    std::size_t in_flight_ = 0;
    std::uint64_t timeouts_ = 0;
    std::map<int, ProcessPlan> processes_;
    std::map<std::string, CgroupPlan> cgroups_;
    std::deque<int> queue_;
};

}  // namespace numakeep::daemon
