// SPDX-License-Identifier: MIT
// The unix socket side of numakeepd: accepting, per-connection framing of
// the wire format (include/numakeep/protocol.hpp), peer identity, and the
// limits that keep one client from hurting the others: connections per uid
// and in all, a cap on unread output, a deadline for a half-sent frame.
//
// A frame is validated from its 16-byte header alone (check_header) before
// its payload is read; a bad header, or anything the owner rejects, drops
// the connection with one log line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "event_loop.hpp"
#include "numakeep/protocol.hpp"

namespace numakeep::daemon {

using ConnId = std::uint64_t;

// Exec: an exec handoff's own connection (protocol.hpp, ExecHandoff).
enum class PeerKind : std::uint8_t { Unknown, Agent, Cli, Exec };

struct Connection {
    ConnId id = 0;
    UniqueFd fd;
    pid_t pid = 0;  // SO_PEERCRED, at connect time
    uid_t uid = 0;
    gid_t gid = 0;
    PeerKind kind = PeerKind::Unknown;
    std::string in;                  // bytes of at most one unfinished frame
    std::string out;                 // bytes not yet written
    std::int64_t partial_since = 0;  // monotonic ms when `in` became non-empty
    bool want_write = false;
    bool peer_closed = false;  // ended by the peer's close at a frame boundary
};

struct ServerLimits {
    std::uint32_t max_connections = 65536;
    std::uint32_t max_connections_per_uid = 1024;
    std::uint32_t message_timeout_ms = 5000;
    std::size_t max_output_bytes = 8U << 20;
};

class Server {
  public:
    struct Callbacks {
        // A validated frame. Return false to drop the peer (the reason was logged).
        std::function<bool(Connection&, const proto::FrameHeader&, const unsigned char*)> on_frame;
        // The connection is going away (peer closed, dropped, or shut down).
        std::function<void(Connection&)> on_close;
    };

    Server(EventLoop& loop, Callbacks callbacks, ServerLimits limits);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void set_limits(const ServerLimits& limits) { limits_ = limits; }

    // Binds and listens on `path` (its directory is created, a stale socket
    // replaced; a live one is an error). Throws std::runtime_error.
    void listen_path(const std::string& path, unsigned mode);
    // Uses a socket passed by systemd (sd_listen_fds).
    void adopt(int fd);
    // The path the listener is bound to (getsockname), when it has one.
    std::optional<std::string> listening_path() const;

    // Queues one frame; false when the peer was dropped for not reading.
    template <typename T>
    bool send(ConnId id, proto::MsgType type, std::uint32_t seq, const T& body) {
        unsigned char buf[proto::kMaxFrame];
        std::size_t n = proto::encode(type, seq, body, buf);
        return send_bytes(id, buf, n);
    }
    bool send_error(ConnId id, std::uint32_t seq, int code, const std::string& message);

    // Closes a connection: on_close runs, `reason` is logged (empty: quietly).
    void drop(ConnId id, const std::string& reason);

    Connection* find(ConnId id);
    // Whether the peer of a connection still held has closed it, though
    // the close is not read yet (an exec handoff's process exec'd).
    bool closed_by_peer(ConnId id);
    // Drops every connection holding a frame half-sent for too long.
    void expire_partial_frames(std::int64_t now_ms);

    std::size_t connections() const { return conns_.size(); }
    std::uint64_t dropped_clients() const { return dropped_; }
    std::uint64_t refused_connections() const { return refused_; }

    // Whether a refusal may be logged now: at most one line per 10 s,
    // shared by every kind of refusal (the owner's too: a refused handoff).
    bool refusal_log_due();

  private:
    void on_accept();
    // Out of descriptors: log (at most once per 10 s) and count a refusal.
    void refuse_for_descriptors();
    // Stops watching the listener until a connection closes or 100 ms pass.
    void pause_accept();
    void resume_accept();
    void on_readable(ConnId id);
    void on_writable(ConnId id);
    bool send_bytes(ConnId id, const unsigned char* data, std::size_t n);
    bool flush(Connection& c);
    void update_interest(Connection& c);

    EventLoop& loop_;
    Callbacks cb_;
    ServerLimits limits_;
    UniqueFd listener_;
    UniqueFd reserve_;     // spent to shed a connection when out of descriptors
    Timer resume_accept_;  // ends a pause_accept()
    bool accept_paused_ = false;
    std::string bound_path_;  // unlinked on shutdown when we created it
    ConnId next_id_ = 1;
    std::unordered_map<ConnId, std::unique_ptr<Connection>> conns_;
    std::unordered_map<uid_t, std::uint32_t> per_uid_;
    std::uint64_t dropped_ = 0;
    std::uint64_t refused_ = 0;
    std::int64_t last_refusal_log_ms_ = -1'000'000;
};

}  // namespace numakeep::daemon
