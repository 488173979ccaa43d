// SPDX-License-Identifier: MIT
#include "exec_handoff.hpp"

#include <vector>

#include "numakeep/exec_handoff.hpp"

namespace numakeep::daemon {

ExecHandoffStore::Stored ExecHandoffStore::store(
    pid_t pid, uid_t uid, std::uint64_t start_time, HandoffConn conn,
    const proto::ExecHandoff& body, HandoffMillis now,
    const std::function<bool(HandoffConn)>& closed_now) {
    bool replaced = by_pid_.contains(pid);
    if (!replaced && count_for(uid) >= max_per_uid_) return Stored::OverLimit;
    proto::ExecHandoff kept = body;
    bool chained = false;
    // Its image execs again before it took the handoff of the exec that
    // started it: carry that request on when this one continues it.
    if (const proto::ExecHandoff* prev = continued(pid, start_time, closed_now)) {
        if (auto c = chain_exec_handoff(*prev, body)) {
            kept = *c;
            chained = true;
        }
    }
    erase(pid);
    handed_out_.erase(pid);
    PendingExec e;
    e.pid = pid;
    e.uid = uid;
    e.start_time = start_time;
    e.conn = conn;
    e.stored_ms = now;
    e.body = kept;
    by_pid_.emplace(pid, e);
    by_conn_[conn] = pid;
    ++per_uid_[uid];
    return chained ? Stored::Chained : replaced ? Stored::Replaced : Stored::Added;
}

const proto::ExecHandoff* ExecHandoffStore::continued(
    pid_t pid, std::uint64_t start_time, const std::function<bool(HandoffConn)>& closed_now) const {
    if (auto prev = by_pid_.find(pid); prev != by_pid_.end()) {
        const PendingExec& e = prev->second;
        bool exec_happened = e.exec_seen || (e.conn != 0 && closed_now(e.conn));
        return exec_happened && e.start_time == start_time ? &e.body : nullptr;
    }
    auto out = handed_out_.find(pid);
    return out != handed_out_.end() && out->second.start_time == start_time ? &out->second.body
                                                                            : nullptr;
}

void ExecHandoffStore::cancel(HandoffConn conn) {
    auto it = by_conn_.find(conn);
    if (it == by_conn_.end()) return;
    erase(it->second);
}

void ExecHandoffStore::closed(HandoffConn conn) {
    auto it = by_conn_.find(conn);
    if (it == by_conn_.end()) return;
    auto e = by_pid_.find(it->second);
    by_conn_.erase(it);
    if (e == by_pid_.end()) return;
    e->second.conn = 0;
    e->second.exec_seen = true;
}

std::optional<proto::ExecHandoff> ExecHandoffStore::take(
    pid_t pid, std::uint64_t start_time, const std::function<bool(HandoffConn)>& closed_now) {
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return std::nullopt;
    if (it->second.start_time != start_time) {
        erase(pid);  // another process that had this pid
        return std::nullopt;
    }
    if (!it->second.exec_seen) {
        if (it->second.conn == 0 || !closed_now(it->second.conn)) return std::nullopt;
    }
    proto::ExecHandoff body = it->second.body;
    PendingExec out = it->second;
    out.conn = 0;
    erase(pid);
    handed_out_.insert_or_assign(pid, out);
    return body;
}

std::size_t ExecHandoffStore::expire(HandoffMillis now,
                                     const std::function<bool(pid_t, std::uint64_t)>& alive) {
    std::vector<pid_t> gone;
    for (const auto& [pid, e] : by_pid_)
        if (now - e.stored_ms >= ttl_ms_ || !alive(pid, e.start_time)) gone.push_back(pid);
    for (pid_t pid : gone) erase(pid);
    std::erase_if(handed_out_, [&](const auto& kv) {
        return now - kv.second.stored_ms >= ttl_ms_ || !alive(kv.first, kv.second.start_time);
    });
    return gone.size();
}

const PendingExec* ExecHandoffStore::find(pid_t pid) const {
    auto it = by_pid_.find(pid);
    return it == by_pid_.end() ? nullptr : &it->second;
}

std::uint32_t ExecHandoffStore::count_for(uid_t uid) const {
    auto it = per_uid_.find(uid);
    return it == per_uid_.end() ? 0 : it->second;
}

void ExecHandoffStore::erase(pid_t pid) {
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return;
    if (it->second.conn != 0) by_conn_.erase(it->second.conn);
    if (auto u = per_uid_.find(it->second.uid); u != per_uid_.end() && --u->second == 0)
        per_uid_.erase(u);
    by_pid_.erase(it);
}

}  // namespace numakeep::daemon
