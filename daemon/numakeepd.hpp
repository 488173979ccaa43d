// SPDX-License-Identifier: MIT
// numakeepd as one object on one thread: it wires the server, the process
// registry, the cgroup watcher, the rebind orchestrator and the control
// queries together, and owns the timers (rebind deadlines, the reconcile,
// housekeeping) and the signals (SIGTERM/SIGINT stop, SIGHUP reloads).
//
// Its members are defined one concern per file (all in the numakeepd
// library; daemon/main.cpp holds only main()):
//   numakeepd.cpp             start, configuration, timers, sending rebinds
//   sessions.cpp              frames of the agents: dispatch, Hello, RebindDone
//   queries.cpp               the CLI's queries (ps, show, status)
//   exec_handoff_session.cpp  the exec handoff's connection side
//   cgroup_tracking.cpp       cgroup events: moves, mems written
//   reconcile.cpp             the periodic check against /proc and cgroupfs
// and `numakeep set` is an object of its own (set_request.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "cgroup_watcher.hpp"
#include "cgroupfs.hpp"
#include "config.hpp"
#include "control.hpp"
#include "event_loop.hpp"
#include "exec_handoff.hpp"
#include "process_registry.hpp"
#include "rebind_orchestrator.hpp"
#include "server.hpp"
#include "set_request.hpp"

namespace numakeep::daemon {

// What the command line fixed; it wins over the file, also across reloads.
struct Options {
    std::string config_path;
    std::optional<std::string> socket_path;
    std::optional<LogLevel> log_level;
    std::optional<std::uint32_t> reconcile_ms;
};

class Numakeepd {
  public:
    Numakeepd(Options options, Config config);
    ~Numakeepd();
    // Listens, watches and serves until SIGTERM/SIGINT. Returns the exit code.
    int run();

  private:
    // --- sessions.cpp ----------------------------------------------------------
    bool on_frame(Connection& c, const proto::FrameHeader& h, const unsigned char* payload);
    void on_close(Connection& c);
    bool on_hello(Connection& c, const proto::FrameHeader& h, const proto::Hello& hello);
    bool on_rebind_done(Connection& c, const proto::RebindDone& done);
    void unregister(pid_t pid, const char* why);

    // --- queries.cpp -----------------------------------------------------------
    bool on_record(Connection& c, const proto::FrameHeader& h, const unsigned char* payload);
    void on_query_list(Connection& c, std::uint32_t seq);
    void on_query_show(Connection& c, std::uint32_t seq, const proto::QueryShow& q);
    void on_query_status(Connection& c, std::uint32_t seq);
    // Answers ETIMEDOUT to the shows whose process did not answer in time.
    void expire_shows(std::int64_t now_ms);

    // --- exec_handoff_session.cpp ----------------------------------------------
    bool on_exec_handoff(Connection& c, std::uint32_t seq, const proto::ExecHandoff& body);
    // Sends a new image the handoff its exec left, right after Welcome.
    void hand_over_exec(Connection& c, std::uint64_t start_time);
    void expire_exec_handoffs(std::int64_t now_ms);

    // --- cgroup_tracking.cpp ---------------------------------------------------
    void on_cgroup_changes(const CgroupWatcher::Changes& changes);
    Nodemask mems_of(const std::string& cgroup, pid_t member);
    void check_moved(pid_t pid);

    // --- reconcile.cpp ---------------------------------------------------------
    void reconcile();

    // --- numakeepd.cpp ---------------------------------------------------------
    void pump();
    void housekeeping();
    void update_status();
    void apply_options(Config& c) const;
    void apply_config();
    void reload();

    Options options_;
    Config config_;
    std::string socket_path_;
    std::int64_t started_ms_;
    EventLoop loop_;
    Server server_;
    Cgroupfs cgroupfs_;
    ProcessRegistry registry_;
    RebindOrchestrator orchestrator_;
    Counters counters_;
    ExecHandoffStore handoffs_;
    SetRequests sets_{server_, registry_, cgroupfs_, config_, counters_};
    std::unique_ptr<CgroupWatcher> watcher_;
    Timer rebind_timer_;
    Timer reconcile_timer_;
    Timer housekeeping_timer_;
    std::unique_ptr<SignalSource> signals_;
    // Writes to each cpuset.mems not yet answered by a rebind (cgroup_tracking.cpp).
    struct UnansweredWrites {
        int count = 0;
        std::int64_t at_ms = 0;
    };
    static constexpr std::int64_t kUnseenWindowMs = 200;
    std::unordered_map<std::string, UnansweredWrites> unanswered_writes_;
    std::int64_t pending_event_ms_ = 0;  // watcher event not yet answered by a command
    std::string last_status_;
    unsigned reconcile_round_ = 0;

    struct PendingShow {
        ConnId cli = 0;
        std::uint32_t seq = 0;
        pid_t pid = 0;
        std::int64_t deadline_ms = 0;
    };
    std::map<std::uint32_t, PendingShow> shows_;  // by DumpRecords request_id
    std::uint32_t next_request_id_ = 1;
};

}  // namespace numakeep::daemon
