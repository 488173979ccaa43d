// SPDX-License-Identifier: MIT
// A minimal stand-in for numakeepd, for the runtime's tests: listens on a
// socket, accepts agents, answers Hello with Welcome, and sends Rebind and
// DumpRecords on demand. Speaks include/numakeep/protocol.hpp exactly.
// Used in-process by the host tests and by the vm test driver.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "numakeep/protocol.hpp"

namespace numakeep::testing {

class FakeDaemon {
  public:
    FakeDaemon() = default;
    FakeDaemon(const FakeDaemon&) = delete;
    FakeDaemon& operator=(const FakeDaemon&) = delete;
    ~FakeDaemon() {
        if (conn_ >= 0) ::close(conn_);
        if (listen_fd_ >= 0) ::close(listen_fd_);
    }

    // Creates the socket (and its directory) at `path`.
    bool listen(const std::string& path) {
        path_ = path;
        std::string dir = path.substr(0, path.rfind('/'));
        ::mkdir(dir.c_str(), 0755);
        ::unlink(path.c_str());
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
            ::listen(listen_fd_, 16)) {
            std::printf("fake daemon: cannot listen on %s: %s\n", path.c_str(),
                        std::strerror(errno));
            return false;
        }
        return true;
    }
    int listen_fd() const { return listen_fd_; }
    int conn_fd() const { return conn_; }

    // Accepts the next agent, reads its Hello, answers Welcome.
    bool accept_agent(proto::Hello& hello, int timeout_ms = 5000, std::uint8_t semantics = 0,
                      std::uint8_t move_pages = 0) {
        if (!wait(listen_fd_, timeout_ms)) {
            std::printf("fake daemon: no agent connected within %d ms\n", timeout_ms);
            return false;
        }
        if (conn_ >= 0) ::close(conn_);
        conn_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn_ < 0) return false;
        proto::FrameHeader h;
        unsigned char payload[proto::kMaxPayload];
        if (!recv_frame(h, payload) ||
            h.type != static_cast<std::uint16_t>(proto::MsgType::Hello) ||
            !proto::decode(h, payload, hello)) {
            std::printf("fake daemon: expected Hello\n");
            return false;
        }
        proto::Welcome w;
        w.default_semantics = semantics;
        w.move_pages = move_pages;
        w.daemon_pid = static_cast<std::uint32_t>(::getpid());
        return send(proto::MsgType::Welcome, w);
    }

    bool rebind(std::uint64_t generation, const Nodemask& mems, proto::RebindDone& done,
                std::uint32_t flags = 0) {
        proto::Rebind r;
        r.generation = generation;
        r.flags = flags;
        r.mems = mems;
        if (!send(proto::MsgType::Rebind, r)) return false;
        proto::FrameHeader h;
        unsigned char payload[proto::kMaxPayload];
        if (!recv_frame(h, payload, 10000) ||
            h.type != static_cast<std::uint16_t>(proto::MsgType::RebindDone) ||
            !proto::decode(h, payload, done)) {
            std::printf("fake daemon: expected RebindDone\n");
            return false;
        }
        return true;
    }

    bool dump(std::vector<proto::PolicyEntry>& ranges, std::vector<proto::PolicyEntry>& threads) {
        ranges.clear();
        threads.clear();
        proto::DumpRecords d;
        d.request_id = ++request_id_;
        if (!send(proto::MsgType::DumpRecords, d)) return false;
        for (;;) {
            proto::FrameHeader h;
            unsigned char payload[proto::kMaxPayload];
            if (!recv_frame(h, payload, 10000)) {
                std::printf("fake daemon: dump answer incomplete\n");
                return false;
            }
            auto type = static_cast<proto::MsgType>(h.type);
            if (type == proto::MsgType::RecordsEnd) return true;
            proto::PolicyEntry e;
            if (!proto::decode(h, payload, e)) return false;
            (type == proto::MsgType::RangeEntry ? ranges : threads).push_back(e);
        }
    }

    bool send_raw(const void* buf, std::size_t len) {
        return ::send(conn_, buf, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
    }

    template <typename T>
    bool send(proto::MsgType type, const T& body) {
        unsigned char buf[sizeof(proto::FrameHeader) + sizeof(T)];
        std::size_t n = proto::encode(type, ++seq_, body, buf);
        return send_raw(buf, n);
    }

    bool recv_frame(proto::FrameHeader& h, unsigned char* payload, int timeout_ms = 5000) {
        if (!recv_all(&h, sizeof h, timeout_ms)) return false;
        if (proto::check_header(h) != proto::HeaderCheck::Ok) return false;
        return h.payload_size == 0 || recv_all(payload, h.payload_size, timeout_ms);
    }

    static bool wait(int fd, int timeout_ms) {
        pollfd p{fd, POLLIN, 0};
        int r;
        do {
            r = ::poll(&p, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        return r > 0;
    }

  private:
    bool recv_all(void* buf, std::size_t len, int timeout_ms) {
        auto* p = static_cast<unsigned char*>(buf);
        while (len) {
            if (!wait(conn_, timeout_ms)) return false;
            ssize_t n = ::recv(conn_, p, len, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            p += n;
            len -= static_cast<std::size_t>(n);
        }
        return true;
    }

    std::string path_;
    int listen_fd_ = -1;
    int conn_ = -1;
    std::uint32_t seq_ = 0;
    std::uint32_t request_id_ = 0;
};

}  // namespace numakeep::testing
