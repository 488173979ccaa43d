// SPDX-License-Identifier: MIT
// Reading what numakeepd needs from cgroupfs and /proc. Thin I/O over the
// pure parsers in proc_parsers.hpp.
//
// cpuset values are read from the files directly rather than through
// libcgroup: cgroup_get_cgroup() reads every file of every controller of a
// cgroup (and needs cgroup_init()'s mount table walk first) where a rebind
// on the hot path needs one small file, and libcgroup's v2 support cannot
// map a pid to its cgroup anyway (DESIGN.md, Test bed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "numakeep/nodemask.hpp"

namespace numakeep::daemon {

// The whole file (up to 1 MiB), or nullopt with errno set.
std::optional<std::string> read_small_file(const std::string& path);

class Cgroupfs {
  public:
    explicit Cgroupfs(std::string root) : root_(std::move(root)) {}
    const std::string& root() const { return root_; }
    // The directory of a cgroup path ("/a/b").
    std::string dir(const std::string& cgroup) const;
    // True when root is a cgroup2 mount (statfs magic CGROUP2_SUPER_MAGIC).
    bool is_cgroup2() const;

    std::optional<Nodemask> effective_mems(const std::string& cgroup) const;
    std::optional<std::vector<int>> procs(const std::string& cgroup) const;

  private:
    std::string root_;
};

// /proc/PID/... readers; nullopt when the process is gone or the file odd.
std::optional<std::string> proc_cgroup(pid_t pid);
std::optional<Nodemask> proc_mems_allowed(pid_t pid);
std::optional<std::uint64_t> proc_start_time(pid_t pid);
std::optional<std::string> proc_comm(pid_t pid);
bool proc_exists(pid_t pid);

}  // namespace numakeep::daemon
