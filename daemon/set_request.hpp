// SPDX-License-Identifier: MIT
// `numakeep set` in the daemon: one SetPolicy from the CLI becomes a
// SetRequest to each target's agent, and the CLI gets one SetOutcome per
// process (then SetEnd), at once or, with kSetWait, once every agent has
// answered, timed out or gone.
//
// Who may: the rule of migrate_pages(2) (kernel/mm/mempolicy.c,
// kernel_migrate_pages(): the caller's uid matches the target's, or the
// caller has CAP_SYS_NICE), on the caller's SO_PEERCRED: root, a caller
// with CAP_SYS_NICE in its effective set, or the target's own user.
// Anything else is refused with EPERM and a line in the log.
//
// Every SetPolicy is one audit line (caller, target, policy, outcome) and
// counts in Counters::sets.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cgroupfs.hpp"
#include "config.hpp"
#include "control.hpp"
#include "numakeep/protocol.hpp"
#include "process_registry.hpp"
#include "server.hpp"

namespace numakeep::daemon {

// Whether a caller (SO_PEERCRED pid and uid) may change the policy of a
// process of `target_uid`, as migrate_pages(2) decides.
bool caller_may_set(pid_t caller_pid, uid_t caller_uid, uid_t target_uid);

// The cgroups of the subtree at `cgroup` ("/a/b", below `root`), itself
// first; nullopt when it does not exist. `by_libcgroup`: libcgroup's walk
// gave them (else the directories were read).
std::optional<std::vector<std::string>> walk_cgroup_subtree(const std::string& root,
                                                            const std::string& cgroup,
                                                            bool* by_libcgroup = nullptr);

// A policy as the log shows it: "interleave 0-3", "bind=static 1", "default".
std::string describe_policy(std::uint16_t mode, std::uint16_t flags, const Nodemask& nodes,
                            std::int32_t home_node);

class SetRequests {
  public:
    SetRequests(Server& server, ProcessRegistry& registry, const Cgroupfs& cgroupfs,
                const Config& config, Counters& counters)
        : server_(server),
          registry_(registry),
          cgroupfs_(cgroupfs),
          config_(config),
          counters_(counters) {}

    // A SetPolicy from the CLI connection `cli`.
    void start(const Connection& cli, std::uint32_t seq, const proto::SetPolicy& req);
    // An agent's SetApplied.
    void on_applied(const Process& p, const proto::SetApplied& applied);
    // The process unregistered (exited or disconnected) before answering.
    void on_process_gone(pid_t pid);
    // The CLI hung up: nobody waits for its outcomes any more.
    void on_connection_closed(ConnId id);
    // Answers the timed-out ones.
    void expire(std::int64_t now_ms);

  private:
    struct Target {
        proto::SetOutcome outcome;
        bool asked = false;  // its agent has the SetRequest
        bool done = false;   // its outcome is known
    };
    struct Batch {
        ConnId cli = 0;  // 0: its CLI went away
        std::uint32_t seq = 0;
        pid_t caller_pid = 0;
        uid_t caller_uid = 0;
        bool wait = false;
        bool move = false;   // --move: pages too
        std::string target;  // "pid 123" or "cgroup /a"
        std::string policy;
        std::vector<Target> targets;
        bool answered = false;  // the CLI has its outcomes
    };
    struct Pending {
        std::uint64_t batch = 0;
        std::size_t index = 0;
        pid_t pid = 0;
        std::int64_t deadline_ms = 0;
    };

    void ask_agent(Batch& b, std::uint64_t batch_id, std::size_t index, Process& p,
                   const proto::SetPolicy& req);
    void finish_target(std::uint64_t batch_id, std::size_t index, int code,
                       const std::string& message, const proto::SetApplied* applied);
    void answer_if_ready(std::uint64_t batch_id);
    void send_outcomes(Batch& b);
    void log_batch(const Batch& b);

    Server& server_;
    ProcessRegistry& registry_;
    const Cgroupfs& cgroupfs_;
    const Config& config_;
    Counters& counters_;
    std::map<std::uint64_t, Batch> batches_;
    std::map<std::uint32_t, Pending> pending_;  // by SetRequest::set_id
    std::uint64_t next_batch_ = 1;
    std::uint32_t next_set_id_ = 1;
};

}  // namespace numakeep::daemon
