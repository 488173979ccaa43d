// SPDX-License-Identifier: MIT
// The CLI's queries to numakeepd: `numakeep ps` (QueryList), `numakeep
// status` (QueryStatus) and `numakeep show` (QueryShow), whose records the
// daemon asks of the process (DumpRecords) and relays as they come.
#include <cerrno>

#include "numakeepd.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

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

void Numakeepd::expire_shows(std::int64_t now_ms) {
    for (auto it = shows_.begin(); it != shows_.end();) {
        if (now_ms >= it->second.deadline_ms) {
            server_.send_error(it->second.cli, it->second.seq, ETIMEDOUT,
                               "the process did not answer in time");
            it = shows_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace numakeep::daemon
