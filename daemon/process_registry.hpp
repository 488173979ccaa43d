// SPDX-License-Identifier: MIT
// Every process running under libnumakeep.so that has said Hello: who it
// is (SO_PEERCRED, a pidfd so a reused pid is never taken for the old
// process, its start time), where it lives, and what its last rebind did.
// The generation bookkeeping lives in RebindOrchestrator.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "event_loop.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/protocol.hpp"
#include "server.hpp"

namespace numakeep::daemon {

struct Process {
    pid_t pid = 0;
    uid_t uid = 0;
    ConnId conn = 0;
    UniqueFd pidfd;  // readable once the process has exited
    std::uint64_t start_time = 0;
    std::string comm;
    std::string cgroup;
    Semantics semantics = Semantics::Intent;
    bool semantics_from_env = false;
    bool kernel_assist = false;
    std::uint32_t ranges = 0;
    std::uint32_t threads = 0;
    proto::RebindDone last{};
    proto::PlacementDone placement{};  // what the last respread did
    std::int64_t last_rebind_unix_ms = 0;
    std::int64_t registered_ms = 0;
};

class ProcessRegistry {
  public:
    Process& add(Process p);
    void remove(pid_t pid);
    Process* find(pid_t pid);
    Process* find_by_conn(ConnId conn);
    const std::map<pid_t, Process>& all() const { return by_pid_; }
    std::size_t size() const { return by_pid_.size(); }

  private:
    std::map<pid_t, Process> by_pid_;
    std::unordered_map<ConnId, pid_t> by_conn_;
};

// pidfd_open(2); an empty fd where the kernel lacks it (before 5.3).
UniqueFd open_pidfd(pid_t pid);
// True while the process behind the pidfd runs (pidfd_send_signal with 0).
bool pidfd_alive(const UniqueFd& pidfd);

}  // namespace numakeep::daemon
