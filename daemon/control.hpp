// SPDX-License-Identifier: MIT
// The answers to the CLI's control queries (QueryList, QueryShow,
// QueryStatus), built from the registry and the orchestrator. Who may see
// what: root sees every process, anyone else only processes of its own uid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "config.hpp"
#include "numakeep/protocol.hpp"
#include "process_registry.hpp"
#include "rebind_orchestrator.hpp"

namespace numakeep::daemon {

inline bool may_see(uid_t caller, const Process& p) {
    return caller == 0 || caller == p.uid;
}

proto::ProcEntry make_proc_entry(const Process& p, const ProcessPlan* plan);

struct Counters {
    std::uint64_t mems_writes = 0;        // writes to cpuset.mems seen (IN_CLOSE_WRITE)
    std::uint64_t rebinds_requested = 0;  // Rebind commands sent
    std::uint64_t rebinds = 0;            // RebindDone answers taken in
    std::uint64_t ranges_rebound = 0;
    std::uint64_t ranges_dropped = 0;
    std::uint64_t errors = 0;
    std::uint64_t respreads = 0;      // PlacementDone reports
    std::uint64_t pages_moved = 0;
    std::uint64_t pages_skipped = 0;
    std::uint64_t sets = 0;           // SetPolicy requests (`numakeep set`)
};

struct StatusInputs {
    const Config& config;
    const std::string& config_path;
    const std::string& socket_path;
    std::int64_t uptime_ms;
    const ProcessRegistry& registry;
    const Counters& counters;
    std::uint64_t timeouts;
    std::uint64_t dropped_clients;
};

proto::StatusReply make_status(const StatusInputs& in);

// Copies a string into a fixed char field, NUL-terminated, truncated.
template <std::size_t N>
void copy_field(char (&field)[N], const std::string& s) {
    std::size_t n = s.size() < N - 1 ? s.size() : N - 1;
    s.copy(field, n);
    field[n] = '\0';
}

}  // namespace numakeep::daemon
