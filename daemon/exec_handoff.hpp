// SPDX-License-Identifier: MIT
// The exec handoffs numakeepd holds (protocol.hpp, ExecHandoff): at most one
// per pid, from a process about to exec (preload/exec_handoff_calls.hpp)
// until its new image says Hello. Pure bookkeeping (no I/O, time passed
// in), so it is unit-tested; exec_handoff_session.cpp does the socket side.
//
// An entry is keyed by pid and the process's start time (/proc field 22,
// which exec keeps: de_thread() gives the exec'ing thread its leader's),
// so a reused pid never inherits another process's handoff. It is handed
// out only once its connection has closed without ExecHandoffCancel: the
// kernel closes it (CLOEXEC) before the new image runs a single
// instruction, so an open connection means the old image is still there
// (its own agent reconnecting must not get it). It expires after a few seconds (a new
// image that never registers: not preloaded, or static), when its process
// is gone, and entries per uid are bounded like connections.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

#include "numakeep/protocol.hpp"

namespace numakeep::daemon {

using HandoffConn = std::uint64_t;  // the server's ConnId
using HandoffMillis = std::int64_t;

struct PendingExec {
    pid_t pid = 0;
    uid_t uid = 0;
    std::uint64_t start_time = 0;
    HandoffConn conn = 0;    // 0 once the connection closed
    bool exec_seen = false;  // closed without ExecHandoffCancel
    HandoffMillis stored_ms = 0;
    proto::ExecHandoff body;
};

class ExecHandoffStore {
  public:
    static constexpr HandoffMillis kDefaultTtlMs = 5000;

    explicit ExecHandoffStore(std::uint32_t max_per_uid = 1024,
                              HandoffMillis ttl_ms = kDefaultTtlMs)
        : max_per_uid_(max_per_uid), ttl_ms_(ttl_ms) {}
    void set_max_per_uid(std::uint32_t n) { max_per_uid_ = n; }

    enum class Stored { Added, Replaced, Chained, OverLimit };
    // A handoff from `conn` (peer pid/uid from SO_PEERCRED). It replaces the
    // pid's entry (the old one's connection no longer counts for it), and
    // carries its request on when this one continues the exec before it
    // (chain_exec_handoff): that exec's entry is still here and its
    // connection closed (`closed_now` as for take(): the close may not have
    // been read yet), or it was handed out to this image, which execs again
    // before it read it. A new entry over the uid's bound is refused.
    Stored store(pid_t pid, uid_t uid, std::uint64_t start_time, HandoffConn conn,
                 const proto::ExecHandoff& body, HandoffMillis now,
                 const std::function<bool(HandoffConn)>& closed_now);
    // ExecHandoffCancel on `conn`: its entry goes.
    void cancel(HandoffConn conn);
    // `conn` closed: its entry now waits for the new image.
    void closed(HandoffConn conn);

    // A Hello from pid with start_time: the handoff to send, taken out of
    // the table; nullopt when there is none for this process or its exec has
    // not happened. `closed_now(conn)` answers, for an entry whose
    // connection the server still holds, whether that connection has
    // reached end-of-file right now (the close may not have been read yet).
    // An entry of another start time (a reused pid) is dropped. What is
    // handed out stays known (until it expires like an entry) for store()'s
    // chain: an image may exec before it read the handoff sent to it.
    std::optional<proto::ExecHandoff> take(pid_t pid, std::uint64_t start_time,
                                           const std::function<bool(HandoffConn)>& closed_now);

    // Drops what is older than the time to live, and entries whose process
    // `alive(pid, start_time)` says is gone. Returns how many went.
    std::size_t expire(HandoffMillis now, const std::function<bool(pid_t, std::uint64_t)>& alive);

    const PendingExec* find(pid_t pid) const;
    std::size_t size() const { return by_pid_.size(); }
    bool empty() const { return by_pid_.empty() && handed_out_.empty(); }
    std::uint32_t count_for(uid_t uid) const;

  private:
    void erase(pid_t pid);
    // The handoff this image continues, if any: its exec's pending entry
    // (`prev`, closed) or the one handed out to it.
    const proto::ExecHandoff* continued(pid_t pid, std::uint64_t start_time,
                                        const std::function<bool(HandoffConn)>& closed_now) const;

    std::uint32_t max_per_uid_;
    HandoffMillis ttl_ms_;
    std::unordered_map<pid_t, PendingExec> by_pid_;
    std::unordered_map<HandoffConn, pid_t> by_conn_;  // open connections only
    std::unordered_map<uid_t, std::uint32_t> per_uid_;
    std::unordered_map<pid_t, PendingExec> handed_out_;  // one per pid: bounded by pid_max
};

}  // namespace numakeep::daemon
