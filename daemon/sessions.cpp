// SPDX-License-Identifier: MIT
// numakeepd's sessions with the agents: every frame in is dispatched here
// by type and by what the connection has said so far (PeerKind); an agent
// registers with Hello and answers each Rebind with RebindDone.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "logging.hpp"
#include "numakeepd.hpp"
#include "placement_report.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

namespace {

std::int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

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

}  // namespace numakeep::daemon
