// SPDX-License-Identifier: MIT
// A blocking client of numakeepd's wire format for tests: it speaks as an
// agent (Hello, RebindDone, records) or as the CLI (queries), and can send
// raw bytes to play a broken peer. Header-only; used by the host tests and
// by the guest's agent-impersonating test programs.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "numakeep/proc_stat.hpp"
#include "numakeep/protocol.hpp"

namespace numakeep::testing {

struct Frame {
    proto::FrameHeader header;
    std::vector<unsigned char> payload;
    proto::MsgType type() const { return static_cast<proto::MsgType>(header.type); }
    template <typename T>
    T as() const {
        T out{};
        if (payload.size() == sizeof(T)) std::memcpy(&out, payload.data(), sizeof(T));
        return out;
    }
};

class WireClient {
  public:
    WireClient() = default;
    explicit WireClient(const std::string& path) { connect(path); }
    WireClient(const WireClient&) = delete;
    WireClient& operator=(const WireClient&) = delete;
    WireClient(WireClient&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    ~WireClient() { close(); }

    bool connect(const std::string& path) {
        close();
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            close();
            return false;
        }
        return true;
    }
    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    bool send_raw(const void* data, std::size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        while (n > 0) {
            ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }
    template <typename T>
    bool send(proto::MsgType type, const T& body, std::uint32_t seq = 0) {
        unsigned char buf[proto::kMaxFrame];
        std::size_t n = proto::encode(type, seq, body, buf);
        return send_raw(buf, n);
    }

    // The next frame, or nullopt on timeout, EOF or error (eof() tells).
    std::optional<Frame> recv(int timeout_ms = 3000) {
        Frame f;
        if (!read_exact(&f.header, sizeof f.header, timeout_ms)) return std::nullopt;
        if (f.header.payload_size > proto::kMaxPayload) return std::nullopt;
        f.payload.resize(f.header.payload_size);
        if (f.header.payload_size && !read_exact(f.payload.data(), f.payload.size(), timeout_ms))
            return std::nullopt;
        return f;
    }
    // Waits for a frame of `type`, skipping others (returned in `skipped`).
    std::optional<Frame> recv_type(proto::MsgType type, int timeout_ms = 3000,
                                   std::vector<Frame>* skipped = nullptr) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
            if (left <= 0) return std::nullopt;
            auto f = recv(static_cast<int>(left));
            if (!f) return std::nullopt;
            if (f->type() == type) return f;
            if (skipped) skipped->push_back(std::move(*f));
        }
    }
    bool eof() const { return eof_; }
    // True when the daemon closed the connection within timeout_ms.
    bool closed_by_peer(int timeout_ms = 3000) {
        for (;;) {
            auto f = recv(timeout_ms);
            if (!f) return eof_;
        }
    }

  private:
    bool read_exact(void* out, std::size_t n, int timeout_ms) {
        auto* p = static_cast<unsigned char*>(out);
        while (n > 0) {
            pollfd pfd{fd_, POLLIN, 0};
            int r = ::poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            ssize_t got = ::read(fd_, p, n);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                eof_ = got == 0 || errno == ECONNRESET;
                return false;
            }
            p += got;
            n -= static_cast<std::size_t>(got);
        }
        return true;
    }

    int fd_ = -1;
    bool eof_ = false;
};

// Field 22 of /proc/self/stat, as an agent puts it in Hello.
inline std::uint64_t self_start_time() {
    FILE* f = std::fopen("/proc/self/stat", "r");
    if (!f) return 0;
    char buf[1024];
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    std::fclose(f);
    return stat_start_time(std::string_view(buf, n)).value_or(0);
}

}  // namespace numakeep::testing
