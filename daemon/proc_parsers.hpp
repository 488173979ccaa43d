// SPDX-License-Identifier: MIT
// Pure parsers for what numakeepd reads from /proc and cgroupfs. No I/O:
// the callers read the files; these take the text (each has a fuzz target).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "numakeep/nodemask.hpp"

namespace numakeep::daemon {

// The kernel's node list format ("0-3,7"; "" is the empty set; a trailing
// newline is allowed), as cpuset.mems and Mems_allowed_list print it
// (bitmap_print_to_pagebuf with list=true).
std::optional<Nodemask> parse_node_list(std::string_view text);

// The cgroup v2 path from /proc/PID/cgroup: the "0::/path" line
// (proc_cgroup_show prints hierarchy id 0 with an empty controller list for
// the unified hierarchy). A " (deleted)" suffix is kept out. nullopt when
// there is no such line (no cgroup v2 at all).
std::optional<std::string> parse_proc_cgroup(std::string_view text);

// Mems_allowed_list from /proc/PID/status (task_mem_nodes in
// fs/proc/array.c via cpuset_task_status_allowed).
std::optional<Nodemask> parse_mems_allowed_list(std::string_view status);

// The comm (field 2) of /proc/PID/stat, without its parentheses.
std::optional<std::string> parse_stat_comm(std::string_view stat);

// The pids of a cgroup.procs file, one decimal per line; nullopt on any
// other content.
std::optional<std::vector<int>> parse_pid_list(std::string_view text);

// "/a/b" -> {"/a/b", "/a", "/"}: a cgroup and every ancestor, nearest first.
std::vector<std::string> cgroup_and_ancestors(std::string_view cgroup);

// True when `cgroup` is `ancestor` or lies below it.
bool cgroup_within(std::string_view cgroup, std::string_view ancestor);

}  // namespace numakeep::daemon
