// SPDX-License-Identifier: MIT
#include "server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace numakeep::daemon {

namespace {

std::runtime_error errno_error(const std::string& what, int err = errno) {
    return std::runtime_error(what + ": " + std::strerror(err));
}

// mkdir -p for the socket's directory.
void make_parent_dirs(const std::string& path) {
    for (std::size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
        std::string dir = path.substr(0, at);
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw errno_error("mkdir " + dir);
    }
}

sockaddr_un unix_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        throw std::runtime_error("socket path too long (max " +
                                 std::to_string(sizeof addr.sun_path - 1) + "): " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

// Descriptors kept free for the daemon's own work: the pidfd of a program
// that registers, the cgroup and /proc files a rebind or a reconcile reads.
// A connection accepted into this headroom is closed at once, so a flood
// of connections can never leave a registered program without its rebind.
// A quarter of the limit when the limit is small.
bool in_headroom(int fd) {
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY) return false;
    rlim_t headroom = std::min<rlim_t>(32, nofile.rlim_cur / 4);
    return static_cast<rlim_t>(fd) + headroom >= nofile.rlim_cur;
}

}  // namespace

Server::Server(EventLoop& loop, Callbacks callbacks, ServerLimits limits)
    : loop_(loop),
      cb_(std::move(callbacks)),
      limits_(limits),
      reserve_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      resume_accept_(loop, [this] { resume_accept(); }) {}

Server::~Server() {
    while (!conns_.empty()) drop(conns_.begin()->first, "");
    if (listener_) loop_.remove(listener_.get());
    if (!bound_path_.empty()) ::unlink(bound_path_.c_str());
}

void Server::listen_path(const std::string& path, unsigned mode) {
    sockaddr_un addr = unix_address(path);
    make_parent_dirs(path);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw errno_error("socket");
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EADDRINUSE) throw errno_error("bind " + path);
        // A socket file is there: in use by a live daemon, or left by a dead one.
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
            throw std::runtime_error("another numakeepd is listening on " + path);
        ::unlink(path.c_str());
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw errno_error("bind " + path);
    }
    // Every user's programs connect; the peer is identified by SO_PEERCRED.
    ::chmod(path.c_str(), mode);
    if (::listen(fd.get(), SOMAXCONN) != 0) throw errno_error("listen " + path);
    bound_path_ = path;
    adopt(fd.release());
}

void Server::adopt(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    listener_.reset(fd);
    loop_.add(fd, EPOLLIN, [this](std::uint32_t) { on_accept(); });
}

std::optional<std::string> Server::listening_path() const {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (!listener_ ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.sun_path[0] == '\0')
        return std::nullopt;
    return std::string(addr.sun_path);
}

bool Server::refusal_log_due() {
    std::int64_t now = monotonic_ms();
    if (now - last_refusal_log_ms_ < 10'000) return false;  // one line per 10 s
    last_refusal_log_ms_ = now;
    return true;
}

void Server::refuse_for_descriptors() {
    ++refused_;
    if (refusal_log_due()) {
        spdlog::warn(
            "out of file descriptors with {} connections: refusing new ones (raise "
            "LimitNOFILE); {} refused so far",
            conns_.size(), refused_);
    }
}

void Server::pause_accept() {
    if (accept_paused_ || !listener_) return;
    accept_paused_ = true;
    loop_.modify(listener_.get(), 0);
    resume_accept_.arm_once(100);
}

void Server::resume_accept() {
    if (!accept_paused_ || !listener_) return;
    accept_paused_ = false;
    resume_accept_.disarm();
    loop_.modify(listener_.get(), EPOLLIN);
}

void Server::on_accept() {
    for (;;) {
        UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: the listener stays readable, and a
                // level-triggered loop would spin on it. Spend the reserve
                // fd to accept and close the connection, then take it back.
                refuse_for_descriptors();
                reserve_.reset();
                UniqueFd victim(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
                bool shed = static_cast<bool>(victim);
                victim.reset();
                reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
                if (shed && reserve_) continue;
                // Not even that (ENFILE, or the reserve is gone): stop
                // watching the listener until a connection closes.
                pause_accept();
                return;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                spdlog::warn("accept: {}", std::strerror(errno));
            return;
        }
        if (in_headroom(fd.get())) {
            refuse_for_descriptors();
            continue;  // closed: the backlog drains, the loop does not spin
        }
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
            spdlog::warn("SO_PEERCRED: {}; connection refused", std::strerror(errno));
            continue;
        }
        std::uint32_t& mine = per_uid_[cred.uid];
        if (conns_.size() >= limits_.max_connections || mine >= limits_.max_connections_per_uid) {
            ++refused_;
            if (mine == 0) per_uid_.erase(cred.uid);
            if (refusal_log_due()) {
                spdlog::warn(
                    "connection from pid {} uid {} refused: limit reached ({} in all, {} "
                    "for this uid); {} refused so far",
                    cred.pid, cred.uid, conns_.size(), mine, refused_);
            }
            continue;
        }
        ++mine;
        auto c = std::make_unique<Connection>();
        c->id = next_id_++;
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->gid = cred.gid;
        ConnId id = c->id;
        int raw = fd.get();
        c->fd = std::move(fd);
        conns_.emplace(id, std::move(c));
        loop_.add(raw, EPOLLIN, [this, id](std::uint32_t ev) {
            if (ev & EPOLLOUT) on_writable(id);
            if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(id);
        });
        spdlog::debug("connection {} from pid {} uid {}", id, cred.pid, cred.uid);
    }
}

Connection* Server::find(ConnId id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
}

bool Server::closed_by_peer(ConnId id) {
    Connection* c = find(id);
    if (!c) return true;
    // End-of-file, or a reset: its process closed it over our unread
    // answer (unix_release_sock), which an exec that stopped waiting does.
    char b;
    ssize_t n = ::recv(c->fd.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

void Server::on_readable(ConnId id) {
    using namespace proto;
    unsigned char buf[16384];
    // Bounded work per wakeup; epoll is level-triggered and comes back.
    for (int round = 0; round < 16; ++round) {
        Connection* c = find(id);
        if (!c) return;
        // recvmsg with no room for ancillary data: descriptors a peer passes
        // (SCM_RIGHTS) are never installed here, and the kernel flags them
        // with MSG_CTRUNC (scm_detach_fds), so the peer can be dropped.
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        ssize_t n = ::recvmsg(c->fd.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n >= 0 && (msg.msg_flags & MSG_CTRUNC)) {
            ++dropped_;
            drop(id, "passed file descriptors, which the protocol never does");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            // An exec handoff's process closing before it read the answer
            // (the exec went on without waiting longer) is its exec.
            if (errno == ECONNRESET && c->kind == PeerKind::Exec && c->in.empty()) {
                c->peer_closed = true;
                drop(id, "");
                return;
            }
            drop(id, std::string("read: ") + std::strerror(errno));
            return;
        }
        if (n == 0) {
            c->peer_closed = c->in.empty();
            drop(id, c->in.empty() ? "" : "closed in the middle of a frame");
            return;
        }
        std::size_t at = 0;
        auto avail = static_cast<std::size_t>(n);
        while (at < avail) {
            c = find(id);
            if (!c) return;
            FrameHeader h;
            if (c->in.size() < sizeof h) {
                std::size_t take = std::min(sizeof h - c->in.size(), avail - at);
                c->in.append(reinterpret_cast<const char*>(buf + at), take);
                at += take;
                if (c->in.size() < sizeof h) break;
                std::memcpy(&h, c->in.data(), sizeof h);
                if (HeaderCheck chk = check_header(h); chk != HeaderCheck::Ok) {
                    ++dropped_;
                    // protocol.hpp promises a peer of another version an
                    // Error frame (in our version's layout, which only
                    // ever grows) before the disconnect, so that an old
                    // agent or CLI can say why instead of seeing EOF.
                    if (chk == HeaderCheck::BadVersion)
                        send_error(id, h.seq, EPROTO,
                                   "unsupported protocol version " + std::to_string(h.version) +
                                       ", numakeepd speaks " + std::to_string(kProtocolVersion));
                    drop(id, std::string("malformed frame (") + to_string(chk) + ", type " +
                                 std::to_string(h.type) + ", version " + std::to_string(h.version) +
                                 ")");
                    return;
                }
            } else {
                std::memcpy(&h, c->in.data(), sizeof h);
            }
            std::size_t total = sizeof h + h.payload_size;
            std::size_t take = std::min(total - c->in.size(), avail - at);
            c->in.append(reinterpret_cast<const char*>(buf + at), take);
            at += take;
            if (c->in.size() < total) break;
            std::string frame = std::move(c->in);
            c->in.clear();
            c->partial_since = 0;
            const auto* payload = reinterpret_cast<const unsigned char*>(frame.data()) + sizeof h;
            if (!cb_.on_frame(*c, h, payload)) {
                ++dropped_;
                drop(id, "");
                return;
            }
        }
        c = find(id);
        if (!c) return;
        if (!c->in.empty() && c->partial_since == 0) c->partial_since = monotonic_ms();
    }
}

void Server::expire_partial_frames(std::int64_t now_ms) {
    std::vector<ConnId> late;
    for (auto& [id, c] : conns_)
        if (c->partial_since != 0 && now_ms - c->partial_since >= limits_.message_timeout_ms)
            late.push_back(id);
    for (ConnId id : late) {
        ++dropped_;
        drop(id,
             "half-sent frame for more than " + std::to_string(limits_.message_timeout_ms) + " ms");
    }
}

bool Server::send_bytes(ConnId id, const unsigned char* data, std::size_t n) {
    Connection* c = find(id);
    if (!c) return false;
    if (c->out.size() + n > limits_.max_output_bytes) {
        ++dropped_;
        drop(id, "does not read its answers (" + std::to_string(c->out.size()) + " bytes unread)");
        return false;
    }
    c->out.append(reinterpret_cast<const char*>(data), n);
    return flush(*c);
}

bool Server::send_error(ConnId id, std::uint32_t seq, int code, const std::string& message) {
    proto::ErrorMsg e;
    e.code = code;
    std::strncpy(e.message, message.c_str(), sizeof e.message - 1);
    return send(id, proto::MsgType::Error, seq, e);
}

bool Server::flush(Connection& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            drop(c.id, std::string("write: ") + std::strerror(errno));
            return false;
        }
        c.out.erase(0, static_cast<std::size_t>(n));
    }
    update_interest(c);
    return true;
}

void Server::on_writable(ConnId id) {
    if (Connection* c = find(id)) flush(*c);
}

void Server::update_interest(Connection& c) {
    bool want = !c.out.empty();
    if (want == c.want_write) return;
    c.want_write = want;
    loop_.modify(c.fd.get(), want ? (EPOLLIN | EPOLLOUT) : std::uint32_t{EPOLLIN});
}

void Server::drop(ConnId id, const std::string& reason) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    std::unique_ptr<Connection> c = std::move(it->second);
    conns_.erase(it);
    if (!reason.empty())
        spdlog::warn("dropping connection from pid {} uid {}: {}", c->pid, c->uid, reason);
    loop_.remove(c->fd.get());
    if (auto u = per_uid_.find(c->uid); u != per_uid_.end() && --u->second == 0) per_uid_.erase(u);
    if (cb_.on_close) cb_.on_close(*c);
    c.reset();  // its descriptor is free again: accept what waits
    resume_accept();
}

}  // namespace numakeep::daemon
