// SPDX-License-Identifier: MIT
// inotify over the cgroup v2 tree (DESIGN.md, "Test bed" facts):
// - a write to cpuset.mems raises IN_MODIFY (once or twice) and then
//   IN_CLOSE_WRITE on that file only, so IN_CLOSE_WRITE counts the writes;
//   a child's cpuset.mems.effective raises nothing when an ancestor
//   changes, so the owner re-reads every registered cgroup below the one
//   written;
// - a pid written to cgroup.procs raises IN_MODIFY on the destination's
//   cgroup.procs: that is how moves are noticed without the reconcile;
// - mkdir/rmdir of cgroups show as IN_CREATE on the parent directory and
//   IN_DELETE_SELF on the cgroup.
//
// Every cgroup of the tree is watched (three watches each), not only those
// holding a registered process: a move can go into any cgroup, and a cgroup
// gains its first registered process without any event we could wait for.
//
// Events are coalesced: the first one arms a short timer, and what arrived
// until it fires is reported once per cgroup (one write raises three
// events, and a burst of writes is better answered by one rebind). The
// events of one write may still span two reports: the owner answers only
// mems that differ from those it knows.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "event_loop.hpp"

namespace numakeep::daemon {

class CgroupWatcher {
  public:
    struct Changes {
        std::set<std::string> mems;              // cpuset.mems written
        std::uint64_t mems_writes = 0;           // writes to any cpuset.mems closed
        std::map<std::string, int> mems_closes;  // those writes, per cgroup written
        std::set<std::string> procs;             // cgroup.procs gained a task
        std::set<std::string> removed;           // cgroup gone
        std::int64_t first_event_ms = 0;         // monotonic time of the first event
    };

    CgroupWatcher(EventLoop& loop, std::string root, std::int64_t coalesce_ms,
                  std::function<void(const Changes&)> on_changes);
    ~CgroupWatcher();
    CgroupWatcher(const CgroupWatcher&) = delete;
    CgroupWatcher& operator=(const CgroupWatcher&) = delete;

    // Watches the whole tree below root; false (logged) when inotify fails.
    bool start();
    std::size_t watches() const { return by_wd_.size(); }
    std::uint64_t overflows() const { return overflows_; }

  private:
    enum class Kind : std::uint8_t { Dir, Mems, Procs };
    struct Watch {
        std::string cgroup;
        Kind kind;
    };
    void watch_tree(const std::string& cgroup);
    void add_watch(const std::string& cgroup, const std::string& file, Kind kind,
                   std::uint32_t mask);
    void on_readable();
    void deliver();

    EventLoop& loop_;
    std::string root_;
    std::int64_t coalesce_ms_;
    std::function<void(const Changes&)> on_changes_;
    UniqueFd fd_;
    Timer coalesce_;
    std::unordered_map<int, Watch> by_wd_;
    Changes pending_;
    bool armed_ = false;
    std::uint64_t overflows_ = 0;
};

}  // namespace numakeep::daemon
