// SPDX-License-Identifier: MIT
#include "numakeepd.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "logging.hpp"
#include "numakeep/exec_handoff.hpp"
#include "numakeep_config.h"
#include "placement_report.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

namespace {

// One write raises several events (DESIGN.md): wait this long after the
// first so that a burst of them is read once. Events that come later find
// the mems already answered and request nothing.
constexpr std::int64_t kCoalesceMs = 2;
constexpr std::int64_t kHousekeepingMs = 250;
constexpr unsigned kMembershipEvery = 5;

std::int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Generations continue across restarts: seeded from the wall clock in
// microseconds, so a restarted daemon never hands out one an agent applied.
std::uint64_t generation_seed() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

ServerLimits limits_of(const Config& c) {
    return ServerLimits{c.max_connections, c.max_connections_per_uid, c.message_timeout_ms,
                        std::size_t{c.max_output_kib} * 1024};
}

}  // namespace

Numakeepd::Numakeepd(Options options, Config config)
    : options_(std::move(options)),
      config_(std::move(config)),
      started_ms_(monotonic_ms()),
      server_(loop_,
              Server::Callbacks{[this](Connection& c, const proto::FrameHeader& h,
                                       const unsigned char* p) { return on_frame(c, h, p); },
                                [this](Connection& c) { on_close(c); }},
              ServerLimits{}),
      cgroupfs_(config_.cgroup_root),
      orchestrator_(generation_seed(), 1, 1000),
      rebind_timer_(loop_, [this] { pump(); }),
      reconcile_timer_(loop_, [this] { reconcile(); }),
      housekeeping_timer_(loop_, [this] { housekeeping(); }) {
    apply_options(config_);
    socket_path_ = options_.socket_path.value_or(NUMAKEEP_SOCKET_PATH);
    apply_config();
}

Numakeepd::~Numakeepd() = default;

void Numakeepd::apply_options(Config& c) const {
    if (options_.log_level) c.log_level = *options_.log_level;
    if (options_.reconcile_ms) c.reconcile_ms = *options_.reconcile_ms;
}

void Numakeepd::apply_config() {
    set_log_level(config_.log_level);
    server_.set_limits(limits_of(config_));
    orchestrator_.set_limits(config_.max_concurrency, config_.rebind_timeout_ms);
    handoffs_.set_max_per_uid(config_.max_connections_per_uid);
    reconcile_timer_.arm_periodic(config_.reconcile_ms);
}

void Numakeepd::reload() {
    notify_reloading();
    auto result = load_config(options_.config_path);
    if (auto* err = std::get_if<ConfigError>(&result)) {
        spdlog::error("reload failed, keeping the running configuration: {}", err->message());
    } else {
        Config next = std::get<Config>(std::move(result));
        apply_options(next);
        if (next.cgroup_root != config_.cgroup_root)
            spdlog::warn("cgroup_root changed to {}: takes effect after a restart",
                         next.cgroup_root);
        next.cgroup_root = config_.cgroup_root;
        config_ = std::move(next);
        apply_config();
        spdlog::info("configuration reloaded from {}", options_.config_path);
    }
    last_status_.clear();
    update_status();
}

int Numakeepd::run() {
    signals_ = std::make_unique<SignalSource>(
        loop_, std::initializer_list<int>{SIGTERM, SIGINT, SIGHUP}, [this](int signo) {
            if (signo == SIGHUP) {
                reload();
            } else {
                spdlog::info("{} received, stopping", strsignal(signo));
                loop_.stop();
            }
        });
    ::signal(SIGPIPE, SIG_IGN);

    std::vector<int> passed = activation_sockets();
    if (!passed.empty()) {
        server_.adopt(passed.front());
        sockaddr_un addr{};
        socklen_t len = sizeof addr;
        if (::getsockname(passed.front(), reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
            addr.sun_path[0] != '\0')
            socket_path_ = addr.sun_path;
        spdlog::info("listening on {}, passed by systemd", socket_path_);
    } else {
        server_.listen_path(socket_path_, 0666);
        spdlog::info("listening on {}", socket_path_);
    }

    if (cgroupfs_.is_cgroup2()) {
        watcher_ = std::make_unique<CgroupWatcher>(
            loop_, config_.cgroup_root, kCoalesceMs,
            [this](const CgroupWatcher::Changes& ch) { on_cgroup_changes(ch); });
        watcher_->start();
    } else {
        spdlog::warn(
            "{} is not a cgroup v2 mount: no cpuset events; mems come from "
            "/proc/PID/status in the reconcile",
            config_.cgroup_root);
    }
    housekeeping_timer_.arm_periodic(kHousekeepingMs);
    notify_ready("0 processes");
    bool ok = loop_.run();
    notify_stopping();
    return ok ? 0 : 1;
}

// --- connections ---------------------------------------------------------------

bool Numakeepd::on_frame(Connection& c, const proto::FrameHeader& h, const unsigned char* payload) {
    using proto::MsgType;
    auto type = static_cast<MsgType>(h.type);
    auto violation = [&](const char* what) {
        spdlog::warn("dropping connection from pid {} uid {}: {} (message type {})", c.pid, c.uid,
                     what, h.type);
        return false;
    };
    switch (type) {
        case MsgType::Hello: {
            if (c.kind != PeerKind::Unknown) return violation("second Hello");
            proto::Hello hello;
            proto::decode(h, payload, hello);
            c.kind = PeerKind::Agent;
            return on_hello(c, h, hello);
        }
        case MsgType::RebindDone: {
            if (c.kind != PeerKind::Agent) return violation("RebindDone before Hello");
            proto::RebindDone done;
            proto::decode(h, payload, done);
            return on_rebind_done(c, done);
        }
        case MsgType::PlacementDone: {
            if (c.kind != PeerKind::Agent) return violation("PlacementDone before Hello");
            proto::PlacementDone done;
            proto::decode(h, payload, done);
            if (Process* p = registry_.find_by_conn(c.id)) report_placement(*p, done, counters_);
            return true;
        }
        case MsgType::RangeEntry:
        case MsgType::ThreadEntry:
        case MsgType::RecordsEnd:
            if (c.kind != PeerKind::Agent) return violation("records before Hello");
            return on_record(c, h, payload);
        case MsgType::ExecHandoff: {
            if (c.kind != PeerKind::Unknown) return violation("ExecHandoff on a used connection");
            proto::ExecHandoff body;
            proto::decode(h, payload, body);
            c.kind = PeerKind::Exec;
            return on_exec_handoff(c, h.seq, body);
        }
        case MsgType::ExecHandoffCancel:
            if (c.kind != PeerKind::Exec)
                return violation("ExecHandoffCancel without an ExecHandoff");
            spdlog::debug("pid {}: its exec failed, exec handoff dropped", c.pid);
            handoffs_.cancel(c.id);
            return true;
        case MsgType::QueryList:
        case MsgType::QueryShow:
        case MsgType::QueryStatus:
            if (c.kind == PeerKind::Agent || c.kind == PeerKind::Exec)
                return violation("control query on an agent connection");
            c.kind = PeerKind::Cli;
            if (type == MsgType::QueryList) {
                on_query_list(c, h.seq);
            } else if (type == MsgType::QueryStatus) {
                on_query_status(c, h.seq);
            } else {
                proto::QueryShow q;
                proto::decode(h, payload, q);
                on_query_show(c, h.seq, q);
            }
            return true;
        case MsgType::SetPolicy: {
            if (c.kind == PeerKind::Agent || c.kind == PeerKind::Exec)
                return violation("SetPolicy on an agent connection");
            c.kind = PeerKind::Cli;
            proto::SetPolicy req;
            proto::decode(h, payload, req);
            sets_.start(c, h.seq, req);
            return true;
        }
        case MsgType::SetApplied: {
            if (c.kind != PeerKind::Agent) return violation("SetApplied before Hello");
            proto::SetApplied applied;
            proto::decode(h, payload, applied);
            if (Process* p = registry_.find_by_conn(c.id)) sets_.on_applied(*p, applied);
            return true;
        }
        case MsgType::Error:
            if (c.kind == PeerKind::Agent) {
                proto::ErrorMsg e;
                proto::decode(h, payload, e);
                e.message[sizeof e.message - 1] = '\0';
                spdlog::warn("pid {} reports error {}: {}", c.pid, e.code, e.message);
                return true;
            }
            return violation("unexpected Error frame");
        default:
            return violation("a message only the daemon sends");
    }
}

void Numakeepd::on_close(Connection& c) {
    if (c.kind == PeerKind::Exec) {
        // A clean close is the exec (the kernel closed it); a connection
        // dropped for anything else proves nothing: forget its handoff.
        if (c.peer_closed)
            handoffs_.closed(c.id);
        else
            handoffs_.cancel(c.id);
        return;
    }
    if (Process* p = registry_.find_by_conn(c.id)) unregister(p->pid, "disconnected");
    sets_.on_connection_closed(c.id);
    for (auto it = shows_.begin(); it != shows_.end();)
        it = it->second.cli == c.id ? shows_.erase(it) : std::next(it);
}

void Numakeepd::unregister(pid_t pid, const char* why) {
    Process* p = registry_.find(pid);
    if (!p) return;
    spdlog::info("pid {} ({}) {}", pid, p->comm, why);
    if (p->pidfd) loop_.remove(p->pidfd.get());
    for (auto it = shows_.begin(); it != shows_.end();) {
        if (it->second.pid == pid) {
            server_.send_error(it->second.cli, it->second.seq, ESRCH, "process went away");
            it = shows_.erase(it);
        } else {
            ++it;
        }
    }
    sets_.on_process_gone(pid);
    orchestrator_.remove_process(pid);
    registry_.remove(pid);
    update_status();
    pump();
}

bool Numakeepd::on_hello(Connection& c, const proto::FrameHeader&, const proto::Hello& hello) {
    if (hello.pid != c.pid) {
        spdlog::warn("dropping connection: Hello says pid {} but the peer is pid {} uid {}",
                     hello.pid, c.pid, c.uid);
        return false;
    }
    auto start_time = proc_start_time(c.pid);
    if (!start_time) {
        spdlog::debug("pid {} vanished before its Hello was read", c.pid);
        return false;
    }
    if (hello.start_time != 0 && hello.start_time != *start_time) {
        spdlog::warn("dropping connection from pid {}: start time {} in Hello, {} in /proc", c.pid,
                     hello.start_time, *start_time);
        return false;
    }
    if (Process* old = registry_.find(c.pid)) {
        // The same process reconnecting, or a reused pid whose old
        // connection is still open somewhere: the new Hello wins.
        ConnId old_conn = old->conn;
        unregister(c.pid, "replaced by a new connection");
        server_.drop(old_conn, "");
    }
    Process p;
    p.pid = c.pid;
    p.uid = c.uid;
    p.conn = c.id;
    p.start_time = *start_time;
    p.comm = proc_comm(c.pid).value_or("?");
    p.cgroup = proc_cgroup(c.pid).value_or("/");
    p.semantics_from_env = (hello.flags & proto::kHelloSemanticsFromEnv) != 0;
    Semantics env_semantics = static_cast<Semantics>(hello.semantics);
    p.semantics = p.semantics_from_env && hello.semantics <= 3 ? env_semantics
                                                               : config_.semantics_for(p.cgroup);
    // What the agent will run with once it has read the Welcome below: its
    // own setting only when NUMAKEEP_KERNEL_ASSIST gave it, else our default
    // (preload/agent.cpp try_connect adopts welcome.kernel_assist). The bit
    // alone is stale: said before the Welcome, or inherited across fork.
    p.kernel_assist = (hello.flags & proto::kHelloKernelAssistFromEnv) != 0
                          ? (hello.flags & proto::kHelloKernelAssist) != 0
                          : config_.kernel_assist;
    p.ranges = hello.ranges;
    p.threads = hello.threads;
    p.registered_ms = monotonic_ms();
    p.pidfd = open_pidfd(c.pid);
    Nodemask mems = mems_of(p.cgroup, c.pid);

    proto::Welcome w;
    w.default_semantics = static_cast<std::uint8_t>(config_.semantics_for(p.cgroup));
    w.move_pages = config_.placement ? 1 : 0;
    w.kernel_assist = config_.kernel_assist ? 1 : 0;
    w.daemon_pid = static_cast<std::uint32_t>(::getpid());
    if (!server_.send(c.id, proto::MsgType::Welcome, 0, w)) return true;
    // Before any Rebind on this connection: the agent takes the request
    // first, and the Rebind that registering brings (a new image has applied
    // no generation) re-issues it for the mems of now.
    if (hello.flags & proto::kHelloExecHandoff) hand_over_exec(c, *start_time);

    Process& reg = registry_.add(std::move(p));
    if (reg.pidfd) {
        pid_t pid = reg.pid;
        ConnId conn = reg.conn;
        loop_.add(reg.pidfd.get(), EPOLLIN, [this, pid, conn](std::uint32_t) {
            Process* q = registry_.find(pid);
            if (q && q->conn == conn) {
                unregister(pid, "exited");
                server_.drop(conn, "");
            }
        });
    }
    orchestrator_.add_process(reg.pid, reg.cgroup, mems, hello.generation_applied, hello.mems,
                              hello.ranges + hello.threads > 0);
    const ProcessPlan* plan = orchestrator_.process(reg.pid);
    spdlog::info(
        "registered pid {} ({}) uid {} cgroup {} mems {} semantics {}{}: {} ranges, {} "
        "threads{}",
        reg.pid, reg.comm, reg.uid, reg.cgroup, mems.to_string(), to_string(reg.semantics),
        reg.semantics_from_env ? " (environment)" : "", reg.ranges, reg.threads,
        plan && plan->current() ? "" : ", rebind due");
    update_status();
    pump();
    return true;
}

bool Numakeepd::on_rebind_done(Connection& c, const proto::RebindDone& done) {
    Process* p = registry_.find_by_conn(c.id);
    if (!p) return true;  // replaced meanwhile
    DoneOutcome out = orchestrator_.on_done(p->pid, done.generation, monotonic_ms());
    if (!out.accepted) {
        spdlog::debug("pid {}: RebindDone for generation {} that is not outstanding", p->pid,
                      done.generation);
        return true;
    }
    p->last = done;
    p->last_rebind_unix_ms = unix_ms();
    // What the process holds now: every record was re-bound or verified,
    // except the dropped ones.
    p->ranges = done.ranges_rebound + done.ranges_checked;
    p->threads = done.threads_rebound;
    ++counters_.rebinds;
    counters_.ranges_rebound += done.ranges_rebound;
    counters_.ranges_dropped += done.ranges_dropped;
    counters_.errors += done.errors;
    auto level = done.errors ? spdlog::level::warn : spdlog::level::info;
    std::string mems = out.new_mems.to_string();
    log_process(
        level, {p->pid, p->cgroup, mems},
        fmt::format(
            "rebind pid {} ({}) cgroup {} mems {} -> {}: {} ranges re-bound, {} dropped, {} "
            "checked, {} threads, {} errors{}{}, {:.2f} ms in the process, {} ms round trip",
            p->pid, p->comm, p->cgroup, out.old_mems.to_string(), mems, done.ranges_rebound,
            done.ranges_dropped, done.ranges_checked, done.threads_rebound, done.errors,
            done.first_errno ? " (first: " : "",
            done.first_errno ? std::string(std::strerror(done.first_errno)) + ")" : "",
            static_cast<double>(done.duration_ns) / 1e6, out.round_trip_ms));
    pump();
    return true;
}

bool Numakeepd::on_record(Connection& c, const proto::FrameHeader& h,
                          const unsigned char* payload) {
    using proto::MsgType;
    std::uint32_t request_id = 0;
    proto::PolicyEntry entry;
    proto::RecordsEnd end;
    bool is_end = static_cast<MsgType>(h.type) == MsgType::RecordsEnd;
    if (is_end) {
        proto::decode(h, payload, end);
        request_id = end.request_id;
    } else {
        proto::decode(h, payload, entry);
        request_id = entry.request_id;
    }
    auto it = shows_.find(request_id);
    Process* p = registry_.find_by_conn(c.id);
    if (it == shows_.end() || !p || it->second.pid != p->pid) return true;  // late answer
    PendingShow show = it->second;
    if (is_end) {
        shows_.erase(it);
        p->ranges = end.ranges;
        p->threads = end.threads;
        server_.send(show.cli, MsgType::ShowEnd, show.seq, end);
    } else {
        MsgType out = static_cast<MsgType>(h.type) == MsgType::RangeEntry ? MsgType::ShowRange
                                                                          : MsgType::ShowThread;
        if (!server_.send(show.cli, out, show.seq, entry)) shows_.erase(request_id);
    }
    return true;
}

void Numakeepd::on_query_list(Connection& c, std::uint32_t seq) {
    proto::ListEnd end;
    for (const auto& [pid, p] : registry_.all()) {
        if (!may_see(c.uid, p)) continue;
        if (!server_.send(c.id, proto::MsgType::ProcEntry, seq,
                          make_proc_entry(p, orchestrator_.process(pid))))
            return;
        ++end.count;
    }
    server_.send(c.id, proto::MsgType::ListEnd, seq, end);
}

void Numakeepd::on_query_show(Connection& c, std::uint32_t seq, const proto::QueryShow& q) {
    Process* p = q.pid > 0 ? registry_.find(q.pid) : nullptr;
    if (!p) {
        bool exists = q.pid > 0 && proc_exists(q.pid);
        server_.send_error(c.id, seq, exists ? ESRCH : ENOENT,
                           exists ? "process is not running under numakeep" : "no such process");
        return;
    }
    if (!may_see(c.uid, *p)) {
        server_.send_error(c.id, seq, EPERM, "process belongs to another user");
        return;
    }
    if (!server_.send(c.id, proto::MsgType::ProcEntry, seq,
                      make_proc_entry(*p, orchestrator_.process(p->pid))))
        return;
    std::uint32_t id = next_request_id_++;
    if (next_request_id_ == 0) next_request_id_ = 1;
    shows_[id] = PendingShow{c.id, seq, p->pid, monotonic_ms() + config_.show_timeout_ms};
    proto::DumpRecords d;
    d.request_id = id;
    server_.send(p->conn, proto::MsgType::DumpRecords, id, d);
}

bool Numakeepd::on_exec_handoff(Connection& c, std::uint32_t seq, const proto::ExecHandoff& body) {
    const char* problem = exec_handoff_problem(body);
    auto start_time = problem ? std::nullopt : proc_start_time(c.pid);
    if (!problem && !start_time) problem = "its process is gone";
    ExecHandoffStore::Stored stored = ExecHandoffStore::Stored::OverLimit;
    if (!problem) {
        stored = handoffs_.store(c.pid, c.uid, *start_time, c.id, body, monotonic_ms());
        if (stored == ExecHandoffStore::Stored::OverLimit)
            problem = "too many pending for this uid";
    }
    if (problem) {
        if (server_.refusal_log_due())
            spdlog::warn("exec handoff from pid {} uid {} refused: {}", c.pid, c.uid, problem);
        server_.send_error(c.id, seq, EPROTO, std::string("exec handoff refused: ") + problem);
        return false;
    }
    spdlog::debug("pid {}: exec handoff stored ({} under mems {}, the exec leaves {} under {}){}",
                  c.pid, body.requested.to_string(), body.mems_at_request.to_string(),
                  body.issued_nodes.to_string(), body.mems_at_exec.to_string(),
                  stored == ExecHandoffStore::Stored::Chained
                      ? ", chained: the request of the exec before it instead"
                      : "");
    return server_.send(c.id, proto::MsgType::ExecHandoffStored, seq, proto::Empty{});
}

bool Numakeepd::at_eof(ConnId id) {
    Connection* hc = server_.find(id);
    if (!hc) return true;
    // End-of-file, or a reset: its process closed it over our unread
    // answer (unix_release_sock), which an exec that stopped waiting does.
    char b;
    ssize_t n = ::recv(hc->fd.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

void Numakeepd::hand_over_exec(Connection& c, std::uint64_t start_time) {
    auto body = handoffs_.take(c.pid, start_time, [this](ConnId id) { return at_eof(id); });
    if (!body) return;
    spdlog::debug("pid {}: handing its exec's request ({} under mems {}) to the new image", c.pid,
                  body->requested.to_string(), body->mems_at_request.to_string());
    server_.send(c.id, proto::MsgType::ExecHandoffDeliver, 0, *body);
}

void Numakeepd::on_query_status(Connection& c, std::uint32_t seq) {
    StatusInputs in{config_,
                    options_.config_path,
                    socket_path_,
                    monotonic_ms() - started_ms_,
                    registry_,
                    counters_,
                    orchestrator_.timeouts(),
                    server_.dropped_clients()};
    server_.send(c.id, proto::MsgType::StatusReply, seq, make_status(in));
}

// --- cgroups and rebinds ------------------------------------------------------------

Nodemask Numakeepd::mems_of(const std::string& cgroup, pid_t member) {
    if (auto m = cgroupfs_.effective_mems(cgroup)) return *m;
    // No cpuset controller here (or no cgroup v2): the task's own view.
    if (auto m = proc_mems_allowed(member)) return *m;
    return Nodemask{};
}

void Numakeepd::check_moved(pid_t pid) {
    const ProcessPlan* plan = orchestrator_.process(pid);
    Process* p = registry_.find(pid);
    if (!plan || !p) return;
    auto now = proc_cgroup(pid);
    if (!now || *now == plan->cgroup) return;
    Nodemask mems = mems_of(*now, pid);
    spdlog::info("pid {} ({}) moved from cgroup {} to {} (mems {})", pid, p->comm, plan->cgroup,
                 *now, mems.to_string());
    p->cgroup = *now;
    orchestrator_.move_process(pid, *now, mems);
}

void Numakeepd::on_cgroup_changes(const CgroupWatcher::Changes& ch) {
    // Moves first, so that a process moved and then its new cgroup written
    // is retargeted once with the latest mems.
    for (const auto& cg : ch.procs) {
        if (cg == "/" && ch.mems.count("/")) {
            // Overflow: look at every registered process.
            for (const auto& [pid, p] : registry_.all()) check_moved(pid);
            continue;
        }
        auto pids = cgroupfs_.procs(cg);
        if (!pids) continue;
        for (int pid : *pids) {
            const ProcessPlan* plan = orchestrator_.process(pid);
            if (plan && plan->cgroup != cg) check_moved(pid);
        }
    }
    for (const auto& cg : ch.removed) {
        std::vector<int> members;
        if (const CgroupPlan* plan = orchestrator_.cgroup(cg))
            members.assign(plan->members.begin(), plan->members.end());
        for (int pid : members) check_moved(pid);
    }
    if (!ch.mems.empty()) {
        std::vector<std::string> affected;
        for (const auto& [cg, plan] : orchestrator_.cgroups())
            for (const auto& written : ch.mems)
                if (cgroup_within(cg, written)) {
                    affected.push_back(cg);
                    break;
                }
        for (const auto& cg : affected) {
            const CgroupPlan* plan = orchestrator_.cgroup(cg);
            Nodemask mems = mems_of(cg, *plan->members.begin());
            Nodemask old = plan->mems;
            std::size_t n = plan->members.size();
            std::uint64_t gen = orchestrator_.cgroup_changed(cg, mems);
            if (gen == 0) {
                // Another event of a write already answered, or the same
                // mems written again: no policy moved.
                spdlog::debug("cgroup {} mems {} unchanged: no rebind", cg, mems.to_string());
                continue;
            }
            spdlog::info("cgroup {} mems {} -> {} (generation {}): {} process{} to rebind", cg,
                         old.to_string(), mems.to_string(), gen, n, n == 1 ? "" : "es");
        }
    }
    counters_.mems_writes += ch.mems_writes;
    pending_event_ms_ = ch.first_event_ms;
    pump();
}

void Numakeepd::pump() {
    std::int64_t now = monotonic_ms();
    DueWork work = orchestrator_.due(now);
    for (int pid : work.timed_out) {
        const ProcessPlan* plan = orchestrator_.process(pid);
        Process* p = registry_.find(pid);
        spdlog::warn(
            "pid {} ({}) has not answered rebind generation {} within {} ms; others "
            "go on, it stays pending",
            pid, p ? p->comm : "?", plan ? plan->sent_generation : 0, config_.rebind_timeout_ms);
    }
    proto::Rebind r;
    for (const auto& cmd : work.send) {
        Process* p = registry_.find(cmd.pid);
        if (!p) continue;
        r.flags = config_.placement_for(p->cgroup) ? proto::kRebindPlacement : 0;
        r.placement_rate_mib = config_.placement_rate_for(p->cgroup);
        r.generation = cmd.generation;
        r.mems = cmd.mems;
        server_.send(p->conn, proto::MsgType::Rebind, 0, r);
        ++counters_.rebinds_requested;
    }
    if (!work.send.empty() && pending_event_ms_ != 0) {
        spdlog::debug("event to first rebind command: {} ms, {} commands", now - pending_event_ms_,
                      work.send.size());
        pending_event_ms_ = 0;
    }
    if (auto next = orchestrator_.next_deadline())
        rebind_timer_.arm_at(*next);
    else
        rebind_timer_.disarm();
}

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

void Numakeepd::housekeeping() {
    std::int64_t now = monotonic_ms();
    server_.expire_partial_frames(now);
    sets_.expire(now);
    if (handoffs_.size())
        handoffs_.expire(now, [](pid_t pid, std::uint64_t start_time) {
            auto st = proc_start_time(pid);
            return st && *st == start_time;
        });
    for (auto it = shows_.begin(); it != shows_.end();) {
        if (now >= it->second.deadline_ms) {
            server_.send_error(it->second.cli, it->second.seq, ETIMEDOUT,
                               "the process did not answer in time");
            it = shows_.erase(it);
        } else {
            ++it;
        }
    }
}

void Numakeepd::update_status() {
    std::size_t pending = 0;
    for (const auto& [pid, plan] : orchestrator_.processes())
        if (!plan.current()) ++pending;
    std::string s = std::to_string(registry_.size()) + " processes in " +
                    std::to_string(orchestrator_.cgroups().size()) + " cgroups, " +
                    std::to_string(counters_.rebinds) + " rebinds, " + std::to_string(pending) +
                    " pending";
    if (s != last_status_) {
        last_status_ = s;
        notify_status(s);
    }
}

}  // namespace numakeep::daemon
