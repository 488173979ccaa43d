// SPDX-License-Identifier: MIT
// The connection side of an exec handoff (exec_handoff.hpp holds the
// bookkeeping): a process about to exec stores its request on a connection
// of its own, and its new image gets it right after its Welcome.
#include <spdlog/spdlog.h>

#include <cerrno>
#include <string>

#include "numakeep/exec_handoff.hpp"
#include "numakeepd.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

bool Numakeepd::on_exec_handoff(Connection& c, std::uint32_t seq, const proto::ExecHandoff& body) {
    const char* problem = exec_handoff_problem(body);
    auto start_time = problem ? std::nullopt : proc_start_time(c.pid);
    if (!problem && !start_time) problem = "its process is gone";
    ExecHandoffStore::Stored stored = ExecHandoffStore::Stored::OverLimit;
    if (!problem) {
        stored = handoffs_.store(c.pid, c.uid, *start_time, c.id, body, monotonic_ms(),
                                 [this](ConnId id) { return server_.closed_by_peer(id); });
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

void Numakeepd::hand_over_exec(Connection& c, std::uint64_t start_time) {
    auto body =
        handoffs_.take(c.pid, start_time, [this](ConnId id) { return server_.closed_by_peer(id); });
    if (!body) return;
    spdlog::debug("pid {}: handing its exec's request ({} under mems {}) to the new image", c.pid,
                  body->requested.to_string(), body->mems_at_request.to_string());
    server_.send(c.id, proto::MsgType::ExecHandoffDeliver, 0, *body);
}

void Numakeepd::expire_exec_handoffs(std::int64_t now_ms) {
    if (handoffs_.empty()) return;
    handoffs_.expire(now_ms, [](pid_t pid, std::uint64_t start_time) {
        auto st = proc_start_time(pid);
        return st && *st == start_time;
    });
}

}  // namespace numakeep::daemon
